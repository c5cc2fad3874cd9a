//! Sliding-window rate limits, atomic in Redis (one Lua script per
//! check), with an in-process window of the same shape as the fallback
//! while Redis is unavailable.
//!
//! The window is the sliding-window counter: the current fixed window's
//! count plus the previous window's, weighted by how much of it still
//! overlaps the sliding window. Keys: `{prefix}ratelimit:{scope}:{id}:{n}`
//! where `n` is the fixed window's index.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Redis;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The limit.
    pub limit: u32,
    /// Requests left in the window after this one.
    pub remaining: u32,
    /// Seconds until the window has room again (0 if allowed).
    pub retry_after_secs: u64,
    /// Seconds until the window resets completely.
    pub reset_secs: u64,
}

const SCRIPT: &str = r#"
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local elapsed = tonumber(ARGV[3])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local weight = (window - elapsed) / window
local estimate = previous * weight + current
if estimate + 1 > limit then
  local retry = window - elapsed
  if current + 1 <= limit and previous > 0 then
    retry = (window - elapsed) - (limit - current - 1) * window / previous
  end
  return {0, math.floor(estimate), math.ceil(retry)}
end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], window * 2)
return {1, math.floor(estimate + 1), 0}
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
        let base = self.redis.key(&format!("ratelimit:{scope}:{id}"));
        let current_key = format!("{base}:{index}");
        let previous_key = format!("{base}:{}", index.saturating_sub(1));
        let script = &self.script;
        let outcome = self
            .redis
            .run(|mut conn| async move {
                let reply: (i64, i64, i64) = script
                    .key(&current_key)
                    .key(&previous_key)
                    .arg(limit)
                    .arg(window_ms)
                    .arg(elapsed)
                    .invoke_async(&mut conn)
                    .await?;
                Ok(reply)
            })
            .await;
        let (allowed, count, retry_ms) = match outcome {
            Ok((allowed, count, retry)) => (allowed == 1, count.max(0) as u64, retry.max(0) as u64),
            Err(_) => self.check_locally(&base, limit, index, elapsed, window_ms),
        };
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        Decision {
            allowed,
            limit,
            remaining: limit.saturating_sub(count),
            retry_after_secs: if allowed {
                0
            } else {
                retry_ms.div_ceil(1000).max(1)
            },
            reset_secs: (window_ms - elapsed).div_ceil(1000),
        }
    }

    /// The same window, counted in this process only.
    fn check_locally(
        &self,
        key: &str,
        limit: u32,
        index: u64,
        elapsed: u64,
        window_ms: u64,
    ) -> (bool, u64, u64) {
        let Ok(mut windows) = self.local.lock() else {
            return (true, 0, 0);
        };
        if windows.len() > 100_000 {
            windows.retain(|_, w| w.index + 1 >= index);
        }
        let window = windows.entry(key.to_owned()).or_insert(LocalWindow {
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
        let weight = (window_ms - elapsed) as f64 / window_ms as f64;
        let estimate = f64::from(window.previous) * weight + f64::from(window.current);
        if estimate + 1.0 > f64::from(limit) {
            return (false, estimate as u64, window_ms - elapsed);
        }
        window.current += 1;
        (true, (estimate + 1.0) as u64, 0)
    }
}
