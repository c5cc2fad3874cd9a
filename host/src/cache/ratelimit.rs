//! The counting behind `http::ratelimit`, atomic in Redis, with in-process
//! state of the same shape as the fallback while Redis is unavailable:
//!
//! - sliding windows ([`RateLimiter::check_all`]): one Lua script checks
//!   every limit of an action and charges it (its cost: one request, or a
//!   batch's items) against all of them only if all allow it. The window is
//!   the sliding-window counter: the current fixed window's count plus the
//!   previous window's, weighted by how much of it still overlaps the
//!   sliding window. Keys: `{prefix}ratelimit:{<scope>:<id>}:<n>`, `n` the
//!   fixed window's index, the braces a hash tag that keeps a limit's two
//!   windows in one slot of a Redis Cluster;
//! - lockouts that grow ([`RateLimiter::attempt`]): a number of free
//!   attempts, then each attempt locks the key for twice as long as the one
//!   before (`{prefix}throttle:{id}`), forgotten a window after the last
//!   lock ends or at once by [`RateLimiter::clear`];
//! - markers ([`RateLimiter::mark`], [`RateLimiter::is_marked`]): a key
//!   that exists for a while (`{prefix}marker:{id}`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Redis;

/// Past this many entries, the in-process state drops what has expired.
const LOCAL_ENTRIES: usize = 100_000;

/// The outcome of one limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The policy's name (`network`, `user`, `verify_items`...).
    pub scope: String,
    /// Whether this limit allows the action.
    pub allowed: bool,
    /// The limit per window.
    pub limit: u32,
    /// The window in seconds.
    pub window_secs: u64,
    /// Units left in the window after this action.
    pub remaining: u32,
    /// Seconds until the window has room again for the action (0 if
    /// allowed).
    pub retry_after_secs: u64,
    /// Seconds until the window resets completely.
    pub reset_secs: u64,
}

/// One limit to check.
#[derive(Debug, Clone)]
pub struct Limit<'a> {
    /// Policy name.
    pub scope: &'a str,
    /// Who is counted (a client network, a user id).
    pub id: &'a str,
    /// Units per window.
    pub limit: u32,
    /// The sliding window.
    pub window: Duration,
    /// Units this action costs (1 for a request, a batch's item count).
    pub cost: u32,
}

/// The outcome of an attempt on a growing lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Whether the attempt may go ahead.
    pub allowed: bool,
    /// Refused: how long the lock still holds. Allowed: the lock this
    /// attempt started for the next one (zero while attempts are free).
    pub lock: Duration,
}

/// The growing lockout's parameters.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    /// Attempts before the first lock.
    pub free: u32,
    /// The first lock.
    pub base: Duration,
    /// The longest lock.
    pub max: Duration,
    /// How long the attempts are remembered after the last lock ends.
    pub memory: Duration,
}

const WINDOW_SCRIPT: &str = r#"
local n = #KEYS / 2
local allowed = 1
local estimates = {}
local retries = {}
local oks = {}
for i = 1, n do
  local window = tonumber(ARGV[4 * i - 3])
  local elapsed = tonumber(ARGV[4 * i - 2])
  local limit = tonumber(ARGV[4 * i - 1])
  local cost = tonumber(ARGV[4 * i])
  local weight = (window - elapsed) / window
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  local estimate = previous * weight + current
  local retry = 0
  oks[i] = 1
  if estimate + cost > limit then
    allowed = 0
    oks[i] = 0
    retry = window - elapsed
    if current + cost <= limit and previous > 0 then
      retry = (window - elapsed) - (limit - current - cost) * window / previous
    end
  end
  estimates[i] = estimate
  retries[i] = retry
end
local out = {allowed}
for i = 1, n do
  local estimate = estimates[i]
  if allowed == 1 then
    local cost = tonumber(ARGV[4 * i])
    redis.call('INCRBY', KEYS[2 * i - 1], cost)
    redis.call('PEXPIRE', KEYS[2 * i - 1], tonumber(ARGV[4 * i - 3]) * 2)
    estimate = estimate + cost
  end
  table.insert(out, oks[i])
  table.insert(out, math.floor(estimate))
  table.insert(out, math.ceil(retries[i]))
end
return out
"#;

/// ARGV: now (ms), free attempts, base lock (ms), max lock (ms), memory
/// (ms). Returns {allowed, lock ms}.
const LOCKOUT_SCRIPT: &str = r#"
local now = tonumber(ARGV[1])
local locked_until = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if locked_until > now then
  return {0, locked_until - now}
end
local attempts = redis.call('HINCRBY', KEYS[1], 'n', 1)
local free = tonumber(ARGV[2])
local lock = 0
if attempts > free then
  local doublings = attempts - free - 1
  if doublings > 40 then doublings = 40 end
  lock = tonumber(ARGV[3]) * 2 ^ doublings
  if lock > tonumber(ARGV[4]) then lock = tonumber(ARGV[4]) end
  redis.call('HSET', KEYS[1], 'until', now + lock)
end
redis.call('PEXPIRE', KEYS[1], lock + tonumber(ARGV[5]))
return {1, lock}
"#;

/// Rate limiter over Redis with a local fallback.
pub struct RateLimiter {
    redis: Redis,
    window_script: redis::Script,
    lockout_script: redis::Script,
    local: Mutex<Local>,
}

/// The in-process fallback's state.
#[derive(Default)]
struct Local {
    windows: HashMap<String, LocalWindow>,
    /// Attempts and the end of the lock (ms), until `expires` (ms).
    lockouts: HashMap<String, LocalLockout>,
    /// Marker expiry (ms).
    markers: HashMap<String, u64>,
}

#[derive(Debug, Clone, Copy)]
struct LocalWindow {
    index: u64,
    current: u64,
    previous: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct LocalLockout {
    attempts: u32,
    until: u64,
    expires: u64,
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(u64::MAX)
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The lock after `attempts` attempts (zero while they are free).
fn lock_after(attempts: u32, lockout: &Lockout) -> u64 {
    if attempts <= lockout.free {
        return 0;
    }
    let doublings = (attempts - lockout.free - 1).min(40);
    ms(lockout.base)
        .saturating_mul(1u64 << doublings)
        .min(ms(lockout.max))
}

impl RateLimiter {
    /// A limiter on `redis` (which may be disabled).
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            window_script: redis::Script::new(WINDOW_SCRIPT),
            lockout_script: redis::Script::new(LOCKOUT_SCRIPT),
            local: Mutex::new(Local::default()),
        }
    }

    /// Count one unit for `scope`/`id` against `limit` per `window`.
    pub async fn check(&self, scope: &str, id: &str, limit: u32, window: Duration) -> Decision {
        let mut decisions = self
            .check_all(&[Limit {
                scope,
                id,
                limit,
                window,
                cost: 1,
            }])
            .await;
        decisions.pop().unwrap_or(Decision {
            scope: scope.to_owned(),
            allowed: true,
            limit,
            window_secs: window.as_secs(),
            remaining: limit,
            retry_after_secs: 0,
            reset_secs: 0,
        })
    }

    /// Check every limit at once; the action is charged (its cost) against
    /// all of them only if all of them allow it. Each decision says
    /// whether its own limit allows the action, so a refusal names only
    /// the limits that refused.
    pub async fn check_all(&self, limits: &[Limit<'_>]) -> Vec<Decision> {
        let now = now_ms();
        // (window ms, index, elapsed) per limit.
        let clocks: Vec<(u64, u64, u64)> = limits
            .iter()
            .map(|l| {
                let window = ms(l.window).max(1);
                (window, now / window, now % window)
            })
            .collect();
        let bases: Vec<String> = limits
            .iter()
            .map(|l| {
                self.redis
                    .key(&format!("ratelimit:{{{}:{}}}", l.scope, l.id))
            })
            .collect();
        let counts = match self.check_in_redis(&bases, limits, &clocks).await {
            Some(counts) => counts,
            None => self.check_locally(&bases, limits, &clocks),
        };
        limits
            .iter()
            .zip(counts)
            .zip(&clocks)
            .map(
                |((limit, (allowed, count, retry_ms)), (window, _, elapsed))| Decision {
                    scope: limit.scope.to_owned(),
                    allowed,
                    limit: limit.limit,
                    window_secs: window.div_ceil(1000),
                    remaining: limit
                        .limit
                        .saturating_sub(u32::try_from(count).unwrap_or(u32::MAX)),
                    retry_after_secs: if allowed {
                        0
                    } else {
                        retry_ms.div_ceil(1000).max(1)
                    },
                    reset_secs: (window - elapsed).div_ceil(1000),
                },
            )
            .collect()
    }

    /// The windows in Redis: one script for every limit on one server. A
    /// cluster keeps each limit's two windows in one slot (the hash tag
    /// `ratelimit:{scope:id}`) but different limits apart, so there each
    /// limit is checked and charged by a script of its own, and when one
    /// refuses, the charges the others took are given back: a concurrent
    /// request may briefly see the higher count (a refusal too many, never
    /// an admission too many). `None` when Redis did not answer.
    async fn check_in_redis(
        &self,
        bases: &[String],
        limits: &[Limit<'_>],
        clocks: &[(u64, u64, u64)],
    ) -> Option<Vec<(bool, u64, u64)>> {
        let groups: Vec<Vec<usize>> = if self.redis.is_cluster() {
            (0..limits.len()).map(|i| vec![i]).collect()
        } else {
            vec![(0..limits.len()).collect()]
        };
        let mut counts = vec![(true, 0, 0); limits.len()];
        let mut charged = Vec::new();
        for group in &groups {
            let mut invocation = self.window_script.prepare_invoke();
            for &i in group {
                let (_, index, _) = clocks[i];
                invocation.key(format!("{}:{index}", bases[i])).key(format!(
                    "{}:{}",
                    bases[i],
                    index.saturating_sub(1)
                ));
            }
            for &i in group {
                let (window, _, elapsed) = clocks[i];
                invocation
                    .arg(window)
                    .arg(elapsed)
                    .arg(limits[i].limit)
                    .arg(limits[i].cost);
            }
            let reply: Vec<i64> = self
                .redis
                .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
                .await
                .ok()
                .filter(|reply: &Vec<i64>| reply.len() == 1 + 3 * group.len())?;
            for (slot, &i) in group.iter().enumerate() {
                let allowed = reply[1 + 3 * slot] == 1;
                let count = reply[2 + 3 * slot].max(0) as u64;
                let retry = reply[3 + 3 * slot].max(0) as u64;
                counts[i] = (allowed, count, retry);
            }
            if reply[0] == 1 {
                charged.extend(group.iter().copied());
            }
        }
        if charged.len() < limits.len() {
            for i in charged {
                let current = format!("{}:{}", bases[i], clocks[i].1);
                let cost = limits[i].cost;
                let _ = self
                    .redis
                    .run(|mut conn| async move {
                        redis::cmd("DECRBY")
                            .arg(&current)
                            .arg(cost)
                            .query_async::<i64>(&mut conn)
                            .await
                    })
                    .await;
                counts[i].1 = counts[i].1.saturating_sub(u64::from(cost));
            }
        }
        Some(counts)
    }

    /// The same windows, counted in this process only.
    fn check_locally(
        &self,
        bases: &[String],
        limits: &[Limit<'_>],
        clocks: &[(u64, u64, u64)],
    ) -> Vec<(bool, u64, u64)> {
        let Ok(mut local) = self.local.lock() else {
            return vec![(true, 0, 0); limits.len()];
        };
        let windows = &mut local.windows;
        if windows.len() > LOCAL_ENTRIES {
            let index_now = clocks.first().map_or(0, |c| c.1);
            windows.retain(|_, w| w.index + 1 >= index_now);
        }
        let mut estimates = Vec::with_capacity(limits.len());
        for ((base, limit), (window_ms, index, elapsed)) in bases.iter().zip(limits).zip(clocks) {
            let window = windows.entry(base.clone()).or_insert(LocalWindow {
                index: *index,
                current: 0,
                previous: 0,
            });
            if window.index != *index {
                window.previous = if window.index + 1 == *index {
                    window.current
                } else {
                    0
                };
                window.current = 0;
                window.index = *index;
            }
            let weight = (window_ms - elapsed) as f64 / *window_ms as f64;
            let estimate = window.previous as f64 * weight + window.current as f64;
            let ok = estimate + f64::from(limit.cost) <= f64::from(limit.limit);
            estimates.push((estimate, ok, window_ms - elapsed));
        }
        let all = estimates.iter().all(|(_, ok, _)| *ok);
        bases
            .iter()
            .zip(limits)
            .zip(estimates)
            .map(|((base, limit), (estimate, ok, rest))| {
                if all {
                    if let Some(window) = windows.get_mut(base) {
                        window.current += u64::from(limit.cost);
                    }
                    (true, (estimate + f64::from(limit.cost)) as u64, 0)
                } else {
                    (ok, estimate as u64, if ok { 0 } else { rest })
                }
            })
            .collect()
    }

    /// One attempt on the growing lockout `id`: refused while it is
    /// locked (nothing counted), else counted, locking it for the next
    /// attempt once the free attempts are spent.
    pub async fn attempt(&self, id: &str, lockout: &Lockout) -> Attempt {
        let now = now_ms();
        let key = self.redis.key(&format!("throttle:{id}"));
        let mut invocation = self.lockout_script.prepare_invoke();
        invocation
            .key(&key)
            .arg(now)
            .arg(lockout.free)
            .arg(ms(lockout.base))
            .arg(ms(lockout.max))
            .arg(ms(lockout.memory));
        let reply: Result<Vec<i64>, _> = self
            .redis
            .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await;
        match reply {
            Ok(reply) if reply.len() == 2 => Attempt {
                allowed: reply[0] == 1,
                lock: Duration::from_millis(reply[1].max(0) as u64),
            },
            _ => self.attempt_locally(key, lockout, now),
        }
    }

    fn attempt_locally(&self, key: String, lockout: &Lockout, now: u64) -> Attempt {
        let Ok(mut local) = self.local.lock() else {
            return Attempt {
                allowed: true,
                lock: Duration::ZERO,
            };
        };
        if local.lockouts.len() > LOCAL_ENTRIES {
            local.lockouts.retain(|_, l| l.expires > now);
        }
        let entry = local.lockouts.entry(key).or_default();
        if entry.expires <= now {
            *entry = LocalLockout::default();
        }
        if entry.until > now {
            return Attempt {
                allowed: false,
                lock: Duration::from_millis(entry.until - now),
            };
        }
        entry.attempts = entry.attempts.saturating_add(1);
        let lock = lock_after(entry.attempts, lockout);
        if lock > 0 {
            entry.until = now + lock;
        }
        entry.expires = now + lock + ms(lockout.memory);
        Attempt {
            allowed: true,
            lock: Duration::from_millis(lock),
        }
    }

    /// Forget the attempts on lockout `id` (in Redis and here).
    pub async fn clear(&self, id: &str) {
        let key = self.redis.key(&format!("throttle:{id}"));
        let redis_key = key.clone();
        let _: Result<(), _> = self
            .redis
            .run(|mut conn| async move {
                redis::cmd("DEL")
                    .arg(&redis_key)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
        if let Ok(mut local) = self.local.lock() {
            local.lockouts.remove(&key);
        }
    }

    /// Make marker `id` exist for `ttl` (in Redis, and here for when Redis
    /// is unavailable).
    pub async fn mark(&self, id: &str, ttl: Duration) {
        let key = self.redis.key(&format!("marker:{id}"));
        let redis_key = key.clone();
        let ttl_ms = ms(ttl).max(1);
        let _: Result<(), _> = self
            .redis
            .run(|mut conn| async move {
                redis::cmd("SET")
                    .arg(&redis_key)
                    .arg(1)
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
        let now = now_ms();
        if let Ok(mut local) = self.local.lock() {
            if local.markers.len() > LOCAL_ENTRIES {
                local.markers.retain(|_, expires| *expires > now);
            }
            local.markers.insert(key, now.saturating_add(ttl_ms));
        }
    }

    /// Whether marker `id` exists (Redis, or this process's markers while
    /// Redis is unavailable).
    pub async fn is_marked(&self, id: &str) -> bool {
        let key = self.redis.key(&format!("marker:{id}"));
        let redis_key = key.clone();
        let reply: Result<bool, _> = self
            .redis
            .run(|mut conn| async move {
                redis::cmd("EXISTS")
                    .arg(&redis_key)
                    .query_async::<bool>(&mut conn)
                    .await
            })
            .await;
        match reply {
            Ok(exists) => exists,
            Err(_) => self
                .local
                .lock()
                .ok()
                .and_then(|local| local.markers.get(&key).copied())
                .is_some_and(|expires| expires > now_ms()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout() -> Lockout {
        Lockout {
            free: 2,
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
            memory: Duration::from_secs(60),
        }
    }

    #[test]
    fn locks_double_after_the_free_attempts_up_to_the_maximum() {
        let l = lockout();
        let locks: Vec<u64> = (1..=8).map(|n| lock_after(n, &l)).collect();
        assert_eq!(locks, [0, 0, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        assert_eq!(lock_after(u32::MAX, &l), 10_000);
    }

    #[tokio::test]
    async fn without_redis_windows_lockouts_and_markers_work_in_process() {
        let limiter = RateLimiter::new(Redis::disabled());
        let window = Duration::from_secs(60);
        let limit = |cost| Limit {
            scope: "items",
            id: "u",
            limit: 10,
            window,
            cost,
        };
        assert!(limiter.check_all(&[limit(7)]).await[0].allowed);
        let refused = &limiter.check_all(&[limit(4)]).await[0];
        assert!(
            !refused.allowed && refused.retry_after_secs >= 1,
            "{refused:?}"
        );
        assert!(
            limiter.check_all(&[limit(3)]).await[0].allowed,
            "a refusal costs nothing"
        );

        let l = lockout();
        for _ in 0..2 {
            assert_eq!(limiter.attempt("pair", &l).await.lock, Duration::ZERO);
        }
        let third = limiter.attempt("pair", &l).await;
        assert!(third.allowed && third.lock == Duration::from_secs(1));
        assert!(!limiter.attempt("pair", &l).await.allowed, "locked");
        assert!(limiter.attempt("other", &l).await.allowed);
        limiter.clear("pair").await;
        assert!(limiter.attempt("pair", &l).await.allowed, "cleared");

        assert!(!limiter.is_marked("trusted").await);
        limiter.mark("trusted", Duration::from_secs(60)).await;
        assert!(limiter.is_marked("trusted").await);
    }
}
