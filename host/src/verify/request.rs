//! A verification request as clients send it, checked and decoded: sizes
//! bounded before decoding, base64 and hex strict, and the hash, encoding
//! and scheme chosen against what the key's plugin declares.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use uuid::Uuid;

use super::VerifyError;
use crate::config::VerifyConfig;
use crate::plugins::{
    HashAlgorithm, LoadedPlugin, MessageInput, SignatureEncoding, SignatureScheme,
};

/// One verification request (also a batch item).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyItem {
    /// The key to verify with.
    pub public_key_id: Uuid,
    /// The document, base64 (standard alphabet). Give this or
    /// `document_hash`.
    pub document: Option<String>,
    /// The document's digest, hex, made with `hash_algorithm` (plugins that
    /// take a digest only).
    pub document_hash: Option<String>,
    /// The signature, base64.
    pub signature: String,
    /// `sha256`, `sha384`, `sha512`, `sha3-256` or `keccak256`; default
    /// from the key's plugin (P-256, secp256k1 and RSA: sha256; P-384:
    /// sha384).
    pub hash_algorithm: Option<String>,
    /// ECDSA: `der` (default) or `p1363` (r||s).
    pub signature_encoding: Option<String>,
    /// RSA: `pkcs1v15` (default) or `pss`.
    pub signature_algorithm: Option<String>,
}

/// The decoded parts of a request.
#[derive(Debug)]
pub struct Prepared {
    document: Option<Vec<u8>>,
    digest: Option<Vec<u8>>,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

fn decode_base64(field: &'static str, value: &str, max: usize) -> Result<Vec<u8>, VerifyError> {
    // Refuse oversized input before decoding it.
    if value.len() > max.div_ceil(3) * 4 + 4 {
        return Err(VerifyError::invalid(
            if field == "document" {
                "document_too_large"
            } else {
                "signature_too_large"
            },
            format!("{field} exceeds {max} bytes"),
        ));
    }
    let bytes = STANDARD.decode(value.trim()).map_err(|e| {
        VerifyError::malformed(
            if field == "document" {
                "invalid_document"
            } else {
                "malformed_signature"
            },
            format!("{field} is not base64: {e}"),
        )
    })?;
    if bytes.len() > max {
        return Err(VerifyError::invalid(
            if field == "document" {
                "document_too_large"
            } else {
                "signature_too_large"
            },
            format!("{field} exceeds {max} bytes"),
        ));
    }
    Ok(bytes)
}

impl Prepared {
    /// Decode and bound a request's document and signature.
    pub fn from_item(item: &VerifyItem, limits: &VerifyConfig) -> Result<Self, VerifyError> {
        let (document, digest) = match (&item.document, &item.document_hash) {
            (Some(document), None) => (
                Some(decode_base64(
                    "document",
                    document,
                    limits.max_document_bytes,
                )?),
                None,
            ),
            (None, Some(hash)) => {
                if hash.len() > 128 || hash.len() % 2 != 0 {
                    return Err(VerifyError::malformed(
                        "invalid_document_hash",
                        "document_hash is a hex digest of at most 64 bytes",
                    ));
                }
                let digest = hex::decode(hash).map_err(|_| {
                    VerifyError::malformed("invalid_document_hash", "document_hash is not hex")
                })?;
                (None, Some(digest))
            }
            (Some(_), Some(_)) => {
                return Err(VerifyError::malformed(
                    "document_required",
                    "give either document or document_hash, not both",
                ));
            }
            (None, None) => {
                return Err(VerifyError::malformed(
                    "document_required",
                    "give document (base64) or document_hash (hex)",
                ));
            }
        };
        let signature = decode_base64("signature", &item.signature, limits.max_signature_bytes)?;
        if signature.is_empty() {
            return Err(VerifyError::malformed(
                "malformed_signature",
                "the signature is empty",
            ));
        }
        Ok(Self {
            document,
            digest,
            signature,
        })
    }

    /// Bytes of the document (0 when only its hash was given).
    pub fn document_len(&self) -> usize {
        self.document.as_ref().map_or(0, Vec::len)
    }

    /// The plugin's message and the record's hex document hash: the digest
    /// (computed here for a document) for digest-taking plugins, the
    /// document and its SHA-256 for raw-message ones. CPU-bound: call on a
    /// worker thread.
    pub fn message_for(&mut self, plan: &Plan) -> (Vec<u8>, String) {
        match plan.hash {
            Some(hash) => {
                let digest = match (self.digest.take(), self.document.take()) {
                    (Some(digest), _) => digest,
                    (None, Some(document)) => hash.digest(&document),
                    (None, None) => Vec::new(),
                };
                let hex = hex::encode(&digest);
                (digest, hex)
            }
            None => {
                let document = self.document.take().unwrap_or_default();
                let hex = hex::encode(HashAlgorithm::Sha256.digest(&document));
                (document, hex)
            }
        }
    }
}

/// How a request will be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The hash that makes the plugin's digest (none for raw-message).
    pub hash: Option<HashAlgorithm>,
    /// Signature encoding.
    pub encoding: SignatureEncoding,
    /// Signature scheme.
    pub scheme: SignatureScheme,
}

impl Plan {
    /// Choose hash, encoding and scheme for `item` against `plugin`.
    pub fn new(
        plugin: &LoadedPlugin,
        item: &VerifyItem,
        prepared: &Prepared,
    ) -> Result<Self, VerifyError> {
        let descriptor = plugin.descriptor();
        let hash = match descriptor.input {
            MessageInput::Digest => {
                let hash = match &item.hash_algorithm {
                    Some(name) => name
                        .parse::<HashAlgorithm>()
                        .map_err(|e| VerifyError::invalid("unsupported_hash", e.to_string()))?,
                    None => descriptor.default_hash.ok_or_else(|| {
                        VerifyError::invalid(
                            "unsupported_hash",
                            "the plugin declares no default hash",
                        )
                    })?,
                };
                if !descriptor.hashes.contains(&hash) {
                    return Err(VerifyError::invalid(
                        "unsupported_hash",
                        format!(
                            "{} does not accept {hash}; it accepts {:?}",
                            descriptor.name,
                            names(&descriptor.hashes)
                        ),
                    ));
                }
                if let Some(digest) = &prepared.digest
                    && digest.len() != hash.output_len()
                {
                    return Err(VerifyError::malformed(
                        "invalid_document_hash",
                        format!(
                            "a {hash} digest is {} bytes, document_hash has {}",
                            hash.output_len(),
                            digest.len()
                        ),
                    ));
                }
                Some(hash)
            }
            MessageInput::RawMessage => {
                if item.hash_algorithm.is_some() {
                    return Err(VerifyError::invalid(
                        "unsupported_hash",
                        format!(
                            "{} signs the raw message; no hash_algorithm may be given",
                            descriptor.algorithm
                        ),
                    ));
                }
                if prepared.document.is_none() {
                    return Err(VerifyError::invalid(
                        "document_required",
                        format!(
                            "{} signs the raw message; send the document, not its hash",
                            descriptor.algorithm
                        ),
                    ));
                }
                None
            }
        };
        let encoding = choose(
            item.signature_encoding.as_deref(),
            &descriptor.signature_encodings,
            "unsupported_encoding",
            "signature_encoding",
        )?;
        let scheme = choose(
            item.signature_algorithm.as_deref(),
            &descriptor.schemes,
            "unsupported_signature_algorithm",
            "signature_algorithm",
        )?;
        Ok(Self {
            hash,
            encoding,
            scheme,
        })
    }

    /// The hash the record's `document_hash` is made with.
    pub fn document_hash_algorithm(&self) -> HashAlgorithm {
        self.hash.unwrap_or(HashAlgorithm::Sha256)
    }
}

fn names<T: std::fmt::Display>(values: &[T]) -> Vec<String> {
    values.iter().map(ToString::to_string).collect()
}

/// The requested value if the plugin declares it, else the plugin's first.
fn choose<T>(
    requested: Option<&str>,
    declared: &[T],
    code: &'static str,
    field: &str,
) -> Result<T, VerifyError>
where
    T: Copy + PartialEq + std::str::FromStr + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    match requested {
        Some(name) => {
            let value = name
                .parse::<T>()
                .map_err(|e| VerifyError::invalid(code, format!("{field}: {e}")))?;
            if declared.contains(&value) {
                Ok(value)
            } else {
                Err(VerifyError::invalid(
                    code,
                    format!(
                        "{field} {value} is not accepted here; use one of {:?}",
                        names(declared)
                    ),
                ))
            }
        }
        None => declared
            .first()
            .copied()
            .ok_or_else(|| VerifyError::invalid(code, format!("the plugin declares no {field}"))),
    }
}

/// DER of a PEM SubjectPublicKeyInfo.
pub fn spki_from_pem(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).ok()
}

/// PEM of a DER SubjectPublicKeyInfo.
pub fn pem_from_spki(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}
