//! Cache-aside for users, public keys, algorithms and curves, the
//! verification-result cache and the recent-verifications list.
//!
//! Two levels: a small in-process cache (trusted only while this host's
//! invalidation subscription is up, or when there is no Redis at all) in
//! front of Redis (MessagePack values, the seed's key names and TTLs) in
//! front of PostgreSQL. Writers change PostgreSQL first, then delete the
//! Redis entry and publish an invalidation so every host drops its copy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Redis;
use super::events::{Events, Invalidation};
use super::local::LocalCache;
use crate::plugins::{HashAlgorithm, SignatureEncoding, SignatureScheme};
use crate::store::catalog::{AlgorithmRow, CurveRow};
use crate::store::keys::{self, KeyRow};
use crate::store::users::Principal;
use crate::store::verifications::RecordView;
use crate::store::{Store, StoreError};

/// TTLs of the seed.
const USER_TTL: u64 = 15 * 60;
const KEY_TTL: u64 = 60 * 60;
const CATALOGUE_TTL: u64 = 60 * 60;
const RECENT_TTL: u64 = 30 * 60;
/// Entries kept in `verify:recent:{user}`.
pub const RECENT_LEN: usize = 20;
/// Lifetime of an in-process copy: a safety net behind invalidation.
const LOCAL_TTL: Duration = Duration::from_secs(30);

/// Hit and miss counters of one cache.
#[derive(Debug, Default)]
pub struct HitCounter {
    /// Answered from a cache (either level).
    pub hits: AtomicU64,
    /// Fetched from PostgreSQL (or recomputed).
    pub misses: AtomicU64,
}

impl HitCounter {
    fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }
    fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counters per cache, for `/metrics`.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// `cache:user:*`.
    pub user: HitCounter,
    /// `cache:public_key:*`.
    pub public_key: HitCounter,
    /// `cache:curves` and `cache:algorithms`.
    pub catalogue: HitCounter,
    /// `verify:doc:*`.
    pub result: HitCounter,
    /// `verify:recent:*`.
    pub recent: HitCounter,
}

impl CacheStats {
    /// (name, counter) pairs.
    pub fn all(&self) -> [(&'static str, &HitCounter); 5] {
        [
            ("user", &self.user),
            ("public_key", &self.public_key),
            ("catalogue", &self.catalogue),
            ("result", &self.result),
            ("recent", &self.recent),
        ]
    }
}

/// A cached verification result, with what it was computed under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedResult {
    /// The answer.
    pub valid: bool,
    /// The plugin build that answered.
    pub plugin_sha256: String,
    /// The hash that made the digest.
    pub hash: Option<HashAlgorithm>,
    /// The signature encoding.
    pub encoding: SignatureEncoding,
    /// The signature scheme.
    pub scheme: SignatureScheme,
}

/// Everything cached about users, keys, the catalogue and results.
pub struct Caches {
    redis: Redis,
    store: Store,
    events: Events,
    principals: LocalCache<Uuid, Principal>,
    keys: LocalCache<Uuid, KeyRow>,
    curves: LocalCache<(), Arc<Vec<CurveRow>>>,
    algorithms: LocalCache<(), Arc<Vec<AlgorithmRow>>>,
    /// Whether in-process copies may be used (see module doc).
    trust_local: AtomicBool,
    result_ttl: u64,
    stats: CacheStats,
}

fn encode<T: Serialize>(value: &T) -> Option<Vec<u8>> {
    rmp_serde::to_vec_named(value).ok()
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    rmp_serde::from_slice(bytes).ok()
}

/// A struct as Redis hash fields (each value MessagePack).
fn to_fields<T: Serialize>(value: &T) -> Vec<(String, Vec<u8>)> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter_map(|(k, v)| encode(&v).map(|bytes| (k, bytes)))
            .collect(),
        _ => Vec::new(),
    }
}

/// A struct back from Redis hash fields.
fn from_fields<T: DeserializeOwned>(fields: Vec<(String, Vec<u8>)>) -> Option<T> {
    if fields.is_empty() {
        return None;
    }
    let mut object = serde_json::Map::new();
    for (name, bytes) in fields {
        object.insert(name, decode::<serde_json::Value>(&bytes)?);
    }
    serde_json::from_value(serde_json::Value::Object(object)).ok()
}

impl Caches {
    /// Caches over `redis` (possibly disabled) and `store`.
    pub fn new(redis: Redis, store: Store, events: Events, result_ttl_secs: u64) -> Self {
        let trust_local = !redis.is_configured();
        Self {
            redis,
            store,
            events,
            principals: LocalCache::new(10_000, LOCAL_TTL),
            keys: LocalCache::new(50_000, LOCAL_TTL),
            curves: LocalCache::new(1, LOCAL_TTL),
            algorithms: LocalCache::new(1, LOCAL_TTL),
            trust_local: AtomicBool::new(trust_local),
            result_ttl: result_ttl_secs,
            stats: CacheStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    fn local_ok(&self) -> bool {
        self.trust_local.load(Ordering::Acquire)
    }

    /// Drop every in-process copy and (do not) trust them until told.
    pub fn set_local_trust(&self, trusted: bool) {
        self.flush_local();
        self.trust_local
            .store(trusted || !self.redis.is_configured(), Ordering::Release);
    }

    /// Drop every in-process copy.
    pub fn flush_local(&self) {
        self.principals.clear();
        self.keys.clear();
        self.curves.clear();
        self.algorithms.clear();
    }

    /// Apply an invalidation to the in-process level.
    pub fn invalidate_local(&self, what: &Invalidation) {
        match what {
            Invalidation::User(id) => self.principals.remove(id),
            Invalidation::Key(id) => self.keys.remove(id),
            Invalidation::Catalogue => {
                self.curves.clear();
                self.algorithms.clear();
            }
            Invalidation::All => self.flush_local(),
        }
    }

    async fn get_bytes(&self, key: String) -> Option<Vec<u8>> {
        self.redis
            .run(|mut conn| async move {
                redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<Vec<u8>>>(&mut conn)
                    .await
            })
            .await
            .ok()
            .flatten()
    }

    async fn set_bytes(&self, key: String, value: Vec<u8>, ttl: u64) {
        let _ = self
            .redis
            .run(|mut conn| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("EX")
                    .arg(ttl)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
    }

    async fn delete(&self, keys: Vec<String>) {
        let _ = self
            .redis
            .run(|mut conn| async move {
                redis::cmd("DEL")
                    .arg(&keys)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await;
    }

    async fn hash_get_all(&self, key: String) -> Option<Vec<(String, Vec<u8>)>> {
        self.redis
            .run(|mut conn| async move { redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await })
            .await
            .ok()
    }

    async fn hash_set_all(&self, key: String, fields: Vec<(String, Vec<u8>)>, ttl: u64) {
        if fields.is_empty() {
            return;
        }
        let _ = self
            .redis
            .run(|mut conn| async move {
                redis::pipe()
                    .atomic()
                    .cmd("DEL")
                    .arg(&key)
                    .ignore()
                    .cmd("HSET")
                    .arg(&key)
                    .arg(&fields)
                    .ignore()
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(ttl)
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
    }

    // ---- users -------------------------------------------------------

    /// A user with roles and permissions (`cache:user:{id}`, 15 min).
    pub async fn principal(&self, id: Uuid) -> Result<Option<Principal>, StoreError> {
        if self.local_ok()
            && let Some(principal) = self.principals.get(&id) {
                self.stats.user.hit();
                return Ok(Some(principal));
            }
        let key = self.redis.key(&format!("cache:user:{id}"));
        if let Some(principal) = self
            .hash_get_all(key.clone())
            .await
            .and_then(from_fields::<Principal>)
        {
            self.stats.user.hit();
            self.principals.insert(id, principal.clone());
            return Ok(Some(principal));
        }
        self.stats.user.miss();
        let principal = self.store.principal(id).await?;
        if let Some(principal) = &principal {
            self.hash_set_all(key, to_fields(principal), USER_TTL).await;
            self.principals.insert(id, principal.clone());
        }
        Ok(principal)
    }

    /// A user changed: drop every copy, here and on other hosts.
    pub async fn user_changed(&self, id: Uuid) {
        self.principals.remove(&id);
        self.delete(vec![self.redis.key(&format!("cache:user:{id}"))])
            .await;
        self.events.invalidate(Invalidation::User(id)).await;
    }

    // ---- public keys --------------------------------------------------

    /// A key the caller may use: from the caches if one holds it and the
    /// caller owns it (or is an admin), else from PostgreSQL under the
    /// caller's row-level security (`cache:public_key:{id}`, 1 h).
    pub async fn key(
        &self,
        id: Uuid,
        caller: Uuid,
        admin: bool,
    ) -> Result<Option<KeyRow>, StoreError> {
        let visible = |row: KeyRow| (row.user_id == caller || admin).then_some(row);
        if self.local_ok()
            && let Some(row) = self.keys.get(&id) {
                self.stats.public_key.hit();
                return Ok(visible(row));
            }
        let key = self.redis.key(&format!("cache:public_key:{id}"));
        if let Some(row) = self
            .get_bytes(key.clone())
            .await
            .and_then(|b| decode::<KeyRow>(&b))
        {
            self.stats.public_key.hit();
            self.keys.insert(id, row.clone());
            return Ok(visible(row));
        }
        self.stats.public_key.miss();
        let mut tx = self.store.begin_for(caller).await?;
        let row = keys::get(&mut tx, id).await?;
        tx.commit().await?;
        if let Some(row) = &row {
            self.write_key(row).await;
        }
        Ok(row)
    }

    /// Write-through: store a key's current row in both levels.
    pub async fn write_key(&self, row: &KeyRow) {
        if let Some(bytes) = encode(row) {
            self.set_bytes(
                self.redis.key(&format!("cache:public_key:{}", row.id)),
                bytes,
                KEY_TTL,
            )
            .await;
        }
        self.keys.insert(row.id, row.clone());
    }

    /// A key changed (revoked, renamed, deleted): drop every copy.
    pub async fn key_changed(&self, id: Uuid) {
        self.keys.remove(&id);
        self.delete(vec![self.redis.key(&format!("cache:public_key:{id}"))])
            .await;
        self.events.invalidate(Invalidation::Key(id)).await;
    }

    // ---- catalogue ----------------------------------------------------

    /// Every curve (`cache:curves`, a hash by name, 1 h).
    pub async fn curves(&self) -> Result<Arc<Vec<CurveRow>>, StoreError> {
        if self.local_ok()
            && let Some(curves) = self.curves.get(&()) {
                self.stats.catalogue.hit();
                return Ok(curves);
            }
        let key = self.redis.key("cache:curves");
        if let Some(fields) = self
            .hash_get_all(key.clone())
            .await
            .filter(|f| !f.is_empty())
        {
            let curves: Option<Vec<CurveRow>> =
                fields.iter().map(|(_, bytes)| decode(bytes)).collect();
            if let Some(mut curves) = curves {
                self.stats.catalogue.hit();
                curves.sort_by(|a, b| a.name.cmp(&b.name));
                let curves = Arc::new(curves);
                self.curves.insert((), curves.clone());
                return Ok(curves);
            }
        }
        self.stats.catalogue.miss();
        let curves = Arc::new(self.store.curves().await?);
        let fields = curves
            .iter()
            .filter_map(|c| encode(c).map(|bytes| (c.name.clone(), bytes)))
            .collect();
        self.hash_set_all(key, fields, CATALOGUE_TTL).await;
        self.curves.insert((), curves.clone());
        Ok(curves)
    }

    /// Every algorithm (`cache:algorithms`, a hash by name, 1 h).
    pub async fn algorithms(&self) -> Result<Arc<Vec<AlgorithmRow>>, StoreError> {
        if self.local_ok()
            && let Some(algorithms) = self.algorithms.get(&()) {
                self.stats.catalogue.hit();
                return Ok(algorithms);
            }
        let key = self.redis.key("cache:algorithms");
        if let Some(fields) = self
            .hash_get_all(key.clone())
            .await
            .filter(|f| !f.is_empty())
        {
            let algorithms: Option<Vec<AlgorithmRow>> =
                fields.iter().map(|(_, bytes)| decode(bytes)).collect();
            if let Some(mut algorithms) = algorithms {
                self.stats.catalogue.hit();
                algorithms.sort_by(|a, b| a.name.cmp(&b.name));
                let algorithms = Arc::new(algorithms);
                self.algorithms.insert((), algorithms.clone());
                return Ok(algorithms);
            }
        }
        self.stats.catalogue.miss();
        let algorithms = Arc::new(self.store.algorithms().await?);
        let fields = algorithms
            .iter()
            .filter_map(|a| encode(a).map(|bytes| (a.name.clone(), bytes)))
            .collect();
        self.hash_set_all(key, fields, CATALOGUE_TTL).await;
        self.algorithms.insert((), algorithms.clone());
        Ok(algorithms)
    }

    /// The catalogue changed: drop every copy.
    pub async fn catalogue_changed(&self) {
        self.curves.clear();
        self.algorithms.clear();
        self.delete(vec![
            self.redis.key("cache:curves"),
            self.redis.key("cache:algorithms"),
        ])
        .await;
        self.events.invalidate(Invalidation::Catalogue).await;
    }

    // ---- verification results ------------------------------------------

    /// `verify:doc:{document_hash}:key:{key}:sig:{sha256(signature)}`: the
    /// key binds the signature, so a cached answer is only ever reused for
    /// the very same signature.
    pub fn result_key(&self, document_hash: &str, key: Uuid, signature: &[u8]) -> String {
        use sha2::Digest as _;
        let sig = hex::encode(sha2::Sha256::digest(signature));
        self.redis
            .key(&format!("verify:doc:{document_hash}:key:{key}:sig:{sig}"))
    }

    /// Whether results are cached at all.
    pub fn results_enabled(&self) -> bool {
        self.result_ttl > 0 && self.redis.is_configured()
    }

    /// Cached answers for several result keys (one round trip).
    pub async fn results(&self, keys: Vec<String>) -> Vec<Option<CachedResult>> {
        if keys.is_empty() || !self.results_enabled() {
            return vec![None; keys.len()];
        }
        let count = keys.len();
        let answers: Vec<Option<Vec<u8>>> =
            self.redis
                .run(|mut conn| async move {
                    redis::cmd("MGET").arg(&keys).query_async(&mut conn).await
                })
                .await
                .unwrap_or_else(|_| vec![None; count]);
        answers
            .into_iter()
            .map(|bytes| bytes.and_then(|b| decode(&b)))
            .collect()
    }

    /// Count a result-cache lookup.
    pub fn count_result(&self, hit: bool) {
        if hit {
            self.stats.result.hit()
        } else {
            self.stats.result.miss()
        }
    }

    /// Store answers (one round trip).
    pub async fn store_results(&self, entries: Vec<(String, CachedResult)>) {
        if entries.is_empty() || !self.results_enabled() {
            return;
        }
        let ttl = self.result_ttl;
        let _ = self
            .redis
            .run(|mut conn| async move {
                let mut pipe = redis::pipe();
                for (key, result) in &entries {
                    if let Some(bytes) = encode(result) {
                        pipe.cmd("SET")
                            .arg(key)
                            .arg(bytes)
                            .arg("EX")
                            .arg(ttl)
                            .ignore();
                    }
                }
                pipe.query_async::<()>(&mut conn).await
            })
            .await;
    }

    // ---- recent verifications --------------------------------------------

    /// Push newly recorded verifications onto `verify:recent:{user}` (kept
    /// to the last 20, 30 min).
    pub async fn push_recent(&self, user: Uuid, records: &[RecordView]) {
        if records.is_empty() {
            return;
        }
        let key = self.redis.key(&format!("verify:recent:{user}"));
        let values: Vec<Vec<u8>> = records
            .iter()
            .rev()
            .take(RECENT_LEN)
            .rev()
            .filter_map(encode)
            .collect();
        let _ = self
            .redis
            .run(|mut conn| async move {
                redis::pipe()
                    .cmd("LPUSH")
                    .arg(&key)
                    .arg(&values)
                    .ignore()
                    .cmd("LTRIM")
                    .arg(&key)
                    .arg(0)
                    .arg(RECENT_LEN - 1)
                    .ignore()
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(RECENT_TTL)
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
    }

    /// The last verifications of `user`, newest first, if Redis has them.
    pub async fn recent(&self, user: Uuid) -> Option<Vec<RecordView>> {
        let key = self.redis.key(&format!("verify:recent:{user}"));
        let values: Vec<Vec<u8>> = self
            .redis
            .run(|mut conn| async move {
                redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(RECENT_LEN - 1)
                    .query_async(&mut conn)
                    .await
            })
            .await
            .ok()?;
        if values.is_empty() {
            self.stats.recent.miss();
            return None;
        }
        self.stats.recent.hit();
        values.iter().map(|v| decode(v)).collect()
    }
}
