//! Cache-aside for users, public keys, algorithms and curves, the
//! verification-result cache and the recent-verifications list.
//!
//! Two levels: a small in-process cache (trusted only while this host's
//! invalidation subscription is up, or when there is no Redis at all) in
//! front of Redis (MessagePack values, the seed's key names and TTLs) in
//! front of PostgreSQL.
//!
//! Integrity: every value Sigil writes to Redis is sealed with an HMAC
//! (key `cache_mac`, a deployment secret kept in PostgreSQL, itself sealed
//! there with `auth.signing_key_secret`) over the Redis key, the field and
//! the value; an entry that does not open is a miss. Whoever can write to
//! Redis can make Sigil miss, never make it believe. User and public-key
//! entries also bind the generation of their kind (`super::integrity`):
//! an entry captured before a revocation, a suspension or a role change
//! and written back after it does not open.
//!
//! Invalidation: writers change PostgreSQL first, then replace the Redis
//! entry by a short-lived tombstone and publish an invalidation so every
//! host drops its copy. Fills happen only where no tombstone stands (one
//! Lua script), and an in-process fill is dropped if an invalidation
//! arrived while it was being read, so a reader that fetched a row just
//! before a change cannot put the old row back. Invalidations that cannot
//! reach Redis are retried until they do.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{KeyInit, Mac};

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::Redis;
use super::events::{Events, Invalidation};
use super::integrity::{Generation, bound};
use super::local::LocalCache;
use crate::metrics::Sample;
use crate::plugins::{HashAlgorithm, SignatureEncoding, SignatureScheme};
use crate::store::catalog::{AlgorithmRow, CurveRow};
use crate::store::integrity::GenerationOf;
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
/// How long a tombstone keeps a changed entry from being refilled.
const TOMBSTONE_TTL: u64 = 30;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;
/// Bytes of the seal appended to every value.
const SEAL_LEN: usize = 32;

/// Fill a string entry unless a tombstone stands.
const FILL_STRING: &str = r"
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 0
";

/// Replace a hash entry unless a tombstone stands (ARGV: ttl, field, value, ...).
const FILL_HASH: &str = r"
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1])
  for i = 2, #ARGV, 2 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return 0
";

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
    /// `cache:user:{<id>}`.
    pub user: HitCounter,
    /// `cache:public_key:{<id>}`.
    pub public_key: HitCounter,
    /// `cache:{curves}` and `cache:{algorithms}`.
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

    /// Hits, then misses, per cache (for `/metrics`).
    pub fn samples(&self) -> impl Iterator<Item = Sample> + '_ {
        let hits = self.all().into_iter().map(|(name, counter)| {
            let help = "Cache hits (in-process or Redis), by cache.";
            let hits = counter.hits.load(Ordering::Relaxed) as f64;
            Sample::counter("sigil_cache_hits_total", help, hits).label("cache", name)
        });
        let misses = self.all().into_iter().map(|(name, counter)| {
            let help = "Cache misses (answered by PostgreSQL or a plugin), by cache.";
            let misses = counter.misses.load(Ordering::Relaxed) as f64;
            Sample::counter("sigil_cache_misses_total", help, misses).label("cache", name)
        });
        hits.chain(misses)
    }
}

/// A cached verification result, with what it was computed under.
/// Stored compactly (see [`CachedResult::to_bytes`]): results are the one
/// Redis entry written per distinct verification.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// What the plugin recovered of the signer (an Ethereum address).
    pub recovered: Option<String>,
}

impl CachedResult {
    /// `valid` (one byte `0`/`1`), the plugin build's SHA-256 (32 raw
    /// bytes), then `hash|encoding|scheme` by their API names (`-` for no
    /// hash), then `|recovered` where there is one: about 55 bytes where
    /// named MessagePack took about 135. Names, not indexes, so hosts of
    /// different builds read each other's entries. (`recovered` never holds
    /// `|`: see `Verdict::from_wit`.)
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        let sha = hex::decode(&self.plugin_sha256).ok()?;
        let hash = self.hash.map_or("-", HashAlgorithm::as_str);
        let mut bytes = Vec::with_capacity(1 + sha.len() + 24);
        bytes.push(u8::from(self.valid));
        bytes.extend_from_slice(&sha);
        let mut names = format!("{hash}|{}|{}", self.encoding, self.scheme);
        if let Some(recovered) = &self.recovered {
            names.push('|');
            names.push_str(recovered);
        }
        bytes.extend_from_slice(names.as_bytes());
        Some(bytes)
    }

    /// The inverse of [`CachedResult::to_bytes`]; `None` for anything else
    /// (an entry of an older format is a miss).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&valid, rest) = bytes.split_first()?;
        let valid = match valid {
            0 => false,
            1 => true,
            _ => return None,
        };
        let (sha, names) = (rest.get(..32)?, rest.get(32..)?);
        let mut names = std::str::from_utf8(names).ok()?.split('|');
        let hash = match names.next()? {
            "-" => None,
            name => Some(name.parse().ok()?),
        };
        let encoding = names.next()?.parse().ok()?;
        let scheme = names.next()?.parse().ok()?;
        let recovered = names.next().map(str::to_owned);
        // What a plugin may answer, checked again on the way back: the
        // entry is sealed, this is defence in depth.
        let recovered_ok = recovered
            .as_deref()
            .is_none_or(crate::plugins::Verdict::recovered_is_valid);
        if names.next().is_some() || !recovered_ok {
            return None;
        }
        Some(CachedResult {
            valid,
            plugin_sha256: hex::encode(sha),
            hash,
            encoding,
            scheme,
            recovered,
        })
    }
}

/// Everything cached about users, keys, the catalogue and results.
pub struct Caches {
    redis: Redis,
    /// Where verification results live: `redis.result_cache_url`, the one
    /// instance allowed to evict, or `redis` itself.
    results: Redis,
    store: Store,
    events: Events,
    principals: LocalCache<Uuid, Principal>,
    keys: LocalCache<Uuid, KeyRow>,
    curves: LocalCache<(), Arc<Vec<CurveRow>>>,
    algorithms: LocalCache<(), Arc<Vec<AlgorithmRow>>>,
    /// Whether in-process copies may be used (see module doc).
    trust_local: AtomicBool,
    /// Bumped by every invalidation; an in-process fill that saw another
    /// value is dropped.
    generation: AtomicU64,
    /// Invalidations not yet written to Redis.
    unwritten: Mutex<Vec<Invalidation>>,
    seal_key: Vec<u8>,
    /// Generation user entries bind.
    user_generation: Generation,
    /// Generation public-key entries bind.
    key_generation: Generation,
    fill_string: redis::Script,
    fill_hash: redis::Script,
    result_ttl: u64,
    stats: CacheStats,
}

fn encode<T: Serialize>(value: &T) -> Option<Vec<u8>> {
    rmp_serde::to_vec_named(value).ok()
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    rmp_serde::from_slice(bytes).ok()
}

/// The hash field naming the generation a hash entry's fields are sealed
/// under (in the clear: the seals bind it; a stale entry is a quiet miss).
const GENERATION_FIELD: &str = "\0generation";

/// Remove and read the generation field of a hash entry.
fn take_generation(fields: &mut Vec<(String, Vec<u8>)>) -> Option<i64> {
    let at = fields
        .iter()
        .position(|(name, _)| name == GENERATION_FIELD)?;
    let (_, value) = fields.swap_remove(at);
    std::str::from_utf8(&value).ok()?.parse().ok()
}

/// A struct as Redis hash fields (each value MessagePack).
fn to_fields<T: Serialize>(value: &T) -> Vec<(String, serde_json::Value)> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().collect(),
        _ => Vec::new(),
    }
}

impl Caches {
    /// Caches over `redis` (possibly disabled) and `store`.
    /// `seal_key` authenticates Redis values (the `cache_mac` deployment
    /// secret).
    pub fn new(
        redis: Redis,
        results: Redis,
        store: Store,
        events: Events,
        result_ttl_secs: u64,
        seal_key: Vec<u8>,
    ) -> Self {
        let trust_local = !redis.is_configured();
        let user_generation = Generation::new(GenerationOf::User, store.clone());
        let key_generation = Generation::new(GenerationOf::PublicKey, store.clone());
        Self {
            redis,
            results,
            store,
            events,
            principals: LocalCache::new(10_000, LOCAL_TTL),
            keys: LocalCache::new(50_000, LOCAL_TTL),
            curves: LocalCache::new(1, LOCAL_TTL),
            algorithms: LocalCache::new(1, LOCAL_TTL),
            trust_local: AtomicBool::new(trust_local),
            generation: AtomicU64::new(0),
            unwritten: Mutex::new(Vec::new()),
            seal_key,
            user_generation,
            key_generation,
            fill_string: redis::Script::new(FILL_STRING),
            fill_hash: redis::Script::new(FILL_HASH),
            result_ttl: result_ttl_secs,
            stats: CacheStats::default(),
        }
    }

    /// The seal of `value` stored at `key` (and `field` of a hash).
    fn mac(&self, key: &str, field: &str, value: &[u8]) -> Option<HmacSha256> {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.seal_key).ok()?;
        for part in [key.as_bytes(), field.as_bytes(), value] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        Some(mac)
    }

    /// `value` followed by its seal.
    fn seal(&self, key: &str, field: &str, mut value: Vec<u8>) -> Option<Vec<u8>> {
        let tag = self.mac(key, field, &value)?.finalize().into_bytes();
        value.extend_from_slice(&tag);
        Some(value)
    }

    /// The value of a sealed entry, if its seal holds.
    fn open<'a>(&self, key: &str, field: &str, sealed: &'a [u8]) -> Option<&'a [u8]> {
        let split = sealed.len().checked_sub(SEAL_LEN)?;
        let (value, tag) = sealed.split_at(split);
        match self.mac(key, field, value)?.verify_slice(tag) {
            Ok(()) => Some(value),
            Err(_) => {
                tracing::warn!(
                    key,
                    "a Redis cache entry failed its integrity check; ignored"
                );
                None
            }
        }
    }

    fn seal_value<T: Serialize>(&self, key: &str, field: &str, value: &T) -> Option<Vec<u8>> {
        self.seal(key, field, encode(value)?)
    }

    fn open_value<T: DeserializeOwned>(&self, key: &str, field: &str, sealed: &[u8]) -> Option<T> {
        decode(self.open(key, field, sealed)?)
    }

    /// `value` sealed under `generation`, which prefixes it in the clear
    /// (8 bytes, big-endian) so that an entry from another generation is
    /// told from a damaged one: the first is a quiet miss, the second is
    /// logged.
    fn seal_bound<T: Serialize>(&self, key: &str, generation: i64, value: &T) -> Option<Vec<u8>> {
        let sealed = self.seal_value(&bound(key, generation), "", value)?;
        Some([generation.to_be_bytes().as_slice(), &sealed].concat())
    }

    /// The value of an entry sealed under `generation` (see
    /// [`Caches::seal_bound`]).
    fn open_bound<T: DeserializeOwned>(
        &self,
        key: &str,
        generation: i64,
        stored: &[u8],
    ) -> Option<T> {
        let (written, sealed) = stored.split_at_checked(8)?;
        if written != generation.to_be_bytes() {
            return None;
        }
        self.open_value(&bound(key, generation), "", sealed)
    }

    /// A struct as sealed hash fields.
    fn seal_fields<T: Serialize>(&self, key: &str, value: &T) -> Vec<(String, Vec<u8>)> {
        to_fields(value)
            .into_iter()
            .filter_map(|(field, v)| {
                self.seal_value(key, &field, &v)
                    .map(|sealed| (field, sealed))
            })
            .collect()
    }

    /// A struct back from sealed hash fields (every field must open).
    fn open_fields<T: DeserializeOwned>(
        &self,
        key: &str,
        fields: Vec<(String, Vec<u8>)>,
    ) -> Option<T> {
        if fields.is_empty() {
            return None;
        }
        let mut object = serde_json::Map::new();
        for (field, sealed) in fields {
            let value: serde_json::Value = self.open_value(key, &field, &sealed)?;
            object.insert(field, value);
        }
        serde_json::from_value(serde_json::Value::Object(object)).ok()
    }

    /// The invalidation generation before a read from PostgreSQL.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether nothing was invalidated since `seen`.
    fn unchanged_since(&self, seen: u64) -> bool {
        self.generation.load(Ordering::Acquire) == seen
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
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.user_generation.forget();
        self.key_generation.forget();
        self.principals.clear();
        self.keys.clear();
        self.curves.clear();
        self.algorithms.clear();
    }

    /// Apply an invalidation to the in-process level.
    pub fn invalidate_local(&self, what: &Invalidation) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        match what {
            Invalidation::User(id) => {
                self.user_generation.forget();
                self.principals.remove(id);
            }
            Invalidation::Key(id) => {
                self.key_generation.forget();
                self.keys.remove(id);
            }
            Invalidation::Catalogue => {
                self.curves.clear();
                self.algorithms.clear();
            }
            Invalidation::All => self.flush_local(),
        }
    }

    async fn hash_get_all(&self, key: String) -> Option<Vec<(String, Vec<u8>)>> {
        self.redis
            .run(|mut conn| async move { redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await })
            .await
            .ok()
    }

    /// Fill a string entry (sealed) unless it was just invalidated.
    async fn fill_string(&self, key: String, sealed: Vec<u8>, ttl: u64) {
        let tomb = format!("{key}:tomb");
        let script = &self.fill_string;
        let _ = self
            .redis
            .run(|mut conn| async move {
                script
                    .key(&key)
                    .key(&tomb)
                    .arg(sealed)
                    .arg(ttl)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await;
    }

    /// Replace a hash entry (sealed fields) unless it was just invalidated.
    async fn fill_hash(&self, key: String, fields: Vec<(String, Vec<u8>)>, ttl: u64) {
        if fields.is_empty() {
            return;
        }
        let tomb = format!("{key}:tomb");
        let script = &self.fill_hash;
        let _ = self
            .redis
            .run(|mut conn| async move {
                let mut invocation = script.key(&key);
                invocation.key(&tomb).arg(ttl);
                for (field, value) in &fields {
                    invocation.arg(field).arg(value);
                }
                invocation.invoke_async::<i64>(&mut conn).await
            })
            .await;
    }

    /// The Redis keys an invalidation replaces by tombstones.
    fn redis_keys(&self, what: &Invalidation) -> Vec<String> {
        match what {
            Invalidation::User(id) => vec![self.redis.key(&format!("cache:user:{{{id}}}"))],
            Invalidation::Key(id) => vec![self.redis.key(&format!("cache:public_key:{{{id}}}"))],
            Invalidation::Catalogue | Invalidation::All => {
                vec![
                    self.redis.key("cache:{curves}"),
                    self.redis.key("cache:{algorithms}"),
                ]
            }
        }
    }

    /// Drop a changed entry everywhere: here, in Redis (a tombstone keeps
    /// it from being refilled with what a reader fetched before the
    /// change), and on every other host.
    async fn invalidate(&self, what: Invalidation) {
        self.invalidate_local(&what);
        if self.redis.is_configured()
            && !self.tombstone(&what).await
            && let Ok(mut unwritten) = self.unwritten.lock()
        {
            unwritten.push(what.clone());
        }
        self.events.invalidate(what).await;
    }

    /// One pipeline per entry: an entry and its tombstone share a hash tag
    /// (`cache:user:{<id>}` and `cache:user:{<id>}:tomb`), two entries
    /// need not, and a cluster runs a pipeline in one slot only.
    async fn tombstone(&self, what: &Invalidation) -> bool {
        let mut written = true;
        for key in self.redis_keys(what) {
            written &= self
                .redis
                .run(|mut conn| async move {
                    redis::pipe()
                        .cmd("SET")
                        .arg(format!("{key}:tomb"))
                        .arg(1)
                        .arg("EX")
                        .arg(TOMBSTONE_TTL)
                        .ignore()
                        .cmd("DEL")
                        .arg(&key)
                        .ignore()
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await
                .is_ok();
        }
        written
    }

    /// Write invalidations that could not reach Redis (called periodically
    /// and when Redis comes back).
    pub async fn retry_unwritten(&self) {
        let pending: Vec<Invalidation> = match self.unwritten.lock() {
            Ok(mut unwritten) => std::mem::take(&mut *unwritten),
            Err(_) => return,
        };
        for what in pending {
            if !self.tombstone(&what).await {
                if let Ok(mut unwritten) = self.unwritten.lock() {
                    unwritten.push(what);
                }
            } else {
                self.events.invalidate(what).await;
            }
        }
    }

    // ---- users -------------------------------------------------------

    /// A user with roles and permissions (`cache:user:{<id>}`, 15 min).
    pub async fn principal(&self, id: Uuid) -> Result<Option<Principal>, StoreError> {
        if self.local_ok()
            && let Some(principal) = self.principals.get(&id)
        {
            self.stats.user.hit();
            return Ok(Some(principal));
        }
        let key = self.redis.key(&format!("cache:user:{{{id}}}"));
        // Read before the row, so a fill never seals an older row under a
        // newer generation; unknown (PostgreSQL unreachable): no Redis.
        let generation = if self.redis.is_configured() {
            self.user_generation.current().await.ok()
        } else {
            None
        };
        if let Some(generation) = generation
            && let Some(mut fields) = self.hash_get_all(key.clone()).await
            && take_generation(&mut fields) == Some(generation)
            && let Some(principal) = self.open_fields::<Principal>(&bound(&key, generation), fields)
        {
            self.stats.user.hit();
            self.principals.insert(id, principal.clone());
            return Ok(Some(principal));
        }
        self.stats.user.miss();
        let seen = self.generation();
        let principal = self.store.principal(id).await?;
        if let Some(principal) = &principal {
            if let Some(generation) = generation {
                let mut fields = self.seal_fields(&bound(&key, generation), principal);
                if !fields.is_empty() {
                    fields.push((
                        GENERATION_FIELD.to_owned(),
                        generation.to_string().into_bytes(),
                    ));
                }
                self.fill_hash(key.clone(), fields, USER_TTL).await;
            }
            if self.unchanged_since(seen) {
                self.principals.insert(id, principal.clone());
            }
        }
        Ok(principal)
    }

    /// A user changed: drop every copy, here and on other hosts.
    pub async fn user_changed(&self, id: Uuid) {
        self.invalidate(Invalidation::User(id)).await;
    }

    // ---- public keys --------------------------------------------------

    /// A key the caller may use: from the caches if one holds it and the
    /// caller owns it (or is an admin), else from PostgreSQL under the
    /// caller's row-level security (`cache:public_key:{<id>}`, 1 h).
    pub async fn key(
        &self,
        id: Uuid,
        caller: Uuid,
        admin: bool,
    ) -> Result<Option<KeyRow>, StoreError> {
        Ok(self.keys(&[id], caller, admin).await?.pop())
    }

    /// Several keys at once (a batch): in-process copies, then one `MGET`,
    /// then one query for the rest. Keys the caller may not use are absent.
    pub async fn keys(
        &self,
        ids: &[Uuid],
        caller: Uuid,
        admin: bool,
    ) -> Result<Vec<KeyRow>, StoreError> {
        let visible = |row: &KeyRow| row.user_id == caller || admin;
        let mut found: Vec<KeyRow> = Vec::with_capacity(ids.len());
        let mut missing: Vec<Uuid> = Vec::new();
        for id in ids {
            match self.local_ok().then(|| self.keys.get(id)).flatten() {
                Some(row) => {
                    self.stats.public_key.hit();
                    found.push(row);
                }
                None => missing.push(*id),
            }
        }
        // Read before the rows (see `principal`).
        let generation = if missing.is_empty() || !self.redis.is_configured() {
            None
        } else {
            self.key_generation.current().await.ok()
        };
        if !missing.is_empty()
            && let Some(generation) = generation
        {
            let redis_keys: Vec<String> = missing
                .iter()
                .map(|id| self.redis.key(&format!("cache:public_key:{{{id}}}")))
                .collect();
            let count = redis_keys.len();
            let query = redis_keys.clone();
            let values: Vec<Option<Vec<u8>>> = self
                .redis
                .run(|mut conn| async move {
                    redis::cmd("MGET").arg(&query).query_async(&mut conn).await
                })
                .await
                .unwrap_or_else(|_| vec![None; count]);
            let mut still = Vec::new();
            for ((id, key), value) in missing.into_iter().zip(redis_keys).zip(values) {
                match value.and_then(|stored| self.open_bound::<KeyRow>(&key, generation, &stored))
                {
                    Some(row) if row.id == id => {
                        self.stats.public_key.hit();
                        self.keys.insert(id, row.clone());
                        found.push(row);
                    }
                    _ => still.push(id),
                }
            }
            missing = still;
        }
        if !missing.is_empty() {
            for _ in &missing {
                self.stats.public_key.miss();
            }
            let seen = self.generation();
            let mut tx = self.store.begin_for(caller).await?;
            let rows = keys::get_many(&mut tx, &missing).await?;
            tx.commit().await?;
            for row in rows {
                let key = self.redis.key(&format!("cache:public_key:{{{}}}", row.id));
                if let Some(generation) = generation
                    && let Some(sealed) = self.seal_bound(&key, generation, &row)
                {
                    self.fill_string(key, sealed, KEY_TTL).await;
                }
                if self.unchanged_since(seen) {
                    self.keys.insert(row.id, row.clone());
                }
                found.push(row);
            }
        }
        found.retain(visible);
        Ok(found)
    }

    /// Write-through: store a new key's row in both levels.
    pub async fn write_key(&self, row: &KeyRow) {
        let key = self.redis.key(&format!("cache:public_key:{{{}}}", row.id));
        if self.redis.is_configured()
            && let Ok(generation) = self.key_generation.current().await
            && let Some(sealed) = self.seal_bound(&key, generation, row)
        {
            self.fill_string(key, sealed, KEY_TTL).await;
        }
        self.keys.insert(row.id, row.clone());
    }

    /// A key changed (revoked, renamed, deleted): the Redis copy is
    /// tombstoned and every host drops its in-process copy when the event
    /// arrives (in-process copies are trusted only while the event stream
    /// is up), so a revoked key is refused at once here and within moments
    /// everywhere. Cached results need no purge: a result is used only
    /// after its key has been found active.
    pub async fn key_changed(&self, id: Uuid) {
        self.invalidate(Invalidation::Key(id)).await;
    }

    // ---- catalogue ----------------------------------------------------

    /// A catalogue list from a Redis hash of sealed rows by name.
    async fn catalogue<T, F, Fut>(
        &self,
        name: &str,
        local: &LocalCache<(), Arc<Vec<T>>>,
        load: F,
    ) -> Result<Arc<Vec<T>>, StoreError>
    where
        T: Serialize + DeserializeOwned + Clone,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<T>, StoreError>>,
    {
        if self.local_ok()
            && let Some(rows) = local.get(&())
        {
            self.stats.catalogue.hit();
            return Ok(rows);
        }
        let key = self.redis.key(name);
        if let Some(fields) = self
            .hash_get_all(key.clone())
            .await
            .filter(|f| !f.is_empty())
        {
            let rows: Option<Vec<(String, T)>> = fields
                .iter()
                .map(|(field, sealed)| {
                    self.open_value(&key, field, sealed)
                        .map(|row| (field.clone(), row))
                })
                .collect();
            if let Some(mut rows) = rows {
                self.stats.catalogue.hit();
                rows.sort_by(|a, b| a.0.cmp(&b.0));
                let rows = Arc::new(rows.into_iter().map(|(_, row)| row).collect::<Vec<T>>());
                local.insert((), rows.clone());
                return Ok(rows);
            }
        }
        self.stats.catalogue.miss();
        let seen = self.generation();
        let rows = load().await?;
        let named: Vec<(String, serde_json::Value)> = rows
            .iter()
            .filter_map(|row| {
                let value = serde_json::to_value(row).ok()?;
                Some((value["name"].as_str()?.to_owned(), value))
            })
            .collect();
        let fields = named
            .into_iter()
            .filter_map(|(field, value)| {
                let typed: T = serde_json::from_value(value).ok()?;
                self.seal_value(&key, &field, &typed)
                    .map(|sealed| (field, sealed))
            })
            .collect();
        self.fill_hash(key, fields, CATALOGUE_TTL).await;
        let rows = Arc::new(rows);
        if self.unchanged_since(seen) {
            local.insert((), rows.clone());
        }
        Ok(rows)
    }

    /// Every curve (`cache:{curves}`, a hash by name, 1 h).
    pub async fn curves(&self) -> Result<Arc<Vec<CurveRow>>, StoreError> {
        self.catalogue("cache:{curves}", &self.curves, || self.store.curves())
            .await
    }

    /// Every algorithm (`cache:{algorithms}`, a hash by name, 1 h).
    pub async fn algorithms(&self) -> Result<Arc<Vec<AlgorithmRow>>, StoreError> {
        self.catalogue("cache:{algorithms}", &self.algorithms, || {
            self.store.algorithms()
        })
        .await
    }

    /// The catalogue changed: drop every copy.
    pub async fn catalogue_changed(&self) {
        self.invalidate(Invalidation::Catalogue).await;
    }

    // ---- verification results ------------------------------------------

    /// `verify:doc:{document_hash}:key:{key}:sig:{sha256(signature)}`: the
    /// key binds the signature, so a cached answer is only ever reused for
    /// the very same signature.
    pub fn result_key(
        &self,
        document_hash: &str,
        key: Uuid,
        signature: &[u8],
        context: &[u8],
    ) -> String {
        use sha2::Digest as _;
        let sig = hex::encode(sha2::Sha256::digest(signature));
        // A context string is part of what was signed: it binds the entry
        // as the signature does (and leaves context-free keys as they were).
        if context.is_empty() {
            self.results
                .key(&format!("verify:doc:{document_hash}:key:{key}:sig:{sig}"))
        } else {
            let ctx = hex::encode(sha2::Sha256::digest(context));
            self.results.key(&format!(
                "verify:doc:{document_hash}:key:{key}:sig:{sig}:ctx:{ctx}"
            ))
        }
    }

    /// Whether results are cached at all.
    pub fn results_enabled(&self) -> bool {
        self.result_ttl > 0 && self.results.is_configured()
    }

    /// Whether results live in a Redis of their own (`redis.result_cache_url`).
    pub fn results_apart(&self) -> bool {
        self.results.is_configured() && !self.results.same_as(&self.redis)
    }

    /// The result cache's Redis (for `/metrics` and tests).
    pub fn result_redis(&self) -> &Redis {
        &self.results
    }

    /// Cached answers for several result keys (one round trip).
    pub async fn results(&self, keys: Vec<String>) -> Vec<Option<CachedResult>> {
        if keys.is_empty() || !self.results_enabled() {
            return vec![None; keys.len()];
        }
        let count = keys.len();
        let query = keys.clone();
        let answers: Vec<Option<Vec<u8>>> =
            self.results
                .run(|mut conn| async move {
                    redis::cmd("MGET").arg(&query).query_async(&mut conn).await
                })
                .await
                .unwrap_or_else(|_| vec![None; count]);
        keys.iter()
            .zip(answers)
            .map(|(key, sealed)| {
                let value = self.open(key, "", sealed.as_deref()?)?;
                CachedResult::from_bytes(value)
            })
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
        let sealed: Vec<(String, Vec<u8>)> = entries
            .iter()
            .filter_map(|(key, result)| {
                self.seal(key, "", result.to_bytes()?)
                    .map(|value| (key.clone(), value))
            })
            .collect();
        // A cluster spreads the entries over slots: there they go as
        // separate commands on the one multiplexed connection.
        let apart = self.results.is_cluster();
        let _ = self
            .results
            .run(|mut conn| async move {
                let mut pipe = redis::pipe();
                let mut each = Vec::new();
                for (key, value) in &sealed {
                    let mut set = redis::cmd("SET");
                    set.arg(key).arg(value).arg("EX").arg(ttl);
                    if apart {
                        each.push(set);
                    } else {
                        pipe.add_command(set).ignore();
                    }
                }
                if apart {
                    let sets = each.iter().map(|set| {
                        let mut conn = conn.clone();
                        async move { set.query_async::<()>(&mut conn).await }
                    });
                    futures::future::try_join_all(sets).await.map(|_| ())
                } else {
                    pipe.query_async::<()>(&mut conn).await
                }
            })
            .await;
    }

    // ---- recent verifications --------------------------------------------

    /// Push newly recorded verifications onto `verify:recent:{user}` (the
    /// last 20, 30 min). Only an existing list is extended (`LPUSHX`): a
    /// list is built whole from PostgreSQL by [`Caches::recent`], so it is
    /// never a partial history.
    pub async fn push_recent(&self, user: Uuid, records: &[RecordView]) {
        if records.is_empty() || !self.redis.is_configured() {
            return;
        }
        let key = self.redis.key(&format!("verify:recent:{user}"));
        let values: Vec<Vec<u8>> = records
            .iter()
            .rev()
            .take(RECENT_LEN)
            .rev()
            .filter_map(|record| self.seal_value(&key, "", record))
            .collect();
        let _ = self
            .redis
            .run(|mut conn| async move {
                redis::pipe()
                    .cmd("LPUSHX")
                    .arg(&key)
                    .arg(&values)
                    .ignore()
                    .cmd("LTRIM")
                    .arg(&key)
                    .arg(0)
                    .arg(RECENT_LEN - 1)
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
    }

    /// The last verifications of `user`, newest first, from Redis if it has
    /// the list, else from `load` (PostgreSQL), which then seeds the list.
    pub async fn recent<F, Fut>(&self, user: Uuid, load: F) -> Result<Vec<RecordView>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<RecordView>, StoreError>>,
    {
        let key = self.redis.key(&format!("verify:recent:{user}"));
        if self.redis.is_configured() {
            let query = key.clone();
            let values: Option<Vec<Vec<u8>>> = self
                .redis
                .run(|mut conn| async move {
                    redis::cmd("LRANGE")
                        .arg(&query)
                        .arg(0)
                        .arg(RECENT_LEN - 1)
                        .query_async(&mut conn)
                        .await
                })
                .await
                .ok();
            if let Some(values) = values.filter(|v| !v.is_empty()) {
                let records: Option<Vec<RecordView>> = values
                    .iter()
                    .map(|v| self.open_value(&key, "", v))
                    .collect();
                if let Some(records) = records {
                    self.stats.recent.hit();
                    return Ok(records);
                }
            }
        }
        self.stats.recent.miss();
        let records = load().await?;
        if self.redis.is_configured() && !records.is_empty() {
            // Oldest first, so the newest ends at the head.
            let values: Vec<Vec<u8>> = records
                .iter()
                .rev()
                .filter_map(|r| self.seal_value(&key, "", r))
                .collect();
            let _ = self
                .redis
                .run(|mut conn| async move {
                    redis::pipe()
                        .atomic()
                        .cmd("DEL")
                        .arg(&key)
                        .ignore()
                        .cmd("LPUSH")
                        .arg(&key)
                        .arg(&values)
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
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip_compactly_and_anything_else_is_a_miss() {
        let sha = hex::encode([7u8; 32]);
        for hash in std::iter::once(None).chain(HashAlgorithm::ALL.iter().copied().map(Some)) {
            for &encoding in SignatureEncoding::ALL {
                for &scheme in SignatureScheme::ALL {
                    for valid in [true, false] {
                        let result = CachedResult {
                            valid,
                            plugin_sha256: sha.clone(),
                            hash,
                            encoding,
                            scheme,
                            recovered: None,
                        };
                        let bytes = result.to_bytes().expect("encodes");
                        assert!(bytes.len() <= 64, "{} bytes", bytes.len());
                        assert_eq!(CachedResult::from_bytes(&bytes), Some(result.clone()));
                        let address = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
                        let recovering = CachedResult {
                            recovered: Some(address.into()),
                            ..result
                        };
                        let bytes = recovering.to_bytes().expect("encodes");
                        assert_eq!(CachedResult::from_bytes(&bytes), Some(recovering));
                    }
                }
            }
        }
        let named = rmp_serde::to_vec_named(&serde_json::json!({"valid": true})).expect("msgpack");
        assert_eq!(CachedResult::from_bytes(&named), None, "older format");
        assert_eq!(CachedResult::from_bytes(&[1; 33]), None, "truncated");
        let mut extra = CachedResult {
            valid: true,
            plugin_sha256: sha,
            hash: None,
            encoding: SignatureEncoding::ALL[0],
            scheme: SignatureScheme::ALL[0],
            recovered: None,
        }
        .to_bytes()
        .expect("encodes");
        extra.extend_from_slice(b"|");
        assert_eq!(CachedResult::from_bytes(&extra), None, "empty recovered");
        extra.extend_from_slice(b"0xab|more");
        assert_eq!(CachedResult::from_bytes(&extra), None, "trailing field");
    }
}
