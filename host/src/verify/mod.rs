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
use crate::plugins::{ContractError, LoadedPlugin, MAX_BATCH_CALL, PluginError, VerifyInput};
use crate::store::StoreError;
use crate::store::keys::{self as key_store, KeyRow};
use crate::store::verifications::{NewBatch, NewRecord};
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

/// Check a key's state and find its plugin.
fn resolve(state: &AppState, key: KeyRow) -> Result<Resolved, VerifyError> {
    match key.status.as_str() {
        "active" => {}
        "revoked" => return Err(VerifyError::KeyRevoked),
        _ => return Err(VerifyError::KeyExpired),
    }
    if let (Some(curve), Some("disabled")) = (&key.curve, key.curve_status.as_deref()) {
        return Err(VerifyError::CurveDisabled(curve.clone()));
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

/// Work for a plugin worker: hash where needed, then the plugin's input.
struct Call {
    plan: Plan,
    prepared: Prepared,
    spki: Vec<u8>,
}

impl Call {
    /// Runs on a worker thread: the document is hashed here, off the async
    /// runtime.
    fn into_input(mut self) -> (String, VerifyInput) {
        let (message, document_hash) = self.prepared.message_for(&self.plan);
        let input = VerifyInput {
            key: self.spki,
            message,
            hash: self.plan.hash,
            signature: self.prepared.signature,
            encoding: self.plan.encoding,
            scheme: self.plan.scheme,
        };
        (document_hash, input)
    }
}

fn record_metadata(plugin: &LoadedPlugin, plan: &Plan, batch: Option<Uuid>) -> serde_json::Value {
    let descriptor = plugin.descriptor();
    let mut metadata = serde_json::json!({
        "plugin": descriptor.name,
        "plugin_version": descriptor.version,
        "plugin_sha256": plugin.sha256(),
        "hash_algorithm": plan.hash.map(|h| h.as_str()),
        "document_hash_algorithm": plan.document_hash_algorithm().as_str(),
        "signature_encoding": plan.encoding.as_str(),
        "signature_scheme": plan.scheme.as_str(),
        "cached": false,
    });
    if let Some(batch) = batch {
        metadata["batch_id"] = serde_json::json!(batch);
    }
    metadata
}

/// Verify one signature and record it.
pub async fn verify_one(
    state: &AppState,
    caller: &Caller,
    item: VerifyItem,
) -> Result<Verified, VerifyError> {
    let prepared = Prepared::from_item(&item, &state.config.verify)?;
    let mut tx = state.store.begin_for(caller.id()).await?;
    let key = key_store::get(&mut tx, item.public_key_id)
        .await?
        .ok_or(VerifyError::KeyNotFound)?;
    tx.commit().await.map_err(StoreError::from)?;
    let resolved = resolve(state, key)?;
    let plan = Plan::new(&resolved.plugin, &item, &prepared)?;
    let call = Call {
        plan: plan.clone(),
        prepared,
        spki: resolved.spki,
    };
    let plugin = resolved.plugin.clone();
    let (document_hash, answer) = state
        .executor
        .run(move || {
            let (document_hash, input) = call.into_input();
            (document_hash, plugin.verify(input))
        })
        .await?;
    let valid = answer??;

    let record = NewRecord {
        id: Uuid::new_v4(),
        user_id: caller.id(),
        document_hash,
        public_key_id: resolved.key.id,
        algorithm_id: resolved.key.algorithm_id,
        curve_id: resolved.key.curve_id,
        is_valid: valid,
        verified_at: Utc::now(),
        metadata: record_metadata(&resolved.plugin, &plan, None),
    };
    let answer = Verified {
        valid,
        verification_id: record.id,
        public_key_id: record.public_key_id,
        algorithm: resolved.key.algorithm.clone(),
        curve: resolved.key.curve.clone(),
        document_hash: record.document_hash.clone(),
        verified_at: record.verified_at,
        plugin: resolved.plugin.label(),
        cached: false,
    };
    state
        .recorder
        .record(Unit::Records(vec![record]))
        .await
        .map_err(VerifyError::Recording)?;
    Ok(answer)
}

/// What one batch item became before the plugins ran.
enum Slot {
    Failed(VerifyError),
    Ready {
        key: usize,
        plan: Plan,
        call: Option<Call>,
    },
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

    // Every distinct key in one query, under row-level security.
    let mut ids: Vec<Uuid> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|(i, _)| i.public_key_id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut tx = state.store.begin_for(caller.id()).await?;
    let rows = key_store::get_many(&mut tx, &ids).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let mut resolved: Vec<Result<Resolved, VerifyError>> = Vec::with_capacity(rows.len());
    let mut key_index: HashMap<Uuid, usize> = HashMap::new();
    for row in rows {
        key_index.insert(row.id, resolved.len());
        resolved.push(resolve(state, row));
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
                    plan: plan.clone(),
                    call: Some(Call {
                        plan,
                        prepared,
                        spki: key.spki.clone(),
                    }),
                },
                Err(e) => Slot::Failed(e),
            }
        })
        .collect();

    // Group ready items by plugin, cut into chunks over the workers.
    // Keyed by the plugin's address: the same loaded plugin, not just the same name.
    let mut groups: HashMap<usize, (Arc<LoadedPlugin>, Vec<(usize, Call)>)> = HashMap::new();
    for (index, slot) in slots.iter_mut().enumerate() {
        if let Slot::Ready { key, call, .. } = slot {
            if let (Ok(resolved), Some(call)) = (&resolved[*key], call.take()) {
                let entry = groups
                    .entry(Arc::as_ptr(&resolved.plugin) as usize)
                    .or_insert_with(|| (resolved.plugin.clone(), Vec::new()));
                entry.1.push((index, call));
            }
        }
    }
    let workers = state.executor.threads().max(1);
    let mut jobs = Vec::new();
    for (_, (plugin, calls)) in groups {
        let chunk = calls.len().div_ceil(workers).clamp(1, MAX_BATCH_CALL);
        let mut calls = calls.into_iter().peekable();
        while calls.peek().is_some() {
            let part: Vec<(usize, Call)> = calls.by_ref().take(chunk).collect();
            let plugin = plugin.clone();
            jobs.push(state.executor.run(move || run_chunk(&plugin, part)));
        }
    }
    let mut answers: HashMap<usize, (String, Result<bool, VerifyError>)> =
        HashMap::with_capacity(total);
    for outcome in futures::future::join_all(jobs).await {
        for (index, document_hash, answer) in outcome? {
            answers.insert(index, (document_hash, answer));
        }
    }

    // Records, items and results in request order.
    let batch_id = Uuid::new_v4();
    let verified_at = Utc::now();
    let mut records = Vec::new();
    let mut items = Vec::new();
    let mut results = Vec::with_capacity(total);
    let mut errors = Vec::new();
    let mut success = 0;
    for (index, slot) in slots.into_iter().enumerate() {
        let outcome = match slot {
            Slot::Failed(error) => Err(error),
            Slot::Ready { key, plan, .. } => match answers.remove(&index) {
                Some((document_hash, Ok(valid))) => {
                    let Ok(resolved) = &resolved[key] else {
                        continue;
                    };
                    Ok((document_hash, valid, resolved, plan))
                }
                Some((_, Err(error))) => Err(error),
                None => Err(VerifyError::Plugin(PluginError::Engine("no answer".into()))),
            },
        };
        match outcome {
            Ok((document_hash, valid, resolved, plan)) => {
                let record = NewRecord {
                    id: Uuid::new_v4(),
                    user_id: caller.id(),
                    document_hash,
                    public_key_id: resolved.key.id,
                    algorithm_id: resolved.key.algorithm_id,
                    curve_id: resolved.key.curve_id,
                    is_valid: valid,
                    verified_at,
                    metadata: record_metadata(&resolved.plugin, &plan, Some(batch_id)),
                };
                success += usize::from(valid);
                items.push((i32::try_from(index).unwrap_or(i32::MAX), record.id));
                results.push(BatchResult {
                    index,
                    valid: Some(valid),
                    verification_id: Some(record.id),
                    error: None,
                });
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
    state
        .recorder
        .record(Unit::Batch(batch, records))
        .await
        .map_err(VerifyError::Recording)?;
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
    calls: Vec<(usize, Call)>,
) -> Vec<(usize, String, Result<bool, VerifyError>)> {
    let (indexes, prepared): (Vec<usize>, Vec<(String, VerifyInput)>) = calls
        .into_iter()
        .map(|(index, call)| (index, call.into_input()))
        .unzip();
    let (hashes, inputs): (Vec<String>, Vec<VerifyInput>) = prepared.into_iter().unzip();
    match plugin.verify_batch(inputs.clone()) {
        Ok(answers) => indexes
            .into_iter()
            .zip(hashes)
            .zip(answers)
            .map(|((index, hash), answer)| (index, hash, answer.map_err(VerifyError::from)))
            .collect(),
        Err(_) => indexes
            .into_iter()
            .zip(hashes)
            .zip(inputs)
            .map(|((index, hash), input)| {
                let answer = match plugin.verify(input) {
                    Ok(answer) => answer.map_err(VerifyError::from),
                    Err(error) => Err(VerifyError::Plugin(error)),
                };
                (index, hash, answer)
            })
            .collect(),
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
