//! What a verification leaves behind: its record (committed before the
//! answer is sent), its entry in the caller's recent list, and the answer.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::pipeline::{Keys, Resolved, Slot, Work};
use super::recorder::Unit;
use super::request::Plan;
use super::{BatchResult, BatchVerified, ItemError, Verified, VerifyError};
use crate::auth::Caller;
use crate::plugins::{LoadedPlugin, PluginError, Verdict};
use crate::store::verifications::{NewBatch, NewRecord, RecordView, time_ordered_id};

/// A verification's answer, and whether the result cache gave it.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub(super) verdict: Verdict,
    pub(super) cached: bool,
}

/// The record of one answer.
pub(super) fn record(
    caller: &Caller,
    work: &Work,
    key: &Resolved,
    answer: &Answer,
    batch: Option<Uuid>,
    at: DateTime<Utc>,
) -> NewRecord {
    NewRecord {
        id: time_ordered_id(at),
        user_id: caller.id(),
        document_hash: work.document_hash.clone(),
        public_key_id: key.key.id,
        algorithm_id: key.key.algorithm_id,
        curve_id: key.key.curve_id,
        is_valid: answer.verdict.valid,
        verified_at: at,
        metadata: record_metadata(&key.plugin, work, answer, batch),
    }
}

fn record_metadata(
    plugin: &LoadedPlugin,
    work: &Work,
    answer: &Answer,
    batch: Option<Uuid>,
) -> serde_json::Value {
    let (plan, cached): (&Plan, bool) = (&work.plan, answer.cached);
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
    if !work.context.is_empty() {
        metadata["context"] = serde_json::json!(STANDARD.encode(&work.context));
    }
    if let Some(recovered) = &answer.verdict.recovered {
        metadata["recovered_address"] = serde_json::json!(recovered);
    }
    metadata
}

/// A record as the recent list shows it.
pub(super) fn view(record: &NewRecord, key: &Resolved) -> RecordView {
    RecordView {
        id: record.id,
        user_id: record.user_id,
        public_key_id: record.public_key_id,
        algorithm: key.key.algorithm.clone(),
        curve: key.key.curve.clone(),
        document_hash: record.document_hash.clone(),
        valid: record.is_valid,
        verified_at: record.verified_at,
        metadata: Some(record.metadata.clone()),
    }
}

/// Now, at the database's precision (microseconds), so an answer's
/// `verified_at` is exactly its record's.
pub(super) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

impl Verified {
    pub(super) fn new(record: &NewRecord, key: &Resolved, answer: &Answer) -> Self {
        Verified {
            valid: record.is_valid,
            recovered_address: answer.verdict.recovered.clone(),
            verification_id: record.id,
            public_key_id: record.public_key_id,
            algorithm: key.key.algorithm.clone(),
            curve: key.key.curve.clone(),
            document_hash: record.document_hash.clone(),
            verified_at: record.verified_at,
            plugin: key.plugin.label(),
            cached: answer.cached,
        }
    }
}

/// A batch's records, recent entries and answer, in request order.
pub(super) struct Outcome {
    /// The batch row with its records, stored as one.
    pub(super) unit: Unit,
    /// The records for the caller's recent list.
    pub(super) recent: Vec<RecordView>,
    /// What the client gets.
    pub(super) answer: BatchVerified,
}

impl Outcome {
    /// Turn every slot into its record or its error.
    pub(super) fn assemble(caller: &Caller, slots: Vec<Slot>, keys: &Keys) -> Self {
        let verified_at = now();
        let batch_id = time_ordered_id(verified_at);
        let total = slots.len();
        let (mut records, mut recent, mut items) = (Vec::new(), Vec::new(), Vec::new());
        let (mut results, mut errors) = (Vec::with_capacity(total), Vec::new());
        for (index, slot) in slots.into_iter().enumerate() {
            match answered(slot, keys) {
                Ok((work, key, answer)) => {
                    let record = record(caller, &work, key, &answer, Some(batch_id), verified_at);
                    items.push((i32::try_from(index).unwrap_or(i32::MAX), record.id));
                    results.push(BatchResult {
                        index,
                        valid: Some(record.is_valid),
                        verification_id: Some(record.id),
                        recovered_address: answer.verdict.recovered,
                        error: None,
                    });
                    recent.push(view(&record, key));
                    records.push(record);
                }
                Err(error) => {
                    let item_error = ItemError::from(&error);
                    errors.push(serde_json::json!({"index": index, "code": item_error.code}));
                    results.push(BatchResult {
                        index,
                        valid: None,
                        verification_id: None,
                        recovered_address: None,
                        error: Some(item_error),
                    });
                }
            }
        }
        let success = records.iter().filter(|r| r.is_valid).count();
        let batch = NewBatch {
            id: batch_id,
            user_id: caller.id(),
            total_count: i32::try_from(total).unwrap_or(i32::MAX),
            success_count: i32::try_from(success).unwrap_or(i32::MAX),
            verified_at,
            metadata: serde_json::json!({"errors": errors, "recorded": records.len()}),
            items,
        };
        Outcome {
            unit: Unit::Batch(batch, records),
            recent,
            answer: BatchVerified {
                batch_id,
                total_count: total,
                success_count: success,
                results,
            },
        }
    }
}

/// An answered slot's work, key and answer, or the item's error.
fn answered(slot: Slot, keys: &Keys) -> Result<(Work, &Resolved, Answer), VerifyError> {
    match slot {
        Slot::Failed(error) => Err(error),
        Slot::Answered {
            key,
            work,
            verdict,
            cached,
        } => match keys.usable(key) {
            Some(key) => Ok((work, key, Answer { verdict, cached })),
            None => Err(VerifyError::KeyNotFound),
        },
        Slot::Pending | Slot::Ready { .. } => {
            Err(VerifyError::Plugin(PluginError::Engine("no answer".into())))
        }
    }
}
