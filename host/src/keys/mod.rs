//! Registering public keys: decode what the client sent (PEM, DER, raw or
//! a JWK), let the plugin serving the algorithm validate and canonicalise
//! it, check its curve against the catalogue, and store the canonical
//! SubjectPublicKeyInfo as PEM.
//!
//! - [`decode()`] — a key as sent into what a plugin parses;
//! - [`error`] — [`KeyError`] and its codes.

mod decode;
mod error;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

pub use error::KeyError;

use crate::cache::entities::Caches;
use crate::plugins::{
    ContractError, KeyFormat, KeyInfo, LoadedPlugin, PluginExecutor, PluginRegistry,
};
use crate::store::keys::{self, KeyRow, KeyStatus, NewKey, pem_encode};
use crate::store::text::{StoredJson, StoredText, StoredTime};
use crate::store::{Store, StoreError};
pub use decode::{Decoded, MAX_KEY_TEXT, decode};

/// Largest metadata object, serialised.
const MAX_METADATA: usize = 16 * 1024;

/// Longest key name, in characters.
pub const MAX_NAME: usize = 64;

/// A key's name as sent: no NUL, at most [`MAX_NAME`] characters.
pub type KeyName = StoredText<MAX_NAME>;

/// A key to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    /// PEM text; base64 for DER and raw; a JSON object for JWK.
    #[schema(value_type = serde_json::Value)]
    pub key_data: serde_json::Value,
    /// `PEM`, `DER`, `raw` or `JWK`.
    pub format: String,
    /// `ECDSA`, `RSA`, `EdDSA`...
    pub algorithm: String,
    /// The curve (`P-256`, `secp256k1`...); required for raw EC points,
    /// checked against the key otherwise.
    pub curve: Option<String>,
    /// A name (1-64 characters, no NUL).
    #[schema(value_type = Option<String>, min_length = 1, max_length = 64)]
    pub name: Option<KeyName>,
    /// When the key stops being usable (RFC 3339, years 1-9999).
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<StoredTime>,
    /// Your own metadata (a JSON object of at most 16 KiB, nested at most
    /// 32 deep, at most 1024 keys, no NUL in keys or strings).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<StoredJson>,
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
    #[schema(value_type = String)]
    pub status: KeyStatus,
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
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

impl From<KeyRow> for KeyView {
    fn from(row: KeyRow) -> Self {
        let fingerprint = row
            .spki()
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

/// Validate a caller's own metadata (its characters, depth and key count
/// were checked as it was decoded).
pub fn check_metadata(metadata: Option<&StoredJson>) -> Result<(), KeyError> {
    let metadata = metadata.map(StoredJson::as_value);
    if let Some(metadata) = metadata {
        if !metadata.is_object() {
            return Err(KeyError::InvalidMetadata(
                "metadata must be a JSON object".into(),
            ));
        }
        if metadata.to_string().len() > MAX_METADATA {
            return Err(KeyError::InvalidMetadata(format!(
                "metadata exceeds {MAX_METADATA} bytes"
            )));
        }
    }
    Ok(())
}

/// Validate a key name (its characters and length were checked as it was
/// decoded; a name built another way is checked again here).
pub fn check_name(name: Option<&KeyName>) -> Result<(), KeyError> {
    match name {
        Some(name) if name.is_empty() || name.chars().count() > MAX_NAME => {
            Err(KeyError::InvalidName)
        }
        _ => Ok(()),
    }
}

/// What registering a key needs: the plugins that validate keys, the
/// threads they run on, the catalogue's curves and the database.
pub struct Registrar<'a> {
    /// Which plugin serves which algorithm and curve.
    pub plugins: &'a PluginRegistry,
    /// Threads plugin calls run on.
    pub executor: &'a PluginExecutor,
    /// The curve catalogue (cached).
    pub caches: &'a Caches,
    /// Where the key is stored, under the owner's row-level security.
    pub store: &'a Store,
    /// Keys one owner may hold (`quotas.keys_per_user`).
    pub quota: u32,
}

/// A key the plugin accepted.
struct Parsed {
    plugin: Arc<LoadedPlugin>,
    info: KeyInfo,
}

impl Registrar<'_> {
    /// Register a key for `owner`: check the request, decode the key, let
    /// a plugin parse it, check its curve, store it unless the owner holds
    /// its quota of keys already.
    pub async fn register(&self, owner: Uuid, request: NewKeyRequest) -> Result<KeyRow, KeyError> {
        check_request(&request)?;
        let decoded = decode(&request)?;
        let curve = request.curve.clone().or(decoded.curve.clone());
        let candidates = self.candidates(&request.algorithm, curve.as_deref())?;
        let has_curves = candidates.iter().any(|p| !p.descriptor().curves.is_empty());
        if decoded.format == KeyFormat::Raw && curve.is_none() && has_curves && candidates.len() > 1
        {
            // Several curves could fit; guessing would pick the first plugin.
            return Err(KeyError::CurveRequired(
                "a raw key does not reveal its curve; name it in `curve`",
            ));
        }
        let uploaded_as = decoded.uploaded_as;
        let parsed = self.parse(candidates, decoded, curve.clone()).await?;
        check_curve(curve.as_deref(), parsed.info.curve.as_deref(), has_curves)?;
        if let Some(name) = &parsed.info.curve {
            self.check_catalogued(name).await?;
        }
        self.store_key(owner, &request, &parsed, uploaded_as).await
    }

    /// The plugins that may parse the key: the one serving the named curve,
    /// or every plugin of the algorithm.
    fn candidates(
        &self,
        algorithm: &str,
        curve: Option<&str>,
    ) -> Result<Vec<Arc<LoadedPlugin>>, KeyError> {
        let candidates = match curve {
            Some(curve) => match self.plugins.route(algorithm, Some(curve)) {
                Some(plugin) => vec![plugin],
                None => {
                    return Err(KeyError::UnsupportedCurve(format!(
                        "no plugin serves {algorithm} on {curve}"
                    )));
                }
            },
            None => self.plugins.snapshot().for_algorithm(algorithm),
        };
        if candidates.is_empty() {
            return Err(KeyError::UnsupportedAlgorithm(format!(
                "no plugin serves algorithm {algorithm:?}"
            )));
        }
        Ok(candidates)
    }

    /// Let the candidates parse the key, on a worker.
    async fn parse(
        &self,
        candidates: Vec<Arc<LoadedPlugin>>,
        decoded: Decoded,
        hint: Option<String>,
    ) -> Result<Parsed, KeyError> {
        self.executor
            .run(move || {
                parse_with_first(&candidates, &decoded.bytes, decoded.format, hint.as_deref())
            })
            .await?
    }

    /// The key's curve must be in the catalogue and enabled.
    async fn check_catalogued(&self, name: &str) -> Result<(), KeyError> {
        let curves = self.caches.curves().await?;
        match curves.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
            Some(row) if !row.is_enabled() => Err(KeyError::CurveDisabled(row.name.clone())),
            Some(_) => Ok(()),
            None => Err(KeyError::UnsupportedCurve(format!(
                "curve {name} is not in the catalogue"
            ))),
        }
    }

    /// Store the canonical key with its facts, and read it back as the
    /// API shows it, in one transaction acting for the owner.
    async fn store_key(
        &self,
        owner: Uuid,
        request: &NewKeyRequest,
        parsed: &Parsed,
        uploaded_as: &str,
    ) -> Result<KeyRow, KeyError> {
        let Parsed { plugin, info } = parsed;
        let metadata = serde_json::json!({
            "fingerprint": info.fingerprint,
            "bits": info.bits,
            "uploaded_format": uploaded_as,
            "plugin": plugin.label(),
            "custom": request.metadata.as_ref().map(StoredJson::as_value),
        });
        let pem = pem_encode(&info.pem_label, &info.public_key);
        let new = NewKey {
            user_id: owner,
            algorithm: &plugin.descriptor().algorithm,
            curve: info.curve.as_deref(),
            key_data: &pem,
            name: request.name.as_deref(),
            metadata: &metadata,
            expires_at: request.expires_at.map(StoredTime::get),
        };
        let mut tx = self.store.begin_for(owner).await?;
        // Counted and inserted under one per-owner lock: concurrent uploads
        // cannot both take the last place. Refused, the transaction rolls
        // back and nothing is written.
        if keys::lock_and_count_for_owner(&mut tx, owner).await? >= i64::from(self.quota) {
            return Err(KeyError::QuotaExceeded(self.quota));
        }
        let id = keys::insert(&mut tx, &new).await?.ok_or_else(|| {
            KeyError::UnsupportedAlgorithm("the algorithm or curve is not in the catalogue".into())
        })?;
        let row = keys::get(&mut tx, id)
            .await?
            .ok_or_else(|| KeyError::Store(StoreError::Unavailable("key vanished".into())))?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(row)
    }
}

/// Name, metadata and expiry, before any decoding.
fn check_request(request: &NewKeyRequest) -> Result<(), KeyError> {
    check_name(request.name.as_ref())?;
    check_metadata(request.metadata.as_ref())?;
    if request.expires_at.is_some_and(|t| t.get() <= Utc::now()) {
        return Err(KeyError::InvalidExpiry);
    }
    Ok(())
}

/// The curve the plugin found must be the one named, and a plugin that
/// serves curves must name one.
fn check_curve(
    named: Option<&str>,
    actual: Option<&str>,
    has_curves: bool,
) -> Result<(), KeyError> {
    if let (Some(named), Some(actual)) = (named, actual)
        && !named.eq_ignore_ascii_case(actual)
    {
        return Err(KeyError::CurveMismatch {
            named: named.to_owned(),
            actual: actual.to_owned(),
        });
    }
    if has_curves && actual.is_none() {
        return Err(KeyError::CurveRequired(
            "the plugin did not say which curve the key is on",
        ));
    }
    Ok(())
}

/// Ask each candidate plugin in turn; the first that accepts the key wins.
fn parse_with_first(
    candidates: &[Arc<LoadedPlugin>],
    bytes: &[u8],
    format: KeyFormat,
    curve: Option<&str>,
) -> Result<Parsed, KeyError> {
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
            Ok(info) => {
                return Ok(Parsed {
                    plugin: plugin.clone(),
                    info,
                });
            }
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
    Err(KeyError::Refused(refusal))
}
