//! Public-key plumbing shared by every plugin: unwrapping PEM, telling a
//! SubjectPublicKeyInfo from a raw key, and the fingerprint.

use crate::{Error, KeyFormat, KeyInfo};
use sha2::{Digest, Sha256};

/// Keys larger than this are refused before any parsing (an 8192-bit RSA
/// SPKI is about 1.1 KiB, its PEM about 1.5 KiB).
pub const MAX_KEY_BYTES: usize = 16 * 1024;

/// A key as presented, with PEM armour removed.
pub enum KeyBytes {
    /// A DER SubjectPublicKeyInfo (from `pem` or `der`).
    Spki(Vec<u8>),
    /// The algorithm's bare key (from `raw`).
    Raw(Vec<u8>),
}

/// Remove PEM armour where present and say which kind of key the bytes are.
/// Only the `PUBLIC KEY` label (RFC 7468 section 13) is accepted for PEM.
pub fn unwrap(key: Vec<u8>, format: KeyFormat) -> Result<KeyBytes, Error> {
    if key.is_empty() {
        return Err(Error::malformed_key("the key is empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::malformed_key(format!(
            "the key is {} bytes; at most {MAX_KEY_BYTES} are accepted",
            key.len()
        )));
    }
    match format {
        KeyFormat::Pem => {
            let trimmed = trim_ascii(&key);
            let (label, der) = pem_rfc7468::decode_vec(trimmed)
                .map_err(|e| Error::malformed_key(format!("invalid PEM: {e}")))?;
            if label != "PUBLIC KEY" {
                return Err(Error::malformed_key(format!(
                    "PEM label is {label:?}; a SubjectPublicKeyInfo (\"PUBLIC KEY\") is required"
                )));
            }
            Ok(KeyBytes::Spki(der))
        }
        KeyFormat::Der => Ok(KeyBytes::Spki(key)),
        KeyFormat::Raw => Ok(KeyBytes::Raw(key)),
    }
}

/// The bytes of a PEM block labelled `label`, for an algorithm whose
/// canonical key is not a SubjectPublicKeyInfo and is stored under a label
/// of its own (contract 0.2.0's `pem-label`), so that a key as the host
/// shows it can be registered again. `None` when the bytes are not PEM or
/// carry another label.
pub fn pem_labelled(key: &[u8], label: &str) -> Option<Vec<u8>> {
    if key.len() > MAX_KEY_BYTES {
        return None;
    }
    let (found, der) = pem_rfc7468::decode_vec(trim_ascii(key)).ok()?;
    (found == label).then_some(der)
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// Lower-case hex SHA-256 of a canonical key.
pub fn fingerprint(spki_der: &[u8]) -> String {
    let digest = Sha256::digest(spki_der);
    let mut out = String::with_capacity(64);
    for byte in digest.iter() {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Build the `key-info` answer for a canonical SubjectPublicKeyInfo.
pub fn key_info(curve: Option<&str>, bits: u32, spki_der: Vec<u8>) -> KeyInfo {
    labelled_key_info(curve, bits, spki_der, "PUBLIC KEY")
}

/// Build the `key-info` answer for a canonical key that is not a
/// SubjectPublicKeyInfo (an Ethereum address), stored under `pem_label`.
pub fn labelled_key_info(
    curve: Option<&str>,
    bits: u32,
    public_key: Vec<u8>,
    pem_label: &str,
) -> KeyInfo {
    KeyInfo {
        curve: curve.map(str::to_owned),
        bits,
        fingerprint: fingerprint(&public_key),
        public_key,
        pem_label: pem_label.to_owned(),
    }
}

/// Refuse a curve hint that names another curve than the key's.
pub fn check_curve_hint(hint: Option<&str>, actual: &str) -> Result<(), Error> {
    match hint {
        Some(named) if !named.eq_ignore_ascii_case(actual) => Err(Error::rejected_key(format!(
            "the key is on {actual}, not on {named}"
        ))),
        _ => Ok(()),
    }
}
