//! BIP-340 Schnorr signatures over secp256k1 (as revised in 2022: messages
//! of any length), with RustCrypto `k256`.
//!
//! The catalogue calls the curve `secp256k1-bip340`, not `secp256k1`:
//! curve names are unique in the catalogue and `secp256k1` is ECDSA's, with
//! ECDSA's policy (low-S, DER); the parameters carry secp256k1's OID
//! (PLUGINS.md explains the choice).
//!
//! Policy:
//! - keys: the 32-byte x-only public key (`raw`), which BIP-340 lifts to the
//!   point with that x and an even y; an x not below p, or with no point on
//!   the curve, is refused. PEM and DER are accepted for the form Sigil
//!   stores and shows (an `id-ecPublicKey` secp256k1 SubjectPublicKeyInfo
//!   whose point has an even y: the lifted point); an odd y is refused, since
//!   that point is not the x-only key's;
//! - signatures: 64 bytes `r || s` (`raw`); `r` not below p or zero, or `s`
//!   not below n or zero, is a malformed signature (k256's parsing; `r = 0`
//!   has no point, and `s = 0` could only verify for a signer who solved a
//!   discrete logarithm);
//! - the message is the whole document, hashed inside BIP-340's tagged
//!   challenge hash (`verify_raw`), of any length including zero.

use k256::PublicKey;
use k256::pkcs8::{DecodePublicKey, EncodePublicKey};
use k256::schnorr::{Signature, VerifyingKey};
use sigil_plugin_sdk::keys::{self, KeyBytes};
use sigil_plugin_sdk::request::{require_encoding, require_scheme};
use sigil_plugin_sdk::{
    AlgorithmType, Descriptor, Error, KeyFormat, KeyInfo, MessageInput, ParameterSet, Plugin,
    SignatureEncoding, SignatureScheme, VerifyRequest,
};

/// The algorithm's name in the host's catalogue.
const ALGORITHM: &str = "Schnorr";
/// The curve's name in the host's catalogue.
const CURVE: &str = "secp256k1-bip340";
/// secp256k1 (SEC 2).
const SECP256K1_OID: &str = "1.3.132.0.10";

struct SchnorrSecp256k1;

impl Plugin for SchnorrSecp256k1 {
    fn describe() -> Descriptor {
        Descriptor {
            name: "schnorr-secp256k1".into(),
            version: sigil_plugin_sdk::plugin_version!().into(),
            algorithm: ALGORITHM.into(),
            algorithm_type: AlgorithmType::Other,
            description: "Schnorr signatures over secp256k1 (BIP-340)".into(),
            parameter_sets: vec![ParameterSet {
                name: CURVE.into(),
                description:
                    "BIP-340 Schnorr over secp256k1: x-only keys, 64-byte signatures, messages of any length"
                        .into(),
                parameters_json: format!(
                    "{{\"oid\":\"{SECP256K1_OID}\",\"curve\":\"secp256k1\",\"field_bits\":256,\"variant\":\"BIP-340\",\"public_key_bytes\":32,\"signature_bytes\":64}}"
                ),
            }],
            key_formats: vec![KeyFormat::Raw, KeyFormat::Pem, KeyFormat::Der],
            input: MessageInput::RawMessage,
            hashes: vec![],
            default_hash: None,
            signature_encodings: vec![SignatureEncoding::Raw],
            schemes: vec![SignatureScheme::Plain],
            max_context_bytes: 0,
        }
    }

    fn parse_key(key: Vec<u8>, format: KeyFormat, curve: Option<String>) -> Result<KeyInfo, Error> {
        keys::check_curve_hint(curve.as_deref(), CURVE)?;
        let key = match keys::unwrap(key, format)? {
            KeyBytes::Raw(raw) => {
                if raw.len() != 32 {
                    return Err(Error::malformed_key(
                        "a BIP-340 public key is the 32-byte x coordinate",
                    ));
                }
                VerifyingKey::from_slice(&raw).map_err(|_| {
                    Error::malformed_key("not the x coordinate of a point on secp256k1 (below p)")
                })?
            }
            KeyBytes::Spki(der) => key_of_spki(&der)?,
        };
        let spki = PublicKey::from(key)
            .to_public_key_der()
            .map_err(|e| Error::Internal(format!("encoding the key: {e}")))?;
        Ok(keys::key_info(Some(CURVE), 256, spki.as_bytes().to_vec()))
    }

    fn verify(request: VerifyRequest) -> Result<bool, Error> {
        if request.hash.is_some() {
            return Err(Error::unsupported(
                "BIP-340 signs the message itself; no hash may be named",
            ));
        }
        require_encoding(&request, &[SignatureEncoding::Raw])?;
        require_scheme(&request, &[SignatureScheme::Plain])?;
        let key = key_of_spki(&request.key)?;
        if request.signature.len() != 64 {
            return Err(Error::malformed_signature(
                "a BIP-340 signature is 64 bytes",
            ));
        }
        let signature = Signature::from_slice(&request.signature).map_err(|_| {
            Error::malformed_signature("r is zero or not below p, or s is zero or not below n")
        })?;
        Ok(key.verify_raw(&request.message, &signature).is_ok())
    }
}

/// The key of an `id-ecPublicKey` secp256k1 SubjectPublicKeyInfo whose
/// point has an even y (the lifted x-only key).
fn key_of_spki(der: &[u8]) -> Result<VerifyingKey, Error> {
    let point = PublicKey::from_public_key_der(der)
        .map_err(|e| Error::malformed_key(format!("not a secp256k1 SubjectPublicKeyInfo: {e}")))?;
    VerifyingKey::try_from(point).map_err(|_| {
        Error::rejected_key(
            "the point has an odd y; a BIP-340 key is the point with an even y (register its x coordinate as raw)",
        )
    })
}

sigil_plugin_sdk::export_plugin!(SchnorrSecp256k1);
