//! Sliding-window rate limits, atomic in Redis (one Lua script checks every
//! limit of a request and counts it against all of them only if all allow
//! it), with an in-process window of the same shape as the fallback while
//! Redis is unavailable.
//!
//! The window is the sliding-window counter: the current fixed window's
//! count plus the previous window's, weighted by how much of it still
//! overlaps the sliding window. Keys: `{prefix}ratelimit:{scope}:{id}:{n}`
//! where `n` is the fixed window's index (`ratelimit:ip:…`,
//! `ratelimit:user:…`, `ratelimit:endpoint:…`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Redis;

/// The outcome of one limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The policy's name (`ip`, `user`, `endpoint`, `login:user`...).
    pub scope: String,
    /// Whether this limit allows the request.
    pub allowed: bool,
    /// The limit per window.
    pub limit: u32,
    /// The window in seconds.
    pub window_secs: u64,
    /// Requests left in the window after this one.
    pub remaining: u32,
    /// Seconds until the window has room again (0 if allowed).
    pub retry_after_secs: u64,
    /// Seconds until the window resets completely.
    pub reset_secs: u64,
}

/// One limit to check.
#[derive(Debug, Clone)]
pub struct Limit<'a> {
    /// Policy name.
    pub scope: &'a str,
    /// Who or what is counted (an IP, a user id, `POST /v1/verify`).
    pub id: &'a str,
    /// Requests per window.
    pub limit: u32,
}

const SCRIPT: &str = r#"
local window = tonumber(ARGV[1])
local elapsed = tonumber(ARGV[2])
local weight = (window - elapsed) / window
local n = #KEYS / 2
local allowed = 1
local estimates = {}
local retries = {}
local oks = {}
for i = 1, n do
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  local limit = tonumber(ARGV[2 + i])
  local estimate = previous * weight + current
  local retry = 0
  oks[i] = 1
  if estimate + 1 > limit then
    allowed = 0
    oks[i] = 0
    retry = window - elapsed
    if current + 1 <= limit and previous > 0 then
      retry = (window - elapsed) - (limit - current - 1) * window / previous
    end
  end
  estimates[i] = estimate
  retries[i] = retry
end
local out = {allowed}
for i = 1, n do
  local estimate = estimates[i]
  if allowed == 1 then
    redis.call('INCR', KEYS[2 * i - 1])
    redis.call('PEXPIRE', KEYS[2 * i - 1], window * 2)
    estimate = estimate + 1
  end
  table.insert(out, oks[i])
  table.insert(out, math.floor(estimate))
  table.insert(out, math.ceil(retries[i]))
end
return out
"#;

/// Rate limiter over Redis with a local fallback.
pub struct RateLimiter {
    redis: Redis,
    script: redis::Script,
    local: Mutex<HashMap<String, LocalWindow>>,
}

#[derive(Debug, Clone, Copy)]
struct LocalWindow {
    index: u64,
    current: u32,
    previous: u32,
}

impl RateLimiter {
    /// A limiter on `redis` (which may be disabled).
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            script: redis::Script::new(SCRIPT),
            local: Mutex::new(HashMap::new()),
        }
    }

    /// Count one request for `scope`/`id` against `limit` per `window`.
    pub async fn check(&self, scope: &str, id: &str, limit: u32, window: Duration) -> Decision {
        let mut decisions = self.check_all(&[Limit { scope, id, limit }], window).await;
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

    /// Check every limit at once; the request counts against all of them
    /// only if all of them allow it. Each decision says whether its own
    /// limit allows the request, so a refusal names only the limits that
    /// refused.
    pub async fn check_all(&self, limits: &[Limit<'_>], window: Duration) -> Vec<Decision> {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let now_ms = u64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(u64::MAX);
        let index = now_ms / window_ms;
        let elapsed = now_ms % window_ms;
        let bases: Vec<String> = limits
            .iter()
            .map(|l| self.redis.key(&format!("ratelimit:{}:{}", l.scope, l.id)))
            .collect();
        let mut invocation = self.script.prepare_invoke();
        for base in &bases {
            invocation
                .key(format!("{base}:{index}"))
                .key(format!("{base}:{}", index.saturating_sub(1)));
        }
        invocation.arg(window_ms).arg(elapsed);
        for limit in limits {
            invocation.arg(limit.limit);
        }
        let reply: Result<Vec<i64>, _> = self
            .redis
            .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await;
        let counts: Vec<(bool, u64, u64)> = match reply {
            Ok(reply) if reply.len() == 1 + 3 * limits.len() => (0..limits.len())
                .map(|i| {
                    let allowed = reply[1 + 3 * i] == 1;
                    let count = reply[2 + 3 * i].max(0) as u64;
                    let retry = reply[3 + 3 * i].max(0) as u64;
                    (allowed, count, retry)
                })
                .collect(),
            _ => self.check_locally(&bases, limits, index, elapsed, window_ms),
        };
        limits
            .iter()
            .zip(counts)
            .map(|(limit, (allowed, count, retry_ms))| Decision {
                scope: limit.scope.to_owned(),
                allowed,
                limit: limit.limit,
                window_secs: window_ms.div_ceil(1000),
                remaining: limit
                    .limit
                    .saturating_sub(u32::try_from(count).unwrap_or(u32::MAX)),
                retry_after_secs: if allowed {
                    0
                } else {
                    retry_ms.div_ceil(1000).max(1)
                },
                reset_secs: (window_ms - elapsed).div_ceil(1000),
            })
            .collect()
    }

    /// The same windows, counted in this process only.
    fn check_locally(
        &self,
        bases: &[String],
        limits: &[Limit<'_>],
        index: u64,
        elapsed: u64,
        window_ms: u64,
    ) -> Vec<(bool, u64, u64)> {
        let Ok(mut windows) = self.local.lock() else {
            return vec![(true, 0, 0); limits.len()];
        };
        if windows.len() > 100_000 {
            windows.retain(|_, w| w.index + 1 >= index);
        }
        let weight = (window_ms - elapsed) as f64 / window_ms as f64;
        let mut estimates = Vec::with_capacity(limits.len());
        for (base, limit) in bases.iter().zip(limits) {
            let window = windows.entry(base.clone()).or_insert(LocalWindow {
                index,
                current: 0,
                previous: 0,
            });
            if window.index != index {
                window.previous = if window.index + 1 == index {
                    window.current
                } else {
                    0
                };
                window.current = 0;
                window.index = index;
            }
            let estimate = f64::from(window.previous) * weight + f64::from(window.current);
            estimates.push((estimate, estimate + 1.0 <= f64::from(limit.limit)));
        }
        let all = estimates.iter().all(|(_, ok)| *ok);
        bases
            .iter()
            .zip(estimates)
            .map(|(base, (estimate, ok))| {
                if all {
                    if let Some(window) = windows.get_mut(base) {
                        window.current += 1;
                    }
                    (true, (estimate + 1.0) as u64, 0)
                } else {
                    (
                        ok,
                        estimate as u64,
                        if ok { 0 } else { window_ms - elapsed },
                    )
                }
            })
            .collect()
    }
}
