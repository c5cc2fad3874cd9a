//! A verification request as clients send it, checked and decoded: sizes
//! bounded before decoding, base64 and hex strict, and the hash, encoding
//! and scheme chosen against what the key's plugin declares.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use uuid::Uuid;

use super::VerifyError;
use crate::config::VerifyConfig;
use crate::plugins::contract::MAX_CONTEXT_BYTES;
use crate::plugins::{Descriptor, HashAlgorithm, MessageInput, SignatureEncoding, SignatureScheme};

/// One verification request (also a batch item).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyItem {
    /// The key to verify with.
    pub public_key_id: Uuid,
    /// The document, base64 (standard alphabet). Give this or
    /// `document_hash`.
    pub document: Option<String>,
    /// The document's digest, hex, made with `hash_algorithm` (plugins that
    /// take a digest only).
    pub document_hash: Option<String>,
    /// The signature, base64.
    pub signature: String,
    /// `sha256`, `sha384`, `sha512`, `sha3-256`, `sha3-384`, `sha3-512` or
    /// `keccak256`; default
    /// from the key's plugin (P-256, secp256k1 and RSA: sha256; P-384:
    /// sha384; P-521: sha512). Plugins that sign the document itself
    /// (EdDSA, ML-DSA) take none.
    pub hash_algorithm: Option<String>,
    /// ECDSA: `der` (default) or `p1363` (r||s).
    pub signature_encoding: Option<String>,
    /// RSA: `pkcs1v15` (default) or `pss`; Ethereum: `eip191` (default,
    /// `personal_sign`) or `plain` (the document is the 32-byte digest).
    pub signature_algorithm: Option<String>,
    /// ML-DSA, SLH-DSA and Ed448: the context string, base64, at most 255
    /// bytes (default empty; an empty one is no context). A non-empty one
    /// is refused by algorithms without context strings.
    pub context: Option<String>,
}

/// The decoded parts of a request.
#[derive(Debug)]
pub struct Prepared {
    document: Option<Vec<u8>>,
    digest: Option<Vec<u8>>,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// The context string (empty: none).
    pub context: Vec<u8>,
}

/// Decode a base64 field of at most `max` bytes, refusing oversized input
/// before decoding it.
fn decode_base64(field: &'static str, value: &str, max: usize) -> Result<Vec<u8>, VerifyError> {
    let (too_large, malformed) = match field {
        "document" => ("document_too_large", "invalid_document"),
        "context" => ("context_too_large", "invalid_context"),
        _ => ("signature_too_large", "malformed_signature"),
    };
    let oversized = || VerifyError::invalid(too_large, format!("{field} exceeds {max} bytes"));
    if value.len() > max.div_ceil(3) * 4 + 4 {
        return Err(oversized());
    }
    let bytes = STANDARD
        .decode(value.trim())
        .map_err(|e| VerifyError::malformed(malformed, format!("{field} is not base64: {e}")))?;
    if bytes.len() > max {
        return Err(oversized());
    }
    Ok(bytes)
}

impl Prepared {
    /// Decode and bound a request's document and signature.
    pub fn from_item(item: &VerifyItem, limits: &VerifyConfig) -> Result<Self, VerifyError> {
        let (document, digest) = match (&item.document, &item.document_hash) {
            (Some(document), None) => (
                Some(decode_base64(
                    "document",
                    document,
                    limits.max_document_bytes,
                )?),
                None,
            ),
            (None, Some(hash)) => {
                if hash.len() > 128 || hash.len() % 2 != 0 {
                    return Err(VerifyError::malformed(
                        "invalid_document_hash",
                        "document_hash is a hex digest of at most 64 bytes",
                    ));
                }
                let digest = hex::decode(hash).map_err(|_| {
                    VerifyError::malformed("invalid_document_hash", "document_hash is not hex")
                })?;
                (None, Some(digest))
            }
            (Some(_), Some(_)) => {
                return Err(VerifyError::malformed(
                    "document_required",
                    "give either document or document_hash, not both",
                ));
            }
            (None, None) => {
                return Err(VerifyError::malformed(
                    "document_required",
                    "give document (base64) or document_hash (hex)",
                ));
            }
        };
        let signature = decode_base64("signature", &item.signature, limits.max_signature_bytes)?;
        if signature.is_empty() {
            return Err(VerifyError::malformed(
                "malformed_signature",
                "the signature is empty",
            ));
        }
        let context = match &item.context {
            Some(context) => decode_base64("context", context, MAX_CONTEXT_BYTES as usize)?,
            None => Vec::new(),
        };
        Ok(Self {
            document,
            digest,
            signature,
            context,
        })
    }

    /// Bytes of the document (0 when only its hash was given).
    pub fn document_len(&self) -> usize {
        self.document.as_ref().map_or(0, Vec::len)
    }

    /// The plugin's message and the record's hex document hash: the digest
    /// (computed here for a document) for digest-taking plugins, the
    /// document and its SHA-256 for raw-message ones. CPU-bound: call on a
    /// worker thread.
    pub fn message_for(&mut self, plan: &Plan) -> (Vec<u8>, String) {
        match plan.hash {
            Some(hash) => {
                let digest = match (self.digest.take(), self.document.take()) {
                    (Some(digest), _) => digest,
                    (None, Some(document)) => hash.digest(&document),
                    (None, None) => Vec::new(),
                };
                let hex = hex::encode(&digest);
                (digest, hex)
            }
            None => {
                let document = self.document.take().unwrap_or_default();
                let hex = hex::encode(HashAlgorithm::Sha256.digest(&document));
                (document, hex)
            }
        }
    }
}

/// How a request will be verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Plan {
    /// The hash that makes the plugin's digest (none for raw-message).
    pub hash: Option<HashAlgorithm>,
    /// Signature encoding.
    pub encoding: SignatureEncoding,
    /// Signature scheme.
    pub scheme: SignatureScheme,
}

impl Plan {
    /// Choose hash, encoding and scheme for `item` against what the key's
    /// plugin declares.
    pub fn new(
        descriptor: &Descriptor,
        item: &VerifyItem,
        prepared: &Prepared,
    ) -> Result<Self, VerifyError> {
        let hash = match descriptor.input {
            MessageInput::Digest => Some(digest_hash(descriptor, item, prepared)?),
            MessageInput::RawMessage => {
                raw_message(descriptor, item, prepared)?;
                None
            }
        };
        let encoding = choose(
            item.signature_encoding.as_deref(),
            &descriptor.signature_encodings,
            "unsupported_encoding",
            "signature_encoding",
        )?;
        let scheme = choose(
            item.signature_algorithm.as_deref(),
            &descriptor.schemes,
            "unsupported_signature_algorithm",
            "signature_algorithm",
        )?;
        check_context(descriptor, prepared)?;
        Ok(Self {
            hash,
            encoding,
            scheme,
        })
    }

    /// The hash the record's `document_hash` is made with.
    pub fn document_hash_algorithm(&self) -> HashAlgorithm {
        self.hash.unwrap_or(HashAlgorithm::Sha256)
    }
}

/// The hash for a digest-taking plugin: the requested one if the plugin
/// accepts it, else its default; a given digest must have its length.
fn digest_hash(
    descriptor: &Descriptor,
    item: &VerifyItem,
    prepared: &Prepared,
) -> Result<HashAlgorithm, VerifyError> {
    let hash = match &item.hash_algorithm {
        Some(name) => name
            .parse::<HashAlgorithm>()
            .map_err(|e| VerifyError::invalid("unsupported_hash", e.to_string()))?,
        None => descriptor.default_hash.ok_or_else(|| {
            VerifyError::invalid("unsupported_hash", "the plugin declares no default hash")
        })?,
    };
    if !descriptor.hashes.contains(&hash) {
        return Err(VerifyError::invalid(
            "unsupported_hash",
            format!(
                "{} does not accept {hash}; it accepts {:?}",
                descriptor.name,
                names(&descriptor.hashes)
            ),
        ));
    }
    if let Some(digest) = &prepared.digest
        && digest.len() != hash.output_len()
    {
        return Err(VerifyError::malformed(
            "invalid_document_hash",
            format!(
                "a {hash} digest is {} bytes, document_hash has {}",
                hash.output_len(),
                digest.len()
            ),
        ));
    }
    Ok(hash)
}

/// A context string only where the plugin takes one, and no longer than
/// it declares.
fn check_context(descriptor: &Descriptor, prepared: &Prepared) -> Result<(), VerifyError> {
    let len = prepared.context.len();
    let max = descriptor.max_context_bytes as usize;
    if len == 0 || len <= max {
        return Ok(());
    }
    Err(VerifyError::invalid(
        "unsupported_context",
        if max == 0 {
            format!("{} takes no context string", descriptor.algorithm)
        } else {
            format!(
                "{} takes a context of at most {max} bytes, got {len}",
                descriptor.algorithm
            )
        },
    ))
}

/// A raw-message plugin takes the document itself and no hash.
fn raw_message(
    descriptor: &Descriptor,
    item: &VerifyItem,
    prepared: &Prepared,
) -> Result<(), VerifyError> {
    if item.hash_algorithm.is_some() {
        return Err(VerifyError::invalid(
            "unsupported_hash",
            format!(
                "{} signs the raw message; no hash_algorithm may be given",
                descriptor.algorithm
            ),
        ));
    }
    if prepared.document.is_none() {
        return Err(VerifyError::invalid(
            "document_required",
            format!(
                "{} signs the raw message; send the document, not its hash",
                descriptor.algorithm
            ),
        ));
    }
    Ok(())
}

fn names<T: std::fmt::Display>(values: &[T]) -> Vec<String> {
    values.iter().map(ToString::to_string).collect()
}

/// The requested value if the plugin declares it, else the plugin's first.
fn choose<T>(
    requested: Option<&str>,
    declared: &[T],
    code: &'static str,
    field: &str,
) -> Result<T, VerifyError>
where
    T: Copy + PartialEq + std::str::FromStr + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    match requested {
        Some(name) => {
            let value = name
                .parse::<T>()
                .map_err(|e| VerifyError::invalid(code, format!("{field}: {e}")))?;
            if declared.contains(&value) {
                Ok(value)
            } else {
                Err(VerifyError::invalid(
                    code,
                    format!(
                        "{field} {value} is not accepted here; use one of {:?}",
                        names(declared)
                    ),
                ))
            }
        }
        None => declared
            .first()
            .copied()
            .ok_or_else(|| VerifyError::invalid(code, format!("the plugin declares no {field}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::{AlgorithmType, KeyFormat};

    fn ecdsa() -> Descriptor {
        Descriptor {
            name: "ecdsa-p256".into(),
            version: "1.0.0".into(),
            algorithm: "ECDSA".into(),
            algorithm_type: AlgorithmType::Ecdsa,
            description: "ECDSA on P-256".into(),
            curves: Vec::new(),
            key_formats: vec![KeyFormat::Pem, KeyFormat::Der, KeyFormat::Raw],
            input: MessageInput::Digest,
            hashes: vec![HashAlgorithm::Sha256, HashAlgorithm::Sha384],
            default_hash: Some(HashAlgorithm::Sha256),
            signature_encodings: vec![SignatureEncoding::Der, SignatureEncoding::P1363],
            schemes: vec![SignatureScheme::Plain],
            max_context_bytes: 0,
        }
    }

    fn ed25519() -> Descriptor {
        Descriptor {
            name: "ed25519".into(),
            algorithm: "EdDSA".into(),
            algorithm_type: AlgorithmType::EdDsa,
            input: MessageInput::RawMessage,
            hashes: Vec::new(),
            default_hash: None,
            signature_encodings: vec![SignatureEncoding::Raw],
            ..ecdsa()
        }
    }

    fn item() -> VerifyItem {
        VerifyItem {
            public_key_id: Uuid::nil(),
            document: Some(STANDARD.encode(b"hello")),
            document_hash: None,
            signature: STANDARD.encode([1u8; 64]),
            hash_algorithm: None,
            signature_encoding: None,
            signature_algorithm: None,
            context: None,
        }
    }

    fn limits() -> VerifyConfig {
        VerifyConfig {
            max_document_bytes: 16,
            max_signature_bytes: 128,
            ..VerifyConfig::default()
        }
    }

    /// The code a refusal carries, and whether it is a 400.
    fn refusal<T: std::fmt::Debug>(result: Result<T, VerifyError>) -> (&'static str, bool) {
        match result {
            Err(VerifyError::Invalid {
                code, malformed, ..
            }) => (code, malformed),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_request_decodes_its_document_or_its_hash_and_its_signature() {
        let prepared = Prepared::from_item(&item(), &limits()).expect("prepared");
        assert_eq!(prepared.document_len(), 5);
        assert_eq!(prepared.signature, vec![1u8; 64]);
        let by_hash = changed(|i| (i.document, i.document_hash) = (None, Some("ab".repeat(32))));
        let prepared = Prepared::from_item(&by_hash, &limits()).expect("prepared");
        assert_eq!(prepared.document_len(), 0);
        assert_eq!(prepared.digest, Some(vec![0xab; 32]));
    }

    #[test]
    fn a_context_string_goes_only_where_the_plugin_takes_one_and_fits() {
        let ml_dsa = Descriptor {
            max_context_bytes: 255,
            ..ed25519()
        };
        let with = |bytes: &[u8]| changed(|i| i.context = Some(STANDARD.encode(bytes)));
        let plan = |d: &Descriptor, item: &VerifyItem| {
            let prepared = Prepared::from_item(item, &limits())?;
            Plan::new(d, item, &prepared).map(|_| prepared.context)
        };
        assert_eq!(plan(&ml_dsa, &with(b"app-v1")).expect("planned"), b"app-v1");
        assert_eq!(plan(&ml_dsa, &with(&[7; 255])).expect("planned").len(), 255);
        assert_eq!(plan(&ed25519(), &item()).expect("planned"), b"");
        // An empty context is no context, for every plugin.
        assert_eq!(plan(&ed25519(), &with(b"")).expect("planned"), b"");
        assert_eq!(
            refusal(plan(&ed25519(), &with(b"app-v1"))),
            ("unsupported_context", false)
        );
        let short = Descriptor {
            max_context_bytes: 4,
            ..ml_dsa.clone()
        };
        assert_eq!(
            refusal(plan(&short, &with(b"app-v1"))),
            ("unsupported_context", false)
        );
        assert_eq!(
            refusal(plan(&ml_dsa, &with(&[7; 256]))),
            ("context_too_large", false)
        );
        let not_base64 = changed(|i| i.context = Some("not base64!".into()));
        assert_eq!(
            refusal(plan(&ml_dsa, &not_base64)),
            ("invalid_context", true)
        );
    }

    /// The default item with one change.
    fn changed(change: impl FnOnce(&mut VerifyItem)) -> VerifyItem {
        let mut item = item();
        change(&mut item);
        item
    }

    #[test]
    fn every_malformed_or_oversized_request_has_its_code() {
        let by_hash = |hash: &str| {
            let hash = hash.to_owned();
            changed(move |i| (i.document, i.document_hash) = (None, Some(hash)))
        };
        let cases = [
            (
                changed(|i| i.document_hash = Some("ab".into())),
                ("document_required", true),
            ),
            (changed(|i| i.document = None), ("document_required", true)),
            (by_hash("abc"), ("invalid_document_hash", true)),
            (by_hash("zz"), ("invalid_document_hash", true)),
            (by_hash(&"ab".repeat(65)), ("invalid_document_hash", true)),
            (
                changed(|i| i.document = Some("not base64!".into())),
                ("invalid_document", true),
            ),
            (
                changed(|i| i.document = Some(STANDARD.encode([0u8; 17]))),
                ("document_too_large", false),
            ),
            (
                changed(|i| i.document = Some("A".repeat(100))),
                ("document_too_large", false),
            ),
            (
                changed(|i| i.signature = "%%".into()),
                ("malformed_signature", true),
            ),
            (
                changed(|i| i.signature = String::new()),
                ("malformed_signature", true),
            ),
            (
                changed(|i| i.signature = STANDARD.encode([0u8; 129])),
                ("signature_too_large", false),
            ),
        ];
        for (item, expected) in cases {
            let refused = refusal(Prepared::from_item(&item, &limits()));
            assert_eq!(refused, expected, "{item:?}");
        }
    }

    fn plan(descriptor: &Descriptor, item: &VerifyItem) -> Result<Plan, VerifyError> {
        let prepared = Prepared::from_item(item, &limits())?;
        Plan::new(descriptor, item, &prepared)
    }

    #[test]
    fn a_plan_takes_the_plugins_defaults() {
        assert_eq!(
            plan(&ecdsa(), &item()).expect("plan"),
            Plan {
                hash: Some(HashAlgorithm::Sha256),
                encoding: SignatureEncoding::Der,
                scheme: SignatureScheme::Plain,
            }
        );
        let raw = plan(&ed25519(), &item()).expect("plan");
        assert_eq!(raw.hash, None);
        assert_eq!(raw.document_hash_algorithm(), HashAlgorithm::Sha256);
    }

    #[test]
    fn a_plan_takes_what_the_request_names_if_the_plugin_declares_it() {
        let named = changed(|i| {
            i.hash_algorithm = Some("SHA384".into());
            i.signature_encoding = Some("p1363".into());
        });
        let plan = plan(&ecdsa(), &named).expect("plan");
        assert_eq!(plan.hash, Some(HashAlgorithm::Sha384));
        assert_eq!(plan.encoding, SignatureEncoding::P1363);
    }

    #[test]
    fn a_plan_refuses_what_the_plugin_does_not_declare() {
        let hash = |name: &'static str| changed(|i| i.hash_algorithm = Some(name.into()));
        let encoding = |name: &'static str| changed(|i| i.signature_encoding = Some(name.into()));
        let no_default = Descriptor {
            default_hash: None,
            ..ecdsa()
        };
        let digest_only =
            changed(|i| (i.document, i.document_hash) = (None, Some("ab".repeat(32))));
        let cases = [
            (ecdsa(), hash("md5"), "unsupported_hash"),
            (ecdsa(), hash("sha512"), "unsupported_hash"),
            (ed25519(), hash("sha256"), "unsupported_hash"),
            (no_default, item(), "unsupported_hash"),
            (ecdsa(), encoding("raw"), "unsupported_encoding"),
            (ecdsa(), encoding("base58"), "unsupported_encoding"),
            (
                ecdsa(),
                changed(|i| i.signature_algorithm = Some("pss".into())),
                "unsupported_signature_algorithm",
            ),
            (ed25519(), digest_only, "document_required"),
        ];
        for (descriptor, item, code) in cases {
            assert_eq!(refusal(plan(&descriptor, &item)), (code, false), "{item:?}");
        }
        let short = changed(|i| (i.document, i.document_hash) = (None, Some("ab".repeat(20))));
        assert_eq!(
            refusal(plan(&ecdsa(), &short)),
            ("invalid_document_hash", true)
        );
    }

    #[test]
    fn choose_takes_the_first_declared_value_by_default() {
        let declared = [SignatureScheme::Pkcs1v15, SignatureScheme::Pss];
        let choose = |requested| choose(requested, &declared, "code", "field");
        assert_eq!(choose(None).ok(), Some(SignatureScheme::Pkcs1v15));
        assert_eq!(choose(Some("PSS")).ok(), Some(SignatureScheme::Pss));
        assert!(choose(Some("plain")).is_err());
        let none: [SignatureScheme; 0] = [];
        assert!(super::choose(None, &none, "code", "field").is_err());
    }

    #[test]
    fn the_message_is_the_digest_or_the_document_and_the_record_hash_is_hex() {
        let mut prepared = Prepared::from_item(&item(), &limits()).expect("prepared");
        let digest = plan(&ecdsa(), &item()).expect("plan");
        let (message, hex) = prepared.message_for(&digest);
        assert_eq!(message, HashAlgorithm::Sha256.digest(b"hello"));
        assert_eq!(hex, hex::encode(&message));

        let mut prepared = Prepared::from_item(&item(), &limits()).expect("prepared");
        let raw = plan(&ed25519(), &item()).expect("plan");
        let (message, hex) = prepared.message_for(&raw);
        assert_eq!(message, b"hello");
        assert_eq!(hex, hex::encode(HashAlgorithm::Sha256.digest(b"hello")));
    }
}
