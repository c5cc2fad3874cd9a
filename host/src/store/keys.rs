//! Public keys, owned by users (row-level security applies: every query
//! runs in a transaction acting for the caller).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Page, StoreError, Tx};

/// A public key with its algorithm and curve names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRow {
    /// Identifier.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Algorithm id.
    pub algorithm_id: Uuid,
    /// Algorithm name.
    pub algorithm: String,
    /// Curve id.
    pub curve_id: Option<Uuid>,
    /// Curve name.
    pub curve: Option<String>,
    /// Curve status (`enabled`/`disabled`).
    pub curve_status: Option<String>,
    /// Canonical PEM SubjectPublicKeyInfo.
    pub key_data: String,
    /// Stored format.
    pub format: String,
    /// Name.
    pub name: Option<String>,
    /// Facts about the key and the caller's own metadata.
    pub metadata: Option<serde_json::Value>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Stored status; an active key past `expires_at` reads `expired`.
    pub status: String,
}

impl KeyRow {
    /// The status now: an active key whose expiry has passed is expired
    /// (a cached row may predate the expiry).
    pub fn status_now(&self) -> &str {
        if self.status == "active" && self.expires_at.is_some_and(|t| t <= Utc::now()) {
            "expired"
        } else {
            &self.status
        }
    }
}

/// A key about to be stored.
#[derive(Debug, Clone)]
pub struct NewKey<'a> {
    /// Owner.
    pub user_id: Uuid,
    /// Algorithm name.
    pub algorithm: &'a str,
    /// Curve name.
    pub curve: Option<&'a str>,
    /// Canonical PEM.
    pub key_data: &'a str,
    /// Name.
    pub name: Option<&'a str>,
    /// Metadata.
    pub metadata: &'a serde_json::Value,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Changes to a key.
#[derive(Debug, Clone, Default)]
pub struct KeyChanges {
    /// New name.
    pub name: Option<String>,
    /// New metadata (whole).
    pub metadata: Option<serde_json::Value>,
    /// New expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Insert a key; `None` if the algorithm or curve is not catalogued.
pub async fn insert(tx: &mut Tx, key: &NewKey<'_>) -> Result<Option<Uuid>, StoreError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO public_keys (user_id, algorithm_id, curve_id, key_data, format, name, metadata, expires_at)
         SELECT $1, a.id, c.id, $4, 'PEM', $5, $6, $7
         FROM algorithms a LEFT JOIN curves c ON c.name = $3 AND c.algorithm_id = a.id
         WHERE a.name = $2 AND ($3::text IS NULL OR c.id IS NOT NULL)
         RETURNING id",
        key.user_id,
        key.algorithm,
        key.curve,
        key.key_data,
        key.name,
        key.metadata,
        key.expires_at
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// One key the transaction may see.
pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Option<KeyRow>, StoreError> {
    Ok(sqlx::query_as!(
        KeyRow,
        r#"SELECT k.id, k.user_id, k.algorithm_id, a.name AS algorithm, k.curve_id, c.name AS "curve?", c.status AS "curve_status?",
                  k.key_data, k.format, k.name, k.metadata, k.created_at, k.expires_at,
                  CASE WHEN k.status = 'active' AND k.expires_at <= now() THEN 'expired' ELSE k.status END AS "status!"
           FROM public_keys k JOIN algorithms a ON a.id = k.algorithm_id LEFT JOIN curves c ON c.id = k.curve_id
           WHERE k.id = $1"#,
        id
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Several keys at once (for a batch); missing or invisible ones are absent.
pub async fn get_many(tx: &mut Tx, ids: &[Uuid]) -> Result<Vec<KeyRow>, StoreError> {
    Ok(sqlx::query_as!(
        KeyRow,
        r#"SELECT k.id, k.user_id, k.algorithm_id, a.name AS algorithm, k.curve_id, c.name AS "curve?", c.status AS "curve_status?",
                  k.key_data, k.format, k.name, k.metadata, k.created_at, k.expires_at,
                  CASE WHEN k.status = 'active' AND k.expires_at <= now() THEN 'expired' ELSE k.status END AS "status!"
           FROM public_keys k JOIN algorithms a ON a.id = k.algorithm_id LEFT JOIN curves c ON c.id = k.curve_id
           WHERE k.id = ANY($1)"#,
        ids
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Keys the transaction may see, newest first, after `page.after`.
pub async fn list(
    tx: &mut Tx,
    status: Option<&str>,
    page: Page<(DateTime<Utc>, Uuid)>,
) -> Result<Vec<KeyRow>, StoreError> {
    let (after_time, after_id) = page.after.unzip();
    Ok(sqlx::query_as!(
        KeyRow,
        r#"SELECT k.id, k.user_id, k.algorithm_id, a.name AS algorithm, k.curve_id, c.name AS "curve?", c.status AS "curve_status?",
                  k.key_data, k.format, k.name, k.metadata, k.created_at, k.expires_at,
                  CASE WHEN k.status = 'active' AND k.expires_at <= now() THEN 'expired' ELSE k.status END AS "status!"
           FROM public_keys k JOIN algorithms a ON a.id = k.algorithm_id LEFT JOIN curves c ON c.id = k.curve_id
           WHERE ($1::text IS NULL OR CASE WHEN k.status = 'active' AND k.expires_at <= now() THEN 'expired' ELSE k.status END = $1)
             AND ($2::timestamptz IS NULL OR (k.created_at, k.id) < ($2, $3::uuid))
           ORDER BY k.created_at DESC, k.id DESC
           LIMIT $4"#,
        status,
        after_time,
        after_id,
        page.limit
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Rename a key, replace its metadata or expiry. `false` if not visible.
pub async fn update(tx: &mut Tx, id: Uuid, changes: &KeyChanges) -> Result<bool, StoreError> {
    let updated = sqlx::query!(
        "UPDATE public_keys SET name = COALESCE($2, name), metadata = COALESCE($3, metadata),
                                expires_at = COALESCE($4, expires_at)
         WHERE id = $1",
        id,
        changes.name,
        changes.metadata,
        changes.expires_at
    )
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Revoke a key. `false` if not visible.
pub async fn revoke(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let updated = sqlx::query!(
        "UPDATE public_keys SET status = 'revoked' WHERE id = $1",
        id
    )
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Delete a key. `false` if not visible; a conflict if it has history.
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let deleted = sqlx::query!("DELETE FROM public_keys WHERE id = $1", id)
        .execute(&mut **tx)
        .await?;
    Ok(deleted.rows_affected() == 1)
}
