//! Revoked access tokens and sessions. PostgreSQL is the source of truth
//! (`revoked_tokens`, `revoked_sessions`); Redis holds the same facts as
//! `blacklist:token:{jti}` and `blacklist:session:{sid}` with a TTL to the
//! revocation's end, for a check that costs one round trip.
//!
//! Redis is trusted to say "not revoked" only while the `blacklist:ready`
//! marker is present. The marker is set after a complete load from
//! PostgreSQL, expires after [`READY_TTL`] (the maintenance task reloads
//! sooner), and is deleted whenever writing a revocation to Redis fails.
//! Without it, or without Redis, the check asks PostgreSQL. Redis must not
//! evict keys silently (`maxmemory-policy noeviction`, see
//! deploy/redis/redis.conf): a write refused for lack of memory is a
//! failure, which removes the marker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::cache::Redis;
use crate::store::{Store, StoreError};

/// Lifetime of the `blacklist:ready` marker, in seconds.
pub const READY_TTL: u64 = 600;

/// The revocation list.
#[derive(Clone, Debug)]
pub struct Revocations {
    store: Store,
    redis: Redis,
    /// A reload into Redis is running (one at a time).
    loading: Arc<AtomicBool>,
}

impl Revocations {
    /// Over `store`, fronted by `redis`.
    pub fn new(store: Store, redis: Redis) -> Self {
        Self {
            store,
            redis,
            loading: Arc::new(AtomicBool::new(false)),
        }
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
                // Redis is not known to hold every revocation: ask
                // PostgreSQL, and (re)load Redis in the background.
                self.reload_in_background();
                self.store.is_token_revoked(jti, sid).await
            }
            Err(_) => self.store.is_token_revoked(jti, sid).await,
        }
    }

    fn reload_in_background(&self) {
        if self.loading.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            this.load_into_redis().await;
            this.loading.store(false, Ordering::Release);
        });
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

    /// Write a revocation to Redis; if that fails, Redis stops being
    /// trusted for "not revoked" until the next complete load.
    async fn mark(&self, key: String, expires_at: DateTime<Utc>) {
        if !self.redis.is_configured() {
            return;
        }
        let ttl = (expires_at - Utc::now()).num_seconds().max(1);
        let written = self
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
        if written.is_err() {
            let ready = self.ready_key();
            let cleared = self
                .redis
                .run(|mut conn| async move {
                    redis::cmd("DEL")
                        .arg(&ready)
                        .query_async::<i64>(&mut conn)
                        .await
                })
                .await;
            // If even that failed, Redis is unreachable: checks go to
            // PostgreSQL, and the marker lapses within READY_TTL.
            tracing::warn!(
                cleared = cleared.is_ok(),
                "a revocation did not reach Redis; PostgreSQL answers until the next load"
            );
        }
    }

    /// Copy every live revocation from PostgreSQL into Redis, then set the
    /// `blacklist:ready` marker (only if every write succeeded). Run at
    /// start, periodically, and whenever the marker is missing.
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
        pipe.atomic();
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
        pipe.cmd("SET")
            .arg(self.ready_key())
            .arg(1)
            .arg("EX")
            .arg(READY_TTL)
            .ignore();
        match self
            .redis
            .run(|mut conn| async move { pipe.query_async::<()>(&mut conn).await })
            .await
        {
            Ok(()) => tracing::debug!(
                revocations = rows.len(),
                "revocation list loaded into Redis"
            ),
            Err(error) => tracing::warn!(%error, "could not load revocations into Redis"),
        }
    }
}
