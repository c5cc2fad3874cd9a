//! Fuzz targets for the host's pure decoders: everything a client's bytes
//! pass through before a plugin or the database sees them. Each target is
//! a plain function of the input bytes that must not panic and asserts the
//! decoder's invariants (round trips, bounds, refusal codes); the
//! libFuzzer binaries in `fuzz_targets/` call them, and `tests/replay.rs`
//! runs every committed corpus file through them in `cargo test`.
//!
//! The signatures' own encodings (DER, P1363, raw) are decoded inside the
//! plugins, in the sandbox; the host decodes their base64 and the names of
//! encodings, hashes and schemes, which [`signature`] covers.

use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Datelike as _};
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use sigil::config::{Config, VerifyConfig};
use sigil::http::pagination::{encode_cursor, page};
use sigil::keys::{Decoded, MAX_KEY_TEXT, NewKeyRequest};
use sigil::plugins::{
    AlgorithmType, Descriptor, HashAlgorithm, KeyFormat, MessageInput, SignatureEncoding,
    SignatureScheme,
};
use sigil::store::keys::{pem_from_spki, spki_from_pem};
use sigil::store::text::{MAX_JSON_DEPTH, StoredTime};
use sigil::verify::VerifyError;
use sigil::verify::batch_body::{BatchBodyError, parse_batch_body};
use sigil::verify::request::{Plan, Prepared, VerifyItem};

/// A fuzz target: any bytes in, a panic on a broken invariant.
pub type Target = fn(&[u8]);

/// The targets by name, as `cargo fuzz` and the corpus directories name
/// them.
pub const TARGETS: &[(&str, Target)] = &[
    ("verify_request", verify_request),
    ("key_decode", key_decode),
    ("signature", signature),
    ("cursor", cursor),
    ("config_overlay", config_overlay),
    ("batch_body", batch_body),
];

// ---------------------------------------------------------------------
// verify_request
// ---------------------------------------------------------------------

/// A single verification body (`POST /v1/verify`, also one batch item):
/// JSON into [`VerifyItem`] as the API's extractor decodes it, then
/// [`Prepared::from_item`] and a [`Plan`] against the three kinds of
/// plugin, then the plugin's message.
pub fn verify_request(data: &[u8]) {
    let Ok(item) = serde_json::from_slice::<VerifyItem>(data) else {
        return;
    };
    for limits in [VerifyConfig::default(), small_limits()] {
        let prepared = match Prepared::from_item(&item, &limits) {
            Ok(prepared) => prepared,
            Err(error) => {
                assert_request_refusal(&error);
                continue;
            }
        };
        assert!(prepared.document_len() <= limits.max_document_bytes);
        assert!(!prepared.signature.is_empty());
        assert!(prepared.signature.len() <= limits.max_signature_bytes);
        for descriptor in descriptors() {
            let plan = match Plan::new(&descriptor, &item, &prepared) {
                Ok(plan) => plan,
                Err(error) => {
                    assert_request_refusal(&error);
                    continue;
                }
            };
            assert!(descriptor.signature_encodings.contains(&plan.encoding));
            assert!(descriptor.schemes.contains(&plan.scheme));
            // Preparing is deterministic: a second one gives the message.
            let mut again = Prepared::from_item(&item, &limits).expect("prepared once");
            let (message, hex) = again.message_for(&plan);
            match plan.hash {
                Some(hash) => {
                    assert_eq!(descriptor.input, MessageInput::Digest);
                    assert!(descriptor.hashes.contains(&hash));
                    assert_eq!(message.len(), hash.output_len());
                    assert_eq!(hex, lower_hex(&message));
                }
                None => {
                    assert_eq!(descriptor.input, MessageInput::RawMessage);
                    assert_eq!(message.len(), prepared.document_len());
                    assert_eq!(hex, lower_hex(&HashAlgorithm::Sha256.digest(&message)));
                }
            }
        }
    }
}

/// A refused request is always the client's fault, with a code of ours.
fn assert_request_refusal(error: &VerifyError) {
    assert!(
        matches!(error, VerifyError::Invalid { .. }),
        "a request decoder answered {error:?}"
    );
    assert!(is_code(error.code()), "code {:?}", error.code());
    assert!(!error.client_detail().is_empty());
}

fn small_limits() -> VerifyConfig {
    VerifyConfig {
        max_document_bytes: 64,
        max_signature_bytes: 80,
        ..VerifyConfig::default()
    }
}

/// What the bundled plugins declare: ECDSA (digest, DER or P1363), EdDSA
/// (raw message) and RSA (digest, PKCS#1 v1.5 or PSS).
fn descriptors() -> [Descriptor; 3] {
    let ecdsa = Descriptor {
        name: "ecdsa-p256".into(),
        version: "1.0.0".into(),
        algorithm: "ECDSA".into(),
        algorithm_type: AlgorithmType::Ecdsa,
        description: "ECDSA on P-256".into(),
        curves: Vec::new(),
        key_formats: vec![KeyFormat::Pem, KeyFormat::Der, KeyFormat::Raw],
        input: MessageInput::Digest,
        hashes: vec![
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
            HashAlgorithm::Sha3_256,
            HashAlgorithm::Keccak256,
        ],
        default_hash: Some(HashAlgorithm::Sha256),
        signature_encodings: vec![SignatureEncoding::Der, SignatureEncoding::P1363],
        schemes: vec![SignatureScheme::Plain],
        max_context_bytes: 0,
    };
    let ed25519 = Descriptor {
        name: "ed25519".into(),
        algorithm: "EdDSA".into(),
        algorithm_type: AlgorithmType::EdDsa,
        input: MessageInput::RawMessage,
        hashes: Vec::new(),
        default_hash: None,
        signature_encodings: vec![SignatureEncoding::Raw],
        ..ecdsa.clone()
    };
    let rsa = Descriptor {
        name: "rsa".into(),
        algorithm: "RSA".into(),
        algorithm_type: AlgorithmType::Rsa,
        hashes: vec![
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ],
        signature_encodings: vec![SignatureEncoding::Raw],
        schemes: vec![SignatureScheme::Pkcs1v15, SignatureScheme::Pss],
        ..ecdsa.clone()
    };
    [ecdsa, ed25519, rsa]
}

// ---------------------------------------------------------------------
// key_decode
// ---------------------------------------------------------------------

/// `POST /v1/keys` up to the plugin: the JSON body into [`NewKeyRequest`]
/// (whose name, metadata and expiry types refuse what PostgreSQL would),
/// then the key as sent (PEM, DER, raw, JWK) into what the plugin parses.
/// The same bytes also go through the PEM store round trip, as PEM text,
/// as base64 DER/raw and as an RSA JWK's `n` and `e`.
pub fn key_decode(data: &[u8]) {
    if let Ok(request) = serde_json::from_slice::<NewKeyRequest>(data) {
        check_key_request(&request);
    }
    // The stored form: any DER survives PEM and back.
    assert_eq!(spki_from_pem(&pem_from_spki(data)).as_deref(), Some(data));
    let text = String::from_utf8_lossy(data);
    let as_text =
        |format: &str| key_request(format, Value::String(text.to_string())).clone_decoded();
    let pem = as_text("PEM");
    match pem {
        Ok(decoded) => {
            assert!(text.len() <= MAX_KEY_TEXT);
            assert_eq!(decoded.bytes, text.as_bytes());
        }
        Err(code) => {
            assert_eq!(code, "malformed_key");
            assert!(text.len() > MAX_KEY_TEXT);
        }
    }
    for format in ["DER", "raw"] {
        let decoded = as_text(format);
        let reference = STANDARD.decode(text.trim());
        match decoded {
            Ok(decoded) => assert_eq!(Ok(decoded.bytes), reference),
            Err(code) => {
                assert_eq!(code, "malformed_key");
                assert!(reference.is_err() || text.len() > MAX_KEY_TEXT);
            }
        }
    }
    rsa_jwk_round_trip(data);
}

/// A [`NewKeyRequest`] that decoded holds only storable values, and its
/// key decodes or is refused with a key code.
fn check_key_request(request: &NewKeyRequest) {
    if let Some(name) = &request.name {
        assert!(!name.contains('\0'));
        assert!(name.chars().count() <= sigil::keys::MAX_NAME);
    }
    if let Some(metadata) = &request.metadata {
        assert_storable(metadata.as_value(), 0);
    }
    if let Some(expires) = request.expires_at {
        assert!((1..=9999).contains(&expires.get().year()));
    }
    let decoded = request.clone_decoded();
    let Ok(decoded) = decoded else {
        return;
    };
    match request.format.to_ascii_uppercase().as_str() {
        "PEM" => {
            assert_eq!(decoded.format, KeyFormat::Pem);
            assert!(decoded.bytes.len() <= MAX_KEY_TEXT);
        }
        "DER" | "RAW" => assert!(decoded.bytes.len() <= MAX_KEY_TEXT / 4 * 3),
        "JWK" => {
            assert_eq!(
                (decoded.format, decoded.uploaded_as),
                (KeyFormat::Raw, "JWK")
            );
            let jwk = request.key_data.as_object().expect("a JWK is an object");
            assert!(!jwk.contains_key("d") && !jwk.contains_key("p"));
            if jwk.get("kty").and_then(Value::as_str) == Some("EC") {
                assert_eq!(decoded.bytes.first(), Some(&0x04));
                assert!(decoded.bytes.len() >= 3 && decoded.bytes.len() % 2 == 1);
                assert!(decoded.curve.is_some());
            } else {
                assert!(decoded.curve.is_none());
            }
        }
        other => panic!("format {other:?} decoded"),
    }
}

/// Nothing PostgreSQL refuses in `jsonb`: no NUL in keys or strings, and
/// no deeper than the limit.
fn assert_storable(value: &Value, depth: usize) {
    assert!(depth <= MAX_JSON_DEPTH, "nested {depth} deep");
    match value {
        Value::String(s) => assert!(!s.contains('\0')),
        Value::Array(items) => items.iter().for_each(|v| assert_storable(v, depth + 1)),
        Value::Object(map) => {
            for (key, v) in map {
                assert!(!key.contains('\0'));
                assert_storable(v, depth + 1);
            }
        }
        _ => {}
    }
}

trait DecodeKey {
    /// The decoded key, or the refusal's code (which must be a key code).
    fn clone_decoded(&self) -> Result<Decoded, &'static str>;
}

impl DecodeKey for NewKeyRequest {
    fn clone_decoded(&self) -> Result<Decoded, &'static str> {
        sigil::keys::decode(self).map_err(|error| {
            let code = error.code();
            assert!(
                [
                    "malformed_key",
                    "unsupported_key_format",
                    "private_key_refused",
                    "unsupported_curve",
                ]
                .contains(&code),
                "key decoding answered {code} ({error})"
            );
            code
        })
    }
}

fn key_request(format: &str, key_data: Value) -> NewKeyRequest {
    NewKeyRequest {
        key_data,
        format: format.into(),
        algorithm: "RSA".into(),
        curve: None,
        name: None,
        expires_at: None,
        metadata: None,
    }
}

/// An RSA JWK of `n` and `e` cut from `data` decodes to the DER
/// `SEQUENCE { INTEGER n, INTEGER e }` of exactly those unsigned values.
fn rsa_jwk_round_trip(data: &[u8]) {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let (n, e) = rest.split_at(usize::from(cut).min(rest.len()));
    let jwk = serde_json::json!({
        "kty": "RSA",
        "n": URL_SAFE_NO_PAD.encode(n),
        "e": URL_SAFE_NO_PAD.encode(e),
    });
    let decoded = key_request("JWK", jwk)
        .clone_decoded()
        .expect("any n and e make a JWK");
    let mut der = DerReader(&decoded.bytes);
    let mut sequence = DerReader(der.take(0x30).expect("a SEQUENCE"));
    assert!(der.0.is_empty(), "bytes after the SEQUENCE");
    let n_der = sequence.take(0x02).expect("INTEGER n");
    let e_der = sequence.take(0x02).expect("INTEGER e");
    assert!(sequence.0.is_empty(), "bytes after e");
    assert_eq!(unsigned(n_der), minimal(n));
    assert_eq!(unsigned(e_der), minimal(e));
}

/// A tiny strict DER reader: tag, minimal length, value.
struct DerReader<'a>(&'a [u8]);

impl<'a> DerReader<'a> {
    fn take(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&found, rest) = self.0.split_first()?;
        assert_eq!(found, tag);
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            assert!((1..=8).contains(&count), "length of {count} bytes");
            let (bytes, tail) = rest.split_at(count);
            assert_ne!(bytes[0], 0, "non-minimal long length");
            let len = bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
            assert!(len >= 0x80, "long form for a short length");
            rest = tail;
            len
        };
        let (value, tail) = rest.split_at(len);
        self.0 = tail;
        Some(value)
    }
}

/// A DER INTEGER's content as an unsigned magnitude: non-empty, minimal,
/// positive.
fn unsigned(integer: &[u8]) -> &[u8] {
    assert!(!integer.is_empty(), "empty INTEGER");
    if integer.len() > 1 {
        let redundant = (integer[0] == 0 && integer[1] & 0x80 == 0)
            || (integer[0] == 0xff && integer[1] & 0x80 != 0);
        assert!(!redundant, "non-minimal INTEGER");
    }
    assert_eq!(integer[0] & 0x80, 0, "negative INTEGER");
    match integer {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => integer,
    }
}

/// `value` without leading zero bytes (zero is one zero byte).
fn minimal(value: &[u8]) -> &[u8] {
    match value.iter().position(|b| *b != 0) {
        Some(start) => &value[start..],
        None => &[0],
    }
}

// ---------------------------------------------------------------------
// signature
// ---------------------------------------------------------------------

/// A signature as sent: its base64 (strict, bounded before decoding) and
/// the names of encodings, hashes, schemes and key formats a request may
/// give.
pub fn signature(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let limits = small_limits();
    let item = VerifyItem {
        public_key_id: Uuid::nil(),
        document: Some(STANDARD.encode(b"document")),
        document_hash: None,
        signature: text.clone(),
        hash_algorithm: None,
        signature_encoding: None,
        signature_algorithm: None,
        context: None,
    };
    let reference = STANDARD.decode(text.trim());
    let max = limits.max_signature_bytes;
    let pre_bound = max.div_ceil(3) * 4 + 4;
    match Prepared::from_item(&item, &limits) {
        Ok(prepared) => {
            assert!(text.len() <= pre_bound);
            assert_eq!(Ok(&prepared.signature), reference.as_ref());
            assert!(!prepared.signature.is_empty() && prepared.signature.len() <= max);
        }
        Err(error) => {
            assert_request_refusal(&error);
            match error.code() {
                "signature_too_large" => assert!(
                    text.len() > pre_bound || reference.as_ref().is_ok_and(|s| s.len() > max)
                ),
                "malformed_signature" => {
                    assert!(reference.as_ref().is_ok_and(Vec::is_empty) || reference.is_err())
                }
                other => panic!("a signature refused as {other}"),
            }
        }
    }
    // Each word of the input as a name: a name that parses is the
    // vocabulary's spelling in some case, and names the same value again.
    for word in text.split_whitespace().take(8) {
        names_round_trip::<SignatureEncoding>(word);
        names_round_trip::<HashAlgorithm>(word);
        names_round_trip::<SignatureScheme>(word);
        names_round_trip::<KeyFormat>(word);
        // The word as each of the three names in turn: a plan takes it
        // only as the value it spells.
        for field in 0..3 {
            let mut named = VerifyItem {
                signature: STANDARD.encode([1u8; 64]),
                ..item.clone()
            };
            let slot = match field {
                0 => &mut named.hash_algorithm,
                1 => &mut named.signature_encoding,
                _ => &mut named.signature_algorithm,
            };
            *slot = Some(word.to_owned());
            let prepared = Prepared::from_item(&named, &limits).expect("a valid signature");
            for descriptor in descriptors() {
                match Plan::new(&descriptor, &named, &prepared) {
                    Ok(plan) => {
                        let chosen = match field {
                            0 => plan.hash.map(HashAlgorithm::as_str),
                            1 => Some(plan.encoding.as_str()),
                            _ => Some(plan.scheme.as_str()),
                        };
                        assert!(chosen.is_some_and(|name| name.eq_ignore_ascii_case(word)));
                    }
                    Err(error) => assert_request_refusal(&error),
                }
            }
        }
    }
}

fn names_round_trip<T>(word: &str)
where
    T: std::str::FromStr + std::fmt::Display + PartialEq + std::fmt::Debug,
{
    if let Ok(value) = word.parse::<T>() {
        let spelled = value.to_string();
        assert!(spelled.eq_ignore_ascii_case(word), "{word} is {spelled}");
        assert_eq!(spelled.parse::<T>().ok(), Some(value));
    }
}

// ---------------------------------------------------------------------
// cursor
// ---------------------------------------------------------------------

/// Pagination cursors: any text is a position or `invalid_cursor` (400);
/// a position re-encodes to a cursor of the same position; the limit is
/// capped; and any (time, id) encodes to a cursor that decodes to it
/// when PostgreSQL can hold the time, and is refused otherwise.
pub fn cursor(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let limit = data
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    for (limit, max) in [(None, 100), (limit, 100), (limit, 1)] {
        match page(Some(text), limit, max) {
            Ok(page) => {
                assert!((2..=i64::from(max) + 1).contains(&page.limit));
                match page.after {
                    None => assert!(text.is_empty()),
                    Some((time, id)) => {
                        assert!(StoredTime::parse(time).is_ok());
                        let again = encode_cursor(time, id);
                        let reread = decode_position(&again).expect("a re-encoded cursor");
                        assert_eq!(reread, Some((time, id)));
                    }
                }
            }
            Err(error) => {
                assert_eq!(error.code(), "invalid_cursor");
                assert_eq!(error.status().as_u16(), 400);
            }
        }
    }
    if let Some(bytes) = data.get(..28) {
        let secs = i64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        let nanos = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        let id = Uuid::from_u128(u128::from_le_bytes(
            bytes[12..28].try_into().expect("16 bytes"),
        ));
        // Scale into the storable years and past them, both ways.
        let secs = secs % 400_000_000_000;
        if let Some(time) = DateTime::from_timestamp(secs, nanos % 1_000_000_000) {
            let cursor = encode_cursor(time, id);
            assert!(
                cursor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            match decode_position(&cursor) {
                Ok(after) => assert_eq!(after, Some((time, id))),
                Err(code) => {
                    assert_eq!(code, "invalid_cursor");
                    assert!(StoredTime::parse(time).is_err(), "{time} refused");
                }
            }
        }
    }
}

type Position = Option<(DateTime<chrono::Utc>, Uuid)>;

fn decode_position(cursor: &str) -> Result<Position, String> {
    page(Some(cursor), None, 100)
        .map(|page| page.after)
        .map_err(|error| error.code().to_owned())
}

// ---------------------------------------------------------------------
// config_overlay
// ---------------------------------------------------------------------

/// The configuration overlay: a TOML file and environment variables
/// (the input is the file's text, a NUL byte, then `NAME=VALUE` lines).
/// Loading never panics, does not depend on the environment's order, and
/// what loads serialises.
pub fn config_overlay(data: &[u8]) {
    let (file, env) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let file = String::from_utf8_lossy(file);
    let file: &str = &file;
    let env_text = String::from_utf8_lossy(env);
    // An environment has each name once.
    let mut env: Vec<(String, String)> = Vec::new();
    for line in env_text.lines() {
        if let Some((name, value)) = line.split_once('=') {
            env.retain(|(seen, _)| seen != name);
            env.push((name.to_owned(), value.to_owned()));
        }
    }
    let path = Path::new("fuzz.toml");
    let load = |env: Vec<(String, String)>| {
        Config::from_sources(Some((path, file)), env)
            .map(|config| toml::to_string(&config).expect("a loaded configuration serialises"))
            .map_err(|error| error.to_string())
    };
    let forward = load(env.clone());
    env.reverse();
    let backward = load(env);
    assert_eq!(forward, backward, "the environment's order mattered");
    if let Ok(serialised) = forward {
        toml::from_str::<toml::Table>(&serialised).expect("the serialised configuration is TOML");
    }
}

// ---------------------------------------------------------------------
// batch_body
// ---------------------------------------------------------------------

/// The streamed batch body parser against a plain `serde_json` reading of
/// the same shape: the same items, refusals where it refuses, at most the
/// maximum kept, whatever the chunks the body arrives in.
pub fn batch_body(data: &[u8]) {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Reference {
        items: Vec<Box<RawValue>>,
    }
    // serde's derived struct also reads the sequence form (`[[]]` is a
    // `Reference` with no items), which a batch body is not: the reference
    // reads objects only (found by this target, 2026-12-01).
    let json_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let reference = match data.iter().find(|b| !json_space(b)) {
        Some(b'{') => serde_json::from_slice::<Reference>(data).map_err(|_| ()),
        _ => Err(()),
    };
    let chunk = data.len() % 7 + 1;
    for max in [1, 4, 1000] {
        let parsed = parse_batch_body(data, max);
        let chunked = parse_batch_body(Chunked(data, chunk), max);
        assert_eq!(summary(&parsed), summary(&chunked));
        match (&reference, parsed) {
            (Ok(reference), Ok(items)) => {
                assert!(items.len() <= max);
                assert_eq!(raw(&items), raw(&reference.items));
                for item in &items {
                    // Syntax only: an item may hold a number no f64 holds
                    // (`14e221111`), which `Value` refuses and the item's
                    // own decoding answers as `invalid_item` (found by this
                    // target, 2026-12-01).
                    serde_json::from_str::<serde::de::IgnoredAny>(item.get())
                        .expect("an item is JSON");
                }
            }
            (Ok(reference), Err(BatchBodyError::TooManyItems { max: said })) => {
                assert_eq!(said, max);
                assert!(reference.items.len() > max);
            }
            (Ok(_), Err(error)) => panic!("refused a body serde_json reads: {error}"),
            (Err(_), Ok(items)) => panic!("accepted a body serde_json refuses: {}", items.len()),
            (Err(_), Err(_)) => {}
        }
    }
}

fn raw(items: &[Box<RawValue>]) -> Vec<&str> {
    items.iter().map(|item| item.get()).collect()
}

fn summary(result: &Result<Vec<Box<RawValue>>, BatchBodyError>) -> Result<Vec<String>, String> {
    match result {
        Ok(items) => Ok(raw(items).into_iter().map(str::to_owned).collect()),
        Err(BatchBodyError::TooManyItems { max }) => Err(format!("too many: {max}")),
        Err(BatchBodyError::Json(_)) => Err("json".into()),
    }
}

/// A body that arrives `.1` bytes at a time.
struct Chunked<'a>(&'a [u8], usize);

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

// ---------------------------------------------------------------------

fn lower_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A problem code of ours: short snake case.
fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 48
        && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}
