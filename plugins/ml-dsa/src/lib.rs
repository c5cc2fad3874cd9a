//! ML-DSA (FIPS 204) verification: ML-DSA-44, ML-DSA-65 and ML-DSA-87 in
//! pure mode, with the request's context string (up to 255 bytes, empty by
//! default; contract 0.2.0). HashML-DSA is not offered.
//!
//! The parameter sets are the plugin's `parameter-sets`, "curves" in the
//! host's catalogue.
//! Policy:
//! - keys: an SPKI with the parameter set's object identifier
//!   (`id-ml-dsa-44` 2.16.840.1.101.3.4.3.17, `-65` .18, `-87` .19, no
//!   parameters; draft-ietf-lamps-dilithium-certificates), or the raw
//!   `pkEncode` bytes, whose length names the set (1312, 1952, 2592
//!   bytes); the canonical form is the SPKI;
//! - signatures: exactly the set's `sigEncode` length (2420, 3309, 4627
//!   bytes); a malformed hint encoding or `z` out of range is a malformed
//!   signature (FIPS 204 `sigDecode`), everything else is the equation.
//! - `bits` in `key-info` is the set's claimed security strength (128,
//!   192, 256).

use mldsa::pkcs8::EncodePublicKey;
use mldsa::pkcs8::der::{AnyRef, Decode};
use mldsa::pkcs8::spki::{
    AssociatedAlgorithmIdentifier, ObjectIdentifier, SubjectPublicKeyInfoRef,
};
use mldsa::{
    EncodedSignature, EncodedVerifyingKey, MlDsa44, MlDsa65, MlDsa87, MlDsaParams, Signature,
    VerifyingKey,
};
use sigil_plugin_sdk::keys::{self, KeyBytes};
use sigil_plugin_sdk::request::{require_context, require_encoding, require_scheme};
use sigil_plugin_sdk::{
    AlgorithmType, Descriptor, Error, KeyFormat, KeyInfo, MessageInput, ParameterSet, Plugin,
    SignatureEncoding, SignatureScheme, VerifyRequest,
};

/// The longest context string FIPS 204 allows.
const MAX_CONTEXT_BYTES: u32 = 255;

/// One FIPS 204 parameter set as the catalogue names it.
struct Set {
    name: &'static str,
    oid: ObjectIdentifier,
    category: u8,
    bits: u32,
    key_bytes: usize,
    signature_bytes: usize,
}

const SETS: [Set; 3] = [
    Set {
        name: "ML-DSA-44",
        oid: MlDsa44::ALGORITHM_IDENTIFIER.oid,
        category: 2,
        bits: 128,
        key_bytes: 1312,
        signature_bytes: 2420,
    },
    Set {
        name: "ML-DSA-65",
        oid: MlDsa65::ALGORITHM_IDENTIFIER.oid,
        category: 3,
        bits: 192,
        key_bytes: 1952,
        signature_bytes: 3309,
    },
    Set {
        name: "ML-DSA-87",
        oid: MlDsa87::ALGORITHM_IDENTIFIER.oid,
        category: 5,
        bits: 256,
        key_bytes: 2592,
        signature_bytes: 4627,
    },
];

struct MlDsa;

impl Plugin for MlDsa {
    fn describe() -> Descriptor {
        Descriptor {
            name: "ml-dsa".into(),
            version: sigil_plugin_sdk::plugin_version!().into(),
            algorithm: "ML-DSA".into(),
            algorithm_type: AlgorithmType::Other,
            description: "Module-Lattice-Based Digital Signature Algorithm (FIPS 204)".into(),
            parameter_sets: SETS
                .iter()
                .map(|set| ParameterSet {
                    name: set.name.into(),
                    description: format!(
                        "{} (FIPS 204, security category {}), pure, with a context string of up to 255 bytes",
                        set.name, set.category
                    ),
                    parameters_json: format!(
                        "{{\"oid\":\"{}\",\"security_category\":{},\"public_key_bytes\":{},\"signature_bytes\":{},\"variant\":\"pure\"}}",
                        set.oid, set.category, set.key_bytes, set.signature_bytes
                    ),
                })
                .collect(),
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
        let named = curve.as_deref().map(set_named).transpose()?;
        let (set, spki) = match keys::unwrap(key, format)? {
            KeyBytes::Spki(der) => {
                let set = set_of_spki(&der)?;
                // Decoding and encoding again gives the canonical SPKI.
                (
                    set,
                    dispatch(
                        set,
                        &der,
                        canonical_spki_of::<MlDsa44>,
                        canonical_spki_of::<MlDsa65>,
                        canonical_spki_of::<MlDsa87>,
                    )?,
                )
            }
            KeyBytes::Raw(raw) => {
                let set = match named {
                    Some(set) => set,
                    None => SETS.iter().find(|s| s.key_bytes == raw.len()).ok_or_else(|| {
                        Error::malformed_key(
                            "a raw ML-DSA key is 1312 (ML-DSA-44), 1952 (-65) or 2592 (-87) bytes",
                        )
                    })?,
                };
                (
                    set,
                    dispatch(
                        set,
                        &raw,
                        spki_of_raw::<MlDsa44>,
                        spki_of_raw::<MlDsa65>,
                        spki_of_raw::<MlDsa87>,
                    )?,
                )
            }
        };
        if let Some(named) = named
            && named.name != set.name
        {
            return Err(Error::rejected_key(format!(
                "the key is {}, not {}",
                set.name, named.name
            )));
        }
        Ok(keys::key_info(Some(set.name), set.bits, spki))
    }

    fn verify(request: VerifyRequest) -> Result<bool, Error> {
        if request.hash.is_some() {
            return Err(Error::unsupported(
                "ML-DSA signs the raw message (pure mode); no hash may be named",
            ));
        }
        require_encoding(&request, &[SignatureEncoding::Raw])?;
        require_scheme(&request, &[SignatureScheme::Plain])?;
        let set = set_of_spki(&request.key)?;
        if request.signature.len() != set.signature_bytes {
            return Err(Error::malformed_signature(format!(
                "an {} signature is {} bytes",
                set.name, set.signature_bytes
            )));
        }
        match set.category {
            2 => verify_with::<MlDsa44>(&request),
            3 => verify_with::<MlDsa65>(&request),
            _ => verify_with::<MlDsa87>(&request),
        }
    }
}

/// Call the function for `set`'s parameters.
fn dispatch<T>(
    set: &Set,
    bytes: &[u8],
    for_44: fn(&[u8]) -> Result<T, Error>,
    for_65: fn(&[u8]) -> Result<T, Error>,
    for_87: fn(&[u8]) -> Result<T, Error>,
) -> Result<T, Error> {
    match set.category {
        2 => for_44(bytes),
        3 => for_65(bytes),
        _ => for_87(bytes),
    }
}

/// The parameter set a name in the catalogue means.
fn set_named(name: &str) -> Result<&'static Set, Error> {
    SETS.iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            Error::rejected_key(format!(
                "this plugin serves ML-DSA-44, ML-DSA-65 and ML-DSA-87, not {name}"
            ))
        })
}

/// The parameter set an SPKI names by its algorithm identifier.
fn set_of_spki(der: &[u8]) -> Result<&'static Set, Error> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| Error::malformed_key(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
    let oid = spki.algorithm.oid;
    SETS.iter().find(|s| s.oid == oid).ok_or_else(|| {
        Error::rejected_key(format!("algorithm {oid} is not id-ml-dsa-44, -65 or -87"))
    })
}

fn encode<P>(key: &VerifyingKey<P>) -> Result<Vec<u8>, Error>
where
    P: MlDsaParams + AssociatedAlgorithmIdentifier<Params = AnyRef<'static>>,
{
    key.to_public_key_der()
        .map(|doc| doc.as_bytes().to_vec())
        .map_err(|e| Error::Internal(format!("encoding the key: {e}")))
}

fn canonical_spki_of<P>(der: &[u8]) -> Result<Vec<u8>, Error>
where
    P: MlDsaParams + AssociatedAlgorithmIdentifier<Params = AnyRef<'static>>,
{
    encode(&decode_spki::<P>(der)?)
}

fn spki_of_raw<P>(raw: &[u8]) -> Result<Vec<u8>, Error>
where
    P: MlDsaParams + AssociatedAlgorithmIdentifier<Params = AnyRef<'static>>,
{
    let encoded = EncodedVerifyingKey::<P>::try_from(raw)
        .map_err(|_| Error::malformed_key("the raw key's length does not fit its parameter set"))?;
    encode(&VerifyingKey::<P>::decode(&encoded))
}

fn decode_spki<P>(der: &[u8]) -> Result<VerifyingKey<P>, Error>
where
    P: MlDsaParams + AssociatedAlgorithmIdentifier<Params = AnyRef<'static>>,
{
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| Error::malformed_key(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
    VerifyingKey::<P>::try_from(spki).map_err(|e| {
        Error::malformed_key(format!(
            "not an ML-DSA public key of this parameter set (no parameters, exact length): {e}"
        ))
    })
}

fn verify_with<P>(request: &VerifyRequest) -> Result<bool, Error>
where
    P: MlDsaParams + AssociatedAlgorithmIdentifier<Params = AnyRef<'static>>,
{
    let key = decode_spki::<P>(&request.key)?;
    let encoded = EncodedSignature::<P>::try_from(request.signature.as_slice())
        .map_err(|_| Error::malformed_signature("wrong signature length"))?;
    let Some(signature) = Signature::<P>::decode(&encoded) else {
        return Err(Error::malformed_signature(
            "not a valid ML-DSA signature encoding (hint encoding or z out of range)",
        ));
    };
    let context = require_context(request, MAX_CONTEXT_BYTES as usize)?;
    Ok(key.verify_with_context(&request.message, context, &signature))
}

sigil_plugin_sdk::export_plugin!(MlDsa);
