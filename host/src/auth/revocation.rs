//! Revoked access tokens and sessions. PostgreSQL is the source of truth
//! (`revoked_tokens`, `revoked_sessions`); Redis holds the same facts as
//! `{blacklist}:token:<jti>` and `{blacklist}:session:<sid>` with a TTL to
//! the revocation's end, for a check that costs one round trip. The
//! `{blacklist}` hash tag keeps them and the marker in one slot of a Redis
//! Cluster, so the load below stays one atomic pipeline there too (the set
//! is small: only revocations not yet expired).
//!
//! Redis is trusted to say "not revoked" only while the `{blacklist}:ready`
//! marker is present and opens. The marker is set after a complete load
//! from PostgreSQL, expires after [`READY_TTL`] (the maintenance task
//! reloads sooner), and is deleted whenever writing a revocation to Redis
//! fails. Without it, or without Redis, the check asks PostgreSQL. Redis
//! must not evict keys silently (`maxmemory-policy noeviction`, see
//! deploy/redis/redis.conf): a write refused for lack of memory is a
//! failure, which removes the marker.
//!
//! Integrity (the Redis sealing key, `cache_mac`): every entry's value is
//! an HMAC over its key, and the marker's binds the revocation generation
//! (`cache_generations.revocation`, bumped by a trigger with every
//! revocation) that the load read *before* the rows it copied. So a forged
//! marker (say, after deleting the entries) does not open, nor does a
//! marker replayed from before a revocation once a host knows the newer
//! generation (at once on the revoking host, within
//! [`crate::cache::integrity::GENERATION_TTL`] elsewhere). After every
//! revocation the marker is stale until the reload it starts, and checks
//! ask PostgreSQL meanwhile. An entry that does not open is not honoured
//! either way: PostgreSQL answers. What sealing cannot show is the absence
//! of one entry that someone deleted while the current marker stands; a
//! deployment whose Redis is writable by others should rely on `rediss://`
//! and Redis ACLs for that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::cache::Redis;
use crate::cache::integrity::{self, Generation};
use crate::store::integrity::GenerationOf;
use crate::store::{Store, StoreError};

/// Lifetime of the `{blacklist}:ready` marker, in seconds.
pub const READY_TTL: u64 = 600;

/// The revocation list.
#[derive(Clone)]
pub struct Revocations {
    store: Store,
    redis: Redis,
    /// Seals entries and the marker (the `cache_mac` secret).
    seal_key: Arc<[u8]>,
    /// The revocation generation, as this host knows it.
    generation: Arc<Generation>,
    /// A reload into Redis is running (one at a time).
    loading: Arc<AtomicBool>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the sealing key.
        f.debug_struct("Revocations")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Revocations {
    /// Over `store`, fronted by `redis`, whose entries are sealed with
    /// `seal_key`.
    pub fn new(store: Store, redis: Redis, seal_key: &[u8]) -> Self {
        Self {
            generation: Arc::new(Generation::new(GenerationOf::Revocation, store.clone())),
            store,
            redis,
            seal_key: Arc::from(seal_key),
            loading: Arc::new(AtomicBool::new(false)),
        }
    }

    fn token_key(&self, jti: Uuid) -> String {
        self.redis.key(&format!("{{blacklist}}:token:{jti}"))
    }

    fn session_key(&self, sid: Uuid) -> String {
        self.redis.key(&format!("{{blacklist}}:session:{sid}"))
    }

    fn ready_key(&self) -> String {
        self.redis.key("{blacklist}:ready")
    }

    /// The value of entry `key`: its seal.
    fn entry_value(&self, key: &str) -> Vec<u8> {
        integrity::seal(&self.seal_key, &[key.as_bytes()])
            .map(|tag| tag.to_vec())
            .unwrap_or_default()
    }

    /// The value of the marker for a load at `generation`.
    fn ready_value(&self, generation: i64) -> Vec<u8> {
        let key = self.ready_key();
        integrity::seal(
            &self.seal_key,
            &[integrity::bound(&key, generation).as_bytes()],
        )
        .map(|tag| tag.to_vec())
        .unwrap_or_default()
    }

    /// Whether the token `jti` of session `sid` is revoked.
    pub async fn is_revoked(&self, jti: Uuid, sid: Uuid) -> Result<bool, StoreError> {
        let keys = [self.ready_key(), self.token_key(jti), self.session_key(sid)];
        let query = keys.clone();
        let answer = self
            .redis
            .run(|mut conn| async move {
                redis::cmd("MGET")
                    .arg(&query)
                    .query_async::<Vec<Option<Vec<u8>>>>(&mut conn)
                    .await
            })
            .await;
        let Some([ready, token, session]) = answer
            .ok()
            .and_then(|values| <[Option<Vec<u8>>; 3]>::try_from(values).ok())
        else {
            return self.store.is_token_revoked(jti, sid).await;
        };
        let mut honoured = true;
        for (key, value) in keys[1..].iter().zip([token, session]) {
            match value {
                Some(value) if integrity::opens(&self.seal_key, &[key.as_bytes()], &value) => {
                    return Ok(true);
                }
                Some(_) => {
                    tracing::warn!(
                        key = key.as_str(),
                        "a Redis revocation entry failed its integrity check; PostgreSQL answers"
                    );
                    honoured = false;
                }
                None => {}
            }
        }
        let complete = match (&ready, self.generation.current().await) {
            (Some(marker), Ok(generation)) => {
                let bound = integrity::bound(&keys[0], generation);
                integrity::opens(&self.seal_key, &[bound.as_bytes()], marker)
            }
            _ => false,
        };
        if honoured && complete {
            return Ok(false);
        }
        // Redis is not known to hold every revocation (no marker, an old
        // or forged one, a damaged entry): ask PostgreSQL, and (re)load
        // Redis in the background.
        if ready.is_some() && honoured {
            // Perhaps only this host's copy of the generation is old.
            self.generation.forget();
        }
        self.reload_in_background();
        self.store.is_token_revoked(jti, sid).await
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
        self.generation.forget();
        self.mark(self.token_key(jti), expires_at).await;
        Ok(())
    }

    /// Note in Redis that a session was revoked (the caller has written it
    /// to PostgreSQL).
    pub async fn session_revoked(&self, sid: Uuid, expires_at: DateTime<Utc>) {
        self.generation.forget();
        self.mark(self.session_key(sid), expires_at).await;
    }

    /// Write a revocation to Redis; if that fails, Redis stops being
    /// trusted for "not revoked" until the next complete load. Either way
    /// the marker is now older than the generation: reload.
    async fn mark(&self, key: String, expires_at: DateTime<Utc>) {
        if !self.redis.is_configured() {
            return;
        }
        let ttl = (expires_at - Utc::now()).num_seconds().max(1);
        let value = self.entry_value(&key);
        let written = self
            .redis
            .run(|mut conn| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&value)
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
        self.reload_in_background();
    }

    /// Copy every live revocation from PostgreSQL into Redis, then set the
    /// `{blacklist}:ready` marker (only if every write succeeded). Run at
    /// start, periodically, and whenever the marker is missing.
    pub async fn load_into_redis(&self) {
        if !self.redis.is_configured() {
            return;
        }
        // Before the rows: the marker then certifies every revocation up
        // to this generation (and perhaps later ones).
        let generation = match self.generation.fresh().await {
            Ok(generation) => generation,
            Err(error) => {
                tracing::warn!(%error, "could not read the revocation generation");
                return;
            }
        };
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
            let value = self.entry_value(&key);
            pipe.cmd("SET")
                .arg(key)
                .arg(value)
                .arg("EX")
                .arg((row.expires_at - now).num_seconds().max(1))
                .ignore();
        }
        pipe.cmd("SET")
            .arg(self.ready_key())
            .arg(self.ready_value(generation))
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
