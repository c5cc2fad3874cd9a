//! A plugin built against contract 0.1.0 (`wit/0.1.0/sigil-plugin.wit`),
//! as the shipped plugins were before 0.2.0: Ed25519, strict
//! (`verify_strict`), calling itself `ed25519` 0.1.9. The host must load it
//! beside 0.2.0 components, admit it against the same vectors and serve it
//! unchanged; the tests upload it and verify through it.

#![allow(missing_docs)]

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/0.1.0",
        world: "sigil:plugin/plugin",
    });
}

use bindings::exports::sigil::plugin::verifier::Guest;
use bindings::sigil::plugin::types::{
    AlgorithmType, CurveInfo, Descriptor, Error, KeyFormat, KeyInfo, MessageInput,
    SignatureEncoding, SignatureScheme, VerifyRequest,
};
use ed25519_dalek::pkcs8::spki::SubjectPublicKeyInfoRef;
use ed25519_dalek::pkcs8::spki::der::Decode;
use ed25519_dalek::pkcs8::{DecodePublicKey, EncodePublicKey};
use ed25519_dalek::{Signature, VerifyingKey};

const CURVE: &str = "Curve25519";

struct Legacy;

impl Guest for Legacy {
    fn describe() -> Descriptor {
        Descriptor {
            name: "ed25519".into(),
            version: "0.1.9".into(),
            algorithm: "EdDSA".into(),
            algorithm_type: AlgorithmType::Eddsa,
            description: "Edwards-curve Digital Signature Algorithm".into(),
            curves: vec![CurveInfo {
                name: CURVE.into(),
                description: "Ed25519 (contract 0.1.0 test fixture)".into(),
                parameters_json: "{\"oid\":\"1.3.101.112\",\"field_bits\":255,\"variant\":\"PureEdDSA\",\"verification\":\"strict\"}".into(),
            }],
            key_formats: vec![KeyFormat::Der, KeyFormat::Raw],
            input: MessageInput::RawMessage,
            hashes: vec![],
            default_hash: None,
            signature_encodings: vec![SignatureEncoding::Raw],
            schemes: vec![SignatureScheme::Plain],
        }
    }

    fn parse_key(key: Vec<u8>, format: KeyFormat, curve: Option<String>) -> Result<KeyInfo, Error> {
        if curve.is_some_and(|c| !c.eq_ignore_ascii_case(CURVE)) {
            return Err(Error::RejectedKey(format!("the key is on {CURVE}")));
        }
        let malformed = |e: &dyn std::fmt::Display| Error::MalformedKey(e.to_string());
        let key = match format {
            KeyFormat::Pem => return Err(Error::Unsupported("PEM is not taken".into())),
            KeyFormat::Der => VerifyingKey::from_public_key_der(&key).map_err(|e| malformed(&e))?,
            KeyFormat::Raw => {
                let raw = <[u8; 32]>::try_from(key.as_slice())
                    .map_err(|_| Error::MalformedKey("a raw Ed25519 key is 32 bytes".into()))?;
                VerifyingKey::from_bytes(&raw).map_err(|e| malformed(&e))?
            }
        };
        let point = curve25519_dalek::edwards::CompressedEdwardsY(key.to_bytes()).decompress();
        if key.is_weak() || !point.is_some_and(|p| p.is_torsion_free()) {
            return Err(Error::RejectedKey("a point of small or mixed order".into()));
        }
        let spki = key
            .to_public_key_der()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let spki_der = spki.as_bytes().to_vec();
        Ok(KeyInfo {
            curve: Some(CURVE.into()),
            bits: 256,
            fingerprint: hex(&sha256(&spki_der)),
            spki_der,
        })
    }

    fn verify(request: VerifyRequest) -> Result<bool, Error> {
        let spki = SubjectPublicKeyInfoRef::from_der(&request.key)
            .map_err(|e| Error::MalformedKey(e.to_string()))?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| Error::MalformedKey("an Ed25519 key is 32 bytes".into()))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|e| Error::MalformedKey(e.to_string()))?;
        let bytes = <[u8; 64]>::try_from(request.signature.as_slice())
            .map_err(|_| Error::MalformedSignature("an Ed25519 signature is 64 bytes".into()))?;
        Ok(key
            .verify_strict(&request.message, &Signature::from_bytes(&bytes))
            .is_ok())
    }

    fn verify_batch(requests: Vec<VerifyRequest>) -> Vec<Result<bool, Error>> {
        requests.into_iter().map(Self::verify).collect()
    }
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

bindings::export!(Legacy with_types_in bindings);
