//! SLH-DSA (FIPS 205) verification: SLH-DSA-SHA2-128s, -SHA2-128f,
//! -SHAKE-128s and -SHAKE-128f in pure mode, with the request's context
//! string (up to 255 bytes, empty by default; contract 0.2.0), with
//! RustCrypto `slh-dsa`. HashSLH-DSA is not offered.
//!
//! The parameter sets are the plugin's `parameter-sets`, "curves" in the
//! host's catalogue,
//! as ML-DSA's are. Only the security-category-1 sets are served: their
//! signatures (7856 and 17088 bytes) fit the host's
//! `verify.max_signature_bytes` (17088); the 192- and 256-bit sets'
//! (16224 to 49856 bytes) would need it raised further, and every stored
//! and cached answer to carry them.
//!
//! Policy:
//! - keys: an SPKI with the parameter set's object identifier and no
//!   parameters (RFC 9814: `id-slh-dsa-sha2-128s` 2.16.840.1.101.3.4.3.20,
//!   `-sha2-128f` .21, `-shake-128s` .26, `-shake-128f` .27), or the raw
//!   32 bytes `PK.seed || PK.root`. Every 128-bit set's raw key is 32
//!   bytes, so a raw key says nothing of its set: it is taken only with the
//!   set named (`curve`). The canonical form is the SPKI;
//! - signatures: exactly the set's length (7856 bytes for the `s` sets,
//!   17088 for the `f` sets), `raw`; any other length is a malformed
//!   signature. Every byte string of the right length decodes (an SLH-DSA
//!   signature is hash values only), so the rest is the hypertree check;
//! - the message is the whole document (`raw-message`), signed as FIPS
//!   205's pure `slh_sign` with the context `ctx`
//!   (`0x00 || len(ctx) || ctx || M`);
//! - `bits` in `key-info` is the sets' claimed security strength, 128.

use pkcs8::EncodePublicKey;
use pkcs8::der::Decode;
use pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use sigil_plugin_sdk::keys::{self, KeyBytes};
use sigil_plugin_sdk::request::{require_context, require_encoding, require_scheme};
use sigil_plugin_sdk::{
    AlgorithmType, Descriptor, Error, KeyFormat, KeyInfo, MessageInput, Plugin, SignatureEncoding,
    SignatureScheme, VerifyRequest,
};
use slhdsa::{ParameterSet, Sha2_128f, Sha2_128s, Shake128f, Shake128s, Signature, VerifyingKey};

/// The longest context string FIPS 205 allows.
const MAX_CONTEXT_BYTES: u32 = 255;

/// The parameter sets served, to dispatch on a type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Id {
    Sha2_128s,
    Sha2_128f,
    Shake128s,
    Shake128f,
}

/// One FIPS 205 parameter set as the catalogue names it.
struct Set {
    id: Id,
    /// FIPS 205's name, which is the crate's `ParameterSet::NAME`.
    name: &'static str,
    oid: ObjectIdentifier,
    /// The hash family of its tweakable hashes.
    family: &'static str,
    /// FIPS 205's `s` (small signatures) or `f` (fast signing).
    tradeoff: &'static str,
    signature_bytes: usize,
}

/// Every set's public key: `PK.seed || PK.root`, n = 16 bytes each.
const PUBLIC_KEY_BYTES: usize = 32;
/// The claimed security strength of the category-1 sets.
const SECURITY_BITS: u32 = 128;

const SETS: [Set; 4] = [
    Set {
        id: Id::Sha2_128s,
        name: Sha2_128s::NAME,
        oid: Sha2_128s::ALGORITHM_OID,
        family: "SHA2",
        tradeoff: "small",
        signature_bytes: 7856,
    },
    Set {
        id: Id::Sha2_128f,
        name: Sha2_128f::NAME,
        oid: Sha2_128f::ALGORITHM_OID,
        family: "SHA2",
        tradeoff: "fast",
        signature_bytes: 17088,
    },
    Set {
        id: Id::Shake128s,
        name: Shake128s::NAME,
        oid: Shake128s::ALGORITHM_OID,
        family: "SHAKE",
        tradeoff: "small",
        signature_bytes: 7856,
    },
    Set {
        id: Id::Shake128f,
        name: Shake128f::NAME,
        oid: Shake128f::ALGORITHM_OID,
        family: "SHAKE",
        tradeoff: "fast",
        signature_bytes: 17088,
    },
];

struct SlhDsa;

impl Plugin for SlhDsa {
    fn describe() -> Descriptor {
        Descriptor {
            name: "slh-dsa".into(),
            version: sigil_plugin_sdk::plugin_version!().into(),
            algorithm: "SLH-DSA".into(),
            algorithm_type: AlgorithmType::Other,
            description: "Stateless Hash-Based Digital Signature Algorithm (FIPS 205)".into(),
            parameter_sets: SETS
                .iter()
                .map(|set| sigil_plugin_sdk::ParameterSet {
                    name: set.name.into(),
                    description: format!(
                        "{} (FIPS 205, security category 1, {} hashes, {} signatures), pure, with a context string of up to 255 bytes",
                        set.name,
                        set.family,
                        if set.tradeoff == "small" { "small" } else { "fast-signing" }
                    ),
                    parameters_json: format!(
                        "{{\"oid\":\"{}\",\"security_category\":1,\"hash_family\":\"{}\",\"tradeoff\":\"{}\",\"public_key_bytes\":{PUBLIC_KEY_BYTES},\"signature_bytes\":{},\"variant\":\"pure\"}}",
                        set.oid, set.family, set.tradeoff, set.signature_bytes
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
        let (set, raw) = match keys::unwrap(key, format)? {
            KeyBytes::Spki(der) => {
                let (set, raw) = key_of_spki(&der)?;
                (set, raw.to_vec())
            }
            KeyBytes::Raw(raw) => {
                let Some(set) = named else {
                    return Err(Error::malformed_key(
                        "a raw SLH-DSA key (32 bytes for every 128-bit set) does not say its parameter set: name it in curve (SLH-DSA-SHA2-128s, SLH-DSA-SHA2-128f, SLH-DSA-SHAKE-128s or SLH-DSA-SHAKE-128f), or send the SPKI",
                    ));
                };
                (set, raw)
            }
        };
        if let Some(named) = named
            && named.id != set.id
        {
            return Err(Error::rejected_key(format!(
                "the key is {}, not {}",
                set.name, named.name
            )));
        }
        let spki = match set.id {
            Id::Sha2_128s => spki_of::<Sha2_128s>(&raw),
            Id::Sha2_128f => spki_of::<Sha2_128f>(&raw),
            Id::Shake128s => spki_of::<Shake128s>(&raw),
            Id::Shake128f => spki_of::<Shake128f>(&raw),
        }?;
        Ok(keys::key_info(Some(set.name), SECURITY_BITS, spki))
    }

    fn verify(request: VerifyRequest) -> Result<bool, Error> {
        if request.hash.is_some() {
            return Err(Error::unsupported(
                "SLH-DSA signs the raw message (pure mode); no hash may be named",
            ));
        }
        require_encoding(&request, &[SignatureEncoding::Raw])?;
        require_scheme(&request, &[SignatureScheme::Plain])?;
        let (set, raw) = key_of_spki(&request.key)?;
        if request.signature.len() != set.signature_bytes {
            return Err(Error::malformed_signature(format!(
                "an {} signature is {} bytes, not {}",
                set.name,
                set.signature_bytes,
                request.signature.len()
            )));
        }
        match set.id {
            Id::Sha2_128s => verify_with::<Sha2_128s>(raw, &request),
            Id::Sha2_128f => verify_with::<Sha2_128f>(raw, &request),
            Id::Shake128s => verify_with::<Shake128s>(raw, &request),
            Id::Shake128f => verify_with::<Shake128f>(raw, &request),
        }
    }
}

/// The parameter set a name in the catalogue means.
fn set_named(name: &str) -> Result<&'static Set, Error> {
    SETS.iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            Error::rejected_key(format!(
                "this plugin serves SLH-DSA-SHA2-128s, SLH-DSA-SHA2-128f, SLH-DSA-SHAKE-128s and SLH-DSA-SHAKE-128f, not {name}"
            ))
        })
}

/// The parameter set and the raw key of an SPKI: the algorithm identifier
/// names a served set, has no parameters (RFC 9814 requires them absent,
/// and an SPKI with them is another encoding of the same key, which would
/// get another fingerprint), and the key is a whole number of bytes, 32 of
/// them.
fn key_of_spki(der: &[u8]) -> Result<(&'static Set, &[u8]), Error> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| Error::malformed_key(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
    let oid = spki.algorithm.oid;
    let set = SETS.iter().find(|s| s.oid == oid).ok_or_else(|| {
        Error::rejected_key(format!(
            "algorithm {oid} is not id-slh-dsa-sha2-128s, -sha2-128f, -shake-128s or -shake-128f"
        ))
    })?;
    if spki.algorithm.parameters.is_some() {
        return Err(Error::malformed_key(
            "an SLH-DSA algorithm identifier has no parameters (RFC 9814)",
        ));
    }
    let raw = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| Error::malformed_key("the public key is not a whole number of bytes"))?;
    if raw.len() != PUBLIC_KEY_BYTES {
        return Err(Error::malformed_key(format!(
            "an {} public key is {PUBLIC_KEY_BYTES} bytes, not {}",
            set.name,
            raw.len()
        )));
    }
    Ok((set, raw))
}

/// The canonical SPKI of a raw key of set `P`.
fn spki_of<P: ParameterSet>(raw: &[u8]) -> Result<Vec<u8>, Error> {
    let key = VerifyingKey::<P>::try_from(raw).map_err(|_| {
        Error::malformed_key(format!(
            "an {} public key is {PUBLIC_KEY_BYTES} bytes, not {}",
            P::NAME,
            raw.len()
        ))
    })?;
    key.to_public_key_der()
        .map(|doc| doc.as_bytes().to_vec())
        .map_err(|e| Error::Internal(format!("encoding the key: {e}")))
}

/// Pure SLH-DSA verification with the request's context.
fn verify_with<P: ParameterSet>(raw: &[u8], request: &VerifyRequest) -> Result<bool, Error> {
    let context = require_context(request, MAX_CONTEXT_BYTES as usize)?;
    let key = VerifyingKey::<P>::try_from(raw)
        .map_err(|_| Error::malformed_key("the public key's length does not fit its set"))?;
    let signature = Signature::<P>::try_from(request.signature.as_slice())
        .map_err(|_| Error::malformed_signature("wrong signature length"))?;
    Ok(key
        .try_verify_with_context(&request.message, context, &signature)
        .is_ok())
}

sigil_plugin_sdk::export_plugin!(SlhDsa);
