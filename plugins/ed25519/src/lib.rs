//! Ed25519 (RFC 8032 PureEdDSA) with strict verification.
//!
//! Policy:
//! - keys: 32 bytes (raw) or an `id-Ed25519` SPKI; the encoding of `y` must
//!   be canonical (`y < p`); small-order keys are refused, and so are keys
//!   with a torsion component, which an honest `A = aB` never has;
//! - signatures: 64 bytes; `S` must be canonical (`S < ℓ`), otherwise the
//!   signature is refused as non-canonical; `R` must be canonical and not of
//!   small order (ed25519-dalek's `verify_strict`, the cofactorless
//!   equation);
//! - `verify-batch` checks every item's form first, runs the batch equation
//!   over the well-formed ones whose R is canonical and not of small order,
//!   and verifies the rest, and every item of a failing batch, one by one.
//!   Residual difference, documented in PLUGINS.md: the batch equation uses
//!   random-looking coefficients derived from the batch, so a signer (and
//!   only the holder of the secret key) who crafts R with a torsion
//!   component can make a batch accept, with probability at most 1/2 per
//!   attempt, a signature `verify` refuses. Honest signatures never have
//!   one. The host never reuses a batch's answer for a single verification.

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::pkcs8::spki::der::Decode;
use ed25519_dalek::pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use ed25519_dalek::{Signature, VerifyingKey};
use sigil_plugin_sdk::keys::{self, KeyBytes};
use sigil_plugin_sdk::request::{require_encoding, require_scheme};
use sigil_plugin_sdk::{
    AlgorithmType, Descriptor, Error, KeyFormat, KeyInfo, MessageInput, ParameterSet, Plugin,
    SignatureEncoding, SignatureScheme, VerifyRequest,
};

/// `id-Ed25519` (RFC 8410).
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// The curve's name in the host's catalogue.
const CURVE: &str = "Curve25519";

struct Ed25519;

impl Plugin for Ed25519 {
    fn describe() -> Descriptor {
        Descriptor {
            name: "ed25519".into(),
            version: sigil_plugin_sdk::plugin_version!().into(),
            algorithm: "EdDSA".into(),
            algorithm_type: AlgorithmType::Eddsa,
            description: "Edwards-curve Digital Signature Algorithm".into(),
            parameter_sets: vec![ParameterSet {
                name: CURVE.into(),
                description: "Ed25519 (RFC 8032) over edwards25519, strict verification".into(),
                parameters_json: format!(
                    "{{\"oid\":\"{ID_ED25519}\",\"field_bits\":255,\"variant\":\"PureEdDSA\",\"verification\":\"strict\"}}"
                ),
            }],
            key_formats: vec![KeyFormat::Pem, KeyFormat::Der, KeyFormat::Raw],
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
        let raw = match keys::unwrap(key, format)? {
            KeyBytes::Spki(der) => spki_key_bytes(&der)?,
            KeyBytes::Raw(raw) => <[u8; 32]>::try_from(raw.as_slice())
                .map_err(|_| Error::malformed_key("a raw Ed25519 key is 32 bytes"))?,
        };
        let key = decode_key(&raw)?;
        if !key.to_edwards().is_torsion_free() {
            return Err(Error::rejected_key("the key has a torsion component"));
        }
        let spki = key
            .to_public_key_der()
            .map_err(|e| Error::Internal(format!("encoding the key: {e}")))?;
        Ok(keys::key_info(Some(CURVE), 256, spki.as_bytes().to_vec()))
    }

    fn verify(request: VerifyRequest) -> Result<bool, Error> {
        let (key, signature) = prepare(&request)?;
        Ok(key.verify_strict(&request.message, &signature).is_ok())
    }

    fn verify_batch(requests: Vec<VerifyRequest>) -> Vec<Result<bool, Error>> {
        let prepared: Vec<Result<(VerifyingKey, Signature), Error>> =
            requests.iter().map(prepare).collect();
        // Only signatures whose R is canonical and not of small order enter
        // the batch equation (verify_strict refuses the others, and so must
        // the batch); the rest are verified one by one.
        let batchable = |item: &Result<(VerifyingKey, Signature), Error>| matches!(item, Ok((_, signature)) if strict_r(signature));
        let mut messages = Vec::with_capacity(requests.len());
        let mut signatures = Vec::with_capacity(requests.len());
        let mut verifying_keys = Vec::with_capacity(requests.len());
        for (request, item) in requests.iter().zip(&prepared) {
            if let (true, Ok((key, signature))) = (batchable(item), item) {
                messages.push(request.message.as_slice());
                signatures.push(*signature);
                verifying_keys.push(*key);
            }
        }
        let all_valid = verifying_keys.len() > 1
            && ed25519_dalek::verify_batch(&messages, &signatures, &verifying_keys).is_ok();
        requests
            .iter()
            .zip(prepared)
            .map(|(request, item)| {
                let in_batch = batchable(&item);
                let (key, signature) = item?;
                Ok((all_valid && in_batch)
                    || key.verify_strict(&request.message, &signature).is_ok())
            })
            .collect()
    }
}

/// R encoded canonically and not of small order (what `verify_strict`
/// requires of R).
fn strict_r(signature: &Signature) -> bool {
    let bytes = signature.r_bytes();
    CompressedEdwardsY(*bytes)
        .decompress()
        .is_some_and(|point| point.compress().as_bytes() == bytes && !point.is_small_order())
}

/// Check a request's form and decode its key and signature.
fn prepare(request: &VerifyRequest) -> Result<(VerifyingKey, Signature), Error> {
    if request.hash.is_some() {
        return Err(Error::unsupported(
            "Ed25519 signs the raw message; no hash may be named",
        ));
    }
    require_encoding(request, &[SignatureEncoding::Raw])?;
    require_scheme(request, &[SignatureScheme::Plain])?;
    let key = decode_key(&spki_key_bytes(&request.key)?)?;
    let bytes = <[u8; 64]>::try_from(request.signature.as_slice())
        .map_err(|_| Error::malformed_signature("an Ed25519 signature is 64 bytes"))?;
    let mut s = [0u8; 32];
    s.copy_from_slice(&bytes[32..]);
    if Scalar::from_canonical_bytes(s).is_none().into() {
        return Err(Error::non_canonical_signature(
            "S is not reduced modulo the group order",
        ));
    }
    Ok((key, Signature::from_bytes(&bytes)))
}

/// The 32 key bytes of an `id-Ed25519` SubjectPublicKeyInfo.
fn spki_key_bytes(der: &[u8]) -> Result<[u8; 32], Error> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| Error::malformed_key(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
    if spki.algorithm.oid != ID_ED25519 {
        return Err(Error::rejected_key(format!(
            "algorithm {} is not id-Ed25519",
            spki.algorithm.oid
        )));
    }
    if spki.algorithm.parameters.is_some() {
        return Err(Error::malformed_key(
            "id-Ed25519 takes no parameters (RFC 8410)",
        ));
    }
    spki.subject_public_key
        .as_bytes()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| Error::malformed_key("an Ed25519 key is 32 bytes"))
}

/// Decode a point, refusing non-canonical encodings and small-order points.
fn decode_key(bytes: &[u8; 32]) -> Result<VerifyingKey, Error> {
    let point = CompressedEdwardsY(*bytes)
        .decompress()
        .ok_or_else(|| Error::malformed_key("not a point on edwards25519"))?;
    if point.compress().as_bytes() != bytes {
        return Err(Error::rejected_key("non-canonical point encoding"));
    }
    let key = VerifyingKey::from_bytes(bytes)
        .map_err(|_| Error::malformed_key("not a point on edwards25519"))?;
    if key.is_weak() {
        return Err(Error::rejected_key("small-order key"));
    }
    Ok(key)
}

sigil_plugin_sdk::export_plugin!(Ed25519);
