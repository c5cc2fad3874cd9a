//! The stages of a verification, shared by single requests and batches:
//! parse the items, resolve their keys (each once), plan, hash on the
//! workers, look up cached results, run the plugins, and record.
//!
//! A batch keeps one [`Slot`] per item, in request order: an item that
//! fails at any stage keeps its error there and the others go on.
//! Identical items of a batch ([`Twins`]) are looked up and verified once;
//! each still gets its answer, and its own record.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::budget::Budget;
use super::error::verdict;
use super::recorder::Unit;
use super::request::{Plan, Prepared, VerifyItem};
use super::{Verifier, VerifyError};
use crate::auth::Caller;
use crate::cache::entities::CachedResult;
use crate::config::VerifyConfig;
use crate::metrics::Metrics;
use crate::plugins::{LoadedPlugin, MAX_BATCH_CALL, PluginError, Verdict, VerifyInput};
use crate::store::StoreError;
use crate::store::catalog::CurveRow;
use crate::store::keys::{KeyRow, KeyStatus};
use crate::store::verifications::RecordView;

/// Documents up to this size are hashed on the request's own task; larger
/// ones on the worker threads.
const INLINE_HASH_BYTES: usize = 64 * 1024;

/// A key checked and ready, with the plugin that serves it.
pub(super) struct Resolved {
    pub(super) key: KeyRow,
    pub(super) spki: Vec<u8>,
    pub(super) plugin: Arc<LoadedPlugin>,
    pub(super) policy: super::policy::KeyPolicy,
}

/// The keys a request names, each looked up and checked once.
pub(super) struct Keys {
    resolved: Vec<Result<Resolved, VerifyError>>,
    index: HashMap<Uuid, usize>,
}

impl Keys {
    /// The position of a usable key, or why the item cannot use it.
    fn find(&self, id: Uuid) -> Result<usize, VerifyError> {
        let k = *self.index.get(&id).ok_or(VerifyError::KeyNotFound)?;
        match &self.resolved[k] {
            Ok(_) => Ok(k),
            Err(error) => Err(error.for_another_item()),
        }
    }

    /// The key at a position [`Keys::find`] gave.
    pub(super) fn usable(&self, k: usize) -> Option<&Resolved> {
        self.resolved.get(k).and_then(|r| r.as_ref().ok())
    }

    /// The one key of a single request, with its own error.
    fn into_one(mut self, id: Uuid) -> Result<Resolved, VerifyError> {
        let k = *self.index.get(&id).ok_or(VerifyError::KeyNotFound)?;
        self.resolved.swap_remove(k)
    }
}

/// An item whose key and plan are known, its document not yet hashed.
pub(super) struct Planned {
    key: usize,
    plan: Plan,
    prepared: Prepared,
}

/// One verification with its document hashed, ready for the result cache
/// and the plugin.
pub(super) struct Work {
    pub(super) plan: Plan,
    message: Vec<u8>,
    pub(super) document_hash: String,
    signature: Vec<u8>,
    pub(super) context: Vec<u8>,
}

impl Work {
    /// Hash the document (CPU-bound for large documents).
    fn new(plan: Plan, mut prepared: Prepared) -> Self {
        let (message, document_hash) = prepared.message_for(&plan);
        Work {
            plan,
            message,
            document_hash,
            signature: prepared.signature,
            context: prepared.context,
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
            context: self.context.clone(),
        }
    }

    /// A cached answer applies only if the same plugin build answered under
    /// the same hash, encoding and scheme (the context is in the cache key).
    fn cached(&self, result: &CachedResult, plugin: &LoadedPlugin) -> Option<Verdict> {
        let same = result.plugin_sha256 == plugin.sha256()
            && result.hash == self.plan.hash
            && result.encoding == self.plan.encoding
            && result.scheme == self.plan.scheme;
        same.then(|| Verdict {
            valid: result.valid,
            recovered: result.recovered.clone(),
        })
    }

    fn to_cache(&self, verdict: &Verdict, plugin: &LoadedPlugin) -> CachedResult {
        CachedResult {
            valid: verdict.valid,
            plugin_sha256: plugin.sha256().to_owned(),
            hash: self.plan.hash,
            encoding: self.plan.encoding,
            scheme: self.plan.scheme,
            recovered: verdict.recovered.clone(),
        }
    }
}

/// Where a batch item stands. `key` is the item's position in [`Keys`].
pub(super) enum Slot {
    /// Planned and being hashed, or (at the end) never answered.
    Pending,
    /// Failed; the error is its answer.
    Failed(VerifyError),
    /// Hashed, waiting for the result cache or a plugin.
    Ready { key: usize, work: Work },
    /// Answered, from the result cache or a plugin.
    Answered {
        key: usize,
        work: Work,
        verdict: Verdict,
        cached: bool,
    },
}

/// Items of a batch identical to an earlier one (same key, plan, document
/// hash and signature), as (item index, index of the first such item), in
/// item order. Only the first of each is looked up in the result cache and
/// given to a plugin; the others copy its answer, and are recorded like
/// any item (every verification answered is recorded).
pub(super) struct Twins(Vec<(usize, usize)>);

/// What makes two ready items the same verification: key, plan, document
/// hash, signature and context.
type Sameness<'a> = (usize, &'a Plan, &'a str, &'a [u8], &'a [u8]);

impl Twins {
    /// The ready items that repeat an earlier ready item.
    pub(super) fn find(slots: &[Slot]) -> Self {
        let mut first: HashMap<Sameness<'_>, usize> = HashMap::new();
        let mut twins = Vec::new();
        for (index, slot) in slots.iter().enumerate() {
            let Slot::Ready { key, work } = slot else {
                continue;
            };
            let same = (
                *key,
                &work.plan,
                work.document_hash.as_str(),
                &work.signature[..],
                &work.context[..],
            );
            match first.entry(same) {
                Entry::Occupied(seen) => twins.push((index, *seen.get())),
                Entry::Vacant(new) => {
                    new.insert(index);
                }
            }
        }
        Twins(twins)
    }

    /// Whether item `index` repeats an earlier one.
    fn contains(&self, index: usize) -> bool {
        self.0
            .binary_search_by_key(&index, |&(twin, _)| twin)
            .is_ok()
    }

    /// Give each repeated item the answer (or failure) of its first.
    pub(super) fn copy_answers(&self, slots: &mut [Slot]) {
        for &(index, first) in &self.0 {
            let (outcome, cached) = match slots.get(first) {
                Some(Slot::Answered {
                    verdict, cached, ..
                }) => (Ok(verdict.clone()), *cached),
                Some(Slot::Failed(failure)) => (Err(same_failure(failure)), false),
                _ => continue,
            };
            answer(slots, index, outcome, cached);
        }
    }
}

/// A copy of a plugin-stage failure (a refusal or a sandbox failure, the
/// only ones an item has after the plugins ran) for a repeated item.
fn same_failure(failure: &VerifyError) -> VerifyError {
    use PluginError as P;
    match failure {
        VerifyError::Refused(refusal) => VerifyError::Refused(refusal.clone()),
        VerifyError::Plugin(P::Timeout(ms)) => VerifyError::Plugin(P::Timeout(*ms)),
        VerifyError::Plugin(P::MemoryExhausted(mib)) => {
            VerifyError::Plugin(P::MemoryExhausted(*mib))
        }
        VerifyError::Plugin(P::Trap(trap)) => VerifyError::Plugin(P::Trap(trap.clone())),
        VerifyError::Plugin(P::ContractViolation(what)) => {
            VerifyError::Plugin(P::ContractViolation(what.clone()))
        }
        VerifyError::Plugin(P::Engine(what)) => VerifyError::Plugin(P::Engine(what.clone())),
        other => VerifyError::Plugin(P::Engine(other.to_string())),
    }
}

/// Each item parsed and decoded on its own: a bad one fails alone.
pub(super) type Parsed = Vec<Result<(VerifyItem, Prepared), VerifyError>>;

/// Batch items bound for one plugin: (item index, input).
type PluginGroup = (Arc<LoadedPlugin>, Vec<(usize, VerifyInput)>);

/// A batch's answers from the plugins: (item index, answer).
pub(super) type Computed = Vec<(usize, Result<Verdict, VerifyError>)>;

/// A batch's size within the limits.
pub(super) fn check_batch_len(limits: &VerifyConfig, len: usize) -> Result<(), VerifyError> {
    if len == 0 {
        return Err(VerifyError::invalid(
            "empty_batch",
            "a batch needs at least one item",
        ));
    }
    if len > limits.max_batch_items {
        return Err(VerifyError::invalid(
            "batch_too_large",
            format!(
                "a batch holds at most {} items, got {len}",
                limits.max_batch_items
            ),
        ));
    }
    Ok(())
}

/// Parse and decode every item on its own; refuse the whole batch only if
/// its documents together are too large.
pub(super) fn parse_items(
    items: Vec<Box<serde_json::value::RawValue>>,
    limits: &VerifyConfig,
) -> Result<Parsed, VerifyError> {
    let mut document_bytes = 0usize;
    let parsed: Parsed = items
        .into_iter()
        .map(|raw| {
            let item: VerifyItem = serde_json::from_str(raw.get())
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
    Ok(parsed)
}

/// Every distinct key the parsed items name.
pub(super) fn key_ids(parsed: &Parsed) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|(item, _)| item.public_key_id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Plan each item against its key's plugin; what cannot run fails in its
/// slot now. Returns the slots and the planned items with their index.
pub(super) fn plan(parsed: Parsed, keys: &Keys) -> (Vec<Slot>, Vec<(usize, Planned)>) {
    let mut slots = Vec::with_capacity(parsed.len());
    let mut planned = Vec::new();
    for (index, item) in parsed.into_iter().enumerate() {
        let ready = item.and_then(|(item, prepared)| {
            let key = keys.find(item.public_key_id)?;
            let descriptor = keys.usable(key).map(|k| k.plugin.descriptor());
            let descriptor = descriptor.ok_or(VerifyError::KeyNotFound)?;
            let plan = Plan::new(descriptor, &item, &prepared)?;
            keys.usable(key)
                .map_or(Ok(()), |k| k.policy.check(&plan, &prepared))?;
            Ok(Planned {
                key,
                plan,
                prepared,
            })
        });
        match ready {
            Ok(item) => {
                slots.push(Slot::Pending);
                planned.push((index, item));
            }
            Err(error) => slots.push(Slot::Failed(error)),
        }
    }
    (slots, planned)
}

/// Count and time a plugin's answers.
fn observe<'a>(
    metrics: &Metrics,
    plugin: &LoadedPlugin,
    took: Duration,
    items: usize,
    failures: impl IntoIterator<Item = &'a PluginError>,
) {
    let label = plugin.label();
    let per_item = took / u32::try_from(items.max(1)).unwrap_or(u32::MAX);
    // One observation per item verified, so the histogram's count is the
    // number of verifications plugins computed.
    for _ in 0..items.max(1) {
        metrics.verify_latency(&label, per_item);
    }
    for failure in failures {
        metrics.plugin_failure(&plugin.label(), failure_kind(failure));
    }
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

/// Chunks of `items` spread over `workers`, each at most one plugin call.
fn chunk_len(items: usize, workers: usize) -> usize {
    items.div_ceil(workers).clamp(1, MAX_BATCH_CALL)
}

impl Verifier {
    /// Check a key's state (status now, its curve enabled) and find its
    /// plugin.
    fn resolve(&self, key: KeyRow, curves: &[CurveRow]) -> Result<Resolved, VerifyError> {
        match key.status_now() {
            KeyStatus::Active => {}
            KeyStatus::Revoked => return Err(VerifyError::KeyRevoked),
            KeyStatus::Expired => return Err(VerifyError::KeyExpired),
        }
        if let Some(curve) = &key.curve {
            let enabled = curves.iter().any(|c| c.name == *curve && c.is_enabled());
            if !enabled {
                return Err(VerifyError::CurveDisabled(curve.clone()));
            }
        }
        let plugin = self
            .plugins
            .route(&key.algorithm, key.curve.as_deref())
            .ok_or_else(|| {
                VerifyError::PluginUnavailable(match &key.curve {
                    Some(curve) => format!("{} on {curve}", key.algorithm),
                    None => key.algorithm.clone(),
                })
            })?;
        let spki = key.spki().ok_or_else(|| {
            VerifyError::Store(StoreError::Unavailable("stored key is not PEM".into()))
        })?;
        let policy = super::policy::KeyPolicy::of(key.curve.as_deref(), curves);
        Ok(Resolved {
            key,
            spki,
            plugin,
            policy,
        })
    }

    /// Every key the caller may use among `ids`, each checked: in-process,
    /// one `MGET`, one query. Keys not found are absent.
    pub(super) async fn resolve_keys(
        &self,
        caller: &Caller,
        ids: &[Uuid],
    ) -> Result<Keys, VerifyError> {
        let rows = self
            .caches
            .keys(ids, caller.id(), caller.is_admin())
            .await?;
        let mut keys = Keys {
            resolved: Vec::with_capacity(rows.len()),
            index: HashMap::with_capacity(rows.len()),
        };
        if rows.is_empty() {
            return Ok(keys);
        }
        let curves = self.caches.curves().await?;
        for row in rows {
            keys.index.insert(row.id, keys.resolved.len());
            keys.resolved.push(self.resolve(row, &curves));
        }
        Ok(keys)
    }

    /// The key of a single request, with the error that makes it unusable.
    pub(super) async fn resolve_key(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Resolved, VerifyError> {
        self.resolve_keys(caller, &[id]).await?.into_one(id)
    }

    /// Hash one document: small ones here, large ones on a worker.
    pub(super) async fn hash(&self, plan: Plan, prepared: Prepared) -> Result<Work, VerifyError> {
        if prepared.document_len() <= INLINE_HASH_BYTES {
            Ok(Work::new(plan, prepared))
        } else {
            Ok(self.executor.run(move || Work::new(plan, prepared)).await?)
        }
    }

    /// Hash a batch's documents on the workers, in chunks; each planned
    /// item's slot becomes ready.
    pub(super) async fn hash_on_workers(
        &self,
        planned: Vec<(usize, Planned)>,
        slots: &mut [Slot],
    ) -> Result<(), VerifyError> {
        let chunk = chunk_len(planned.len(), self.executor.threads().max(1));
        let mut hashing = Vec::new();
        let mut planned = planned.into_iter().peekable();
        while planned.peek().is_some() {
            let part: Vec<_> = planned.by_ref().take(chunk).collect();
            hashing.push(self.executor.run(move || {
                part.into_iter()
                    .map(|(index, p)| (index, p.key, Work::new(p.plan, p.prepared)))
                    .collect::<Vec<_>>()
            }));
        }
        for part in futures::future::join_all(hashing).await {
            for (index, key, work) in part? {
                slots[index] = Slot::Ready { key, work };
            }
        }
        Ok(())
    }

    /// Cached answers for `works` in one round trip (`None`: not cached, or
    /// cached by another plugin build or under other parameters).
    pub(super) async fn cached_answers(
        &self,
        works: &[(&Work, &Resolved)],
    ) -> Vec<Option<Verdict>> {
        let cache_keys = works
            .iter()
            .map(|(work, key)| self.cache_key(work, key))
            .collect();
        let cached = self.caches.results(cache_keys).await;
        works
            .iter()
            .zip(cached)
            .map(|((work, key), cached)| {
                let hit = cached.as_ref().and_then(|c| work.cached(c, &key.plugin));
                self.caches.count_result(hit.is_some());
                hit
            })
            .collect()
    }

    fn cache_key(&self, work: &Work, key: &Resolved) -> String {
        self.caches.result_key(
            &work.document_hash,
            key.key.id,
            &work.signature,
            &work.context,
        )
    }

    /// Answer ready batch items from the result cache; group the others by
    /// plugin (the same loaded plugin, not just the same name). Repeated
    /// items (`twins`) are left for [`Twins::copy_answers`].
    pub(super) async fn lookup_cached(
        &self,
        slots: &mut [Slot],
        keys: &Keys,
        twins: &Twins,
    ) -> Vec<PluginGroup> {
        let ready: Vec<(usize, &Work, &Resolved)> = slots
            .iter()
            .enumerate()
            .filter(|(index, _)| !twins.contains(*index))
            .filter_map(|(index, slot)| match slot {
                Slot::Ready { key, work } => Some((index, work, keys.usable(*key)?)),
                _ => None,
            })
            .collect();
        let pairs: Vec<(&Work, &Resolved)> = ready.iter().map(|(_, w, k)| (*w, *k)).collect();
        let hits = self.cached_answers(&pairs).await;
        let mut groups: HashMap<usize, PluginGroup> = HashMap::new();
        let mut answered = Vec::new();
        for ((index, work, key), hit) in ready.into_iter().zip(hits) {
            match hit {
                Some(verdict) => answered.push((index, verdict)),
                None => groups
                    .entry(Arc::as_ptr(&key.plugin) as usize)
                    .or_insert_with(|| (key.plugin.clone(), Vec::new()))
                    .1
                    .push((index, work.input(&key.spki))),
            }
        }
        for (index, verdict) in answered {
            answer(slots, index, Ok(verdict), true);
        }
        groups.into_values().collect()
    }

    /// Run the plugin groups in chunks spread over the workers, within the
    /// batch's budget.
    pub(super) async fn run_plugin_chunks(
        &self,
        groups: Vec<PluginGroup>,
        budget: &Budget,
    ) -> Result<Computed, VerifyError> {
        let workers = self.executor.threads().max(1);
        let mut jobs = Vec::new();
        for (plugin, calls) in groups {
            let chunk = chunk_len(calls.len(), workers);
            let mut calls = calls.into_iter().peekable();
            while calls.peek().is_some() {
                let part: Vec<(usize, VerifyInput)> = calls.by_ref().take(chunk).collect();
                let (plugin, budget, metrics) =
                    (plugin.clone(), budget.clone(), self.metrics.clone());
                jobs.push(self.executor.run(move || {
                    let (started, items) = (Instant::now(), part.len());
                    let answers = run_chunk(&plugin, part, &budget);
                    let failures = answers.iter().filter_map(|(_, a)| match a {
                        Err(VerifyError::Plugin(failure)) => Some(failure),
                        _ => None,
                    });
                    observe(&metrics, &plugin, started.elapsed(), items, failures);
                    answers
                }));
            }
        }
        let mut computed = Vec::new();
        for outcome in futures::future::join_all(jobs).await {
            computed.extend(outcome?);
        }
        Ok(computed)
    }

    /// Run a single verification's plugin call on a worker.
    pub(super) async fn run_one(
        &self,
        key: &Resolved,
        work: &Work,
    ) -> Result<Verdict, VerifyError> {
        let (plugin, input) = (key.plugin.clone(), work.input(&key.spki));
        let started = Instant::now();
        let answer = self.executor.call(move || plugin.verify(input)).await;
        observe(
            &self.metrics,
            &key.plugin,
            started.elapsed(),
            1,
            answer.as_ref().err(),
        );
        verdict(answer)
    }

    /// Keep a single verification's answer in the result cache. (Batch
    /// answers are never cached: a single verification must never be
    /// answered from a batch equation's verdict.)
    pub(super) async fn remember(&self, work: &Work, key: &Resolved, verdict: &Verdict) {
        let entry = (
            self.cache_key(work, key),
            work.to_cache(verdict, &key.plugin),
        );
        self.caches.store_results(vec![entry]).await;
    }

    /// Store the records, and only then list them as the caller's recent
    /// verifications; the answer is given after both.
    pub(super) async fn record(
        &self,
        caller: &Caller,
        unit: Unit,
        recent: &[RecordView],
    ) -> Result<(), VerifyError> {
        self.recorder
            .record(unit)
            .await
            .map_err(VerifyError::Recording)?;
        self.caches.push_recent(caller.id(), recent).await;
        Ok(())
    }
}

/// Put a plugin's or the cache's answer in its ready slot.
fn answer(slots: &mut [Slot], index: usize, answer: Result<Verdict, VerifyError>, cached: bool) {
    let Some(slot) = slots.get_mut(index) else {
        return;
    };
    *slot = match (std::mem::replace(slot, Slot::Pending), answer) {
        (_, Err(error)) => Slot::Failed(error),
        (Slot::Ready { key, work }, Ok(verdict)) => Slot::Answered {
            key,
            work,
            verdict,
            cached,
        },
        (other, Ok(_)) => other,
    };
}

/// Put the plugins' answers in their slots.
pub(super) fn settle(slots: &mut [Slot], computed: Computed) {
    for (index, result) in computed {
        answer(slots, index, result, false);
    }
}

/// Run one chunk through `verify-batch`. If the plugin fails on the chunk
/// as a whole, its items are verified one by one so that a bad item fails
/// alone, within the batch's budget.
fn run_chunk(plugin: &LoadedPlugin, calls: Vec<(usize, VerifyInput)>, budget: &Budget) -> Computed {
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
                (index, verdict(plugin.verify(input)))
            })
            .collect(),
    }
}
