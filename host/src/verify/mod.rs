//! The verification pipeline: resolve the key (owned, active, not expired,
//! curve enabled, plugin present), decide hash, encoding and scheme against
//! what the plugin declares, hash the document on the host where the plugin
//! takes a digest, run the plugin on the worker threads, store the record,
//! answer.
//!
//! Batches run the same stages per item; identical items are verified once
//! (each still answered and recorded), items are grouped by plugin, cut
//! into chunks spread over the workers, and a bad item fails alone with its
//! error in its slot. The batch row, its records and its items are stored
//! in one transaction.
//!
//! - [`Verifier`] — the pipeline, built once at start-up;
//! - [`request`] — a request decoded and planned against a plugin;
//! - [`batch_body`] — a batch body parsed with its item count bounded
//!   before allocation;
//! - `pipeline` — the stages single and batch verification share;
//! - `outcome` — records and answers;
//! - `budget` — how long a batch's plugin work may go on;
//! - `policy` — the catalogue's policy, checked by the host before any
//!   plugin call (high-S on a low-S curve, unreduced Ed25519 S);
//! - [`recorder`] — group commit of the records.

pub mod batch_body;
mod budget;
mod error;
mod outcome;
mod pipeline;
mod policy;
pub mod recorder;
pub mod request;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Semaphore;
use uuid::Uuid;

pub use error::VerifyError;

use crate::auth::Caller;
use crate::cache::entities::Caches;
use crate::config::VerifyConfig;
use crate::metrics::Metrics;
use crate::plugins::{PluginError, PluginExecutor, PluginRegistry};
use budget::Budget;
use outcome::{Answer, Outcome};
use pipeline::{Twins, check_batch_len, key_ids, parse_items, plan, settle};
use recorder::{Recorder, Unit};
use request::{Plan, Prepared, VerifyItem};

/// The answer to one verification.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Verified {
    /// Whether the signature is valid.
    pub valid: bool,
    /// Ethereum: the EIP-55 address the signature recovers to (valid or
    /// not); absent for algorithms that recover nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered_address: Option<String>,
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
    /// Ethereum: the address the signature recovers to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered_address: Option<String>,
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

/// The verification pipeline and everything it uses, built once at
/// start-up.
pub struct Verifier {
    caches: Arc<Caches>,
    plugins: Arc<PluginRegistry>,
    executor: PluginExecutor,
    recorder: Recorder,
    metrics: Arc<Metrics>,
    limits: VerifyConfig,
    request_timeout: Duration,
    /// Batches in progress at once (each may hold tens of MiB).
    batch_permits: Semaphore,
}

impl Verifier {
    /// A pipeline over these parts. Batches in progress at once are bounded
    /// by twice the worker threads.
    pub fn new(
        caches: Arc<Caches>,
        plugins: Arc<PluginRegistry>,
        executor: PluginExecutor,
        recorder: Recorder,
        metrics: Arc<Metrics>,
        limits: VerifyConfig,
        request_timeout: Duration,
    ) -> Self {
        let batch_permits = Semaphore::new(executor.threads() * 2);
        Self {
            caches,
            plugins,
            executor,
            recorder,
            metrics,
            limits,
            request_timeout,
            batch_permits,
        }
    }

    /// The group commit of records (drained at shutdown, counted in
    /// `/metrics`).
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Verify one signature and record it.
    pub async fn verify_one(
        &self,
        caller: &Caller,
        item: VerifyItem,
    ) -> Result<Verified, VerifyError> {
        let prepared = Prepared::from_item(&item, &self.limits)?;
        let key = self.resolve_key(caller, item.public_key_id).await?;
        let plan = Plan::new(key.plugin.descriptor(), &item, &prepared)?;
        key.policy.check(&plan, &prepared)?;
        let work = self.hash(plan, prepared).await?;
        let answer = match self.cached_answers(&[(&work, &key)]).await.pop().flatten() {
            Some(verdict) => Answer {
                verdict,
                cached: true,
            },
            None => {
                let verdict = self.run_one(&key, &work).await?;
                self.remember(&work, &key, &verdict).await;
                Answer {
                    verdict,
                    cached: false,
                }
            }
        };
        let record = outcome::record(caller, &work, &key, &answer, None, outcome::now());
        let recent = [outcome::view(&record, &key)];
        let verified = Verified::new(&record, &key, &answer);
        self.record(caller, Unit::Records(vec![record]), &recent)
            .await?;
        Ok(verified)
    }

    /// Verify a batch and record it atomically.
    pub async fn verify_batch(
        &self,
        caller: &Caller,
        items: Vec<Box<serde_json::value::RawValue>>,
    ) -> Result<BatchVerified, VerifyError> {
        check_batch_len(&self.limits, items.len())?;
        // Bound the memory batches can hold at once.
        let _permit = self
            .batch_permits
            .acquire()
            .await
            .map_err(|_| VerifyError::Plugin(PluginError::Engine("shutting down".into())))?;
        let (budget, _abandon) = Budget::for_request(self.request_timeout);
        let parsed = parse_items(items, &self.limits)?;
        let keys = self.resolve_keys(caller, &key_ids(&parsed)).await?;
        let (mut slots, planned) = plan(parsed, &keys);
        self.hash_on_workers(planned, &mut slots).await?;
        let twins = Twins::find(&slots);
        let groups = self.lookup_cached(&mut slots, &keys, &twins).await;
        let computed = self.run_plugin_chunks(groups, &budget).await?;
        settle(&mut slots, computed);
        twins.copy_answers(&mut slots);
        let outcome = Outcome::assemble(caller, slots, &keys);
        self.record(caller, outcome.unit, &outcome.recent).await?;
        Ok(outcome.answer)
    }
}
