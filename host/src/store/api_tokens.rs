//! API tokens (personal access tokens), stored by the SHA-256 of their
//! value only. Row-level security applies: management runs in a
//! transaction acting for the caller (`Store::acting_for`), and
//! authentication in one that presents the token's hash, which makes that
//! one row visible (see migrations/*_api_tokens.sql).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Page, Store, StoreError, Tx};

/// An API token as stored (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    /// Identifier (what the audit log and the API name the token by).
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The owner's label for it.
    pub name: String,
    /// Permission names the token carries.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// It authenticates nobody from then on.
    pub expires_at: DateTime<Utc>,
    /// Last authenticated request (updated at most about once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    /// The owner.
    pub user_id: Uuid,
    /// The label.
    pub name: &'a str,
    /// Hex SHA-256 of the value.
    pub token_hash: &'a str,
    /// Permission names.
    pub scopes: &'a [String],
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// How many live (unrevoked, unexpired) tokens `owner` holds, counted after
/// taking a per-owner lock held until the transaction ends, so two
/// creations at the quota's edge are serialised.
pub async fn lock_and_count_live(tx: &mut Tx, owner: Uuid) -> Result<i64, StoreError> {
    sqlx::query_scalar!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 17))",
        owner.to_string()
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM api_tokens
           WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()"#,
        owner
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Store a new token.
pub async fn insert(tx: &mut Tx, token: &NewApiToken<'_>) -> Result<ApiTokenRow, StoreError> {
    Ok(sqlx::query_as!(
        ApiTokenRow,
        "INSERT INTO api_tokens (user_id, name, token_hash, scopes, expires_at)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, user_id, name, scopes, created_at, expires_at, last_used_at, revoked_at",
        token.user_id,
        token.name,
        token.token_hash,
        token.scopes,
        token.expires_at,
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// The tokens of `owner` visible to the transaction, newest first, after
/// `page.after` (created_at, id).
pub async fn list(
    tx: &mut Tx,
    owner: Uuid,
    page: Page<(DateTime<Utc>, Uuid)>,
) -> Result<Vec<ApiTokenRow>, StoreError> {
    let (after_time, after_id) = page.after.unzip();
    Ok(sqlx::query_as!(
        ApiTokenRow,
        "SELECT id, user_id, name, scopes, created_at, expires_at, last_used_at, revoked_at
         FROM api_tokens
         WHERE user_id = $1
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
         ORDER BY created_at DESC, id DESC
         LIMIT $4",
        owner,
        after_time,
        after_id,
        page.limit
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// One token, if visible to the transaction.
pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Option<ApiTokenRow>, StoreError> {
    Ok(sqlx::query_as!(
        ApiTokenRow,
        "SELECT id, user_id, name, scopes, created_at, expires_at, last_used_at, revoked_at
         FROM api_tokens WHERE id = $1",
        id
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Revoke a token visible to the transaction; `None` if it is not visible.
/// Revoking a revoked token keeps its first revocation time.
pub async fn revoke(tx: &mut Tx, id: Uuid) -> Result<Option<ApiTokenRow>, StoreError> {
    Ok(sqlx::query_as!(
        ApiTokenRow,
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now())
         WHERE id = $1
         RETURNING id, user_id, name, scopes, created_at, expires_at, last_used_at, revoked_at",
        id
    )
    .fetch_optional(&mut **tx)
    .await?)
}

impl Store {
    /// The token whose value hashes to `token_hash`, read by a statement
    /// that presents the hash (row-level security shows that row and no
    /// other). When `touch` is set and the token is usable, its
    /// `last_used_at` is moved to now unless another host did so within
    /// the last minute. One round trip to PostgreSQL, the source of truth
    /// (`sigil_api_token_by_hash`, migration `20261202000200`), so a
    /// revocation counts on the very next request on every host.
    pub async fn api_token_by_hash(
        &self,
        token_hash: &str,
        touch: bool,
    ) -> Result<Option<ApiTokenRow>, StoreError> {
        self.retry("api_token_by_hash", || async {
            // A set-returning function's columns are all nullable to sqlx;
            // the table's NOT NULL columns are named as such.
            Ok(sqlx::query_as!(
                ApiTokenRow,
                r#"SELECT id AS "id!", user_id AS "user_id!", name AS "name!",
                          scopes AS "scopes!", created_at AS "created_at!",
                          expires_at AS "expires_at!", last_used_at, revoked_at
                     FROM sigil_api_token_by_hash($1, $2)"#,
                token_hash,
                touch
            )
            .fetch_optional(&self.pool)
            .await?)
        })
        .await
    }
}
