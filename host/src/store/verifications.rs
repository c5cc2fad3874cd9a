//! Verification records, batches and their items: written in groups (many
//! requests per transaction, see `verify::recorder`), read back under
//! row-level security.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Page, StoreError, Tx};

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

/// Write `records` (all of one user) in the transaction, which must act
/// for that user. Rows already present (same host-chosen id) are skipped,
/// so retrying after a commit whose answer was lost does not fail.
pub async fn insert_records(tx: &mut Tx, records: &[&NewRecord]) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
    let users: Vec<Uuid> = records.iter().map(|r| r.user_id).collect();
    let hashes: Vec<String> = records.iter().map(|r| r.document_hash.clone()).collect();
    let keys: Vec<Uuid> = records.iter().map(|r| r.public_key_id).collect();
    let algorithms: Vec<Uuid> = records.iter().map(|r| r.algorithm_id).collect();
    let curves: Vec<Option<Uuid>> = records.iter().map(|r| r.curve_id).collect();
    let valid: Vec<bool> = records.iter().map(|r| r.is_valid).collect();
    let times: Vec<DateTime<Utc>> = records.iter().map(|r| r.verified_at).collect();
    let metadata: Vec<serde_json::Value> = records.iter().map(|r| r.metadata.clone()).collect();
    sqlx::query!(
        "INSERT INTO verification_records
             (id, user_id, document_hash, public_key_id, algorithm_id, curve_id, is_valid, verification_time, metadata)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $6::uuid[], $7::bool[],
                              $8::timestamptz[], $9::jsonb[])
         ON CONFLICT (id) DO NOTHING",
        &ids,
        &users,
        &hashes,
        &keys,
        &algorithms,
        &curves as &[Option<Uuid>],
        &valid,
        &times,
        &metadata
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Write a batch row and its items (its records first, with
/// [`insert_records`]).
pub async fn insert_batch(tx: &mut Tx, batch: &NewBatch) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO batch_verifications (id, user_id, total_count, success_count, verification_time, metadata)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO NOTHING",
        batch.id,
        batch.user_id,
        batch.total_count,
        batch.success_count,
        batch.verified_at,
        batch.metadata
    )
    .execute(&mut **tx)
    .await?;
    let indexes: Vec<i32> = batch.items.iter().map(|(i, _)| *i).collect();
    let records: Vec<Uuid> = batch.items.iter().map(|(_, r)| *r).collect();
    sqlx::query!(
        "INSERT INTO batch_verification_items (batch_id, item_index, verification_record_id)
         SELECT $1, * FROM UNNEST($2::int[], $3::uuid[])
         ON CONFLICT (batch_id, item_index) DO NOTHING",
        batch.id,
        &indexes,
        &records
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
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
    #[schema(value_type = Object)]
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

/// Records newest first, after `page.after`.
pub async fn list_records(
    tx: &mut Tx,
    filter: &RecordFilter,
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
             AND ($3::timestamptz IS NULL OR r.verification_time >= $3)
             AND ($4::timestamptz IS NULL OR r.verification_time < $4)
             AND ($5::timestamptz IS NULL OR (r.verification_time, r.id) < ($5, $6::uuid))
             AND ($8::uuid IS NULL OR r.user_id = $8)
           ORDER BY r.verification_time DESC, r.id DESC
           LIMIT $7"#,
        filter.public_key_id,
        filter.valid,
        filter.from,
        filter.to,
        after_time,
        after_id,
        page.limit,
        filter.user_id
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// One record.
pub async fn record(tx: &mut Tx, id: Uuid) -> Result<Option<RecordView>, StoreError> {
    Ok(sqlx::query_as!(
        RecordView,
        r#"SELECT r.id, r.user_id, r.public_key_id, a.name AS algorithm, c.name AS "curve?", r.document_hash,
                  r.is_valid AS valid, r.verification_time AS verified_at, r.metadata
           FROM verification_records r JOIN algorithms a ON a.id = r.algorithm_id LEFT JOIN curves c ON c.id = r.curve_id
           WHERE r.id = $1"#,
        id
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
    #[schema(value_type = Object)]
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
           WHERE ($1::timestamptz IS NULL OR (verification_time, id) < ($1, $2::uuid))
           ORDER BY verification_time DESC, id DESC
           LIMIT $3"#,
        after_time,
        after_id,
        page.limit
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// One batch.
pub async fn batch(tx: &mut Tx, id: Uuid) -> Result<Option<BatchView>, StoreError> {
    Ok(sqlx::query_as!(
        BatchView,
        r#"SELECT id, user_id, total_count, success_count, verification_time AS verified_at, metadata
           FROM batch_verifications WHERE id = $1"#,
        id
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// A batch's items in request order.
pub async fn batch_items(tx: &mut Tx, id: Uuid) -> Result<Vec<BatchItemView>, StoreError> {
    Ok(sqlx::query_as!(
        BatchItemView,
        r#"SELECT i.item_index AS index, i.verification_record_id AS verification_id, r.public_key_id,
                  r.document_hash, r.is_valid AS valid
           FROM batch_verification_items i JOIN verification_records r ON r.id = i.verification_record_id
           WHERE i.batch_id = $1 ORDER BY i.item_index"#,
        id
    )
    .fetch_all(&mut **tx)
    .await?)
}
