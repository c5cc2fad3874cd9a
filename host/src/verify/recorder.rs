//! Group commit of verification records: "answered means stored" without
//! one transaction per request. Handlers hand their rows to the recorder
//! and wait; writers take everything queued (up to a cap) and commit it in
//! one transaction, so under load one commit carries many requests' rows
//! and an idle service commits at once. Each waiting request is answered
//! only after the transaction holding its rows has committed.
//!
//! A group is written as one statement (`Store::record_group`), not a
//! transaction of several, so a commit costs one round trip; row-level
//! security still checks every row for its user.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};

use crate::metrics::{Metrics, Sample};
use crate::store::verifications::{NewBatch, NewRecord};
use crate::store::{Store, StoreError};

/// What one request asks to store, atomically.
#[derive(Debug)]
pub enum Unit {
    /// Records of single verifications.
    Records(Vec<NewRecord>),
    /// A batch: its records, the batch row and its items.
    Batch(NewBatch, Vec<NewRecord>),
}

impl Unit {
    fn rows(&self) -> usize {
        match self {
            Unit::Records(records) => records.len(),
            Unit::Batch(_, records) => records.len() + 1,
        }
    }
}

struct Job {
    unit: Unit,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// Why a unit was not stored.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The recorder has stopped (the service is shutting down).
    #[error("the recorder has stopped")]
    Stopped,
    /// The transaction failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Rows committed.
    pub rows: AtomicU64,
    /// Transactions that failed.
    pub failures: AtomicU64,
}

impl RecorderStats {
    /// Commits, rows and failures so far (for `/metrics`).
    pub fn samples(&self) -> [Sample; 3] {
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64;
        [
            Sample::counter(
                "sigil_record_commits_total",
                "Verification-record transactions committed.",
                count(&self.commits),
            ),
            Sample::counter(
                "sigil_record_rows_total",
                "Rows committed by the recorder.",
                count(&self.rows),
            ),
            Sample::counter(
                "sigil_record_failures_total",
                "Recorder transactions that failed.",
                count(&self.failures),
            ),
        ]
    }
}

/// The handle requests use.
#[derive(Clone)]
pub struct Recorder {
    queue: mpsc::Sender<Job>,
    stats: Arc<RecorderStats>,
    /// Units queued or being written.
    pending: Arc<AtomicUsize>,
}

impl Recorder {
    /// Start `writers` writer tasks committing up to `max_rows` rows per
    /// transaction. When the queue runs dry before a group is full, a
    /// writer that is busy (its last group had more than one job) waits for
    /// further jobs until `linger` has passed since the group's first job:
    /// a group forms under load, no request waits more than `linger` for
    /// company however steadily jobs arrive, and a lone request on an idle
    /// service is committed at once.
    /// Returns the handle and the writers' join handles (they finish once
    /// every handle is dropped and the queue is drained).
    pub fn start(
        store: Store,
        metrics: Arc<Metrics>,
        writers: usize,
        max_rows: usize,
        linger: Duration,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (queue, receiver) = mpsc::channel::<Job>(16_384);
        let receiver = Arc::new(Mutex::new(receiver));
        let stats = Arc::new(RecorderStats::default());
        let pending = Arc::new(AtomicUsize::new(0));
        let handles = (0..writers.max(1))
            .map(|_| {
                let writer = Writer {
                    store: store.clone(),
                    stats: stats.clone(),
                    metrics: metrics.clone(),
                    pending: pending.clone(),
                };
                tokio::spawn(write_loop(
                    writer,
                    receiver.clone(),
                    max_rows.max(1),
                    linger,
                ))
            })
            .collect();
        (
            Self {
                queue,
                stats,
                pending,
            },
            handles,
        )
    }

    /// Store `unit`; returns once it is committed. A unit handed over is
    /// written even if the caller stops waiting.
    pub async fn record(&self, unit: Unit) -> Result<(), RecordError> {
        let (done, answer) = oneshot::channel();
        // Reserve first: a caller dropped while waiting for room leaves
        // nothing counted; once the slot is ours, counting and sending
        // happen with no await between them.
        let permit = self
            .queue
            .reserve()
            .await
            .map_err(|_| RecordError::Stopped)?;
        self.pending.fetch_add(1, Ordering::AcqRel);
        permit.send(Job { unit, done });
        answer
            .await
            .map_err(|_| RecordError::Stopped)?
            .map_err(RecordError::from)
    }

    /// Wait until every unit handed over so far is written (at shutdown),
    /// at most `limit`. Returns how many are still pending.
    pub async fn drain(&self, limit: Duration) -> usize {
        let started = std::time::Instant::now();
        loop {
            let pending = self.pending.load(Ordering::Acquire);
            if pending == 0 || started.elapsed() >= limit {
                return pending;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Counters.
    pub fn stats(&self) -> &RecorderStats {
        &self.stats
    }
}

/// What a writer task works with.
struct Writer {
    store: Store,
    stats: Arc<RecorderStats>,
    metrics: Arc<Metrics>,
    pending: Arc<AtomicUsize>,
}

async fn write_loop(
    writer: Writer,
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_rows: usize,
    linger: Duration,
) {
    // Whether this writer's last group had company: only then is more
    // likely to come, and worth waiting for.
    let mut busy = false;
    loop {
        let jobs = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            // The linger counts from the first job, not from each one: a
            // timeout per wait would hold a group open for as long as jobs
            // keep arriving, up to `max_rows`.
            let linger = if busy { linger } else { Duration::ZERO };
            let deadline = tokio::time::Instant::now() + linger;
            let mut rows = first.unit.rows();
            let mut jobs = vec![first];
            while rows < max_rows {
                let next = match receiver.try_recv() {
                    Ok(job) => Some(job),
                    Err(_) if linger.is_zero() => None,
                    Err(_) => tokio::time::timeout_at(deadline, receiver.recv())
                        .await
                        .ok()
                        .flatten(),
                };
                let Some(job) = next else { break };
                rows += job.unit.rows();
                jobs.push(job);
            }
            jobs
        };
        let count = jobs.len();
        busy = count > 1;
        commit_group(&writer.store, jobs, &writer.stats, &writer.metrics).await;
        writer.pending.fetch_sub(count, Ordering::AcqRel);
    }
}

/// Commit the group in one transaction; if that fails for a reason other
/// than availability, commit each job alone so one bad unit (a key deleted
/// meanwhile) fails alone.
async fn commit_group(store: &Store, jobs: Vec<Job>, stats: &RecorderStats, metrics: &Metrics) {
    let units: Vec<&Unit> = jobs.iter().map(|j| &j.unit).collect();
    let rows: usize = units.iter().map(|u| u.rows()).sum();
    let outcome = store.retry("record", || commit(store, &units)).await;
    match outcome {
        Ok(()) => {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.rows.fetch_add(rows as u64, Ordering::Relaxed);
            metrics.record_batch(rows);
            for job in jobs {
                let _ = job.done.send(Ok(()));
            }
        }
        Err(error) if jobs.len() > 1 && !matches!(error, StoreError::Unavailable(_)) => {
            tracing::warn!(%error, jobs = jobs.len(), "group commit failed; committing its requests one by one");
            for job in jobs {
                let single = [&job.unit];
                let outcome = store.retry("record", || commit(store, &single)).await;
                if outcome.is_ok() {
                    stats.commits.fetch_add(1, Ordering::Relaxed);
                    stats
                        .rows
                        .fetch_add(job.unit.rows() as u64, Ordering::Relaxed);
                } else {
                    stats.failures.fetch_add(1, Ordering::Relaxed);
                }
                let _ = job.done.send(outcome);
            }
        }
        Err(error) => {
            stats.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%error, jobs = jobs.len(), "recording verifications failed");
            let message = error.to_string();
            for job in jobs {
                let _ = job.done.send(Err(StoreError::Unavailable(message.clone())));
            }
        }
    }
}

/// One statement (one transaction) for `units`.
async fn commit(store: &Store, units: &[&Unit]) -> Result<(), StoreError> {
    let mut records: Vec<&NewRecord> = Vec::new();
    let mut batches: Vec<&NewBatch> = Vec::new();
    for unit in units {
        match unit {
            Unit::Records(rows) => records.extend(rows.iter()),
            Unit::Batch(batch, rows) => {
                records.extend(rows.iter());
                batches.push(batch);
            }
        }
    }
    store.record_group(&records, &batches).await?;
    Ok(())
}
