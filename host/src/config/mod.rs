//! Typed configuration: every setting, its default and its meaning.
//!
//! Sources, later ones winning: the defaults below, an optional TOML file
//! (`--config FILE` or `SIGIL_CONFIG`), then environment variables:
//! `SIGIL_<SECTION>__<KEY>` for every setting, plus a few shorter aliases
//! (`DATABASE_URL`, `REDIS_URL`, `SIGIL_LISTEN`...). [`Config::load`]
//! merges them as one TOML table and deserialises it once, so an unknown
//! or misspelt variable is refused just as an unknown file key is;
//! [`Config::validate`] then checks what types cannot. Adding a setting is
//! a field plus its default. `docs/configuration.md` lists them all (a unit
//! test keeps it complete). Secrets never print (see [`Secret`]).

mod limits;
mod load;
mod validate;

pub use limits::{OverloadConfig, RateLimitsConfig};

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plugins::SandboxLimits;
use crate::plugins::signing::{SigningError, TrustedPublishers};

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML, or has a key or value this configuration
    /// does not take.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// An environment variable names no setting or has a value its setting
    /// does not take.
    #[error("environment variable {variable}: {message}")]
    Env {
        /// The variable.
        variable: String,
        /// What is wrong.
        message: String,
    },
    /// A setting has a value of the right type that cannot be used.
    #[error("setting {key} ({variable}): {message}")]
    Invalid {
        /// The setting, as its file key (`section.key`).
        key: String,
        /// The environment variable that sets it.
        variable: String,
        /// What is wrong.
        message: String,
    },
}

/// A secret string: shown as `***` in logs, debug output and serialised
/// configuration.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value itself; use only where it is needed.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// What may be shown: empty stays empty (it says "not set").
    fn redacted(&self) -> &'static str {
        if self.0.is_empty() { "" } else { "***" }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.redacted())
    }
}

/// Optional settings are written as an empty string when unset: TOML has
/// no null, and an environment variable can only be empty.
mod unset_when_empty {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => value.serialize(serializer),
            None => serializer.serialize_str(""),
        }
    }

    pub fn deserialize<'de, T: From<String>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok((!text.is_empty()).then(|| T::from(text)))
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on (`SIGIL_LISTEN`).
    pub listen: SocketAddr,
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// Redis (optional: in-process fallbacks without it).
    pub redis: RedisConfig,
    /// Plugins and their sandbox.
    pub plugins: PluginsConfig,
    /// Tokens, passwords, registration.
    pub auth: AuthConfig,
    /// HTTP limits.
    pub http: HttpConfig,
    /// Verification limits.
    pub verify: VerifyConfig,
    /// Rate limits and login throttling (`config/limits.rs`).
    pub rate_limits: RateLimitsConfig,
    /// Overload protection (`config/limits.rs`).
    pub overload: OverloadConfig,
    /// Per-user quotas on what an account keeps.
    pub quotas: QuotasConfig,
    /// Logging.
    pub log: LogConfig,
    /// Partitioned history: partitions ahead, retention.
    pub history: HistoryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: DatabaseConfig::default(),
            redis: RedisConfig::default(),
            plugins: PluginsConfig::default(),
            auth: AuthConfig::default(),
            http: HttpConfig::default(),
            verify: VerifyConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            overload: OverloadConfig::default(),
            quotas: QuotasConfig::default(),
            log: LogConfig::default(),
            history: HistoryConfig::default(),
        }
    }
}

impl Config {
    /// The URL `sigil migrate` connects with.
    pub fn migrate_url(&self) -> &str {
        if self.database.migrate_url.expose().is_empty() {
            self.database.url.expose()
        } else {
            self.database.migrate_url.expose()
        }
    }
}

impl PluginsConfig {
    /// The sandbox every plugin call runs in. The plugin engine takes its
    /// limits from here, so these settings' defaults are its defaults too.
    pub fn sandbox_limits(&self) -> SandboxLimits {
        SandboxLimits {
            deadline: Duration::from_millis(self.deadline_ms),
            memory_bytes: self.memory_mib << 20,
            pool_instances: self.pool_instances,
            wide_arithmetic: self.wide_arithmetic,
        }
    }

    /// The publishers whose signatures admit an upload
    /// (`plugins.trusted_publishers`, checked at start by `validate`).
    pub fn trusted_publishers(&self) -> Result<TrustedPublishers, SigningError> {
        TrustedPublishers::parse(&self.trusted_publishers)
    }
}

/// PostgreSQL settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Connection URL of the application role (`DATABASE_URL`).
    pub url: Secret,
    /// Connection URL of the schema owner, for `sigil migrate`
    /// (`SIGIL_MIGRATE_DATABASE_URL`; empty: `url`).
    pub migrate_url: Secret,
    /// Connection URL of a read replica, as the application role
    /// (`DATABASE_READ_URL`; empty: none). History listings and catalogue
    /// reads go there while its replay lag is within `read_max_lag_ms`.
    pub read_url: Secret,
    /// The replica's replay lag past which reads go to the primary, in ms.
    pub read_max_lag_ms: u64,
    /// Pool size.
    pub max_connections: u32,
    /// How long a request may wait for a pooled connection, in ms.
    pub acquire_timeout_ms: u64,
    /// TLS mode: disable, allow, prefer, require, verify-ca, verify-full
    /// (overrides `sslmode` in the URL when set; empty: unset).
    #[serde(with = "unset_when_empty")]
    pub ssl_mode: Option<String>,
    /// CA certificate file for verify-ca / verify-full (empty: unset).
    #[serde(with = "unset_when_empty")]
    pub ssl_root_cert: Option<PathBuf>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::default(),
            migrate_url: Secret::default(),
            read_url: Secret::default(),
            read_max_lag_ms: 2_000,
            max_connections: 16,
            acquire_timeout_ms: 5_000,
            ssl_mode: None,
            ssl_root_cert: None,
        }
    }
}

/// Split `redis.url`'s comma-separated list (spaces around commas
/// allowed): a cluster's seed nodes or the Sentinels, else one URL.
pub fn redis_urls(list: &str) -> Vec<&str> {
    list.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

/// Redis settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URL (`REDIS_URL`); empty runs without Redis.
    /// With `cluster` or `sentinel_master`, a comma-separated list: the
    /// cluster's seed nodes, or the sentinels.
    pub url: Secret,
    /// `url` names a Redis Cluster (`SIGIL_REDIS__CLUSTER=true`).
    pub cluster: bool,
    /// `url` names Redis Sentinels, and this is the name of the primary
    /// they monitor (`SIGIL_REDIS__SENTINEL_MASTER`); empty: no Sentinel.
    pub sentinel_master: String,
    /// Prefix of every key and channel, so that deployments (and tests) can
    /// share a server.
    pub key_prefix: String,
    /// Per-command timeout in ms; slower counts as a failure.
    pub command_timeout_ms: u64,
    /// Failures in a row that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open before a probe, in ms.
    pub breaker_open_ms: u64,
    /// The Redis that holds the verification-result cache (`verify:doc:*`),
    /// the only Redis data that may be evicted: point it at an instance
    /// with a `maxmemory` and an eviction policy (the shipped
    /// `deploy/redis/redis-cache.conf`), so that filling it never makes the
    /// main Redis (revocations, rate limits, sessions, invalidation
    /// tombstones) refuse a write. Empty: the results share `url` (fine for
    /// development; then `url`'s memory bounds them, see
    /// docs/configuration.md).
    pub result_cache_url: Secret,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: Secret::default(),
            cluster: false,
            sentinel_master: String::new(),
            key_prefix: "sigil:".into(),
            command_timeout_ms: 250,
            breaker_failures: 3,
            breaker_open_ms: 2_000,
            result_cache_url: Secret::default(),
        }
    }
}

/// Plugin engine settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Directory of components loaded at start (`SIGIL_PLUGIN_DIR`;
    /// empty: none).
    #[serde(with = "unset_when_empty")]
    pub dir: Option<PathBuf>,
    /// Per-call deadline in ms.
    pub deadline_ms: u64,
    /// Memory cap per call in MiB.
    pub memory_mib: usize,
    /// Concurrent plugin instances (pooling allocator slots).
    pub pool_instances: u32,
    /// Worker threads for plugin calls (0: one per core).
    pub workers: usize,
    /// Largest component accepted by upload, in bytes.
    pub max_upload_bytes: usize,
    /// Compile-and-admit budget for an upload, in ms: describe and the
    /// self-tests are stopped when it runs out.
    pub admission_timeout_ms: u64,
    /// Uploads admitted at once on a host; more are refused with 503 and
    /// `Retry-After`.
    pub admission_concurrency: usize,
    /// Watch `dir` for new components (development).
    pub watch_dir: bool,
    /// Accept components that use the WebAssembly wide-arithmetic proposal
    /// (128-bit multiply/add: 1.6-5x faster signature verification, see
    /// BENCHMARKS.md; wasmtime tier 2). The default plugins are built with
    /// it; turned off, only components built with
    /// `SIGIL_WIDE_ARITHMETIC=0 just plugins` load.
    pub wide_arithmetic: bool,
    /// Publisher keys whose Ed25519 signatures admit an upload: `name:KEY`
    /// entries (KEY: base64 SubjectPublicKeyInfo DER, the body of the
    /// PEM), separated by commas or white space. See PLUGINS.md.
    pub trusted_publishers: String,
    /// Refuse an upload without a signature by a trusted publisher.
    pub require_signature: bool,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: None,
            deadline_ms: 100,
            memory_mib: 64,
            pool_instances: 256,
            workers: 0,
            max_upload_bytes: 10 << 20,
            admission_timeout_ms: 30_000,
            admission_concurrency: 2,
            watch_dir: false,
            wide_arithmetic: true,
            trusted_publishers: String::new(),
            require_signature: false,
        }
    }
}

/// Authentication settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `iss` of issued tokens.
    pub issuer: String,
    /// `aud` of issued tokens.
    pub audience: String,
    /// Access-token lifetime in seconds.
    pub access_token_ttl_secs: u64,
    /// Refresh-token lifetime in seconds.
    pub refresh_token_ttl_secs: u64,
    /// How long a signing key signs before a new one takes over, in seconds.
    pub signing_key_rotation_secs: u64,
    /// Anyone may register (`POST /v1/auth/register`).
    pub open_registration: bool,
    /// Concurrent password hashes (0: one per core).
    pub hashing_concurrency: usize,
    /// Seals token signing keys at rest (`SIGIL_SIGNING_KEY_SECRET`, at
    /// least 32 characters, the same on every host; kept out of the
    /// database). Empty: keys are stored unsealed, with a warning at start.
    pub signing_key_secret: Secret,
    /// Verified access tokens remembered per host, so a repeated token
    /// skips the signature check (revocation is still checked); 0 disables.
    pub verified_token_cache: usize,
    /// The longest lifetime an API token may be created with, in seconds
    /// (`POST /v1/tokens` refuses a later `expires_at`).
    pub api_token_max_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "sigil".into(),
            audience: "sigil-api".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 14 * 24 * 3600,
            signing_key_rotation_secs: 30 * 24 * 3600,
            open_registration: true,
            hashing_concurrency: 0,
            verified_token_cache: 16_384,
            api_token_max_ttl_secs: 366 * 24 * 3600,
            signing_key_secret: Secret::default(),
        }
    }
}

/// HTTP limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest JSON body in bytes (batches have their own limit).
    pub body_limit_bytes: usize,
    /// Largest batch request body in bytes.
    pub batch_body_limit_bytes: usize,
    /// Request timeout in ms.
    pub request_timeout_ms: u64,
    /// Trust `X-Forwarded-For` for the client address (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Largest page a list endpoint returns.
    pub max_page_size: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 2 << 20,
            batch_body_limit_bytes: 48 << 20,
            request_timeout_ms: 30_000,
            trust_forwarded_for: false,
            max_page_size: 100,
        }
    }
}

/// Verification limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyConfig {
    /// Most items in one batch.
    pub max_batch_items: usize,
    /// Largest document in bytes (after base64 decoding).
    pub max_document_bytes: usize,
    /// Largest sum of a batch's documents, in bytes.
    pub max_batch_document_bytes: usize,
    /// Largest signature in bytes: 17088 by default, an SLH-DSA-128f
    /// signature, the largest a shipped plugin verifies (ML-DSA-87's is
    /// 4627 bytes, RSA-8192's 1024). It bounds what each batch item may
    /// carry, so it is no larger than the plugins need.
    pub max_signature_bytes: usize,
    /// Verification records committed per transaction at most.
    pub record_batch_max: usize,
    /// Connections committing records at once. Each commits whatever
    /// queued while it was busy, so fewer writers make larger groups
    /// (less PostgreSQL work per record) and more writers shorter waits.
    pub record_writers: usize,
    /// How long a record may wait for company before its commit, in ms.
    pub record_batch_linger_ms: u64,
    /// Verification-result cache lifetime in seconds (0 disables it).
    pub result_cache_ttl_secs: u64,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        Self {
            max_batch_items: 1000,
            max_document_bytes: 1 << 20,
            max_batch_document_bytes: 32 << 20,
            max_signature_bytes: 17088,
            record_batch_max: 512,
            record_writers: 2,
            record_batch_linger_ms: 0,
            result_cache_ttl_secs: 3600,
        }
    }
}

// ---- quotas ------------------------------------------------------------

/// Per-user quotas: how much one account may keep, whatever its request
/// rate (rate limits are in [`RateLimitsConfig`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotasConfig {
    /// Public keys one user may hold (every stored key counts, whatever its
    /// status: deleting one makes room). An upload beyond it answers 409
    /// `key_quota_exceeded` and stores nothing.
    pub keys_per_user: u32,
    /// Live login sessions (refresh-token families) one user may hold; a
    /// login beyond it ends the session used longest ago (its refresh token
    /// and access tokens stop working).
    pub sessions_per_user: u32,
    /// Live (unrevoked, unexpired) API tokens one user may hold; creating
    /// one more answers 409 `token_quota_exceeded` and stores nothing.
    pub tokens_per_user: u32,
}

impl Default for QuotasConfig {
    fn default() -> Self {
        Self {
            keys_per_user: 100,
            sessions_per_user: 10,
            tokens_per_user: 20,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `json` (default) or `pretty`.
    pub format: String,
    /// A tracing filter (`info`, `sigil=debug,tower_http=info`...);
    /// `RUST_LOG` overrides it.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "json".into(),
            filter: "info".into(),
        }
    }
}

/// Partitioned history (verification records, batches, their items and
/// the audit log are partitioned by UTC day; `sigil serve` keeps the
/// partitions, one host at a time).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    /// Days of verification history (records, batches, items) kept; older
    /// daily partitions are dropped. 0 keeps everything.
    pub retention_days: u32,
    /// Days of audit log kept; 0 keeps everything.
    pub audit_retention_days: u32,
    /// Daily partitions created ahead of today.
    pub partitions_ahead: u32,
    /// Seconds between maintenance runs (partitions ahead, retention).
    pub maintenance_interval_secs: u64,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            retention_days: 0,
            audit_retention_days: 0,
            partitions_ahead: 7,
            maintenance_interval_secs: 3600,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let mut config = Config::default();
        config.database.url = Secret::new("postgres://app:hunter2@db/sigil");
        config.auth.signing_key_secret = Secret::new("correct-horse-battery-staple-0123456789");
        let debug = format!("{config:?}");
        let serialised = toml::to_string(&config).expect("serialises");
        for shown in [debug, serialised] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("correct-horse"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
    }

    #[test]
    fn sandbox_limits_follow_the_plugin_settings() {
        let defaults = PluginsConfig::default().sandbox_limits();
        assert!(defaults.wide_arithmetic, "on by default");
        assert_eq!(defaults.deadline, Duration::from_millis(100));
        let plugins = PluginsConfig {
            deadline_ms: 250,
            memory_mib: 32,
            pool_instances: 8,
            wide_arithmetic: false,
            ..PluginsConfig::default()
        };
        assert_eq!(
            plugins.sandbox_limits(),
            SandboxLimits {
                deadline: Duration::from_millis(250),
                memory_bytes: 32 << 20,
                pool_instances: 8,
                wide_arithmetic: false,
            }
        );
    }

    /// docs/configuration.md has one row per setting with its default and
    /// variable, and none for settings that do not exist. On failure,
    /// paste the printed rows and write their meaning.
    #[test]
    fn the_configuration_doc_lists_every_setting() {
        let doc = include_str!("../../../docs/configuration.md");
        let settings = load::tests::settings_with_defaults();
        let missing: Vec<String> = settings
            .iter()
            .map(|(key, default)| {
                format!("| `{key}` | `{default}` | `{}` |", load::variable_for(key))
            })
            .filter(|row| !doc.lines().any(|line| line.starts_with(row.as_str())))
            .collect();
        assert!(
            missing.is_empty(),
            "missing or stale rows:\n{}",
            missing.join("\n")
        );
        for line in doc.lines().filter(|line| line.starts_with("| `")) {
            let key = line.split('`').nth(1).unwrap_or_default();
            assert!(
                settings.iter().any(|(k, _)| k == key),
                "the doc lists `{key}`, which is not a setting"
            );
        }
    }
}
