//! RSA signatures: RSASSA-PKCS1-v1_5 and RSASSA-PSS with SHA-256/384/512.
//!
//! Policy:
//! - keys: `rsaEncryption` SPKI (PEM or DER) or a PKCS #1 `RSAPublicKey`
//!   (raw); modulus 2048 to 8192 bits; odd public exponent from 3 to
//!   2^33 - 1; RSASSA-PSS-restricted SPKIs are refused (present the key as
//!   `rsaEncryption`);
//! - signatures: exactly the modulus' length in bytes, less than the modulus;
//! - PKCS #1 v1.5: the DigestInfo is compared whole (with its NULL
//!   parameter), nothing is parsed out of the padding;
//! - PSS: MGF1 over the message hash and a salt as long as that hash
//!   (RFC 8017's recommendation).
//!
//! The `rsa` crate parses keys at registration and holds the policy; a
//! verification decodes its key without the crate's constant-time setup
//! (`verifying_key`, same checks), and the check itself (`public_op`) runs
//! in time that varies with public data only.

mod public_op;
mod verifying_key;

use rsa_crate::PublicKey as RsaPublicKey;
use rsa_crate::pkcs1::DecodeRsaPublicKey;
use rsa_crate::pkcs8::EncodePublicKey;
use rsa_crate::pkcs8::spki::der::Decode;
use rsa_crate::pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use rsa_crate::sha2::{Sha256, Sha384, Sha512};
use rsa_crate::traits::PublicKeyParts;
use sigil_plugin_sdk::keys::{self, KeyBytes};
use sigil_plugin_sdk::request::{require_digest, require_encoding, require_scheme};
use sigil_plugin_sdk::{
    AlgorithmType, Descriptor, Error, HashAlgorithm, KeyFormat, KeyInfo, MessageInput, Plugin,
    SignatureEncoding, SignatureScheme, VerifyRequest,
};

/// `rsaEncryption` (RFC 8017 appendix C).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-RSASSA-PSS` (RFC 4055).
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// The DER `DigestInfo` before the digest, with the NULL parameter
/// (RFC 8017 §9.2, note 1).
const SHA256_INFO: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const SHA384_INFO: &[u8] = &[
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
const SHA512_INFO: &[u8] = &[
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

const MIN_BITS: usize = 2048;
const MAX_BITS: usize = 8192;
const HASHES: &[HashAlgorithm] = &[
    HashAlgorithm::Sha256,
    HashAlgorithm::Sha384,
    HashAlgorithm::Sha512,
];
const SCHEMES: &[SignatureScheme] = &[SignatureScheme::Pkcs1v15, SignatureScheme::Pss];

struct Rsa;

impl Plugin for Rsa {
    fn describe() -> Descriptor {
        Descriptor {
            name: "rsa".into(),
            version: sigil_plugin_sdk::plugin_version!().into(),
            algorithm: "RSA".into(),
            algorithm_type: AlgorithmType::Rsa,
            description:
                "Rivest–Shamir–Adleman signatures (PKCS #1 v1.5, PSS), 2048-8192-bit moduli".into(),
            parameter_sets: vec![],
            key_formats: vec![KeyFormat::Pem, KeyFormat::Der, KeyFormat::Raw],
            input: MessageInput::Digest,
            hashes: HASHES.to_vec(),
            default_hash: Some(HashAlgorithm::Sha256),
            signature_encodings: vec![SignatureEncoding::Raw],
            schemes: SCHEMES.to_vec(),
            max_context_bytes: 0,
        }
    }

    fn parse_key(key: Vec<u8>, format: KeyFormat, curve: Option<String>) -> Result<KeyInfo, Error> {
        if let Some(curve) = curve {
            return Err(Error::rejected_key(format!(
                "RSA keys have no curve, {curve:?} was named"
            )));
        }
        let key = match keys::unwrap(key, format)? {
            KeyBytes::Spki(der) => decode_spki(&der)?,
            KeyBytes::Raw(pkcs1) => RsaPublicKey::from_pkcs1_der(&pkcs1).map_err(|e| {
                Error::malformed_key(format!("not a valid PKCS #1 RSAPublicKey: {e}"))
            })?,
        };
        let bits = check_policy(key.n().as_ref(), key.e())?;
        let spki = key
            .to_public_key_der()
            .map_err(|e| Error::Internal(format!("encoding the key: {e}")))?;
        Ok(keys::key_info(None, bits, spki.as_bytes().to_vec()))
    }

    fn verify(request: VerifyRequest) -> Result<bool, Error> {
        let hash = require_digest(&request, HASHES)?;
        require_encoding(&request, &[SignatureEncoding::Raw])?;
        let scheme = require_scheme(&request, SCHEMES)?;
        let key = verifying_key::VerifyingKey::from_spki(&request.key)?;
        if request.signature.len() != key.size() {
            return Err(Error::malformed_signature(format!(
                "a signature for this {}-byte modulus is {} bytes, got {}",
                key.size(),
                key.size(),
                request.signature.len()
            )));
        }
        let Some(em) = public_op::recover_encoded_message(&key, &request.signature) else {
            return Ok(false);
        };
        let digest = &request.message;
        let bits = key.n().bit_width_vartime() as usize;
        Ok(match (scheme, hash) {
            (SignatureScheme::Pss, HashAlgorithm::Sha256) => {
                public_op::pss_matches::<Sha256>(&em, digest, bits)
            }
            (SignatureScheme::Pss, HashAlgorithm::Sha384) => {
                public_op::pss_matches::<Sha384>(&em, digest, bits)
            }
            (SignatureScheme::Pss, _) => public_op::pss_matches::<Sha512>(&em, digest, bits),
            (_, HashAlgorithm::Sha256) => public_op::pkcs1v15_matches(&em, SHA256_INFO, digest),
            (_, HashAlgorithm::Sha384) => public_op::pkcs1v15_matches(&em, SHA384_INFO, digest),
            (_, _) => public_op::pkcs1v15_matches(&em, SHA512_INFO, digest),
        })
    }
}

/// Decode an `rsaEncryption` SPKI, telling other algorithms from malformed keys.
fn decode_spki(der: &[u8]) -> Result<RsaPublicKey, Error> {
    RsaPublicKey::try_from(rsa_encryption_spki(der)?)
        .map_err(|e| Error::malformed_key(format!("not a valid RSA public key: {e}")))
}

/// The SPKI in `der`, if it is one and names `rsaEncryption`.
fn rsa_encryption_spki(der: &[u8]) -> Result<SubjectPublicKeyInfoRef<'_>, Error> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| Error::malformed_key(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
    if spki.algorithm.oid == RSASSA_PSS {
        return Err(Error::rejected_key(
            "RSASSA-PSS-restricted keys are not supported; present the key as rsaEncryption",
        ));
    }
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return Err(Error::rejected_key(format!(
            "algorithm {} is not rsaEncryption",
            spki.algorithm.oid
        )));
    }
    Ok(spki)
}

/// Modulus size and exponent policy; returns the modulus size in bits.
fn check_policy(n: &rsa_crate::BoxedUint, e: &rsa_crate::BoxedUint) -> Result<u32, Error> {
    let bits = n.bit_width_vartime();
    let size = usize::try_from(bits).unwrap_or(usize::MAX);
    if !(MIN_BITS..=MAX_BITS).contains(&size) {
        return Err(Error::rejected_key(format!(
            "a {bits}-bit modulus is outside {MIN_BITS} to {MAX_BITS} bits"
        )));
    }
    if e < &rsa_crate::BoxedUint::from(3u64) {
        return Err(Error::rejected_key(
            "the public exponent must be at least 3",
        ));
    }
    Ok(bits)
}

sigil_plugin_sdk::export_plugin!(Rsa);
