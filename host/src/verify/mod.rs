//! The verification pipeline: resolve the key (owned, active, not expired,
//! curve enabled, plugin present), decide hash, encoding and scheme against
//! what the plugin declares, hash the document on the host where the plugin
//! takes a digest, run the plugin on the worker threads, store the record,
//! answer.
//!
//! Batches run the same steps per item; items are grouped by plugin, cut
//! into chunks spread over the workers, and a bad item fails alone with its
//! error in its slot. The batch row, its records and its items are stored
//! in one transaction.

pub mod keys;
pub mod recorder;
pub mod request;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Caller;
use crate::cache::entities::CachedResult;
use crate::plugins::{ContractError, LoadedPlugin, MAX_BATCH_CALL, PluginError, VerifyInput};
use crate::store::StoreError;
use crate::store::catalog::CurveRow;
use crate::store::keys::KeyRow;
use crate::store::verifications::{NewBatch, NewRecord, RecordView};
use recorder::{RecordError, Unit};
use request::{Plan, Prepared, VerifyItem};

/// Why a verification produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The request is malformed or asks for something unsupported.
    #[error("{detail}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// What to fix.
        detail: String,
        /// Malformed (400) rather than unacceptable (422).
        malformed: bool,
    },
    /// No such key, or not the caller's.
    #[error("no such public key")]
    KeyNotFound,
    /// The key is revoked.
    #[error("the public key has been revoked")]
    KeyRevoked,
    /// The key is past its expiry.
    #[error("the public key has expired")]
    KeyExpired,
    /// The key's curve is disabled.
    #[error("curve {0} is disabled")]
    CurveDisabled(String),
    /// No loaded plugin serves the key's algorithm and curve.
    #[error("no plugin serves {0}")]
    PluginUnavailable(String),
    /// The plugin refused the input.
    #[error(transparent)]
    Refused(#[from] ContractError),
    /// The plugin failed (trap, timeout, memory).
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record could not be stored, so no answer is given.
    #[error("the verification could not be recorded: {0}")]
    Recording(RecordError),
}

impl VerifyError {
    pub(crate) fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        VerifyError::Invalid {
            code,
            detail: detail.into(),
            malformed: false,
        }
    }

    pub(crate) fn malformed(code: &'static str, detail: impl Into<String>) -> Self {
        VerifyError::Invalid {
            code,
            detail: detail.into(),
            malformed: true,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Invalid { code, .. } => code,
            VerifyError::KeyNotFound => "key_not_found",
            VerifyError::KeyRevoked => "key_revoked",
            VerifyError::KeyExpired => "key_expired",
            VerifyError::CurveDisabled(_) => "curve_disabled",
            VerifyError::PluginUnavailable(_) => "plugin_unavailable",
            VerifyError::Refused(e) => e.code(),
            VerifyError::Plugin(e) => e.code(),
            VerifyError::Store(StoreError::Unavailable(_)) | VerifyError::Recording(_) => {
                "recording_unavailable"
            }
            VerifyError::Store(_) => "internal_error",
        }
    }
}

/// The answer to one verification.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Verified {
    /// Whether the signature is valid.
    pub valid: bool,
    /// The stored record.
    pub verification_id: Uuid,
    /// The key.
    pub public_key_id: Uuid,
    /// Algorithm name.
    pub algorithm: String,
    /// Curve name.
    pub curve: Option<String>,
    /// Hex digest of the document (as recorded).
    pub document_hash: String,
    /// When.
    pub verified_at: DateTime<Utc>,
    /// The plugin that answered (`name@version`).
    pub plugin: String,
    /// Answered from the result cache.
    pub cached: bool,
}

/// One item's outcome in a batch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    /// Position in the request.
    pub index: usize,
    /// The answer, if there is one.
    pub valid: Option<bool>,
    /// The stored record, if there is one.
    pub verification_id: Option<Uuid>,
    /// Why there is no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

/// An item's error.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemError {
    /// Stable code (the same codes as single verification problems).
    pub code: String,
    /// What happened.
    pub detail: String,
}

/// The answer to a batch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchVerified {
    /// The stored batch.
    pub batch_id: Uuid,
    /// Items in the request.
    pub total_count: usize,
    /// Items whose signature is valid.
    pub success_count: usize,
    /// One result per item, in request order.
    pub results: Vec<BatchResult>,
}

/// A key checked and ready, with the plugin that serves it.
struct Resolved {
    key: KeyRow,
    spki: Vec<u8>,
    plugin: Arc<LoadedPlugin>,
}

/// Check a key's state (status now, its curve enabled) and find its plugin.
fn resolve(state: &AppState, key: KeyRow, curves: &[CurveRow]) -> Result<Resolved, VerifyError> {
    match key.status_now() {
        "active" => {}
        "revoked" => return Err(VerifyError::KeyRevoked),
        _ => return Err(VerifyError::KeyExpired),
    }
    if let Some(curve) = &key.curve {
        let enabled = curves
            .iter()
            .any(|c| c.name == *curve && c.status == "enabled");
        if !enabled {
            return Err(VerifyError::CurveDisabled(curve.clone()));
        }
    }
    let plugin = state
        .plugins
        .route(&key.algorithm, key.curve.as_deref())
        .ok_or_else(|| {
            VerifyError::PluginUnavailable(match &key.curve {
                Some(curve) => format!("{} on {curve}", key.algorithm),
                None => key.algorithm.clone(),
            })
        })?;
    let spki = request::spki_from_pem(&key.key_data).ok_or_else(|| {
        VerifyError::Store(StoreError::Unavailable("stored key is not PEM".into()))
    })?;
    Ok(Resolved { key, spki, plugin })
}

/// One verification with its document hashed, ready for the result cache
/// and the plugin.
struct Work {
    index: usize,
    key: usize,
    plan: Plan,
    message: Vec<u8>,
    document_hash: String,
    signature: Vec<u8>,
}

impl Work {
    fn new(index: usize, key: usize, plan: Plan, mut prepared: Prepared) -> Self {
        let (message, document_hash) = prepared.message_for(&plan);
        Work {
            index,
            key,
            plan,
            message,
            document_hash,
            signature: prepared.signature,
        }
    }

    fn input(&self, spki: &[u8]) -> VerifyInput {
        VerifyInput {
            key: spki.to_vec(),
            message: self.message.clone(),
            hash: self.plan.hash,
            signature: self.signature.clone(),
            encoding: self.plan.encoding,
            scheme: self.plan.scheme,
        }
    }

    fn cached(&self, result: &CachedResult, plugin: &LoadedPlugin) -> Option<bool> {
        let same = result.plugin_sha256 == plugin.sha256()
            && result.hash == self.plan.hash
            && result.encoding == self.plan.encoding
            && result.scheme == self.plan.scheme;
        same.then_some(result.valid)
    }

    fn to_cache(&self, valid: bool, plugin: &LoadedPlugin) -> CachedResult {
        CachedResult {
            valid,
            plugin_sha256: plugin.sha256().to_owned(),
            hash: self.plan.hash,
            encoding: self.plan.encoding,
            scheme: self.plan.scheme,
        }
    }
}

/// Documents up to this size are hashed on the request's own task; larger
/// ones on the worker threads.
const INLINE_HASH_BYTES: usize = 64 * 1024;

fn record_metadata(
    plugin: &LoadedPlugin,
    plan: &Plan,
    cached: bool,
    batch: Option<Uuid>,
) -> serde_json::Value {
    let descriptor = plugin.descriptor();
    let mut metadata = serde_json::json!({
        "plugin": descriptor.name,
        "plugin_version": descriptor.version,
        "plugin_sha256": plugin.sha256(),
        "hash_algorithm": plan.hash.map(|h| h.as_str()),
        "document_hash_algorithm": plan.document_hash_algorithm().as_str(),
        "signature_encoding": plan.encoding.as_str(),
        "signature_scheme": plan.scheme.as_str(),
        "cached": cached,
    });
    if let Some(batch) = batch {
        metadata["batch_id"] = serde_json::json!(batch);
    }
    metadata
}

fn view(record: &NewRecord, key: &KeyRow) -> RecordView {
    RecordView {
        id: record.id,
        user_id: record.user_id,
        public_key_id: record.public_key_id,
        algorithm: key.algorithm.clone(),
        curve: key.curve.clone(),
        document_hash: record.document_hash.clone(),
        valid: record.is_valid,
        verified_at: record.verified_at,
        metadata: Some(record.metadata.clone()),
    }
}

/// Verify one signature and record it.
pub async fn verify_one(
    state: &AppState,
    caller: &Caller,
    item: VerifyItem,
) -> Result<Verified, VerifyError> {
    let prepared = Prepared::from_item(&item, &state.config.verify)?;
    let key = state
        .caches
        .key(item.public_key_id, caller.id(), caller.is_admin())
        .await?
        .ok_or(VerifyError::KeyNotFound)?;
    let curves = state.caches.curves().await?;
    let resolved = resolve(state, key, &curves)?;
    let plan = Plan::new(&resolved.plugin, &item, &prepared)?;
    let work = if prepared.document_len() <= INLINE_HASH_BYTES {
        Work::new(0, 0, plan, prepared)
    } else {
        state
            .executor
            .run(move || Work::new(0, 0, plan, prepared))
            .await?
    };

    let cache_key = state
        .caches
        .result_key(&work.document_hash, resolved.key.id, &work.signature);
    let cached = state
        .caches
        .results(vec![cache_key.clone()])
        .await
        .pop()
        .flatten();
    let hit = cached
        .as_ref()
        .and_then(|c| work.cached(c, &resolved.plugin));
    state.caches.count_result(hit.is_some());
    let valid = match hit {
        Some(valid) => valid,
        None => {
            let plugin = resolved.plugin.clone();
            let input = work.input(&resolved.spki);
            let started = std::time::Instant::now();
            let answer = state.executor.run(move || plugin.verify(input)).await?;
            state
                .metrics
                .verify_latency(&resolved.plugin.label(), started.elapsed());
            if let Err(failure) = &answer {
                state
                    .metrics
                    .plugin_failure(&resolved.plugin.label(), failure_kind(failure));
            }
            let valid = answer??;
            state
                .caches
                .store_results(vec![(cache_key, work.to_cache(valid, &resolved.plugin))])
                .await;
            valid
        }
    };

    let record = NewRecord {
        id: Uuid::new_v4(),
        user_id: caller.id(),
        document_hash: work.document_hash.clone(),
        public_key_id: resolved.key.id,
        algorithm_id: resolved.key.algorithm_id,
        curve_id: resolved.key.curve_id,
        is_valid: valid,
        verified_at: now(),
        metadata: record_metadata(&resolved.plugin, &work.plan, hit.is_some(), None),
    };
    let recent = [view(&record, &resolved.key)];
    let answer = Verified {
        valid,
        verification_id: record.id,
        public_key_id: record.public_key_id,
        algorithm: resolved.key.algorithm.clone(),
        curve: resolved.key.curve.clone(),
        document_hash: record.document_hash.clone(),
        verified_at: record.verified_at,
        plugin: resolved.plugin.label(),
        cached: hit.is_some(),
    };
    state
        .recorder
        .record(Unit::Records(vec![record]))
        .await
        .map_err(VerifyError::Recording)?;
    state.caches.push_recent(caller.id(), &recent).await;
    Ok(answer)
}

/// Batch items bound for one plugin: (item index, input).
type PluginGroup = (Arc<LoadedPlugin>, Vec<(usize, VerifyInput)>);

/// What one batch item became before the plugins ran.
enum Slot {
    Failed(VerifyError),
    Ready {
        key: usize,
        plan: Plan,
        prepared: Prepared,
    },
    Hashed,
}

/// Verify a batch and record it atomically.
pub async fn verify_batch(
    state: &AppState,
    caller: &Caller,
    items: Vec<serde_json::Value>,
) -> Result<BatchVerified, VerifyError> {
    let max = state.config.verify.max_batch_items;
    if items.is_empty() {
        return Err(VerifyError::invalid(
            "empty_batch",
            "a batch needs at least one item",
        ));
    }
    if items.len() > max {
        return Err(VerifyError::invalid(
            "batch_too_large",
            format!("a batch holds at most {max} items, got {}", items.len()),
        ));
    }
    let total = items.len();

    // Parse every item on its own: a bad one fails alone.
    let parsed: Vec<Result<(VerifyItem, Prepared), VerifyError>> = items
        .into_iter()
        .map(|value| {
            let item: VerifyItem = serde_json::from_value(value)
                .map_err(|e| VerifyError::malformed("invalid_item", e.to_string()))?;
            let prepared = Prepared::from_item(&item, &state.config.verify)?;
            Ok((item, prepared))
        })
        .collect();

    // Every distinct key once.
    let mut ids: Vec<Uuid> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|(i, _)| i.public_key_id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let curves = state.caches.curves().await?;
    let mut resolved: Vec<Result<Resolved, VerifyError>> = Vec::with_capacity(ids.len());
    let mut key_index: HashMap<Uuid, usize> = HashMap::new();
    for row in state
        .caches
        .keys(&ids, caller.id(), caller.is_admin())
        .await?
    {
        key_index.insert(row.id, resolved.len());
        resolved.push(resolve(state, row, &curves));
    }

    let mut slots: Vec<Slot> = parsed
        .into_iter()
        .map(|item| {
            let (item, prepared) = match item {
                Ok(ok) => ok,
                Err(e) => return Slot::Failed(e),
            };
            let Some(&k) = key_index.get(&item.public_key_id) else {
                return Slot::Failed(VerifyError::KeyNotFound);
            };
            let key = match &resolved[k] {
                Ok(key) => key,
                Err(e) => return Slot::Failed(clone_key_error(e)),
            };
            match Plan::new(&key.plugin, &item, &prepared) {
                Ok(plan) => Slot::Ready {
                    key: k,
                    plan,
                    prepared,
                },
                Err(e) => Slot::Failed(e),
            }
        })
        .collect();

    // Hash the documents on the workers.
    let workers = state.executor.threads().max(1);
    let ready: Vec<(usize, usize, Plan, Prepared)> = slots
        .iter_mut()
        .enumerate()
        .filter_map(
            |(index, slot)| match std::mem::replace(slot, Slot::Hashed) {
                Slot::Ready {
                    key,
                    plan,
                    prepared,
                } => Some((index, key, plan, prepared)),
                other => {
                    *slot = other;
                    None
                }
            },
        )
        .collect();
    let chunk = ready.len().div_ceil(workers).clamp(1, MAX_BATCH_CALL);
    let mut hashing = Vec::new();
    let mut ready = ready.into_iter().peekable();
    while ready.peek().is_some() {
        let part: Vec<_> = ready.by_ref().take(chunk).collect();
        hashing.push(state.executor.run(move || {
            part.into_iter()
                .map(|(index, key, plan, prepared)| Work::new(index, key, plan, prepared))
                .collect::<Vec<_>>()
        }));
    }
    let mut works: Vec<Work> = Vec::with_capacity(total);
    for part in futures::future::join_all(hashing).await {
        works.extend(part?);
    }

    // The result cache, in one round trip; the rest goes to the plugins.
    let cache_keys: Vec<String> = works
        .iter()
        .map(|w| {
            let key_id = resolved[w.key]
                .as_ref()
                .map(|r| r.key.id)
                .unwrap_or_default();
            state
                .caches
                .result_key(&w.document_hash, key_id, &w.signature)
        })
        .collect();
    let cached = state.caches.results(cache_keys.clone()).await;
    let mut answers: HashMap<usize, (Result<bool, VerifyError>, bool)> =
        HashMap::with_capacity(total);
    let mut groups: HashMap<usize, PluginGroup> = HashMap::new();
    let mut to_cache: HashMap<usize, String> = HashMap::new();
    for ((work, cached), cache_key) in works.iter().zip(cached).zip(cache_keys) {
        let Ok(key) = &resolved[work.key] else {
            continue;
        };
        let hit = cached.as_ref().and_then(|c| work.cached(c, &key.plugin));
        state.caches.count_result(hit.is_some());
        match hit {
            Some(valid) => {
                answers.insert(work.index, (Ok(valid), true));
            }
            None => {
                to_cache.insert(work.index, cache_key);
                // Keyed by the plugin's address: the same loaded plugin, not just the same name.
                groups
                    .entry(Arc::as_ptr(&key.plugin) as usize)
                    .or_insert_with(|| (key.plugin.clone(), Vec::new()))
                    .1
                    .push((work.index, work.input(&key.spki)));
            }
        }
    }
    let mut jobs = Vec::new();
    for (_, (plugin, calls)) in groups {
        let chunk = calls.len().div_ceil(workers).clamp(1, MAX_BATCH_CALL);
        let mut calls = calls.into_iter().peekable();
        while calls.peek().is_some() {
            let part: Vec<(usize, VerifyInput)> = calls.by_ref().take(chunk).collect();
            let plugin = plugin.clone();
            let metrics = state.metrics.clone();
            jobs.push(state.executor.run(move || {
                let started = std::time::Instant::now();
                let items = u32::try_from(part.len().max(1)).unwrap_or(u32::MAX);
                let answers = run_chunk(&plugin, part);
                metrics.verify_latency(&plugin.label(), started.elapsed() / items);
                for (_, answer) in &answers {
                    if let Err(VerifyError::Plugin(failure)) = answer {
                        metrics.plugin_failure(&plugin.label(), failure_kind(failure));
                    }
                }
                answers
            }));
        }
    }
    for outcome in futures::future::join_all(jobs).await {
        for (index, answer) in outcome? {
            answers.insert(index, (answer, false));
        }
    }
    let works: HashMap<usize, Work> = works.into_iter().map(|w| (w.index, w)).collect();

    // Records, items and results in request order.
    let batch_id = Uuid::new_v4();
    let verified_at = now();
    let mut records = Vec::new();
    let mut recent = Vec::new();
    let mut fresh = Vec::new();
    let mut items = Vec::new();
    let mut results = Vec::with_capacity(total);
    let mut errors = Vec::new();
    let mut success = 0;
    for (index, slot) in slots.into_iter().enumerate() {
        let outcome = match slot {
            Slot::Failed(error) => Err(error),
            Slot::Ready { .. } | Slot::Hashed => {
                match (answers.remove(&index), works.get(&index)) {
                    (Some((Ok(valid), cached)), Some(work)) => match &resolved[work.key] {
                        Ok(key) => Ok((work, key, valid, cached)),
                        Err(e) => Err(clone_key_error(e)),
                    },
                    (Some((Err(error), _)), _) => Err(error),
                    _ => Err(VerifyError::Plugin(PluginError::Engine("no answer".into()))),
                }
            }
        };
        match outcome {
            Ok((work, key, valid, cached)) => {
                let record = NewRecord {
                    id: Uuid::new_v4(),
                    user_id: caller.id(),
                    document_hash: work.document_hash.clone(),
                    public_key_id: key.key.id,
                    algorithm_id: key.key.algorithm_id,
                    curve_id: key.key.curve_id,
                    is_valid: valid,
                    verified_at,
                    metadata: record_metadata(&key.plugin, &work.plan, cached, Some(batch_id)),
                };
                if !cached && let Some(cache_key) = to_cache.remove(&index) {
                    fresh.push((cache_key, work.to_cache(valid, &key.plugin)));
                }
                success += usize::from(valid);
                items.push((i32::try_from(index).unwrap_or(i32::MAX), record.id));
                results.push(BatchResult {
                    index,
                    valid: Some(valid),
                    verification_id: Some(record.id),
                    error: None,
                });
                recent.push(view(&record, &key.key));
                records.push(record);
            }
            Err(error) => {
                let item_error = ItemError {
                    code: error.code().to_owned(),
                    detail: error.to_string(),
                };
                errors.push(serde_json::json!({"index": index, "code": item_error.code}));
                results.push(BatchResult {
                    index,
                    valid: None,
                    verification_id: None,
                    error: Some(item_error),
                });
            }
        }
    }
    let batch = NewBatch {
        id: batch_id,
        user_id: caller.id(),
        total_count: i32::try_from(total).unwrap_or(i32::MAX),
        success_count: i32::try_from(success).unwrap_or(i32::MAX),
        verified_at,
        metadata: serde_json::json!({"errors": errors, "recorded": records.len()}),
        items,
    };
    state.caches.store_results(fresh).await;
    state
        .recorder
        .record(Unit::Batch(batch, records))
        .await
        .map_err(VerifyError::Recording)?;
    state.caches.push_recent(caller.id(), &recent).await;
    Ok(BatchVerified {
        batch_id,
        total_count: total,
        success_count: success,
        results,
    })
}

/// Run one chunk through `verify-batch`; if the plugin fails on the chunk
/// as a whole, verify its items one by one so a bad item fails alone.
fn run_chunk(
    plugin: &LoadedPlugin,
    calls: Vec<(usize, VerifyInput)>,
) -> Vec<(usize, Result<bool, VerifyError>)> {
    let (indexes, inputs): (Vec<usize>, Vec<VerifyInput>) = calls.into_iter().unzip();
    match plugin.verify_batch(inputs.clone()) {
        Ok(answers) => indexes
            .into_iter()
            .zip(answers)
            .map(|(index, answer)| (index, answer.map_err(VerifyError::from)))
            .collect(),
        Err(_) => indexes
            .into_iter()
            .zip(inputs)
            .map(|(index, input)| {
                let answer = match plugin.verify(input) {
                    Ok(answer) => answer.map_err(VerifyError::from),
                    Err(error) => Err(VerifyError::Plugin(error)),
                };
                (index, answer)
            })
            .collect(),
    }
}

/// Now, at the database's precision (microseconds), so an answer's
/// `verified_at` is exactly its record's.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The metrics label of a plugin failure.
fn failure_kind(error: &PluginError) -> &'static str {
    match error {
        PluginError::Trap(_) => "trap",
        PluginError::Timeout(_) => "timeout",
        PluginError::MemoryExhausted(_) => "memory",
        _ => "other",
    }
}

/// Key errors repeat for every item of a key; they carry no payload worth
/// sharing, so they are rebuilt.
fn clone_key_error(error: &VerifyError) -> VerifyError {
    match error {
        VerifyError::KeyRevoked => VerifyError::KeyRevoked,
        VerifyError::KeyExpired => VerifyError::KeyExpired,
        VerifyError::CurveDisabled(c) => VerifyError::CurveDisabled(c.clone()),
        VerifyError::PluginUnavailable(p) => VerifyError::PluginUnavailable(p.clone()),
        other => VerifyError::invalid("key_unusable", other.to_string()),
    }
}
