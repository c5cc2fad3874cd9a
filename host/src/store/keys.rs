//! Public keys, owned by users (row-level security applies: every query
//! runs in a transaction acting for the caller).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Postgres;
use sqlx::postgres::{PgTypeInfo, PgValueRef};
use uuid::Uuid;

use super::{Page, StoreError, Tx};

/// A key's status. Stored as `active` or `revoked`; it reads `expired`
/// once an active key's `expires_at` has passed (the view
/// `public_keys_now` applies that rule for reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Refused from now on.
    Revoked,
    /// Past its expiry.
    Expired,
}

impl KeyStatus {
    /// The name the API and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Revoked => "revoked",
            KeyStatus::Expired => "expired",
        }
    }
}

impl std::fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeyStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "active" => Ok(KeyStatus::Active),
            "revoked" => Ok(KeyStatus::Revoked),
            "expired" => Ok(KeyStatus::Expired),
            other => Err(format!("unknown key status {other:?}")),
        }
    }
}

// Read from a text column: the status column is VARCHAR, not a PostgreSQL
// enum, so the column's text is parsed.
impl sqlx::Type<Postgres> for KeyStatus {
    fn type_info() -> PgTypeInfo {
        <&str as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for KeyStatus {
    fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(<&str as sqlx::Decode<Postgres>>::decode(value)?.parse()?)
    }
}

/// A public key with its algorithm and curve names (a row of the view
/// `public_keys_now`).
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
    /// The status when the row was read.
    pub status: KeyStatus,
}

impl KeyRow {
    /// The status now. The view's rule again, for rows read earlier: a
    /// cached row may predate the expiry.
    pub fn status_now(&self) -> KeyStatus {
        match self.status {
            KeyStatus::Active if self.expires_at.is_some_and(|t| t <= Utc::now()) => {
                KeyStatus::Expired
            }
            status => status,
        }
    }

    /// The canonical key the plugin made, as stored: DER
    /// SubjectPublicKeyInfo, or the algorithm's own bytes under another
    /// PEM label (`None` if the stored PEM is corrupt).
    pub fn spki(&self) -> Option<Vec<u8>> {
        spki_from_pem(&self.key_data)
    }
}

/// The bytes of a PEM block, whatever its label.
pub fn spki_from_pem(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).ok()
}

/// PEM of a DER SubjectPublicKeyInfo: the form keys are stored in.
pub fn pem_from_spki(der: &[u8]) -> String {
    pem_encode("PUBLIC KEY", der)
}

/// PEM of `der` under `label` (a key whose canonical form is not a
/// SubjectPublicKeyInfo keeps the label its plugin gave).
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
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

/// How many keys `owner` holds (every status), counted after taking a lock
/// on the owner's key registrations that is held until the transaction
/// ends: two uploads at the quota's edge are serialised, and the second
/// counts the first's key.
pub async fn lock_and_count_for_owner(tx: &mut Tx, owner: Uuid) -> Result<i64, StoreError> {
    sqlx::query_scalar!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 13))",
        owner.to_string()
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM public_keys WHERE user_id = $1"#,
        owner
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// One key the transaction may see.
pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Option<KeyRow>, StoreError> {
    Ok(get_many(tx, &[id]).await?.pop())
}

/// Several keys at once (for a batch); missing or invisible ones are absent.
pub async fn get_many(tx: &mut Tx, ids: &[Uuid]) -> Result<Vec<KeyRow>, StoreError> {
    // A view's columns all read as nullable to sqlx: `!` restores the
    // table's NOT NULLs.
    Ok(sqlx::query_as!(
        KeyRow,
        r#"SELECT id AS "id!", user_id AS "user_id!", algorithm_id AS "algorithm_id!", algorithm AS "algorithm!",
                  curve_id, curve, curve_status, key_data AS "key_data!", format AS "format!", name, metadata,
                  created_at AS "created_at!", expires_at, status AS "status!: KeyStatus"
           FROM public_keys_now WHERE id = ANY($1)"#,
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
        r#"SELECT id AS "id!", user_id AS "user_id!", algorithm_id AS "algorithm_id!", algorithm AS "algorithm!",
                  curve_id, curve, curve_status, key_data AS "key_data!", format AS "format!", name, metadata,
                  created_at AS "created_at!", expires_at, status AS "status!: KeyStatus"
           FROM public_keys_now
           WHERE ($1::text IS NULL OR status = $1)
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
           ORDER BY created_at DESC, id DESC
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_and_der_round_trip_with_64_column_lines() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = pem_from_spki(&der);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        assert!(pem.lines().all(|line| line.len() <= 64));
        assert_eq!(spki_from_pem(&pem), Some(der));
    }

    #[test]
    fn pem_tolerates_blank_lines_and_indentation_but_not_garbage() {
        let pem = "-----BEGIN PUBLIC KEY-----\n  AAEC\n\n  AwQ=\n-----END PUBLIC KEY-----";
        assert_eq!(spki_from_pem(pem), Some(vec![0, 1, 2, 3, 4]));
        assert_eq!(spki_from_pem("-----BEGIN-----\n*not base64*\n"), None);
    }

    #[test]
    fn statuses_read_and_print_as_the_api_spells_them() {
        for status in [KeyStatus::Active, KeyStatus::Revoked, KeyStatus::Expired] {
            assert_eq!(status.as_str().parse::<KeyStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(serde_json::json!(status.as_str()))
            );
        }
        assert!("Active".parse::<KeyStatus>().is_err());
    }

    fn row(status: KeyStatus, expires_at: Option<DateTime<Utc>>) -> KeyRow {
        KeyRow {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            algorithm_id: Uuid::nil(),
            algorithm: "EdDSA".into(),
            curve_id: None,
            curve: None,
            curve_status: None,
            key_data: String::new(),
            format: "PEM".into(),
            name: None,
            metadata: None,
            created_at: Utc::now(),
            expires_at,
            status,
        }
    }

    #[test]
    fn an_active_row_read_before_its_expiry_is_expired_now() {
        let past = Some(Utc::now() - chrono::Duration::seconds(1));
        let future = Some(Utc::now() + chrono::Duration::hours(1));
        assert_eq!(
            row(KeyStatus::Active, past).status_now(),
            KeyStatus::Expired
        );
        assert_eq!(
            row(KeyStatus::Active, future).status_now(),
            KeyStatus::Active
        );
        assert_eq!(row(KeyStatus::Active, None).status_now(), KeyStatus::Active);
        assert_eq!(
            row(KeyStatus::Revoked, past).status_now(),
            KeyStatus::Revoked
        );
    }
}
