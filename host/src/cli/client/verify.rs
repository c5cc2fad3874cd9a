//! `verify --key ID FILE SIGFILE`: one signature, answered by the exit
//! status (0 valid, 1 invalid, 2 error), and the request items that
//! `verify-batch` sends too.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value, json};

use super::Outcome;
use super::api::Api;
use super::error::{ClientError, Result};
use super::output::{self, OutputArgs};

/// `sigil verify`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status: 0 the signature is valid, 1 it is not, 2 an error (the key is
revoked or unknown, the signature is malformed, no connection...).

Examples:
  openssl pkeyutl -sign -inkey alice.key -rawin -in doc.txt -out doc.sig
  sigil verify --key 3f0c...e1 doc.txt doc.sig && echo signed by alice
  sigil verify --key $KEY --encoding p1363 --hash sha384 doc.txt doc.sig
  sigil verify --key $MLDSA_KEY --context 'invoice-v2' doc.txt doc.sig
  sigil verify --key $ETH_ADDRESS_KEY --scheme eip191 message.txt sig.bin")]
pub(crate) struct VerifyArgs {
    /// The id of the registered public key (`sigil keys list`).
    #[arg(long, short)]
    key: uuid::Uuid,
    /// The signed document.
    file: PathBuf,
    /// The signature: raw bytes (what OpenSSL writes) or base64 text.
    sigfile: PathBuf,
    #[command(flatten)]
    options: ItemOptions,
    #[command(flatten)]
    out: OutputArgs,
}

/// How a signature is to be read and checked, for `verify` and every item
/// of `verify-batch`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ItemOptions {
    /// The hash over the document (sha256, sha384, sha512, sha3-256,
    /// sha3-384, sha3-512, keccak256; default: the curve's).
    #[arg(long, value_name = "HASH")]
    hash: Option<String>,
    /// ECDSA signature encoding: der (default) or p1363 (r||s).
    #[arg(long, value_parser = ["der", "p1363"])]
    encoding: Option<String>,
    /// RSA padding: pkcs1v15 (default) or pss.
    #[arg(long, value_parser = ["pkcs1v15", "pss"], conflicts_with = "scheme")]
    rsa_padding: Option<String>,
    /// Ethereum: eip191 (default, personal_sign) or plain (the document
    /// is the 32-byte digest).
    #[arg(long, value_parser = ["eip191", "plain"])]
    scheme: Option<String>,
    /// ML-DSA, SLH-DSA, Ed448: the context string the signature was made
    /// with, as text (at most 255 bytes).
    #[arg(long, value_name = "TEXT")]
    context: Option<String>,
    /// How signature files are written: raw bytes, base64 text, or auto
    /// (base64 when the file is only base64 text).
    #[arg(long, value_parser = ["auto", "raw", "base64"], default_value = "auto")]
    signature_format: String,
}

impl ItemOptions {
    /// A verify request item for `key` over the document and signature
    /// files' contents; per-item overrides (a manifest's columns) win.
    pub(crate) fn item(
        &self,
        key: &str,
        document: &[u8],
        signature: &[u8],
        overrides: &Overrides,
    ) -> Result<Value> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let signature = self.decode_signature(signature)?;
        let mut item = json!({
            "public_key_id": key,
            "document": b64.encode(document),
            "signature": b64.encode(signature),
        });
        let fields = [
            (
                "hash_algorithm",
                overrides.hash.as_ref().or(self.hash.as_ref()),
            ),
            (
                "signature_encoding",
                overrides.encoding.as_ref().or(self.encoding.as_ref()),
            ),
            (
                "signature_algorithm",
                overrides
                    .rsa_padding
                    .as_ref()
                    .or(self.rsa_padding.as_ref())
                    .or(self.scheme.as_ref()),
            ),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                item[name] = json!(value);
            }
        }
        if let Some(context) = &self.context {
            item["context"] = json!(b64.encode(context));
        }
        Ok(item)
    }

    /// The signature's bytes from a signature file.
    fn decode_signature<'a>(&self, bytes: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let text = || {
            std::str::from_utf8(bytes)
                .ok()
                .map(|t| t.split_whitespace().collect::<String>())
        };
        match self.signature_format.as_str() {
            "raw" => Ok(bytes.into()),
            "base64" => text()
                .and_then(|t| b64.decode(t).ok())
                .map(Into::into)
                .ok_or_else(|| ClientError::Usage("the signature file is not base64".into())),
            _ => Ok(text()
                .filter(|t| !t.is_empty())
                .and_then(|t| b64.decode(t).ok())
                .map_or(bytes.into(), Into::into)),
        }
    }
}

/// A manifest line's own options.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    /// `hash_algorithm`.
    pub(crate) hash: Option<String>,
    /// `signature_encoding`.
    pub(crate) encoding: Option<String>,
    /// `signature_algorithm`.
    pub(crate) rsa_padding: Option<String>,
}

/// A file's bytes, or an error naming it.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| ClientError::io(format!("reading {}", path.display()), e))
}

/// Verify one signature.
pub(crate) fn run(args: &VerifyArgs) -> Result<Outcome> {
    let document = read(&args.file)?;
    let signature = read(&args.sigfile)?;
    let key = args.key.to_string();
    let item = args
        .options
        .item(&key, &document, &signature, &Overrides::default())?;
    let mut api = Api::from_config()?;
    let answer = api.post("/v1/verify", &item)?;
    let valid = answer
        .get("valid")
        .and_then(Value::as_bool)
        .ok_or_else(|| ClientError::Unexpected {
            path: "/v1/verify".into(),
            reason: "no `valid` in the answer".into(),
        })?;
    if args.out.json {
        output::json(&answer)?;
    } else if valid {
        output::lines([format!(
            "valid: {} is signed by key {key} ({} {}; verification {})",
            args.file.display(),
            output::field(&answer, "algorithm"),
            output::field(&answer, "curve"),
            output::field(&answer, "verification_id"),
        )])?;
        if answer.get("recovered_address").is_some() {
            output::lines([format!(
                "recovered address: {}",
                output::field(&answer, "recovered_address")
            )])?;
        }
    } else {
        output::lines([format!(
            "INVALID: {} is not a signature over {} by key {key} (verification {})",
            args.sigfile.display(),
            args.file.display(),
            output::field(&answer, "verification_id"),
        )])?;
    }
    Ok(if valid {
        Outcome::Success
    } else {
        Outcome::Negative
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(format: &str) -> ItemOptions {
        ItemOptions {
            hash: None,
            encoding: None,
            rsa_padding: None,
            scheme: None,
            context: None,
            signature_format: format.into(),
        }
    }

    #[test]
    fn signatures_are_read_raw_or_as_base64() {
        let raw = [0x30u8, 0x44, 0x02, 0x20, 0xff];
        assert_eq!(&*options("auto").decode_signature(&raw).expect("raw"), &raw);
        assert_eq!(
            &*options("auto")
                .decode_signature(b"MEQCIP8=\n")
                .expect("b64"),
            &raw
        );
        assert_eq!(
            &*options("raw").decode_signature(b"MEQCIP8=").expect("raw"),
            b"MEQCIP8="
        );
        assert!(options("base64").decode_signature(&raw).is_err());
    }

    #[test]
    fn a_manifest_line_overrides_the_command_line() {
        let mut opts = options("raw");
        opts.hash = Some("sha256".into());
        let overrides = Overrides {
            hash: Some("sha512".into()),
            ..Overrides::default()
        };
        let item = opts.item("k", b"doc", b"sig", &overrides).expect("item");
        assert_eq!(item["hash_algorithm"], "sha512");
        assert_eq!(item["document"], "ZG9j");
        assert!(item.get("signature_encoding").is_none());
        assert!(item.get("context").is_none());
    }

    #[test]
    fn a_context_and_an_ethereum_scheme_go_into_the_item() {
        let mut opts = options("raw");
        opts.context = Some("app".into());
        opts.scheme = Some("plain".into());
        let item = opts
            .item("k", b"doc", b"sig", &Overrides::default())
            .expect("item");
        assert_eq!(item["context"], "YXBw");
        assert_eq!(item["signature_algorithm"], "plain");
    }
}
