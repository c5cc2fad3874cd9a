//! Signed plugins: detached Ed25519 signatures over a component's bytes,
//! made with a publisher's key, checked against the publishers this
//! deployment trusts (`plugins.trusted_publishers`).
//!
//! - A signature is Ed25519 (RFC 8032, strict verification) over the
//!   component file exactly as uploaded. It is exchanged as base64 text
//!   (`sigil plugin sign` writes `<component>.wasm.sig`, one line) or as
//!   the 64 raw bytes (what `openssl pkeyutl -sign -rawin` writes); both
//!   are read.
//! - A publisher key is an Ed25519 public key: a PEM `PUBLIC KEY`
//!   (SubjectPublicKeyInfo), the base64 of its DER (the PEM's body), or
//!   the base64 of the 32 raw bytes.
//! - The trusted set is written `name:KEY`, entries separated by commas or
//!   white space (`acme:MCowBQYDK2VwAyEA…,other:…`).
//! - A private key is PKCS#8 (`openssl genpkey -algorithm ed25519` or
//!   `sigil plugin keygen`), PEM or DER.
//!
//! Pure functions, no I/O: the lifecycle, the HTTP edge and the CLI share
//! them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Why a key, a signature or a trusted set could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// A publisher key that is not an Ed25519 public key in a known form.
    #[error(
        "publisher key {0}: not an Ed25519 public key (PEM, base64 SubjectPublicKeyInfo or base64 raw 32 bytes)"
    )]
    BadPublicKey(String),
    /// A `plugins.trusted_publishers` entry that is not `name:KEY`.
    #[error(
        "trusted publisher entry {0:?}: expected name:KEY (name of letters, digits, '.', '_' or '-', at most 64)"
    )]
    BadEntry(String),
    /// Two trusted publishers with one name.
    #[error("trusted publisher {0:?} is listed twice")]
    DuplicateName(String),
    /// A private key that is not PKCS#8 Ed25519.
    #[error("not an Ed25519 private key in PKCS#8 (PEM or DER)")]
    BadPrivateKey,
    /// A signature that is neither 64 bytes nor their base64.
    #[error("a plugin signature is 64 bytes of Ed25519 signature, raw or base64")]
    MalformedSignature,
    /// No trusted publisher's key verifies the signature over these bytes
    /// (an unknown key, or the component or signature was altered).
    #[error("the signature does not verify with any trusted publisher's key")]
    Untrusted,
}

/// One publisher key this deployment trusts.
#[derive(Clone, Debug)]
pub struct Publisher {
    /// Its name, recorded with every version it signed.
    pub name: String,
    key: VerifyingKey,
}

/// The publishers whose signatures admit a plugin.
#[derive(Clone, Debug, Default)]
pub struct TrustedPublishers {
    publishers: Vec<Publisher>,
}

/// A signature that verified: who made it, and its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The trusted publisher's name.
    pub publisher: String,
    /// Hex SHA-256 of the 64 signature bytes.
    pub signature_sha256: String,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The body of a PEM block labelled `label`, decoded; `None` if `text` is
/// not such a block.
fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    B64.decode(body).ok()
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// An Ed25519 public key from PEM, base64 SPKI DER or base64 raw bytes.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, SigningError> {
    let shown = || text.chars().take(24).collect::<String>();
    let der = match pem_body(text, "PUBLIC KEY") {
        Some(der) => der,
        None => B64
            .decode(text.trim())
            .map_err(|_| SigningError::BadPublicKey(shown()))?,
    };
    if let Ok(raw) = <[u8; 32]>::try_from(der.as_slice()) {
        return VerifyingKey::from_bytes(&raw).map_err(|_| SigningError::BadPublicKey(shown()));
    }
    VerifyingKey::from_public_key_der(&der).map_err(|_| SigningError::BadPublicKey(shown()))
}

/// A PKCS#8 Ed25519 private key, PEM or DER.
pub fn parse_private_key(bytes: &[u8]) -> Result<SigningKey, SigningError> {
    let der = match std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| pem_body(text, "PRIVATE KEY"))
    {
        Some(der) => der,
        None => bytes.to_vec(),
    };
    SigningKey::from_pkcs8_der(&der).map_err(|_| SigningError::BadPrivateKey)
}

/// A detached signature from its file or header form: 64 raw bytes, or
/// their base64 (white space around it ignored).
pub fn parse_signature(bytes: &[u8]) -> Result<[u8; SIGNATURE_LEN], SigningError> {
    if let Ok(raw) = <[u8; SIGNATURE_LEN]>::try_from(bytes) {
        return Ok(raw);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| SigningError::MalformedSignature)?;
    let decoded = B64
        .decode(text.trim())
        .map_err(|_| SigningError::MalformedSignature)?;
    <[u8; SIGNATURE_LEN]>::try_from(decoded.as_slice())
        .map_err(|_| SigningError::MalformedSignature)
}

/// Sign `component` with `key`: the detached signature, base64 with a
/// newline (the `.wasm.sig` file).
pub fn sign(key: &SigningKey, component: &[u8]) -> String {
    format!("{}\n", B64.encode(key.sign(component).to_bytes()))
}

/// Whether `signature` is `key`'s over `component` (strict Ed25519).
pub fn verifies(key: &VerifyingKey, component: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
    key.verify_strict(component, &Signature::from_bytes(signature))
        .is_ok()
}

/// A new publisher key pair from 32 random bytes: (PKCS#8 PEM private
/// key, SPKI PEM public key, base64 of the SPKI DER for
/// `plugins.trusted_publishers`).
pub fn keygen(seed: &[u8; 32]) -> Result<(String, String, String), SigningError> {
    let key = SigningKey::from_bytes(seed);
    let private = key
        .to_pkcs8_der()
        .map_err(|_| SigningError::BadPrivateKey)?;
    let public = key
        .verifying_key()
        .to_public_key_der()
        .map_err(|_| SigningError::BadPrivateKey)?;
    Ok((
        pem("PRIVATE KEY", private.as_bytes()),
        pem("PUBLIC KEY", public.as_bytes()),
        B64.encode(public.as_bytes()),
    ))
}

/// The base64 SPKI DER of `key` (its `plugins.trusted_publishers` form).
pub fn public_key_text(key: &VerifyingKey) -> String {
    key.to_public_key_der()
        .map(|der| B64.encode(der.as_bytes()))
        .unwrap_or_default()
}

impl TrustedPublishers {
    /// Parse `plugins.trusted_publishers` (`name:KEY` entries separated by
    /// commas or white space; empty: nobody).
    pub fn parse(spec: &str) -> Result<Self, SigningError> {
        let mut publishers: Vec<Publisher> = Vec::new();
        for entry in spec
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let (name, key) = entry
                .split_once(':')
                .filter(|(name, _)| valid_name(name))
                .ok_or_else(|| SigningError::BadEntry(entry.chars().take(40).collect()))?;
            if publishers.iter().any(|p| p.name == name) {
                return Err(SigningError::DuplicateName(name.to_owned()));
            }
            publishers.push(Publisher {
                name: name.to_owned(),
                key: parse_public_key(key)?,
            });
        }
        Ok(Self { publishers })
    }

    /// A set of exactly these publishers.
    pub fn from_keys(publishers: impl IntoIterator<Item = (String, VerifyingKey)>) -> Self {
        Self {
            publishers: publishers
                .into_iter()
                .map(|(name, key)| Publisher { name, key })
                .collect(),
        }
    }

    /// Whether nobody is trusted.
    pub fn is_empty(&self) -> bool {
        self.publishers.is_empty()
    }

    /// The trusted names.
    pub fn names(&self) -> Vec<&str> {
        self.publishers.iter().map(|p| p.name.as_str()).collect()
    }

    /// Which trusted publisher signed `component` with `signature` (raw or
    /// base64).
    pub fn verify(
        &self,
        component: &[u8],
        signature: &[u8],
    ) -> Result<VerifiedSignature, SigningError> {
        let signature = parse_signature(signature)?;
        let publisher = self
            .publishers
            .iter()
            .find(|p| verifies(&p.key, component, &signature))
            .ok_or(SigningError::Untrusted)?;
        Ok(VerifiedSignature {
            publisher: publisher.name.clone(),
            signature_sha256: hex::encode(Sha256::digest(signature)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(seed: u8) -> (SigningKey, String, String, String) {
        let (private, public_pem, public_b64) = keygen(&[seed; 32]).expect("keygen");
        (
            parse_private_key(private.as_bytes()).expect("private key reads back"),
            private,
            public_pem,
            public_b64,
        )
    }

    #[test]
    fn a_trusted_publisher_signature_verifies_and_names_its_publisher() {
        let (key, _, _, public) = pair(1);
        let (_, _, _, other) = pair(2);
        let trusted =
            TrustedPublishers::parse(&format!("acme:{public}, other:{other}")).expect("parses");
        assert_eq!(trusted.names(), ["acme", "other"]);
        let component = b"\0asm component bytes";
        let signature = sign(&key, component);
        let verified = trusted
            .verify(component, signature.as_bytes())
            .expect("verifies");
        assert_eq!(verified.publisher, "acme");
        let raw = parse_signature(signature.as_bytes()).expect("base64 form");
        assert_eq!(
            verified.signature_sha256,
            hex::encode(Sha256::digest(raw)),
            "the digest is over the raw signature"
        );
        assert_eq!(trusted.verify(component, &raw), Ok(verified), "raw form");
    }

    #[test]
    fn altered_components_untrusted_keys_and_junk_are_refused() {
        let (key, _, _, public) = pair(1);
        let (stranger, _, _, _) = pair(3);
        let trusted = TrustedPublishers::parse(&format!("acme:{public}")).expect("parses");
        let component = b"\0asm component bytes".to_vec();
        let signature = sign(&key, &component);
        let mut altered = component.clone();
        altered[5] ^= 1;
        assert_eq!(
            trusted.verify(&altered, signature.as_bytes()),
            Err(SigningError::Untrusted)
        );
        assert_eq!(
            trusted.verify(&component, sign(&stranger, &component).as_bytes()),
            Err(SigningError::Untrusted)
        );
        assert_eq!(
            trusted.verify(&component, b"not a signature"),
            Err(SigningError::MalformedSignature)
        );
        assert_eq!(
            TrustedPublishers::default().verify(&component, signature.as_bytes()),
            Err(SigningError::Untrusted),
            "nobody trusted"
        );
    }

    #[test]
    fn public_keys_read_from_pem_spki_and_raw() {
        let (key, _, public_pem, public_b64) = pair(4);
        let expected = key.verifying_key();
        assert_eq!(parse_public_key(&public_pem), Ok(expected));
        assert_eq!(parse_public_key(&public_b64), Ok(expected));
        assert_eq!(
            parse_public_key(&B64.encode(expected.as_bytes())),
            Ok(expected)
        );
        assert_eq!(public_key_text(&expected), public_b64);
        assert!(parse_public_key("bm90IGEga2V5").is_err());
    }

    #[test]
    fn trusted_sets_refuse_bad_entries() {
        let (_, _, _, public) = pair(5);
        assert!(TrustedPublishers::parse("").expect("empty").is_empty());
        assert!(matches!(
            TrustedPublishers::parse(&public),
            Err(SigningError::BadEntry(_))
        ));
        assert!(matches!(
            TrustedPublishers::parse(&format!("a b:{public}")),
            Err(SigningError::BadEntry(_))
        ));
        assert_eq!(
            TrustedPublishers::parse(&format!("a:{public},a:{public}")).err(),
            Some(SigningError::DuplicateName("a".into()))
        );
        assert!(matches!(
            TrustedPublishers::parse("a:AAAA"),
            Err(SigningError::BadPublicKey(_))
        ));
    }

    #[test]
    fn private_keys_read_from_pem_and_der() {
        let (key, private_pem, _, _) = pair(6);
        let der = key.to_pkcs8_der().expect("der");
        assert_eq!(
            parse_private_key(der.as_bytes()).map(|k| k.to_bytes()),
            Ok(key.to_bytes())
        );
        assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert_eq!(
            parse_private_key(b"junk").err(),
            Some(SigningError::BadPrivateKey)
        );
    }
}
