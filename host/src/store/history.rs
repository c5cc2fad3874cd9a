//! Partitioned history (migration 20261201000700): verification records,
//! batches, their items and the audit log are partitioned by UTC day. This
//! module keeps the partitions (created ahead of time, dropped past the
//! retention; one host at a time, under an advisory lock) and exports a
//! period of history (`sigil export`) so that it can be archived before
//! its partitions are dropped.

use std::io::Write;

use chrono::{DateTime, Days, NaiveDate, Utc};
use futures::TryStreamExt as _;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::config::HistoryConfig;

/// What one maintenance run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Partitions created.
    pub created: i32,
    /// Partitions detached and dropped (past the retention).
    pub dropped: Vec<String>,
}

/// The first day kept by a retention of `days` days (0: everything).
pub fn keep_from(today: NaiveDate, days: u32) -> Option<NaiveDate> {
    (days > 0).then(|| {
        today
            .checked_sub_days(Days::new(days.into()))
            .unwrap_or(NaiveDate::MIN)
    })
}

impl Store {
    /// Create the daily partitions of `[first, last]` that do not exist
    /// yet (for the four history tables), a week per statement; returns
    /// how many were created.
    pub async fn ensure_history_partitions(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<i32, StoreError> {
        let mut conn = self.pool().acquire().await?;
        create_partitions(&mut conn, first, last).await
    }

    /// Detach and drop the daily partitions of days before `history_before`
    /// (records, batches, items) and before `audit_before` (audit log);
    /// `None` keeps everything. Returns the partitions dropped.
    pub async fn drop_history_partitions(
        &self,
        history_before: Option<NaiveDate>,
        audit_before: Option<NaiveDate>,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT sigil_history_drop_partitions($1, $2) AS "dropped!""#,
            history_before,
            audit_before
        )
        .fetch_one(self.pool())
        .await?)
    }

    /// The daily partitions of `table`, oldest first (the default
    /// partition is not listed).
    pub async fn history_partitions(&self, table: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT partition_name AS "name!" FROM sigil_history_partitions($1)"#,
            table
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// One maintenance run as of `today` (UTC): partitions from yesterday
    /// to `partitions_ahead` days ahead exist, and partitions past the
    /// retention are gone. `None` when another host holds the maintenance
    /// lock (it is doing the same work).
    pub async fn maintain_history(
        &self,
        settings: &HistoryConfig,
        today: NaiveDate,
    ) -> Result<Option<Maintenance>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let locked = sqlx::query_scalar!(
            r#"SELECT pg_try_advisory_lock(sigil_history_lock_key()) AS "locked!""#
        )
        .fetch_one(&mut *conn)
        .await?;
        if !locked {
            return Ok(None);
        }
        let work = async {
            let first = today.pred_opt().unwrap_or(today);
            let last = today
                .checked_add_days(Days::new(settings.partitions_ahead.into()))
                .unwrap_or(today);
            // On the connection that holds the lock: a second session
            // would wait behind it in sigil_history_ensure_partitions.
            let created = create_partitions(&mut conn, first, last).await?;
            let mut dropped = Vec::new();
            let retention = [
                ("verification_records", settings.retention_days),
                ("audit_log", settings.audit_retention_days),
            ];
            for (table, days) in retention {
                let Some(keep) = keep_from(today, days) else {
                    continue;
                };
                let oldest = oldest_day(&self.history_partitions(table).await?);
                for (_, before) in windows(oldest.unwrap_or(keep).min(keep), keep) {
                    let audit = table == "audit_log";
                    dropped.extend(
                        sqlx::query_scalar!(
                            r#"SELECT sigil_history_drop_partitions($1, $2) AS "dropped!""#,
                            (!audit).then_some(before),
                            audit.then_some(before)
                        )
                        .fetch_one(&mut *conn)
                        .await?,
                    );
                }
            }
            Ok::<_, StoreError>(Maintenance { created, dropped })
        }
        .await;
        let unlocked = sqlx::query_scalar!(
            r#"SELECT pg_advisory_unlock(sigil_history_lock_key()) AS "unlocked!""#
        )
        .fetch_one(&mut *conn)
        .await;
        if !matches!(unlocked, Ok(true)) {
            // Never hand a connection that may still hold the lock back to
            // the pool: closing it releases the lock.
            let _ = conn.detach();
        }
        work.map(Some)
    }
}

/// Create the missing daily partitions of `[first, last]` a week per
/// statement on `conn`; returns how many were created.
async fn create_partitions(
    conn: &mut sqlx::PgConnection,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<i32, StoreError> {
    let mut created = 0;
    for (from, to) in windows(first, last) {
        created += sqlx::query_scalar!(
            r#"SELECT sigil_history_ensure_partitions($1, $2) AS "created!""#,
            from,
            to
        )
        .fetch_one(&mut *conn)
        .await?;
    }
    Ok(created)
}

/// Days of partitions one statement creates or drops. A partition and its
/// indexes stay locked until the statement's transaction ends, and
/// PostgreSQL's shared lock table (`max_locks_per_transaction`, 64 per
/// connection by default) holds the four tables' partitions of a few
/// hundred days at most: a year in one statement fails with "out of shared
/// memory" (found by `just bench-history`).
const DAYS_PER_STATEMENT: u64 = 7;

/// `[first, last]` cut into consecutive windows of at most
/// [`DAYS_PER_STATEMENT`] days; the last window ends at `last` (one window
/// when `last` is not after `first`).
fn windows(first: NaiveDate, last: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut from = first;
    loop {
        let to = from
            .checked_add_days(Days::new(DAYS_PER_STATEMENT - 1))
            .map_or(last, |to| to.min(last));
        out.push((from, to));
        match to.succ_opt() {
            Some(next) if to < last => from = next,
            _ => return out,
        }
    }
}

/// The oldest day among daily partition names (`<table>_pYYYYMMDD`).
fn oldest_day(partitions: &[String]) -> Option<NaiveDate> {
    partitions
        .iter()
        .filter_map(|name| name.rsplit_once("_p"))
        .filter_map(|(_, day)| NaiveDate::parse_from_str(day, "%Y%m%d").ok())
        .min()
}

/// Start the periodic partition maintenance of `sigil serve`: one run now,
/// then one every `maintenance_interval_secs`. Every host runs the task;
/// the advisory lock makes one of them do the work at a time, and the work
/// is idempotent (a missed or doubled run changes nothing).
pub fn spawn_maintenance(store: Store, settings: HistoryConfig) {
    tokio::spawn(async move {
        let every = std::time::Duration::from_secs(settings.maintenance_interval_secs.max(1));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store
                .maintain_history(&settings, Utc::now().date_naive())
                .await
            {
                Ok(Some(run)) if run.created > 0 || !run.dropped.is_empty() => {
                    tracing::info!(
                        created = run.created,
                        dropped = ?run.dropped,
                        "history partitions maintained"
                    );
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "history partition maintenance failed; will retry")
                }
            }
        }
    });
}

/// `sigil export`'s output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line, `"kind": "record"` or `"batch"`.
    Jsonl,
    /// RFC 4180 CSV with a header; records and batches share the columns
    /// (`kind` tells them apart; cells that do not apply are empty).
    Csv,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    /// Verification records (with their batch item, if any).
    pub records: u64,
    /// Batches.
    pub batches: u64,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the history failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the output failed.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for ExportError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}

/// A record as exported: the stored columns, and its batch item if it
/// belongs to a batch.
#[derive(Debug, Serialize)]
struct ExportRecord {
    id: Uuid,
    user_id: Uuid,
    verification_time: DateTime<Utc>,
    document_hash: String,
    public_key_id: Uuid,
    algorithm_id: Uuid,
    curve_id: Option<Uuid>,
    is_valid: bool,
    metadata: Option<serde_json::Value>,
    batch_id: Option<Uuid>,
    item_index: Option<i32>,
}

/// A batch as exported.
#[derive(Debug, Serialize)]
struct ExportBatch {
    id: Uuid,
    user_id: Uuid,
    verification_time: DateTime<Utc>,
    total_count: i32,
    success_count: i32,
    metadata: Option<serde_json::Value>,
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 14] = [
    "kind",
    "id",
    "user_id",
    "verification_time",
    "document_hash",
    "public_key_id",
    "algorithm_id",
    "curve_id",
    "is_valid",
    "batch_id",
    "item_index",
    "total_count",
    "success_count",
    "metadata",
];

/// Stream every user's records (with their batch items) and batches of
/// `[from, to)` to `out`, oldest first, in one read-only snapshot. `pool`
/// connects as the schema owner (the migrate URL): the export reads all
/// users' rows through the owner's export policy, which applies only in a
/// transaction that sets `sigil.export`. Rows are written as they arrive,
/// never collected.
pub async fn export(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    format: ExportFormat,
    out: &mut impl Write,
) -> Result<Exported, ExportError> {
    let mut tx = pool.begin().await?;
    // First statement of the transaction: one snapshot for the whole export.
    sqlx::raw_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query!("SELECT set_config('sigil.export', 'on', true)")
        .fetch_one(&mut *tx)
        .await?;
    if format == ExportFormat::Csv {
        let header: Vec<String> = CSV_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        csv_line(out, &header)?;
    }
    let mut exported = Exported::default();
    {
        let mut records = sqlx::query_as!(
            ExportRecord,
            r#"SELECT r.id, r.user_id, r.verification_time, r.document_hash, r.public_key_id, r.algorithm_id,
                      r.curve_id, r.is_valid, r.metadata, i.batch_id AS "batch_id?", i.item_index AS "item_index?"
               FROM verification_records r
               LEFT JOIN batch_verification_items i
                 ON i.verification_record_id = r.id AND i.verification_time = r.verification_time
               WHERE r.verification_time >= $1 AND r.verification_time < $2
               ORDER BY r.verification_time, r.id"#,
            from,
            to
        )
        .fetch(&mut *tx);
        while let Some(record) = records.try_next().await? {
            match format {
                ExportFormat::Jsonl => json_line(out, "record", &record)?,
                ExportFormat::Csv => csv_line(
                    out,
                    &[
                        "record".into(),
                        record.id.to_string(),
                        record.user_id.to_string(),
                        record.verification_time.to_rfc3339(),
                        record.document_hash,
                        record.public_key_id.to_string(),
                        record.algorithm_id.to_string(),
                        optional(record.curve_id),
                        record.is_valid.to_string(),
                        optional(record.batch_id),
                        optional(record.item_index),
                        String::new(),
                        String::new(),
                        json_cell(record.metadata.as_ref()),
                    ],
                )?,
            }
            exported.records += 1;
        }
    }
    {
        let mut batches = sqlx::query_as!(
            ExportBatch,
            r#"SELECT id, user_id, verification_time, total_count, success_count, metadata
               FROM batch_verifications
               WHERE verification_time >= $1 AND verification_time < $2
               ORDER BY verification_time, id"#,
            from,
            to
        )
        .fetch(&mut *tx);
        while let Some(batch) = batches.try_next().await? {
            match format {
                ExportFormat::Jsonl => json_line(out, "batch", &batch)?,
                ExportFormat::Csv => csv_line(
                    out,
                    &[
                        "batch".into(),
                        batch.id.to_string(),
                        batch.user_id.to_string(),
                        batch.verification_time.to_rfc3339(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        batch.total_count.to_string(),
                        batch.success_count.to_string(),
                        json_cell(batch.metadata.as_ref()),
                    ],
                )?,
            }
            exported.batches += 1;
        }
    }
    tx.commit().await?;
    out.flush()?;
    Ok(exported)
}

#[derive(Serialize)]
struct Kinded<'a, T> {
    kind: &'a str,
    #[serde(flatten)]
    row: &'a T,
}

fn json_line(out: &mut impl Write, kind: &str, row: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &Kinded { kind, row })?;
    out.write_all(b"\n")
}

fn optional(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn json_cell(value: Option<&serde_json::Value>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// One CSV line (RFC 4180): a cell with a comma, quote or line break is
/// quoted, its quotes doubled.
fn csv_line(out: &mut impl Write, cells: &[String]) -> std::io::Result<()> {
    let mut line = String::new();
    for (n, cell) in cells.iter().enumerate() {
        if n > 0 {
            line.push(',');
        }
        if cell.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&cell.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(cell);
        }
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_whole_days() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        assert_eq!(keep_from(today, 0), None);
        assert_eq!(keep_from(today, 30), NaiveDate::from_ymd_opt(2026, 11, 1));
    }

    #[test]
    fn partition_work_is_cut_into_windows_of_a_week_at_most() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 1, d).expect("date");
        assert_eq!(windows(day(1), day(1)), [(day(1), day(1))]);
        assert_eq!(windows(day(5), day(1)), [(day(5), day(1))]);
        assert_eq!(
            windows(day(1), day(16)),
            [(day(1), day(7)), (day(8), day(14)), (day(15), day(16))]
        );
        // A year ahead (history.partitions_ahead's maximum) is 53 statements.
        let year = windows(day(1), day(1) + Days::new(366));
        assert_eq!(year.len(), 53);
        assert!(year.windows(2).all(|w| w[0].1.succ_opt() == Some(w[1].0)));
        assert!(year.iter().all(|(from, to)| (*to - *from).num_days() < 7));
    }

    #[test]
    fn the_oldest_partition_is_read_from_the_names() {
        let names = [
            "verification_records_p20260203".to_owned(),
            "verification_records_p20251231".to_owned(),
            "verification_records_default".to_owned(),
        ];
        assert_eq!(oldest_day(&names), NaiveDate::from_ymd_opt(2025, 12, 31));
        assert_eq!(oldest_day(&names[2..]), None);
    }

    #[test]
    fn csv_cells_are_quoted_when_they_must_be() {
        let mut out = Vec::new();
        csv_line(
            &mut out,
            &["a".into(), "b,c".into(), "say \"hi\"".into(), String::new()],
        )
        .expect("write");
        assert_eq!(out, b"a,\"b,c\",\"say \"\"hi\"\"\",\r\n");
    }
}
