//! Registering public keys: decode what the client sent (PEM, DER, raw or
//! a JWK), let the plugin serving the algorithm validate and canonicalise
//! it, and store the canonical SubjectPublicKeyInfo as PEM.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::VerifyError;
use super::request::{pem_from_spki, spki_from_pem};
use crate::app::AppState;
use crate::auth::Caller;
use crate::plugins::{ContractError, KeyFormat, KeyInfo, LoadedPlugin};
use crate::store::StoreError;
use crate::store::keys::{self, KeyRow, NewKey};

/// Largest key accepted (an 8192-bit RSA key in PEM is about 1.5 KiB).
const MAX_KEY_TEXT: usize = 16 * 1024;
/// Largest metadata object, serialised.
const MAX_METADATA: usize = 16 * 1024;

/// A key to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    /// PEM text; base64 for DER and raw; a JSON object for JWK.
    #[schema(value_type = Object)]
    pub key_data: serde_json::Value,
    /// `PEM`, `DER`, `raw` or `JWK`.
    pub format: String,
    /// `ECDSA`, `RSA`, `EdDSA`...
    pub algorithm: String,
    /// The curve (`P-256`, `secp256k1`...); required for raw EC points,
    /// checked against the key otherwise.
    pub curve: Option<String>,
    /// A name (at most 64 characters).
    pub name: Option<String>,
    /// When the key stops being usable.
    pub expires_at: Option<DateTime<Utc>>,
    /// Your own metadata (a JSON object).
    #[schema(value_type = Object)]
    pub metadata: Option<serde_json::Value>,
}

/// A key as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// Identifier.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Algorithm.
    pub algorithm: String,
    /// Curve.
    pub curve: Option<String>,
    /// Stored format (always the canonical `PEM`).
    pub format: String,
    /// Name.
    pub name: Option<String>,
    /// `active`, `revoked` or `expired`.
    pub status: String,
    /// Hex SHA-256 of the DER SubjectPublicKeyInfo.
    pub fingerprint: String,
    /// Key size in bits.
    pub bits: Option<u64>,
    /// The format it was uploaded in.
    pub uploaded_format: Option<String>,
    /// The canonical key, PEM.
    pub key_data: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Your metadata.
    #[schema(value_type = Object)]
    pub metadata: Option<serde_json::Value>,
}

impl From<KeyRow> for KeyView {
    fn from(row: KeyRow) -> Self {
        let fingerprint = spki_from_pem(&row.key_data)
            .map(|der| hex::encode(Sha256::digest(der)))
            .unwrap_or_default();
        let facts = row.metadata.unwrap_or(serde_json::Value::Null);
        KeyView {
            id: row.id,
            user_id: row.user_id,
            algorithm: row.algorithm,
            curve: row.curve,
            format: row.format,
            name: row.name,
            status: row.status,
            fingerprint,
            bits: facts["bits"].as_u64(),
            uploaded_format: facts["uploaded_format"].as_str().map(str::to_owned),
            key_data: row.key_data,
            created_at: row.created_at,
            expires_at: row.expires_at,
            metadata: facts.get("custom").cloned().filter(|m| !m.is_null()),
        }
    }
}

/// Validate a caller's own metadata.
pub fn check_metadata(metadata: &Option<serde_json::Value>) -> Result<(), VerifyError> {
    if let Some(metadata) = metadata {
        if !metadata.is_object() {
            return Err(VerifyError::invalid(
                "invalid_metadata",
                "metadata must be a JSON object",
            ));
        }
        if metadata.to_string().len() > MAX_METADATA {
            return Err(VerifyError::invalid(
                "invalid_metadata",
                format!("metadata exceeds {MAX_METADATA} bytes"),
            ));
        }
    }
    Ok(())
}

/// Validate a key name.
pub fn check_name(name: &Option<String>) -> Result<(), VerifyError> {
    match name {
        Some(name) if name.is_empty() || name.chars().count() > 64 => Err(VerifyError::invalid(
            "invalid_name",
            "a key name is 1-64 characters",
        )),
        _ => Ok(()),
    }
}

/// A key as sent, decoded.
struct Decoded {
    /// The bytes the plugin parses.
    bytes: Vec<u8>,
    /// Their format.
    format: KeyFormat,
    /// A curve hint (a JWK's `crv`).
    curve: Option<String>,
    /// The format the client used (`JWK` arrives as `raw`).
    uploaded_as: &'static str,
}

/// Decode the key as sent into what the plugin parses.
fn decode(request: &NewKeyRequest) -> Result<Decoded, VerifyError> {
    let text = || {
        request
            .key_data
            .as_str()
            .filter(|s| s.len() <= MAX_KEY_TEXT)
            .ok_or_else(|| {
                VerifyError::malformed(
                    "malformed_key",
                    format!("key_data must be a string of at most {MAX_KEY_TEXT} bytes"),
                )
            })
    };
    let base64 = |s: &str| {
        STANDARD.decode(s.trim()).map_err(|e| {
            VerifyError::malformed("malformed_key", format!("key_data is not base64: {e}"))
        })
    };
    match request.format.to_ascii_uppercase().as_str() {
        "PEM" => Ok(Decoded {
            bytes: text()?.as_bytes().to_vec(),
            format: KeyFormat::Pem,
            curve: None,
            uploaded_as: "PEM",
        }),
        "DER" => Ok(Decoded {
            bytes: base64(text()?)?,
            format: KeyFormat::Der,
            curve: None,
            uploaded_as: "DER",
        }),
        "RAW" => Ok(Decoded {
            bytes: base64(text()?)?,
            format: KeyFormat::Raw,
            curve: None,
            uploaded_as: "raw",
        }),
        "JWK" => {
            let (bytes, curve) = jwk_to_raw(&request.key_data)?;
            Ok(Decoded {
                bytes,
                format: KeyFormat::Raw,
                curve,
                uploaded_as: "JWK",
            })
        }
        other => Err(VerifyError::invalid(
            "unsupported_key_format",
            format!("format {other:?} is not PEM, DER, raw or JWK"),
        )),
    }
}

/// A public JWK (RFC 7517/7518/8037) as the plugin's raw form.
fn jwk_to_raw(jwk: &serde_json::Value) -> Result<(Vec<u8>, Option<String>), VerifyError> {
    let object = jwk
        .as_object()
        .ok_or_else(|| VerifyError::malformed("malformed_key", "a JWK is a JSON object"))?;
    if object.contains_key("d") || object.contains_key("p") {
        return Err(VerifyError::invalid(
            "private_key_refused",
            "the JWK holds private key material; upload the public key only",
        ));
    }
    let field = |name: &str| -> Result<Vec<u8>, VerifyError> {
        let value = object.get(name).and_then(|v| v.as_str()).ok_or_else(|| {
            VerifyError::malformed("malformed_key", format!("the JWK lacks {name:?}"))
        })?;
        URL_SAFE_NO_PAD.decode(value).map_err(|_| {
            VerifyError::malformed("malformed_key", format!("JWK {name:?} is not base64url"))
        })
    };
    match object.get("kty").and_then(|v| v.as_str()) {
        Some("EC") => {
            let crv = object
                .get("crv")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != y.len() || x.is_empty() {
                return Err(VerifyError::malformed(
                    "malformed_key",
                    "JWK x and y must have the curve's size",
                ));
            }
            let mut point = Vec::with_capacity(1 + x.len() * 2);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok((point, Some(crv)))
        }
        Some("OKP") => {
            if object.get("crv").and_then(|v| v.as_str()) != Some("Ed25519") {
                return Err(VerifyError::invalid(
                    "unsupported_curve",
                    "OKP JWKs are accepted for Ed25519 only",
                ));
            }
            Ok((field("x")?, None))
        }
        Some("RSA") => Ok((pkcs1_public_key(&field("n")?, &field("e")?), None)),
        _ => Err(VerifyError::invalid(
            "unsupported_key_format",
            "JWK kty must be EC, OKP or RSA",
        )),
    }
}

/// DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn pkcs1_public_key(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn length(len: usize, out: &mut Vec<u8>) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
    }
    fn integer(value: &[u8], out: &mut Vec<u8>) {
        let trimmed: &[u8] = match value.iter().position(|b| *b != 0) {
            Some(start) => &value[start..],
            None => &[0],
        };
        let pad = trimmed.first().is_some_and(|b| b & 0x80 != 0);
        out.push(0x02);
        length(trimmed.len() + usize::from(pad), out);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(trimmed);
    }
    let mut body = Vec::new();
    integer(n, &mut body);
    integer(e, &mut body);
    let mut der = vec![0x30];
    length(body.len(), &mut der);
    der.extend(body);
    der
}

/// Register a key for the caller.
pub async fn register(
    state: &AppState,
    caller: &Caller,
    request: NewKeyRequest,
) -> Result<KeyRow, VerifyError> {
    check_name(&request.name)?;
    check_metadata(&request.metadata)?;
    if request.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(VerifyError::invalid(
            "invalid_expiry",
            "expires_at is in the past",
        ));
    }
    let Decoded {
        bytes,
        format,
        curve: jwk_curve,
        uploaded_as: uploaded_format,
    } = decode(&request)?;
    let curve = request.curve.clone().or(jwk_curve);

    let snapshot = state.plugins.snapshot();
    let candidates: Vec<std::sync::Arc<LoadedPlugin>> = match &curve {
        Some(curve) => match state.plugins.route(&request.algorithm, Some(curve)) {
            Some(plugin) => vec![plugin],
            None => {
                return Err(VerifyError::invalid(
                    "unsupported_curve",
                    format!("no plugin serves {} on {curve}", request.algorithm),
                ));
            }
        },
        None => snapshot.for_algorithm(&request.algorithm),
    };
    if candidates.is_empty() {
        return Err(VerifyError::invalid(
            "unsupported_algorithm",
            format!("no plugin serves algorithm {:?}", request.algorithm),
        ));
    }
    let has_curves = candidates.iter().any(|p| !p.descriptor().curves.is_empty());
    if format == KeyFormat::Raw && curve.is_none() && has_curves && candidates.len() > 1 {
        return Err(VerifyError::invalid(
            "curve_required",
            "a raw key does not reveal its curve; name it in `curve`",
        ));
    }

    let hint = curve.clone();
    let (plugin, info) = state
        .executor
        .run(move || parse_with_first(&candidates, &bytes, format, hint.as_deref()))
        .await??;
    let descriptor = plugin.descriptor();
    if let (Some(named), Some(actual)) = (&curve, &info.curve)
        && !named.eq_ignore_ascii_case(actual)
    {
        return Err(VerifyError::invalid(
            "curve_mismatch",
            format!("the key is on {actual}, not {named}"),
        ));
    }
    if has_curves && info.curve.is_none() {
        return Err(VerifyError::invalid(
            "curve_required",
            "the plugin did not say which curve the key is on",
        ));
    }
    let curve_name = info.curve.clone();
    if let Some(name) = &curve_name {
        let curves = state.caches.curves().await?;
        match curves.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
            Some(row) if !row.is_enabled() => {
                return Err(VerifyError::CurveDisabled(row.name.clone()));
            }
            Some(_) => {}
            None => {
                return Err(VerifyError::invalid(
                    "unsupported_curve",
                    format!("curve {name} is not in the catalogue"),
                ));
            }
        }
    }

    let metadata = serde_json::json!({
        "fingerprint": info.fingerprint,
        "bits": info.bits,
        "uploaded_format": uploaded_format,
        "plugin": plugin.label(),
        "custom": request.metadata,
    });
    let pem = pem_from_spki(&info.spki_der);
    let mut tx = state.store.begin_for(caller.id()).await?;
    let id = keys::insert(
        &mut tx,
        &NewKey {
            user_id: caller.id(),
            algorithm: &descriptor.algorithm,
            curve: curve_name.as_deref(),
            key_data: &pem,
            name: request.name.as_deref(),
            metadata: &metadata,
            expires_at: request.expires_at,
        },
    )
    .await?
    .ok_or_else(|| {
        VerifyError::invalid(
            "unsupported_algorithm",
            "the algorithm or curve is not in the catalogue",
        )
    })?;
    let row = keys::get(&mut tx, id)
        .await?
        .ok_or_else(|| VerifyError::Store(StoreError::Unavailable("key vanished".into())))?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(row)
}

/// Ask each candidate plugin in turn; the first that accepts the key wins.
fn parse_with_first(
    candidates: &[std::sync::Arc<LoadedPlugin>],
    bytes: &[u8],
    format: KeyFormat,
    curve: Option<&str>,
) -> Result<(std::sync::Arc<LoadedPlugin>, KeyInfo), VerifyError> {
    let mut refusals = Vec::new();
    for plugin in candidates {
        if !plugin.descriptor().key_formats.contains(&format) {
            refusals.push(ContractError::Unsupported(format!(
                "{} does not take {format} keys",
                plugin.label()
            )));
            continue;
        }
        match plugin.parse_key(bytes, format, curve)? {
            Ok(info) => return Ok((plugin.clone(), info)),
            Err(refusal) => refusals.push(refusal),
        }
    }
    // With one candidate its reason stands; with several, a malformed key
    // is reported before "not my curve" refusals.
    let refusal = refusals
        .iter()
        .find(|r| matches!(r, ContractError::MalformedKey(_)))
        .or_else(|| refusals.first())
        .cloned()
        .unwrap_or_else(|| ContractError::Unsupported("no plugin accepted the key".into()));
    Err(VerifyError::Refused(refusal))
}
