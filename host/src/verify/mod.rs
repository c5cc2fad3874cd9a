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

    /// Whether the failure's text is for operators only: a trap's message
    /// and backtrace, a contract violation, a plugin's internal fault and
    /// database errors are logged, never shown to clients.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            VerifyError::Store(_)
                | VerifyError::Refused(ContractError::Internal(_))
                | VerifyError::Plugin(
                    PluginError::Trap(_)
                        | PluginError::ContractViolation(_)
                        | PluginError::Engine(_)
                )
        )
    }

    /// The detail a client sees: the message itself, or for internal
    /// failures a generic sentence naming only the code.
    pub fn client_detail(&self) -> String {
        if self.is_internal() {
            format!(
                "the verification failed inside the service ({}); the failure has been logged",
                self.code()
            )
        } else {
            self.to_string()
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
        let enabled = curves.iter().any(|c| c.name == *curve && c.is_enabled());
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
    /// Hash the document (CPU-bound for large documents).
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

    fn cache_key(&self, state: &AppState, key: &Resolved) -> String {
        state
            .caches
            .result_key(&self.document_hash, key.key.id, &self.signature)
    }

    /// A cached answer applies only if the same plugin build answered under
    /// the same hash, encoding and scheme.
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

    /// The record of this verification's answer.
    fn record(
        &self,
        caller: &Caller,
        key: &Resolved,
        valid: bool,
        cached: bool,
        batch: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> NewRecord {
        NewRecord {
            id: Uuid::new_v4(),
            user_id: caller.id(),
            document_hash: self.document_hash.clone(),
            public_key_id: key.key.id,
            algorithm_id: key.key.algorithm_id,
            curve_id: key.key.curve_id,
            is_valid: valid,
            verified_at: at,
            metadata: record_metadata(&key.plugin, &self.plan, cached, batch),
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

/// Count and time a plugin's answers.
fn observe(
    state: &AppState,
    plugin: &LoadedPlugin,
    took: std::time::Duration,
    items: usize,
    failures: &[&PluginError],
) {
    let items = u32::try_from(items.max(1)).unwrap_or(u32::MAX);
    state.metrics.verify_latency(&plugin.label(), took / items);
    for failure in failures {
        state
            .metrics
            .plugin_failure(&plugin.label(), failure_kind(failure));
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

    let cache_key = work.cache_key(state, &resolved);
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
            let (plugin, input) = (resolved.plugin.clone(), work.input(&resolved.spki));
            let started = std::time::Instant::now();
            let answer = state.executor.run(move || plugin.verify(input)).await?;
            observe(
                state,
                &resolved.plugin,
                started.elapsed(),
                1,
                &answer.as_ref().err().into_iter().collect::<Vec<_>>(),
            );
            let valid = answer??;
            state
                .caches
                .store_results(vec![(cache_key, work.to_cache(valid, &resolved.plugin))])
                .await;
            valid
        }
    };

    let record = work.record(caller, &resolved, valid, hit.is_some(), None, now());
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

/// The time and the interest a batch's plugin work may still use: work
/// scheduled on the workers is skipped once the batch's deadline has
/// passed or its request has gone away.
#[derive(Clone)]
struct Budget {
    deadline: std::time::Instant,
    abandoned: Arc<std::sync::atomic::AtomicBool>,
}

impl Budget {
    fn spent(&self) -> bool {
        self.abandoned.load(std::sync::atomic::Ordering::Relaxed)
            || std::time::Instant::now() >= self.deadline
    }
}

/// Marks the budget abandoned when the batch's future ends, however it ends.
struct Abandon(Arc<std::sync::atomic::AtomicBool>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Verify a batch and record it atomically.
pub async fn verify_batch(
    state: &AppState,
    caller: &Caller,
    items: Vec<serde_json::Value>,
) -> Result<BatchVerified, VerifyError> {
    let limits = &state.config.verify;
    if items.is_empty() {
        return Err(VerifyError::invalid(
            "empty_batch",
            "a batch needs at least one item",
        ));
    }
    if items.len() > limits.max_batch_items {
        return Err(VerifyError::invalid(
            "batch_too_large",
            format!(
                "a batch holds at most {} items, got {}",
                limits.max_batch_items,
                items.len()
            ),
        ));
    }
    // Bound the memory batches can hold at once.
    let _permit = state
        .batch_permits
        .acquire()
        .await
        .map_err(|_| VerifyError::Plugin(PluginError::Engine("shutting down".into())))?;
    let total = items.len();
    let budget = Budget {
        deadline: std::time::Instant::now()
            + std::time::Duration::from_millis(state.config.http.request_timeout_ms),
        abandoned: Arc::new(std::sync::atomic::AtomicBool::new(false)),
    };
    let _abandon = Abandon(budget.abandoned.clone());

    // Parse every item on its own: a bad one fails alone.
    let mut document_bytes = 0usize;
    let parsed: Vec<Result<(VerifyItem, Prepared), VerifyError>> = items
        .into_iter()
        .map(|value| {
            let item: VerifyItem = serde_json::from_value(value)
                .map_err(|e| VerifyError::malformed("invalid_item", e.to_string()))?;
            let prepared = Prepared::from_item(&item, limits)?;
            document_bytes += prepared.document_len();
            Ok((item, prepared))
        })
        .collect();
    if document_bytes > limits.max_batch_document_bytes {
        return Err(VerifyError::invalid(
            "batch_too_large",
            format!(
                "a batch's documents total at most {} bytes, got {document_bytes}",
                limits.max_batch_document_bytes
            ),
        ));
    }

    // Every distinct key once: in-process, one MGET, one query.
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

    // Plan each item; what cannot run fails in its slot now.
    let mut failed: HashMap<usize, VerifyError> = HashMap::new();
    let mut ready: Vec<(usize, usize, Plan, Prepared)> = Vec::new();
    for (index, item) in parsed.into_iter().enumerate() {
        let planned = item.and_then(|(item, prepared)| {
            let k = *key_index
                .get(&item.public_key_id)
                .ok_or(VerifyError::KeyNotFound)?;
            let key = resolved[k].as_ref().map_err(clone_key_error)?;
            let plan = Plan::new(&key.plugin, &item, &prepared)?;
            Ok((k, plan, prepared))
        });
        match planned {
            Ok((k, plan, prepared)) => ready.push((index, k, plan, prepared)),
            Err(error) => {
                failed.insert(index, error);
            }
        }
    }

    // Hash the documents on the workers.
    let workers = state.executor.threads().max(1);
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
    let key_of = |work: &Work| resolved[work.key].as_ref().ok();

    // The result cache in one round trip; the rest goes to the plugins.
    // Batch answers are not written to the cache: a single verification
    // must never be answered from a batch equation's verdict.
    let cache_keys: Vec<String> = works
        .iter()
        .map(|w| key_of(w).map(|k| w.cache_key(state, k)).unwrap_or_default())
        .collect();
    let cached = state.caches.results(cache_keys).await;
    let mut answers: HashMap<usize, (Result<bool, VerifyError>, bool)> =
        HashMap::with_capacity(total);
    let mut groups: HashMap<usize, PluginGroup> = HashMap::new();
    for (work, cached) in works.iter().zip(cached) {
        let Some(key) = key_of(work) else { continue };
        let hit = cached.as_ref().and_then(|c| work.cached(c, &key.plugin));
        state.caches.count_result(hit.is_some());
        match hit {
            Some(valid) => {
                answers.insert(work.index, (Ok(valid), true));
            }
            None => {
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
            let (plugin, budget, job_state) = (plugin.clone(), budget.clone(), state.clone());
            jobs.push(state.executor.run(move || {
                let started = std::time::Instant::now();
                let items = part.len();
                let answers = run_chunk(&plugin, part, &budget);
                let failures: Vec<&PluginError> = answers
                    .iter()
                    .filter_map(|(_, a)| match a {
                        Err(VerifyError::Plugin(failure)) => Some(failure),
                        _ => None,
                    })
                    .collect();
                observe(&job_state, &plugin, started.elapsed(), items, &failures);
                answers
            }));
        }
    }
    for outcome in futures::future::join_all(jobs).await {
        for (index, answer) in outcome? {
            answers.insert(index, (answer, false));
        }
    }

    // Records, items and results in request order.
    let works: HashMap<usize, Work> = works.into_iter().map(|w| (w.index, w)).collect();
    let batch_id = Uuid::new_v4();
    let verified_at = now();
    let mut records = Vec::new();
    let mut recent = Vec::new();
    let mut items = Vec::new();
    let mut results = Vec::with_capacity(total);
    let mut errors = Vec::new();
    let mut success = 0;
    for index in 0..total {
        let outcome = match (
            failed.remove(&index),
            answers.remove(&index),
            works.get(&index),
        ) {
            (Some(error), _, _) => Err(error),
            (None, Some((Ok(valid), cached)), Some(work)) => match key_of(work) {
                Some(key) => Ok((work, key, valid, cached)),
                None => Err(VerifyError::KeyNotFound),
            },
            (None, Some((Err(error), _)), _) => Err(error),
            _ => Err(VerifyError::Plugin(PluginError::Engine("no answer".into()))),
        };
        match outcome {
            Ok((work, key, valid, cached)) => {
                let record = work.record(caller, key, valid, cached, Some(batch_id), verified_at);
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
                let item_error = ItemError::from(&error);
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

impl From<&VerifyError> for ItemError {
    /// An item's error as the client sees it: internal failures are
    /// logged and reported without their details, as single requests are.
    fn from(error: &VerifyError) -> Self {
        if error.is_internal() {
            tracing::error!(%error, code = error.code(), "batch item failed internally");
        }
        ItemError {
            code: error.code().to_owned(),
            detail: error.client_detail(),
        }
    }
}

/// Batch items bound for one plugin: (item index, input).
type PluginGroup = (Arc<LoadedPlugin>, Vec<(usize, VerifyInput)>);

/// Run one chunk through `verify-batch`. If the plugin fails on the chunk
/// as a whole, its items are verified one by one so that a bad item fails
/// alone, within the batch's budget.
fn run_chunk(
    plugin: &LoadedPlugin,
    calls: Vec<(usize, VerifyInput)>,
    budget: &Budget,
) -> Vec<(usize, Result<bool, VerifyError>)> {
    let spent = || VerifyError::Plugin(PluginError::Timeout(0));
    if budget.spent() {
        return calls
            .into_iter()
            .map(|(index, _)| (index, Err(spent())))
            .collect();
    }
    let (indexes, inputs): (Vec<usize>, Vec<VerifyInput>) = calls.into_iter().unzip();
    match plugin.verify_batch(&inputs) {
        Ok(answers) => indexes
            .into_iter()
            .zip(answers)
            .map(|(index, answer)| (index, answer.map_err(VerifyError::from)))
            .collect(),
        Err(_) => indexes
            .into_iter()
            .zip(inputs)
            .map(|(index, input)| {
                if budget.spent() {
                    return (index, Err(spent()));
                }
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
