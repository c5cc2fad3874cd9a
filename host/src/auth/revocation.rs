//! Revoked access tokens and sessions. PostgreSQL is the source of truth
//! (`revoked_tokens`, `revoked_sessions`); Redis holds the same facts as
//! `blacklist:token:{jti}` and `blacklist:session:{sid}` with a TTL to the
//! token's expiry, for a check that costs one round trip. When Redis is
//! unavailable, or has lost its state (the `blacklist:ready` marker, set
//! after a load from PostgreSQL, is missing), the check asks PostgreSQL, so
//! a revoked token stays revoked.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::cache::Redis;
use crate::store::{Store, StoreError};

/// The revocation list.
#[derive(Clone, Debug)]
pub struct Revocations {
    store: Store,
    redis: Redis,
}

impl Revocations {
    /// Over `store`, fronted by `redis`.
    pub fn new(store: Store, redis: Redis) -> Self {
        Self { store, redis }
    }

    fn token_key(&self, jti: Uuid) -> String {
        self.redis.key(&format!("blacklist:token:{jti}"))
    }

    fn session_key(&self, sid: Uuid) -> String {
        self.redis.key(&format!("blacklist:session:{sid}"))
    }

    fn ready_key(&self) -> String {
        self.redis.key("blacklist:ready")
    }

    /// Whether the token `jti` of session `sid` is revoked.
    pub async fn is_revoked(&self, jti: Uuid, sid: Uuid) -> Result<bool, StoreError> {
        let keys = [self.ready_key(), self.token_key(jti), self.session_key(sid)];
        let answer = self
            .redis
            .run(|mut conn| async move {
                let (ready, revoked): (i64, i64) = redis::pipe()
                    .cmd("EXISTS")
                    .arg(&keys[0])
                    .cmd("EXISTS")
                    .arg(&keys[1..])
                    .query_async(&mut conn)
                    .await?;
                Ok((ready == 1, revoked > 0))
            })
            .await;
        match answer {
            Ok((_, true)) => Ok(true),
            Ok((true, false)) => Ok(false),
            Ok((false, false)) => {
                // Redis came back empty: answer from PostgreSQL and reload.
                let this = self.clone();
                tokio::spawn(async move { this.load_into_redis().await });
                self.store.is_token_revoked(jti, sid).await
            }
            Err(_) => self.store.is_token_revoked(jti, sid).await,
        }
    }

    /// Revoke one access token until `expires_at`.
    pub async fn revoke_token(
        &self,
        jti: Uuid,
        user: Uuid,
        sid: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.store
            .revoke_access_token(jti, user, Some(sid), expires_at)
            .await?;
        self.mark(self.token_key(jti), expires_at).await;
        Ok(())
    }

    /// Note in Redis that a session was revoked (the caller has written it
    /// to PostgreSQL).
    pub async fn session_revoked(&self, sid: Uuid, expires_at: DateTime<Utc>) {
        self.mark(self.session_key(sid), expires_at).await;
    }

    async fn mark(&self, key: String, expires_at: DateTime<Utc>) {
        let ttl = (expires_at - Utc::now()).num_seconds().max(1);
        let _ = self
            .redis
            .run(|mut conn| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("EX")
                    .arg(ttl)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
    }

    /// Copy every live revocation from PostgreSQL into Redis, then set the
    /// `blacklist:ready` marker. Run at start and whenever Redis is found
    /// without the marker.
    pub async fn load_into_redis(&self) {
        if !self.redis.is_configured() {
            return;
        }
        let rows = match self.store.live_revocations().await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "could not load revocations for Redis");
                return;
            }
        };
        let now = Utc::now();
        let mut pipe = redis::pipe();
        for row in &rows {
            let key = if row.is_session {
                self.session_key(row.id)
            } else {
                self.token_key(row.id)
            };
            pipe.cmd("SET")
                .arg(key)
                .arg(1)
                .arg("EX")
                .arg((row.expires_at - now).num_seconds().max(1))
                .ignore();
        }
        pipe.cmd("SET").arg(self.ready_key()).arg(1).ignore();
        match self
            .redis
            .run(|mut conn| async move { pipe.query_async::<()>(&mut conn).await })
            .await
        {
            Ok(()) => tracing::info!(
                revocations = rows.len(),
                "revocation list loaded into Redis"
            ),
            Err(error) => tracing::warn!(%error, "could not load revocations into Redis"),
        }
    }
}
