//! Typed configuration: defaults, then an optional TOML file
//! (`--config FILE` or `SIGIL_CONFIG`), then environment variables
//! (`DATABASE_URL`, `REDIS_URL`, `SIGIL_LISTEN`, `SIGIL_PLUGIN_DIR` and
//! `SIGIL_<SECTION>__<KEY>` for the rest). Checked once at start with
//! errors that name the setting; secrets are never printed (see the
//! `Debug` implementations).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

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
    /// The file is not valid TOML for this configuration.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A setting has an unusable value.
    #[error("setting {key}: {message}")]
    Invalid {
        /// The setting, as its environment variable or file key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// A secret string: shown as `***` in logs and debug output.
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
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("\"***\"")
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
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
    /// Rate limits.
    pub rate_limits: RateLimitsConfig,
    /// Logging.
    pub log: LogConfig,
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
            log: LogConfig::default(),
        }
    }
}

/// PostgreSQL settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Connection URL of the application role (`DATABASE_URL`).
    pub url: Secret,
    /// Connection URL of the schema owner, for `sigil migrate`
    /// (`SIGIL_MIGRATE_DATABASE_URL`; defaults to `url`).
    pub migrate_url: Secret,
    /// Pool size.
    pub max_connections: u32,
    /// How long a request may wait for a pooled connection, in ms.
    pub acquire_timeout_ms: u64,
    /// TLS mode: disable, prefer, require, verify-ca, verify-full
    /// (overrides `sslmode` in the URL when set).
    pub ssl_mode: Option<String>,
    /// CA certificate file for verify-ca / verify-full.
    pub ssl_root_cert: Option<PathBuf>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::default(),
            migrate_url: Secret::default(),
            max_connections: 16,
            acquire_timeout_ms: 5_000,
            ssl_mode: None,
            ssl_root_cert: None,
        }
    }
}

/// Redis settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URL (`REDIS_URL`); empty runs without Redis.
    pub url: Secret,
    /// Prefix of every key and channel, so that deployments (and tests) can
    /// share a server.
    pub key_prefix: String,
    /// Per-command timeout in ms; slower counts as a failure.
    pub command_timeout_ms: u64,
    /// Failures in a row that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open before a probe, in ms.
    pub breaker_open_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: Secret::default(),
            key_prefix: "sigil:".into(),
            command_timeout_ms: 250,
            breaker_failures: 3,
            breaker_open_ms: 2_000,
        }
    }
}

/// Plugin engine settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Directory of components loaded at start (`SIGIL_PLUGIN_DIR`).
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
    /// Compile-and-admit budget for an upload, in ms.
    pub admission_timeout_ms: u64,
    /// Watch `dir` for new components (development).
    pub watch_dir: bool,
    /// Accept components that use the WebAssembly wide-arithmetic proposal
    /// (128-bit multiply/add: 1.6-5x faster signature verification, see
    /// BENCHMARKS.md; wasmtime tier 2). The default plugins are built with
    /// it; turned off, only components built with
    /// `SIGIL_WIDE_ARITHMETIC=0 just plugins` load.
    pub wide_arithmetic: bool,
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
            watch_dir: false,
            wide_arithmetic: true,
        }
    }
}

/// Authentication settings.
#[derive(Debug, Clone, Deserialize)]
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
    /// Login attempts allowed per username per window.
    pub login_attempts_per_user: u32,
    /// Login attempts allowed per client IP per window.
    pub login_attempts_per_ip: u32,
    /// The login limit's window, in seconds.
    pub login_window_secs: u64,
    /// Registrations allowed per client IP per `login_window_secs`.
    pub registrations_per_ip: u32,
    /// Seals token signing keys at rest (`SIGIL_SIGNING_KEY_SECRET`, at
    /// least 32 characters, the same on every host; kept out of the
    /// database). Empty: keys are stored unsealed, with a warning at start.
    pub signing_key_secret: Secret,
    /// Verified access tokens remembered per host, so a repeated token
    /// skips the signature check (revocation is still checked); 0 disables.
    pub verified_token_cache: usize,
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
            login_attempts_per_user: 10,
            login_attempts_per_ip: 50,
            login_window_secs: 300,
            registrations_per_ip: 20,
            verified_token_cache: 16_384,
            signing_key_secret: Secret::default(),
        }
    }
}

/// HTTP limits.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyConfig {
    /// Most items in one batch.
    pub max_batch_items: usize,
    /// Largest document in bytes (after base64 decoding).
    pub max_document_bytes: usize,
    /// Largest sum of a batch's documents, in bytes.
    pub max_batch_document_bytes: usize,
    /// Largest signature in bytes.
    pub max_signature_bytes: usize,
    /// Verification records committed per transaction at most.
    pub record_batch_max: usize,
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
            max_signature_bytes: 2048,
            record_batch_max: 512,
            record_batch_linger_ms: 0,
            result_cache_ttl_secs: 3600,
        }
    }
}

/// Rate limits (sliding window, per window seconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Apply rate limits at all.
    pub enabled: bool,
    /// Window in seconds.
    pub window_secs: u64,
    /// Requests per client IP per window.
    pub per_ip: u32,
    /// Requests per authenticated user per window.
    pub per_user: u32,
    /// Requests per endpoint (all clients) per window.
    pub per_endpoint: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 60,
            per_ip: 6_000,
            per_user: 6_000,
            per_endpoint: 60_000,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
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

impl Config {
    /// Defaults, then `file` (if any), then the environment; validated.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Config::default(),
        };
        config.apply_env(|key| std::env::var(key).ok())?;
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Apply environment overrides read through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(url) = var("DATABASE_URL") {
            self.database.url = Secret::new(url);
        }
        if let Some(url) = var("SIGIL_MIGRATE_DATABASE_URL") {
            self.database.migrate_url = Secret::new(url);
        }
        if let Some(url) = var("REDIS_URL") {
            self.redis.url = Secret::new(url);
        }
        if let Some(listen) = var("SIGIL_LISTEN") {
            self.listen = listen.parse().map_err(|e| {
                invalid("SIGIL_LISTEN", format!("{listen:?} is not an address: {e}"))
            })?;
        }
        if let Some(secret) = var("SIGIL_SIGNING_KEY_SECRET") {
            self.auth.signing_key_secret = Secret::new(secret);
        }
        if let Some(dir) = var("SIGIL_PLUGIN_DIR") {
            self.plugins.dir = (!dir.is_empty()).then(|| PathBuf::from(dir));
        }
        macro_rules! env_override {
            ($($name:literal => $field:expr),+ $(,)?) => {$(
                if let Some(value) = var($name) {
                    $field = parse_env($name, &value)?;
                }
            )+};
        }
        env_override!(
            "SIGIL_DATABASE__MAX_CONNECTIONS" => self.database.max_connections,
            "SIGIL_DATABASE__SSL_MODE" => self.database.ssl_mode,
            "SIGIL_DATABASE__SSL_ROOT_CERT" => self.database.ssl_root_cert,
            "SIGIL_REDIS__KEY_PREFIX" => self.redis.key_prefix,
            "SIGIL_PLUGINS__DEADLINE_MS" => self.plugins.deadline_ms,
            "SIGIL_PLUGINS__MEMORY_MIB" => self.plugins.memory_mib,
            "SIGIL_PLUGINS__WORKERS" => self.plugins.workers,
            "SIGIL_PLUGINS__MAX_UPLOAD_BYTES" => self.plugins.max_upload_bytes,
            "SIGIL_PLUGINS__WATCH_DIR" => self.plugins.watch_dir,
            "SIGIL_PLUGINS__WIDE_ARITHMETIC" => self.plugins.wide_arithmetic,
            "SIGIL_AUTH__ISSUER" => self.auth.issuer,
            "SIGIL_AUTH__AUDIENCE" => self.auth.audience,
            "SIGIL_AUTH__ACCESS_TOKEN_TTL_SECS" => self.auth.access_token_ttl_secs,
            "SIGIL_AUTH__OPEN_REGISTRATION" => self.auth.open_registration,
            "SIGIL_HTTP__REQUEST_TIMEOUT_MS" => self.http.request_timeout_ms,
            "SIGIL_HTTP__TRUST_FORWARDED_FOR" => self.http.trust_forwarded_for,
            "SIGIL_VERIFY__MAX_BATCH_ITEMS" => self.verify.max_batch_items,
            "SIGIL_VERIFY__RESULT_CACHE_TTL_SECS" => self.verify.result_cache_ttl_secs,
            "SIGIL_RATE_LIMITS__ENABLED" => self.rate_limits.enabled,
            "SIGIL_RATE_LIMITS__PER_IP" => self.rate_limits.per_ip,
            "SIGIL_RATE_LIMITS__PER_USER" => self.rate_limits.per_user,
            "SIGIL_RATE_LIMITS__PER_ENDPOINT" => self.rate_limits.per_endpoint,
            "SIGIL_LOG__FORMAT" => self.log.format,
            "SIGIL_LOG__FILTER" => self.log.filter,
        );
        Ok(())
    }

    /// Check every setting that can be checked without connecting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let db = self.database.url.expose();
        if db.is_empty() {
            return Err(invalid(
                "DATABASE_URL",
                "is required (postgres://USER@HOST/DB)",
            ));
        }
        if !(db.starts_with("postgres://") || db.starts_with("postgresql://")) {
            return Err(invalid(
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
        if let Some(mode) = &self.database.ssl_mode {
            const MODES: &[&str] = &[
                "disable",
                "allow",
                "prefer",
                "require",
                "verify-ca",
                "verify-full",
            ];
            if !MODES.contains(&mode.as_str()) {
                return Err(invalid(
                    "database.ssl_mode",
                    format!("{mode:?} is not one of {MODES:?}"),
                ));
            }
        }
        if let Some(cert) = &self.database.ssl_root_cert
            && !cert.is_file()
        {
            return Err(invalid(
                "database.ssl_root_cert",
                format!("{} is not a readable file", cert.display()),
            ));
        }
        let redis = self.redis.url.expose();
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err(invalid(
                "REDIS_URL",
                "must start with redis:// or rediss://",
            ));
        }
        if let Some(dir) = &self.plugins.dir
            && !dir.is_dir()
        {
            return Err(invalid(
                "SIGIL_PLUGIN_DIR",
                format!("{} is not a directory", dir.display()),
            ));
        }
        if self.plugins.deadline_ms == 0 || self.plugins.deadline_ms > 60_000 {
            return Err(invalid(
                "plugins.deadline_ms",
                "must be between 1 and 60000",
            ));
        }
        if !(1..=4096).contains(&self.plugins.memory_mib) {
            return Err(invalid("plugins.memory_mib", "must be between 1 and 4096"));
        }
        let secret = self.auth.signing_key_secret.expose();
        if !secret.is_empty() && secret.chars().count() < 32 {
            return Err(invalid(
                "auth.signing_key_secret",
                "must be at least 32 characters (or empty to store keys unsealed)",
            ));
        }
        if self.auth.access_token_ttl_secs < 60 || self.auth.access_token_ttl_secs > 24 * 3600 {
            return Err(invalid(
                "auth.access_token_ttl_secs",
                "must be between 60 and 86400",
            ));
        }
        if self.auth.issuer.is_empty() || self.auth.audience.is_empty() {
            return Err(invalid("auth.issuer / auth.audience", "must not be empty"));
        }
        if self.verify.max_batch_items == 0 || self.verify.max_batch_items > 100_000 {
            return Err(invalid(
                "verify.max_batch_items",
                "must be between 1 and 100000",
            ));
        }
        if self.auth.login_window_secs == 0 {
            return Err(invalid("auth.login_window_secs", "must be at least 1"));
        }
        if self.http.max_page_size == 0 {
            return Err(invalid("http.max_page_size", "must be at least 1"));
        }
        if !matches!(self.log.format.as_str(), "json" | "pretty") {
            return Err(invalid("log.format", "must be json or pretty"));
        }
        Ok(())
    }

    /// The URL `sigil migrate` connects with.
    pub fn migrate_url(&self) -> &str {
        if self.database.migrate_url.expose().is_empty() {
            self.database.url.expose()
        } else {
            self.database.migrate_url.expose()
        }
    }

    /// Per-call plugin deadline.
    pub fn plugin_deadline(&self) -> Duration {
        Duration::from_millis(self.plugins.deadline_ms)
    }
}

/// Parse an environment value into a setting's type.
fn parse_env<T: EnvValue>(key: &str, value: &str) -> Result<T, ConfigError> {
    T::parse(value).map_err(|message| invalid(key, message))
}

/// Types a setting can take from the environment.
trait EnvValue: Sized {
    fn parse(value: &str) -> Result<Self, String>;
}

macro_rules! env_value_from_str {
    ($($ty:ty),+) => {$(
        impl EnvValue for $ty {
            fn parse(value: &str) -> Result<Self, String> {
                value.trim().parse().map_err(|e| format!("{value:?}: {e}"))
            }
        }
    )+};
}
env_value_from_str!(u32, u64, usize, bool);

impl EnvValue for String {
    fn parse(value: &str) -> Result<Self, String> {
        Ok(value.to_owned())
    }
}

impl EnvValue for PathBuf {
    fn parse(value: &str) -> Result<Self, String> {
        Ok(PathBuf::from(value))
    }
}

impl<T: EnvValue> EnvValue for Option<T> {
    fn parse(value: &str) -> Result<Self, String> {
        if value.is_empty() {
            Ok(None)
        } else {
            T::parse(value).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn environment_overrides_defaults() {
        let mut config = Config::default();
        config
            .apply_env(env(&[
                ("DATABASE_URL", "postgres://sigil_app@db/sigil"),
                ("SIGIL_LISTEN", "0.0.0.0:9000"),
                ("SIGIL_VERIFY__MAX_BATCH_ITEMS", "50"),
                ("SIGIL_AUTH__OPEN_REGISTRATION", "false"),
            ]))
            .expect("applies");
        config.validate().expect("valid");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.verify.max_batch_items, 50);
        assert!(!config.auth.open_registration);
    }

    #[test]
    fn bad_values_name_their_setting() {
        let mut config = Config::default();
        let error = config
            .apply_env(env(&[("SIGIL_VERIFY__MAX_BATCH_ITEMS", "lots")]))
            .expect_err("refused");
        assert!(
            error.to_string().contains("SIGIL_VERIFY__MAX_BATCH_ITEMS"),
            "{error}"
        );
        let error = Config::default().validate().expect_err("no database");
        assert!(error.to_string().contains("DATABASE_URL"), "{error}");
    }

    #[test]
    fn secrets_do_not_print() {
        let mut config = Config::default();
        config.database.url = Secret::new("postgres://app:hunter2@db/sigil");
        config.auth.signing_key_secret = Secret::new("correct-horse-battery-staple-0123456789");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("correct-horse"));
    }

    #[test]
    fn a_short_signing_key_secret_is_refused() {
        let db = ("DATABASE_URL", "postgres://sigil_app@db/sigil");
        let mut config = Config::default();
        config
            .apply_env(env(&[db, ("SIGIL_SIGNING_KEY_SECRET", "too short")]))
            .expect("applies");
        let error = config.validate().expect_err("refused");
        assert!(error.to_string().contains("signing_key_secret"), "{error}");
        config
            .apply_env(env(&[(
                "SIGIL_SIGNING_KEY_SECRET",
                "thirty-two characters or more, fine",
            )]))
            .expect("applies");
        config.validate().expect("valid");
    }

    #[test]
    fn file_settings_are_read_and_unknown_keys_refused() {
        let dir = std::env::temp_dir().join(format!("sigil-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "[verify]\nmax_batch_items = 10\n[auth]\nopen_registration = false\n",
        )
        .expect("write");
        let config = Config::from_file(&good).expect("parses");
        assert_eq!(config.verify.max_batch_items, 10);
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[verify]\nmax_batch = 10\n").expect("write");
        assert!(Config::from_file(&bad).is_err());
    }
}
