//! Redis, with the circuit breaker and in-process fallbacks that keep the
//! service answering when Redis is down or slow.
//!
//! Every command goes through [`Redis::run`]: bounded by a timeout,
//! refused at once while the breaker is open, counted for metrics. A
//! failed command is never an error for the client: each caller has a
//! fallback (PostgreSQL for revocations, an in-process window for rate
//! limits, no caching for caches). Connection and reconnection happen in
//! the background; recovery is automatic.

pub mod breaker;
pub mod entities;
pub mod events;
pub mod integrity;
pub mod local;
pub mod ratelimit;
pub mod topology;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use self::breaker::Breaker;
use self::topology::{Connection, Topology};
use crate::config::RedisConfig;
use crate::metrics::Sample;

/// Why a Redis command did not run or failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// No Redis is configured.
    #[error("Redis is not configured")]
    Disabled,
    /// Not connected (yet, or any more).
    #[error("Redis is not connected")]
    NotConnected,
    /// The breaker is open after repeated failures.
    #[error("Redis circuit breaker is open")]
    BreakerOpen,
    /// The command took longer than the configured timeout.
    #[error("Redis command timed out")]
    Timeout,
    /// Redis answered with an error, or the connection failed.
    #[error("Redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// A value could not be encoded or decoded.
    #[error("cache value encoding: {0}")]
    Encoding(String),
}

/// Counters of Redis use, for `/metrics` and `/ready`.
#[derive(Debug, Default)]
pub struct RedisStats {
    /// Commands that succeeded.
    pub ok: AtomicU64,
    /// Commands that failed or timed out.
    pub failed: AtomicU64,
    /// Commands refused by the open breaker.
    pub short_circuited: AtomicU64,
    /// Sum of command latencies in microseconds (successful commands).
    pub latency_micros: AtomicU64,
}

/// A handle on Redis; cheap to clone.
#[derive(Clone)]
pub struct Redis {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    topology: Topology,
    connection: ArcSwapOption<Connection>,
    prefix: String,
    timeout: Duration,
    breaker: Breaker,
    stats: RedisStats,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("configured", &self.inner.is_some())
            .finish()
    }
}

impl Redis {
    /// No Redis: every command reports [`CacheError::Disabled`].
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Connect in the background; the handle works (with fallbacks) at once.
    pub fn connect(config: &RedisConfig) -> Result<Self, CacheError> {
        Self::connect_to(config.url.expose(), config)
    }

    /// The Redis of the verification-result cache: `redis.result_cache_url`
    /// if set (an instance allowed to evict), else `main` itself.
    pub fn connect_result_cache(config: &RedisConfig, main: &Redis) -> Result<Self, CacheError> {
        if config.result_cache_url.expose().is_empty() || !main.is_configured() {
            return Ok(main.clone());
        }
        Self::connect_to(config.result_cache_url.expose(), config)
    }

    /// Whether `self` and `other` are the same connection.
    pub fn same_as(&self, other: &Redis) -> bool {
        match (&self.inner, &other.inner) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    fn connect_to(url: &str, config: &RedisConfig) -> Result<Self, CacheError> {
        if url.is_empty() {
            return Ok(Self::disabled());
        }
        let topology = Topology::of(url, config)?;
        let inner = Arc::new(Inner {
            topology,
            connection: ArcSwapOption::empty(),
            prefix: config.key_prefix.clone(),
            timeout: Duration::from_millis(config.command_timeout_ms),
            breaker: Breaker::new(
                config.breaker_failures,
                Duration::from_millis(config.breaker_open_ms),
            ),
            stats: RedisStats::default(),
        });
        tokio::spawn(keep_connected(Arc::downgrade(&inner)));
        Ok(Self { inner: Some(inner) })
    }

    /// Whether Redis is configured at all.
    pub fn is_configured(&self) -> bool {
        self.inner.is_some()
    }

    /// Ask Redis whether it answers (a probe for the breaker too).
    pub async fn ping(&self) -> bool {
        self.run(
            |mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await },
        )
        .await
        .is_ok()
    }

    /// The breaker's state (`closed`, `open`, `half_open`), or `disabled`.
    pub fn breaker_state(&self) -> &'static str {
        match &self.inner {
            None => "disabled",
            Some(inner) => inner.breaker.state().as_str(),
        }
    }

    /// Command counters and the breaker state (for `/metrics`).
    pub fn samples(&self) -> Vec<Sample> {
        let mut samples = Vec::new();
        if let Some(stats) = self.stats() {
            let help = "Redis commands by outcome.";
            let commands = |outcome, counter: &AtomicU64| {
                let count = counter.load(Ordering::Relaxed) as f64;
                Sample::counter("sigil_redis_commands_total", help, count).label("outcome", outcome)
            };
            samples.push(commands("ok", &stats.ok));
            samples.push(commands("failed", &stats.failed));
            samples.push(commands("short_circuited", &stats.short_circuited));
            let help = "Time spent in successful Redis commands.";
            let seconds = stats.latency_micros.load(Ordering::Relaxed) as f64 / 1e6;
            samples.push(Sample::counter(
                "sigil_redis_command_seconds_total",
                help,
                seconds,
            ));
        }
        let current = self.breaker_state();
        for state in ["closed", "open", "half_open", "disabled"] {
            let help = "Redis circuit breaker state (1 for the current one).";
            let value = if state == current { 1.0 } else { 0.0 };
            samples.push(
                Sample::gauge("sigil_redis_breaker_state", help, value).label("state", state),
            );
        }
        samples
    }

    /// Usage counters (`None` without Redis).
    pub fn stats(&self) -> Option<&RedisStats> {
        self.inner.as_ref().map(|i| &i.stats)
    }

    /// `prefix` + `key`: every key and channel is namespaced.
    pub fn key(&self, key: &str) -> String {
        match &self.inner {
            Some(inner) => format!("{}{key}", inner.prefix),
            None => key.to_owned(),
        }
    }

    /// Whether Redis is a cluster: a script or pipeline may then only
    /// touch keys of one hash slot.
    pub fn is_cluster(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.topology.is_cluster())
    }

    /// The deployment's shape, for dedicated connections (pub/sub).
    pub fn topology(&self) -> Option<&Topology> {
        self.inner.as_ref().map(|i| &i.topology)
    }

    /// Run one command (or pipeline, or script) under the timeout and the
    /// breaker.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, CacheError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let inner = self.inner.as_ref().ok_or(CacheError::Disabled)?;
        if !inner.breaker.allow() {
            inner.stats.short_circuited.fetch_add(1, Ordering::Relaxed);
            return Err(CacheError::BreakerOpen);
        }
        let Some(connection) = inner.connection.load_full() else {
            inner.breaker.record_failure();
            inner.stats.failed.fetch_add(1, Ordering::Relaxed);
            return Err(CacheError::NotConnected);
        };
        let started = Instant::now();
        let outcome = tokio::time::timeout(inner.timeout, op(Connection::clone(&connection))).await;
        match outcome {
            Ok(Ok(value)) => {
                inner.breaker.record_success();
                inner.stats.ok.fetch_add(1, Ordering::Relaxed);
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                inner
                    .stats
                    .latency_micros
                    .fetch_add(micros, Ordering::Relaxed);
                Ok(value)
            }
            Ok(Err(error)) => {
                inner.breaker.record_failure();
                inner.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, "redis command failed");
                Err(CacheError::Redis(error))
            }
            Err(_) => {
                inner.breaker.record_failure();
                inner.stats.failed.fetch_add(1, Ordering::Relaxed);
                Err(CacheError::Timeout)
            }
        }
    }
}

/// Establish the connection, and re-establish it if the first attempt
/// fails (once it exists, it reconnects by itself). Behind Sentinel, keep
/// asking which server is the primary and move to it after a failover.
async fn keep_connected(inner: std::sync::Weak<Inner>) {
    let mut delay = Duration::from_millis(100);
    let mut primary = loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        match strong.topology.connect(strong.timeout).await {
            Ok((connection, address)) => {
                strong.connection.store(Some(Arc::new(connection)));
                tracing::info!(%address, "connected to Redis");
                break address;
            }
            Err(error) => {
                tracing::warn!(%error, ?delay, "Redis unavailable; running on fallbacks and retrying");
            }
        }
        drop(strong);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    };
    loop {
        tokio::time::sleep(SENTINEL_POLL).await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        if !matches!(strong.topology, Topology::Sentinel { .. }) {
            return;
        }
        match strong.topology.sentinel_primary().await {
            Ok(client) if topology::address(&client) != primary => {
                match strong.topology.connect(strong.timeout).await {
                    Ok((connection, address)) => {
                        strong.connection.store(Some(Arc::new(connection)));
                        tracing::warn!(from = %primary, to = %address, "Redis primary moved (Sentinel failover)");
                        primary = address;
                    }
                    Err(error) => tracing::warn!(%error, "could not reach the new Redis primary"),
                }
            }
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "sentinels not answering; keeping the primary"),
        }
    }
}

/// How often the sentinels are asked for the primary.
const SENTINEL_POLL: Duration = Duration::from_millis(500);
