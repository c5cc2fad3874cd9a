//! Ethereum signatures: secp256k1 ECDSA with public-key recovery, checked
//! against an Ethereum address (contract 0.2.0).
//!
//! Policy:
//! - keys: a 20-byte address (`raw`, or PEM under `ETHEREUM ADDRESS` as
//!   the host shows a stored one), or a secp256k1 public key (a SEC1 point
//!   as `raw`, 33 or 65 bytes; an SPKI as `der` or `pem`), which is
//!   reduced to its address. The canonical key is the address's 20 bytes,
//!   stored under the PEM label `ETHEREUM ADDRESS`;
//! - signatures: 65 bytes `r || s || v` (`raw`), `v` 27 or 28, as
//!   `personal_sign` writes it and the `ecrecover` precompile takes it;
//!   `r` and `s` in `[1, n)`, else malformed; a high `s` is refused as
//!   non-canonical (EIP-2: every signer that follows it produces low `s`,
//!   and accepting both would make each signature malleable). For the same
//!   reason `v` has one spelling: the bare recovery id (0 or 1) some
//!   libraries write, and `v` values that encode a chain id (EIP-155, a
//!   transaction's), are refused, so each signature has one byte string;
//! - schemes: `eip191` (default), `personal_sign`: the digest is
//!   Keccak-256 of `"\x19Ethereum Signed Message:\n"`, the document's
//!   length in decimal and the document; `plain`: the document is itself
//!   the 32-byte digest (what `eth_sign` and most contracts' `ecrecover`
//!   take);
//! - the verdict is valid when the key recovered from the signature has
//!   the registered address; `recovered` is the recovered address in EIP-55
//!   mixed case, valid or not (none when no key recovers).

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use k256::pkcs8::DecodePublicKey;
use sha3::{Digest, Keccak256};
use sigil_plugin_sdk::keys::{self, KeyBytes};
use sigil_plugin_sdk::request::{require_context, require_encoding, require_scheme};
use sigil_plugin_sdk::{
    AlgorithmType, Descriptor, Error, KeyFormat, KeyInfo, MessageInput, Plugin, SignatureEncoding,
    SignatureScheme, Verdict, VerifyRequest,
};

/// The PEM label an address is stored under.
const PEM_LABEL: &str = "ETHEREUM ADDRESS";
/// Schemes, the default first.
const SCHEMES: [SignatureScheme; 2] = [SignatureScheme::Eip191, SignatureScheme::Plain];
/// EIP-191 version 0x45's prefix.
const PERSONAL_SIGN_PREFIX: &[u8] = b"\x19Ethereum Signed Message:\n";

struct Ethereum;

impl Plugin for Ethereum {
    fn describe() -> Descriptor {
        Descriptor {
            name: "ethereum".into(),
            version: sigil_plugin_sdk::plugin_version!().into(),
            algorithm: "Ethereum".into(),
            algorithm_type: AlgorithmType::Other,
            description: "Ethereum signatures: secp256k1 ECDSA public-key recovery against an address (EIP-191 personal_sign, or a 32-byte digest)".into(),
            parameter_sets: vec![],
            key_formats: vec![KeyFormat::Raw, KeyFormat::Der, KeyFormat::Pem],
            input: MessageInput::RawMessage,
            hashes: vec![],
            default_hash: None,
            signature_encodings: vec![SignatureEncoding::Raw],
            schemes: SCHEMES.to_vec(),
            max_context_bytes: 0,
        }
    }

    fn parse_key(key: Vec<u8>, format: KeyFormat, curve: Option<String>) -> Result<KeyInfo, Error> {
        if let Some(curve) = curve {
            return Err(Error::rejected_key(format!(
                "an Ethereum key names no curve, got {curve:?}"
            )));
        }
        // An address as the host stores and shows it.
        if format == KeyFormat::Pem
            && let Some(address) = keys::pem_labelled(&key, PEM_LABEL)
        {
            if address.len() != 20 {
                return Err(Error::malformed_key(format!(
                    "an {PEM_LABEL} is 20 bytes, got {}",
                    address.len()
                )));
            }
            return Ok(keys::labelled_key_info(None, 256, address, PEM_LABEL));
        }
        let address = match keys::unwrap(key, format)? {
            KeyBytes::Raw(raw) if raw.len() == 20 => raw,
            KeyBytes::Raw(raw) => {
                address_of(&VerifyingKey::from_sec1_bytes(&raw).map_err(|_| {
                    Error::malformed_key(
                        "a raw Ethereum key is a 20-byte address or a SEC1 secp256k1 point",
                    )
                })?)
                .to_vec()
            }
            KeyBytes::Spki(der) => {
                address_of(&VerifyingKey::from_public_key_der(&der).map_err(|e| {
                    Error::malformed_key(format!("not a secp256k1 SubjectPublicKeyInfo: {e}"))
                })?)
                .to_vec()
            }
        };
        Ok(keys::labelled_key_info(None, 256, address, PEM_LABEL))
    }

    fn verify(request: VerifyRequest) -> Result<bool, Error> {
        Self::verdict(request).map(|verdict| verdict.valid)
    }

    fn verdict(request: VerifyRequest) -> Result<Verdict, Error> {
        require_encoding(&request, &[SignatureEncoding::Raw])?;
        let scheme = require_scheme(&request, &SCHEMES)?;
        require_context(&request, 0)?;
        let address: [u8; 20] = request
            .key
            .as_slice()
            .try_into()
            .map_err(|_| Error::malformed_key("an address is 20 bytes"))?;
        let (signature, recovery) = decode_signature(&request.signature)?;
        let digest = match scheme {
            SignatureScheme::Plain => {
                <[u8; 32]>::try_from(request.message.as_slice()).map_err(|_| {
                    Error::unsupported(format!(
                        "the plain scheme takes the 32-byte digest as the document, got {} bytes",
                        request.message.len()
                    ))
                })?
            }
            _ => personal_sign_digest(&request.message),
        };
        let recovered = VerifyingKey::recover_from_prehash(&digest, &signature, recovery)
            .ok()
            // The recovered key verifies the signature by construction;
            // checked all the same, as ecrecover's callers rely on it.
            .filter(|key| key.verify_prehash(&digest, &signature).is_ok())
            .map(|key| address_of(&key));
        Ok(Verdict {
            valid: recovered == Some(address),
            recovered: recovered.map(|a| checksummed(&a)),
        })
    }

    fn verdict_batch(requests: Vec<VerifyRequest>) -> Vec<Result<Verdict, Error>> {
        requests.into_iter().map(Self::verdict).collect()
    }
}

/// `r || s || v`: the scalars in range, `s` low, `v` a recovery id.
fn decode_signature(bytes: &[u8]) -> Result<(Signature, RecoveryId), Error> {
    let bytes: &[u8; 65] = bytes.try_into().map_err(|_| {
        Error::malformed_signature("an Ethereum signature is 65 bytes: r || s || v")
    })?;
    let signature = Signature::from_slice(&bytes[..64])
        .map_err(|_| Error::malformed_signature("r or s is zero or not below the group order"))?;
    if signature.normalize_s() != signature {
        return Err(Error::non_canonical_signature(
            "s is in the upper half of the group order (EIP-2 low-S)",
        ));
    }
    let v = match bytes[64] {
        27 | 28 => bytes[64] - 27,
        other => {
            return Err(Error::malformed_signature(format!(
                "v is {other}; a message signature's v is 27 or 28"
            )));
        }
    };
    // Only y's parity: an r that is x - n (ids 2 and 3) has a probability
    // of about 2^-127 and no Ethereum signer produces it.
    let recovery = RecoveryId::new(v == 1, false);
    Ok((signature, recovery))
}

/// Keccak-256 of the EIP-191 `personal_sign` envelope of `message`.
fn personal_sign_digest(message: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(PERSONAL_SIGN_PREFIX);
    hasher.update(message.len().to_string().as_bytes());
    hasher.update(message);
    hasher.finalize().into()
}

/// The address of a key: the last 20 bytes of Keccak-256 of its
/// uncompressed point without the `04` tag.
fn address_of(key: &VerifyingKey) -> [u8; 20] {
    let point = key.to_sec1_point(false);
    let hash: [u8; 32] = Keccak256::digest(&point.as_bytes()[1..]).into();
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash[12..]);
    address
}

/// EIP-55 mixed-case checksum encoding, `0x`-prefixed.
fn checksummed(address: &[u8; 20]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let lower: Vec<u8> = address
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]])
        .collect();
    let hash = Keccak256::digest(&lower);
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, &c) in lower.iter().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        out.push(if c.is_ascii_alphabetic() && nibble >= 8 {
            char::from(c.to_ascii_uppercase())
        } else {
            char::from(c)
        });
    }
    out
}

sigil_plugin_sdk::export_plugin!(Ethereum);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_take_the_eip55_checksum() {
        // EIP-55's own examples.
        for expected in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let mut address = [0u8; 20];
            for (i, byte) in address.iter_mut().enumerate() {
                let pair = &expected[2 + 2 * i..4 + 2 * i];
                *byte = u8::from_str_radix(pair, 16).expect("hex");
            }
            assert_eq!(checksummed(&address), expected);
        }
    }

    #[test]
    fn personal_sign_prefixes_the_length_in_decimal() {
        let mut direct = Keccak256::new();
        direct.update(b"\x19Ethereum Signed Message:\n11hello world");
        let direct: [u8; 32] = direct.finalize().into();
        assert_eq!(personal_sign_digest(b"hello world"), direct);
    }
}
