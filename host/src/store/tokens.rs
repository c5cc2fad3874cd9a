//! Token state: access-token signing keys, refresh-token families, revoked
//! access tokens and sessions.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError, Tx};

/// A stored signing key.
#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    /// Key id (`kid`).
    pub kid: String,
    /// PKCS #8 DER of the Ed25519 private key.
    pub private_key: Vec<u8>,
    /// The 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// After this it no longer signs.
    pub retire_at: DateTime<Utc>,
    /// After this it no longer verifies.
    pub expires_at: DateTime<Utc>,
}

/// A refresh token as stored (hashed).
#[derive(Debug, Clone)]
pub struct RefreshTokenRow {
    /// Row id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Login session the token belongs to.
    pub family_id: Uuid,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for a new pair.
    pub spent_at: Option<DateTime<Utc>>,
    /// When its family was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A revocation still in force.
#[derive(Debug, Clone)]
pub struct LiveRevocation {
    /// The token's `jti` or the session's id.
    pub id: Uuid,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
    /// A session (refresh family) rather than one token.
    pub is_session: bool,
}

impl Store {
    /// Every revocation still in force.
    pub async fn live_revocations(&self) -> Result<Vec<LiveRevocation>, StoreError> {
        Ok(sqlx::query_as!(
            LiveRevocation,
            r#"SELECT jti AS "id!", expires_at AS "expires_at!", false AS "is_session!" FROM revoked_tokens WHERE expires_at > now()
               UNION ALL
               SELECT family_id, expires_at, true FROM revoked_sessions WHERE expires_at > now()"#
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Signing keys that still verify.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        self.retry("signing_keys", || async {
            Ok(sqlx::query_as!(
                SigningKeyRow,
                "SELECT kid, private_key, public_key, created_at, retire_at, expires_at
                 FROM jwt_signing_keys WHERE expires_at > now() ORDER BY created_at DESC"
            )
            .fetch_all(self.pool())
            .await?)
        })
        .await
    }

    /// Store a new signing key.
    pub async fn insert_signing_key(&self, key: &SigningKeyRow) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO jwt_signing_keys (kid, algorithm, private_key, public_key, created_at, retire_at, expires_at)
             VALUES ($1, 'EdDSA', $2, $3, $4, $5, $6)",
            key.kid,
            key.private_key,
            key.public_key,
            key.created_at,
            key.retire_at,
            key.expires_at,
        )
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Store a new refresh token (by hash).
    pub async fn insert_refresh_token(
        &self,
        tx: &mut Tx,
        user: Uuid,
        family: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)",
            user,
            family,
            token_hash,
            expires_at
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Serialise the logins of `user` (held until the transaction ends),
    /// so that counting its live sessions and adding one is atomic. Taken
    /// before any session lock.
    pub async fn lock_user_sessions(&self, tx: &mut Tx, user: Uuid) -> Result<(), StoreError> {
        sqlx::query_scalar!(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 11))",
            user.to_string()
        )
        .fetch_one(&mut **tx)
        .await?;
        Ok(())
    }

    /// The live sessions of `user` (a refresh token neither spent, revoked
    /// nor expired, in a session not revoked), least recently used (logged
    /// in or refreshed) first.
    pub async fn live_sessions(&self, tx: &mut Tx, user: Uuid) -> Result<Vec<Uuid>, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT t.family_id AS "family_id!" FROM refresh_tokens t
               WHERE t.user_id = $1 AND t.spent_at IS NULL AND t.revoked_at IS NULL
                 AND t.expires_at > now()
                 AND NOT EXISTS (SELECT 1 FROM revoked_sessions r WHERE r.family_id = t.family_id)
               GROUP BY t.family_id
               ORDER BY max(t.created_at), t.family_id"#,
            user
        )
        .fetch_all(&mut **tx)
        .await?)
    }

    /// The session (family) of a refresh token, without locking it.
    pub async fn refresh_family(
        &self,
        tx: &mut Tx,
        token_hash: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        Ok(sqlx::query_scalar!(
            "SELECT family_id FROM refresh_tokens WHERE token_hash = $1",
            token_hash
        )
        .fetch_optional(&mut **tx)
        .await?)
    }

    /// Serialise everything that rotates or revokes `family` (held until
    /// the transaction ends). Taken before any row lock, in every path.
    pub async fn lock_session(&self, tx: &mut Tx, family: Uuid) -> Result<(), StoreError> {
        sqlx::query_scalar!(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
            family.to_string()
        )
        .fetch_one(&mut **tx)
        .await?;
        Ok(())
    }

    /// Whether a session was revoked.
    pub async fn is_session_revoked(&self, tx: &mut Tx, family: Uuid) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE family_id = $1) AS "revoked!""#,
            family
        )
        .fetch_one(&mut **tx)
        .await?)
    }

    /// The refresh token with this hash, locked for the exchange.
    pub async fn refresh_token_for_update(
        &self,
        tx: &mut Tx,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRow>, StoreError> {
        Ok(sqlx::query_as!(
            RefreshTokenRow,
            "SELECT id, user_id, family_id, expires_at, spent_at, revoked_at
             FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
            token_hash
        )
        .fetch_optional(&mut **tx)
        .await?)
    }

    /// Mark a refresh token exchanged.
    pub async fn spend_refresh_token(&self, tx: &mut Tx, id: Uuid) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE refresh_tokens SET spent_at = now() WHERE id = $1",
            id
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Revoke a login session: its refresh tokens stop working and access
    /// tokens carrying it (`sid`) are refused until `expires_at`.
    pub async fn revoke_session(
        &self,
        tx: &mut Tx,
        family: Uuid,
        user: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.lock_session(tx, family).await?;
        sqlx::query!(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
            family
        )
        .execute(&mut **tx)
        .await?;
        sqlx::query!(
            "INSERT INTO revoked_sessions (family_id, user_id, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (family_id) DO UPDATE SET expires_at = GREATEST(revoked_sessions.expires_at, EXCLUDED.expires_at)",
            family,
            user,
            expires_at
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Revoke every session of a user (suspension, password change). Returns
    /// the revoked families.
    pub async fn revoke_user_sessions(
        &self,
        user: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut tx = self.begin().await?;
        let families = sqlx::query_scalar!(
            r#"SELECT DISTINCT family_id AS "family_id!" FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL ORDER BY 1"#,
            user
        )
        .fetch_all(&mut *tx)
        .await?;
        for family in &families {
            self.revoke_session(&mut tx, *family, user, expires_at)
                .await?;
        }
        tx.commit().await?;
        Ok(families)
    }

    /// Revoke one access token until its expiry.
    pub async fn revoke_access_token(
        &self,
        jti: Uuid,
        user: Uuid,
        family: Option<Uuid>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO revoked_tokens (jti, user_id, family_id, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (jti) DO NOTHING",
            jti,
            user,
            family,
            expires_at
        )
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether an access token (or its session) was revoked.
    pub async fn is_token_revoked(&self, jti: Uuid, family: Uuid) -> Result<bool, StoreError> {
        self.retry("is_token_revoked", || async {
            Ok(sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1)
                       OR EXISTS (SELECT 1 FROM revoked_sessions WHERE family_id = $2) AS "revoked!""#,
                jti,
                family
            )
            .fetch_one(self.pool())
            .await?)
        })
        .await
    }

    /// Forget revocations and refresh tokens past their expiry.
    pub async fn purge_expired_tokens(&self) -> Result<u64, StoreError> {
        let mut purged = 0;
        purged += sqlx::query!("DELETE FROM revoked_tokens WHERE expires_at < now()")
            .execute(self.pool())
            .await?
            .rows_affected();
        purged += sqlx::query!("DELETE FROM revoked_sessions WHERE expires_at < now()")
            .execute(self.pool())
            .await?
            .rows_affected();
        purged +=
            sqlx::query!("DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'")
                .execute(self.pool())
                .await?
                .rows_affected();
        Ok(purged)
    }
}
