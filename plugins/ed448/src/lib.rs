//! Ed448 (RFC 8032 PureEdDSA over edwards448, with the request's context
//! string of up to 255 bytes, empty by default) with strict verification.
//!
//! Policy, as for Ed25519:
//! - keys: 57 bytes (raw) or an `id-Ed448` SPKI (RFC 8410); the encoding
//!   must be canonical (`y < p`, the unused bits of the last byte clear);
//!   the identity and keys with a torsion component are refused;
//! - signatures: 114 bytes; `R` canonical and torsion-free, `S` reduced
//!   (`S < ℓ`, the 57th byte zero) and not zero, the cofactorless
//!   equation `[S]B = R + [k]A` (checked as ed448-goldilocks' `verify_ctx`
//!   checks it, after a canonical-encoding check of `R` it does not make,
//!   but in variable time: [`equation`]);
//! - Ed448ph is not offered; the host hands over the raw message, and the
//!   context (contract 0.2.0) goes into the signature's hash as RFC 8032's
//!   `dom4(0, context)`.

mod equation;

use ed448_goldilocks::pkcs8::EncodePublicKey;
use ed448_goldilocks::pkcs8::spki::der::Decode;
use ed448_goldilocks::pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use ed448_goldilocks::{
    ALGORITHM_OID, CompressedEdwardsY, EdwardsPoint, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH,
    VerifyingKey,
};
use sigil_plugin_sdk::keys::{self, KeyBytes};
use sigil_plugin_sdk::request::{require_context, require_encoding, require_scheme};
use sigil_plugin_sdk::{
    AlgorithmType, Descriptor, Error, KeyFormat, KeyInfo, MessageInput, ParameterSet, Plugin,
    SignatureEncoding, SignatureScheme, VerifyRequest,
};

/// The longest context string RFC 8032 allows.
const MAX_CONTEXT_BYTES: u32 = 255;

/// `id-Ed448` (RFC 8410).
const ID_ED448: ObjectIdentifier = ALGORITHM_OID;
/// The curve's name in the host's catalogue.
const CURVE: &str = "Ed448";

struct Ed448;

impl Plugin for Ed448 {
    fn describe() -> Descriptor {
        Descriptor {
            name: "ed448".into(),
            version: sigil_plugin_sdk::plugin_version!().into(),
            algorithm: "EdDSA".into(),
            algorithm_type: AlgorithmType::Eddsa,
            description: "Edwards-curve Digital Signature Algorithm".into(),
            parameter_sets: vec![ParameterSet {
                name: CURVE.into(),
                description: "Ed448 (RFC 8032) over edwards448, strict verification".into(),
                parameters_json: format!(
                    "{{\"oid\":\"{ID_ED448}\",\"field_bits\":448,\"variant\":\"PureEdDSA\",\"verification\":\"strict\"}}"
                ),
            }],
            key_formats: vec![KeyFormat::Pem, KeyFormat::Der, KeyFormat::Raw],
            input: MessageInput::RawMessage,
            hashes: vec![],
            default_hash: None,
            signature_encodings: vec![SignatureEncoding::Raw],
            schemes: vec![SignatureScheme::Plain],
            max_context_bytes: MAX_CONTEXT_BYTES,
        }
    }

    fn parse_key(key: Vec<u8>, format: KeyFormat, curve: Option<String>) -> Result<KeyInfo, Error> {
        keys::check_curve_hint(curve.as_deref(), CURVE)?;
        let raw = match keys::unwrap(key, format)? {
            KeyBytes::Spki(der) => spki_key_bytes(&der)?,
            KeyBytes::Raw(raw) => <[u8; PUBLIC_KEY_LENGTH]>::try_from(raw.as_slice())
                .map_err(|_| Error::malformed_key("a raw Ed448 key is 57 bytes"))?,
        };
        let key = decode_key(&raw)?;
        let spki = key
            .to_public_key_der()
            .map_err(|e| Error::Internal(format!("encoding the key: {e}")))?;
        Ok(keys::key_info(Some(CURVE), 448, spki.as_bytes().to_vec()))
    }

    fn verify(request: VerifyRequest) -> Result<bool, Error> {
        if request.hash.is_some() {
            return Err(Error::unsupported(
                "Ed448 signs the raw message; no hash may be named",
            ));
        }
        require_encoding(&request, &[SignatureEncoding::Raw])?;
        require_scheme(&request, &[SignatureScheme::Plain])?;
        let context = require_context(&request, MAX_CONTEXT_BYTES as usize)?;
        let key_bytes = spki_key_bytes(&request.key)?;
        let key = key_point(&key_bytes)?;
        let bytes = <[u8; SIGNATURE_LENGTH]>::try_from(request.signature.as_slice())
            .map_err(|_| Error::malformed_signature("an Ed448 signature is 114 bytes"))?;
        let mut r = [0u8; PUBLIC_KEY_LENGTH];
        r.copy_from_slice(&bytes[..PUBLIC_KEY_LENGTH]);
        // An R that is not a canonical torsion-free point makes the
        // signature wrong, not malformed (ed448-goldilocks refuses it too,
        // bar the canonical encoding, which it does not check).
        let Some(r) = canonical_torsion_free(&r) else {
            return Ok(false);
        };
        Ok(equation::verify(
            &key,
            &key_bytes,
            &r,
            &bytes,
            context,
            &request.message,
        ))
    }
}

/// The point of a canonical encoding (decoding and encoding again gives
/// the same bytes) of a point on the curve without a torsion component.
/// (Decoding takes a square root and a torsion check: each point of a
/// verification is decoded once.)
fn canonical_torsion_free(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> Option<EdwardsPoint> {
    let decoded: Option<ed448_goldilocks::AffinePoint> =
        CompressedEdwardsY(*bytes).decompress().into();
    decoded
        .filter(|point| point.compress().as_bytes() == bytes)
        .map(|point| point.to_edwards())
}

/// The 57 key bytes of an `id-Ed448` SubjectPublicKeyInfo.
fn spki_key_bytes(der: &[u8]) -> Result<[u8; PUBLIC_KEY_LENGTH], Error> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| Error::malformed_key(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
    if spki.algorithm.oid != ID_ED448 {
        return Err(Error::rejected_key(format!(
            "algorithm {} is not id-Ed448",
            spki.algorithm.oid
        )));
    }
    if spki.algorithm.parameters.is_some() {
        return Err(Error::malformed_key(
            "id-Ed448 takes no parameters (RFC 8410)",
        ));
    }
    spki.subject_public_key
        .as_bytes()
        .and_then(|bytes| <[u8; PUBLIC_KEY_LENGTH]>::try_from(bytes).ok())
        .ok_or_else(|| Error::malformed_key("an Ed448 key is 57 bytes"))
}

/// A key's point: canonical, on the curve, torsion-free, not the identity.
fn key_point(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> Result<EdwardsPoint, Error> {
    let point = canonical_torsion_free(bytes).ok_or_else(|| {
        Error::rejected_key("not a canonical encoding of a torsion-free point on edwards448")
    })?;
    if point == EdwardsPoint::IDENTITY {
        return Err(Error::rejected_key("the identity is not a key"));
    }
    Ok(point)
}

/// Decode a key as [`key_point`] does, for its SPKI.
fn decode_key(bytes: &[u8; PUBLIC_KEY_LENGTH]) -> Result<VerifyingKey, Error> {
    key_point(bytes)?;
    VerifyingKey::from_bytes(bytes).map_err(|_| Error::rejected_key("the identity is not a key"))
}

sigil_plugin_sdk::export_plugin!(Ed448);
