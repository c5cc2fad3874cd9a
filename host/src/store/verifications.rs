//! Verification records, batches and their items: written in groups (many
//! requests per transaction, see `verify::recorder`), read back under
//! row-level security.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Page, StoreError, Tx};

/// The id of a record or batch verified at `at`: a UUIDv7 whose
/// timestamp is `at` (to the millisecond). Time-ordered ids make the
/// primary-key inserts append at the right edge of each day's index, and
/// let a lookup by id name the day partition to read ([`day_window`]).
pub fn time_ordered_id(at: DateTime<Utc>) -> Uuid {
    let secs = u64::try_from(at.timestamp()).unwrap_or_default();
    let timestamp = uuid::Timestamp::from_unix(uuid::NoContext, secs, at.timestamp_subsec_nanos());
    Uuid::new_v7(timestamp)
}

/// How far a row's time may lie from its id's timestamp and still be
/// found by id. The service writes them equal to the millisecond; the
/// slack only keeps the window honest, one partition or two.
const ID_TIME_SLACK: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// For a UUIDv7 id, the time window its row lies in (bounds for the
/// partition key, so PostgreSQL reads one day's partition instead of
/// probing every day's index); `(None, None)` for other ids, such as the
/// random ones written before ids were time-ordered.
pub fn day_window(id: Uuid) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let at = id
        .get_version_num()
        .eq(&7)
        .then(|| id.get_timestamp())
        .flatten()
        .and_then(|timestamp| {
            let (secs, nanos) = timestamp.to_unix();
            DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
        });
    match at {
        Some(at) => (
            at.checked_sub_signed(ID_TIME_SLACK),
            at.checked_add_signed(ID_TIME_SLACK),
        ),
        None => (None, None),
    }
}

/// A record about to be written.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// Identifier (chosen by the host so the answer can carry it).
    pub id: Uuid,
    /// Who verified.
    pub user_id: Uuid,
    /// Hex digest of the document.
    pub document_hash: String,
    /// The key.
    pub public_key_id: Uuid,
    /// The key's algorithm.
    pub algorithm_id: Uuid,
    /// The key's curve.
    pub curve_id: Option<Uuid>,
    /// The answer.
    pub is_valid: bool,
    /// When.
    pub verified_at: DateTime<Utc>,
    /// Plugin, hash, encoding...
    pub metadata: serde_json::Value,
}

/// A batch about to be written (its records are written with it).
#[derive(Debug, Clone)]
pub struct NewBatch {
    /// Identifier.
    pub id: Uuid,
    /// Who verified.
    pub user_id: Uuid,
    /// Items in the request.
    pub total_count: i32,
    /// Items whose signature was valid.
    pub success_count: i32,
    /// When.
    pub verified_at: DateTime<Utc>,
    /// Errors of failed items, limits...
    pub metadata: serde_json::Value,
    /// (item index, record id) for every item that produced a record.
    pub items: Vec<(i32, Uuid)>,
}

impl super::Store {
    /// Write a group of records, batch rows and items (of any users) as
    /// one statement, hence one transaction and one round trip: the
    /// `record_verifications` function of migration 6 acts for each user
    /// in turn, so row-level security checks every row. Rows already
    /// present (same host-chosen id) are skipped, so retrying after a
    /// commit whose answer was lost does not fail. Returns how many
    /// records were new.
    pub async fn record_group(
        &self,
        records: &[&NewRecord],
        batches: &[&NewBatch],
    ) -> Result<u64, StoreError> {
        let r_id: Vec<Uuid> = records.iter().map(|r| r.id).collect();
        let r_user: Vec<Uuid> = records.iter().map(|r| r.user_id).collect();
        let r_hash: Vec<&str> = records.iter().map(|r| r.document_hash.as_str()).collect();
        let r_key: Vec<Uuid> = records.iter().map(|r| r.public_key_id).collect();
        let r_algorithm: Vec<Uuid> = records.iter().map(|r| r.algorithm_id).collect();
        let r_curve: Vec<Option<Uuid>> = records.iter().map(|r| r.curve_id).collect();
        let r_valid: Vec<bool> = records.iter().map(|r| r.is_valid).collect();
        let r_time: Vec<DateTime<Utc>> = records.iter().map(|r| r.verified_at).collect();
        let r_metadata: Vec<&serde_json::Value> = records.iter().map(|r| &r.metadata).collect();
        let b_id: Vec<Uuid> = batches.iter().map(|b| b.id).collect();
        let b_user: Vec<Uuid> = batches.iter().map(|b| b.user_id).collect();
        let b_total: Vec<i32> = batches.iter().map(|b| b.total_count).collect();
        let b_success: Vec<i32> = batches.iter().map(|b| b.success_count).collect();
        let b_time: Vec<DateTime<Utc>> = batches.iter().map(|b| b.verified_at).collect();
        let b_metadata: Vec<&serde_json::Value> = batches.iter().map(|b| &b.metadata).collect();
        let items = batches
            .iter()
            .flat_map(|b| b.items.iter().map(|item| (b.id, item)));
        let (i_batch, (i_index, i_record)): (Vec<Uuid>, (Vec<i32>, Vec<Uuid>)) = items
            .map(|(batch, (index, record))| (batch, (*index, *record)))
            .unzip();
        let written = sqlx::query_scalar!(
            r#"SELECT record_verifications(
                   $1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $6::uuid[], $7::bool[],
                   $8::timestamptz[], $9::jsonb[],
                   $10::uuid[], $11::uuid[], $12::int[], $13::int[], $14::timestamptz[], $15::jsonb[],
                   $16::uuid[], $17::int[], $18::uuid[]) AS "written!""#,
            &r_id,
            &r_user,
            &r_hash as &[&str],
            &r_key,
            &r_algorithm,
            &r_curve as &[Option<Uuid>],
            &r_valid,
            &r_time,
            &r_metadata as &[&serde_json::Value],
            &b_id,
            &b_user,
            &b_total,
            &b_success,
            &b_time,
            &b_metadata as &[&serde_json::Value],
            &i_batch,
            &i_index,
            &i_record
        )
        .fetch_one(self.pool())
        .await?;
        Ok(u64::try_from(written).unwrap_or_default())
    }
}

/// A record as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordView {
    /// Identifier.
    pub id: Uuid,
    /// Who verified.
    pub user_id: Uuid,
    /// The key.
    pub public_key_id: Uuid,
    /// Algorithm name.
    pub algorithm: String,
    /// Curve name.
    pub curve: Option<String>,
    /// Hex digest of the document.
    pub document_hash: String,
    /// The answer.
    pub valid: bool,
    /// When.
    pub verified_at: DateTime<Utc>,
    /// Plugin, hash, encoding...
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Filters of the history.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// Only this user's (admins see everyone's otherwise).
    pub user_id: Option<Uuid>,
    /// Only this key.
    pub public_key_id: Option<Uuid>,
    /// Only valid (or invalid) results.
    pub valid: Option<bool>,
    /// Not before.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// Days back from the newest possible row that the history reads first,
/// widening while a window holds fewer rows than the page: a newest page
/// then plans and reads a day's partition, not every day's (a year of
/// daily partitions costs PostgreSQL about 100 ms to plan and lock).
const WIDENING_DAYS: [i64; 3] = [1, 7, 31];

/// The lower time bounds to try, narrowest first, ending with `from`
/// itself (the whole range asked for). `upper` is the newest time a row
/// on the page can have (the cursor's, or `to`), `None` for "now".
pub fn widening_windows(
    upper: Option<DateTime<Utc>>,
    from: Option<DateTime<Utc>>,
) -> Vec<Option<DateTime<Utc>>> {
    let upper = upper.unwrap_or_else(Utc::now);
    let mut bounds: Vec<Option<DateTime<Utc>>> = WIDENING_DAYS
        .iter()
        .filter_map(|days| upper.checked_sub_signed(chrono::TimeDelta::days(*days)))
        .filter(|lower| from.is_none_or(|from| *lower > from))
        .map(Some)
        .collect();
    bounds.push(from);
    bounds
}

/// Records newest first, after `page.after`, searched in widening
/// windows ([`widening_windows`]): a window that fills the page holds the
/// newest rows of the whole range, since every row outside it is older.
/// The time bounds (and the cursor's time) are written as plain
/// comparisons with the partition key (`COALESCE` to an infinite bound
/// when absent) so that PostgreSQL prunes the daily partitions out of
/// range, even in a generic plan.
pub async fn list_records(
    tx: &mut Tx,
    filter: &RecordFilter,
    page: Page<(DateTime<Utc>, Uuid)>,
) -> Result<Vec<RecordView>, StoreError> {
    let upper = page.after.map(|(time, _)| time).or(filter.to);
    let windows = widening_windows(upper, filter.from);
    let last = windows.len() - 1;
    for (n, from) in windows.into_iter().enumerate() {
        let rows = records_since(tx, filter, from, page).await?;
        if n == last || i64::try_from(rows.len()).unwrap_or(i64::MAX) >= page.limit {
            return Ok(rows);
        }
    }
    Ok(Vec::new())
}

/// One window of [`list_records`]: `from` in place of the filter's.
async fn records_since(
    tx: &mut Tx,
    filter: &RecordFilter,
    from: Option<DateTime<Utc>>,
    page: Page<(DateTime<Utc>, Uuid)>,
) -> Result<Vec<RecordView>, StoreError> {
    let (after_time, after_id) = page.after.unzip();
    Ok(sqlx::query_as!(
        RecordView,
        r#"SELECT r.id, r.user_id, r.public_key_id, a.name AS algorithm, c.name AS "curve?", r.document_hash,
                  r.is_valid AS valid, r.verification_time AS verified_at, r.metadata
           FROM verification_records r JOIN algorithms a ON a.id = r.algorithm_id LEFT JOIN curves c ON c.id = r.curve_id
           WHERE ($1::uuid IS NULL OR r.public_key_id = $1)
             AND ($2::bool IS NULL OR r.is_valid = $2)
             AND r.verification_time >= COALESCE($3::timestamptz, '-infinity')
             AND r.verification_time < COALESCE($4::timestamptz, 'infinity')
             AND r.verification_time <= COALESCE($5::timestamptz, 'infinity')
             AND ($5::timestamptz IS NULL OR (r.verification_time, r.id) < ($5, $6::uuid))
             AND ($8::uuid IS NULL OR r.user_id = $8)
           ORDER BY r.verification_time DESC, r.id DESC
           LIMIT $7"#,
        filter.public_key_id,
        filter.valid,
        from,
        filter.to,
        after_time,
        after_id,
        page.limit,
        filter.user_id
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// One record (in its day's partition when the id is time-ordered).
pub async fn record(tx: &mut Tx, id: Uuid) -> Result<Option<RecordView>, StoreError> {
    let (from, to) = day_window(id);
    Ok(sqlx::query_as!(
        RecordView,
        r#"SELECT r.id, r.user_id, r.public_key_id, a.name AS algorithm, c.name AS "curve?", r.document_hash,
                  r.is_valid AS valid, r.verification_time AS verified_at, r.metadata
           FROM verification_records r JOIN algorithms a ON a.id = r.algorithm_id LEFT JOIN curves c ON c.id = r.curve_id
           WHERE r.id = $1
             AND r.verification_time >= COALESCE($2::timestamptz, '-infinity')
             AND r.verification_time <= COALESCE($3::timestamptz, 'infinity')"#,
        id,
        from,
        to
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// A batch as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchView {
    /// Identifier.
    pub id: Uuid,
    /// Who verified.
    pub user_id: Uuid,
    /// Items in the request.
    pub total_count: i32,
    /// Items whose signature was valid.
    pub success_count: i32,
    /// When.
    pub verified_at: DateTime<Utc>,
    /// Errors of failed items.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// An item of a batch, with its record's answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchItemView {
    /// Position in the request.
    pub index: i32,
    /// The record.
    pub verification_id: Uuid,
    /// The key.
    pub public_key_id: Uuid,
    /// Hex digest of the document.
    pub document_hash: String,
    /// The answer.
    pub valid: bool,
}

/// Batches newest first, after `page.after`.
pub async fn list_batches(
    tx: &mut Tx,
    page: Page<(DateTime<Utc>, Uuid)>,
) -> Result<Vec<BatchView>, StoreError> {
    let (after_time, after_id) = page.after.unzip();
    Ok(sqlx::query_as!(
        BatchView,
        r#"SELECT id, user_id, total_count, success_count, verification_time AS verified_at, metadata
           FROM batch_verifications
           WHERE verification_time <= COALESCE($1::timestamptz, 'infinity')
             AND ($1::timestamptz IS NULL OR (verification_time, id) < ($1, $2::uuid))
           ORDER BY verification_time DESC, id DESC
           LIMIT $3"#,
        after_time,
        after_id,
        page.limit
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// One batch (in its day's partition when the id is time-ordered).
pub async fn batch(tx: &mut Tx, id: Uuid) -> Result<Option<BatchView>, StoreError> {
    let (from, to) = day_window(id);
    Ok(sqlx::query_as!(
        BatchView,
        r#"SELECT id, user_id, total_count, success_count, verification_time AS verified_at, metadata
           FROM batch_verifications
           WHERE id = $1
             AND verification_time >= COALESCE($2::timestamptz, '-infinity')
             AND verification_time <= COALESCE($3::timestamptz, 'infinity')"#,
        id,
        from,
        to
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// A batch's items in request order (they carry the batch's time).
pub async fn batch_items(tx: &mut Tx, id: Uuid) -> Result<Vec<BatchItemView>, StoreError> {
    let (from, to) = day_window(id);
    Ok(sqlx::query_as!(
        BatchItemView,
        r#"SELECT i.item_index AS index, i.verification_record_id AS verification_id, r.public_key_id,
                  r.document_hash, r.is_valid AS valid
           FROM batch_verification_items i
           JOIN verification_records r
             ON r.id = i.verification_record_id AND r.verification_time = i.verification_time
           WHERE i.batch_id = $1
             AND i.verification_time >= COALESCE($2::timestamptz, '-infinity')
             AND i.verification_time <= COALESCE($3::timestamptz, 'infinity')
           ORDER BY i.item_index"#,
        id,
        from,
        to
    )
    .fetch_all(&mut **tx)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_ordered_id_names_the_window_of_its_time() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T23:59:30.123456Z")
            .expect("time")
            .with_timezone(&Utc);
        let id = time_ordered_id(at);
        assert_eq!(id.get_version_num(), 7);
        let (from, to) = day_window(id);
        let (from, to) = (from.expect("from"), to.expect("to"));
        assert!(from <= at && at <= to, "{from} .. {to} misses {at}");
        assert!(to - from <= ID_TIME_SLACK * 2 + chrono::TimeDelta::milliseconds(1));
        // Later times give larger ids: inserts append.
        let later = time_ordered_id(at + chrono::TimeDelta::milliseconds(2));
        assert!(later > id);
        // A random id names no window: every partition is searched.
        assert_eq!(day_window(Uuid::new_v4()), (None, None));
    }

    #[test]
    fn the_history_is_searched_back_a_day_a_week_a_month_then_whole() {
        let upper = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let days = |n| Some(upper - chrono::TimeDelta::days(n));
        assert_eq!(
            widening_windows(Some(upper), None),
            [days(1), days(7), days(31), None]
        );
        // A `from` inside a window ends the widening there.
        let from = days(3);
        assert_eq!(widening_windows(Some(upper), from), [days(1), from]);
        assert_eq!(widening_windows(Some(upper), days(1)), [days(1)]);
        // Without a cursor or `to`, the windows end now.
        let now = widening_windows(None, None);
        assert_eq!(now.len(), 4);
        assert!(now[0].expect("a day back") > Utc::now() - chrono::TimeDelta::days(2));
    }
}
