//! Checks on values a setting's type admits but the service cannot use,
//! one function per section; errors name the setting and its variable.

use std::fmt::Display;
use std::ops::RangeInclusive;

use super::load::variable_for;
use super::{
    AuthConfig, Config, ConfigError, DatabaseConfig, HistoryConfig, HttpConfig, LogConfig,
    PluginsConfig, QuotasConfig, RedisConfig, VerifyConfig,
};

const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

impl Config {
    /// Check every setting that can be checked without connecting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate()?;
        self.redis.validate()?;
        self.plugins.validate()?;
        self.auth.validate()?;
        self.http.validate()?;
        self.verify.validate(self.database.max_connections)?;
        self.history.validate()?;
        self.rate_limits.validate(self.verify.max_batch_items)?;
        self.overload.validate()?;
        self.quotas.validate()?;
        self.log.validate()
    }
}

impl DatabaseConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let url = self.url.expose();
        if url.is_empty() {
            return Err(invalid(
                "database.url",
                "is required (postgres://USER@HOST/DB)",
            ));
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(
                "database.url",
                "must start with postgres:// or postgresql://",
            ));
        }
        if let Some(mode) = &self.ssl_mode
            && !SSL_MODES.contains(&mode.as_str())
        {
            return Err(invalid(
                "database.ssl_mode",
                format!("{mode:?} is not one of {SSL_MODES:?}"),
            ));
        }
        if let Some(cert) = &self.ssl_root_cert
            && !cert.is_file()
        {
            return Err(invalid(
                "database.ssl_root_cert",
                format!("{} is not a readable file", cert.display()),
            ));
        }
        // The recorder's writers and the requests share the pool.
        within("database.max_connections", self.max_connections, 2..=1000)
    }
}

impl RedisConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, url) in [
            ("redis.url", self.url.expose()),
            ("redis.result_cache_url", self.result_cache_url.expose()),
        ] {
            for url in super::redis_urls(url) {
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    return Err(invalid(key, "must start with redis:// or rediss://"));
                }
            }
        }
        if self.key_prefix.contains(['{', '}']) {
            return Err(invalid(
                "redis.key_prefix",
                "must not contain { or }: Sigil places hash tags in its keys itself",
            ));
        }
        if self.cluster && !self.sentinel_master.is_empty() {
            return Err(invalid(
                "redis.sentinel_master",
                "a Redis Cluster is not managed by Sentinel: set redis.cluster or redis.sentinel_master, not both",
            ));
        }
        let single = !self.cluster && self.sentinel_master.is_empty();
        if single && super::redis_urls(self.url.expose()).len() > 1 {
            return Err(invalid(
                "redis.url",
                "several URLs need redis.cluster = true (seed nodes) or redis.sentinel_master (sentinels)",
            ));
        }
        if super::redis_urls(self.result_cache_url.expose()).len() > 1 {
            return Err(invalid(
                "redis.result_cache_url",
                "names one server (the evictable result cache is not clustered)",
            ));
        }
        if (self.cluster || !single) && self.url.expose().is_empty() {
            return Err(invalid(
                "redis.url",
                "redis.cluster and redis.sentinel_master need the nodes' URLs",
            ));
        }
        if self.url.expose().is_empty() && !self.result_cache_url.expose().is_empty() {
            return Err(invalid(
                "redis.result_cache_url",
                "needs redis.url (the result cache is only the evictable part of Redis)",
            ));
        }
        Ok(())
    }
}

impl PluginsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(dir) = &self.dir
            && !dir.is_dir()
        {
            return Err(invalid(
                "plugins.dir",
                format!("{} is not a directory", dir.display()),
            ));
        }
        within("plugins.deadline_ms", self.deadline_ms, 1..=60_000)?;
        within(
            "plugins.admission_concurrency",
            self.admission_concurrency,
            1..=64,
        )?;
        within("plugins.memory_mib", self.memory_mib, 1..=4096)?;
        self.trusted_publishers()
            .map(|_| ())
            .map_err(|error| invalid("plugins.trusted_publishers", error.to_string()))
    }
}

impl AuthConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let secret = self.signing_key_secret.expose();
        if !secret.is_empty() && secret.chars().count() < 32 {
            return Err(invalid(
                "auth.signing_key_secret",
                "must be at least 32 characters (or empty to store keys unsealed)",
            ));
        }
        within(
            "auth.access_token_ttl_secs",
            self.access_token_ttl_secs,
            60..=24 * 3600,
        )?;
        within(
            "auth.api_token_max_ttl_secs",
            self.api_token_max_ttl_secs,
            60..=10 * 366 * 24 * 3600,
        )?;
        not_empty("auth.issuer", &self.issuer)?;
        not_empty("auth.audience", &self.audience)
    }
}

impl HttpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        at_least_one("http.max_page_size", self.max_page_size.into())
    }
}

impl VerifyConfig {
    fn validate(&self, pool_size: u32) -> Result<(), ConfigError> {
        within("verify.max_batch_items", self.max_batch_items, 1..=100_000)?;
        // Each writer holds a pooled connection while it commits: writers
        // that could take the whole pool would starve every other query.
        within("verify.record_writers", self.record_writers, 1..=16)?;
        if self.record_writers >= pool_size as usize {
            return Err(invalid(
                "verify.record_writers",
                format!("must be less than database.max_connections ({pool_size})"),
            ));
        }
        // Every request in a group waits for its commit: a linger of
        // seconds would be a stall, not a group.
        within(
            "verify.record_batch_linger_ms",
            self.record_batch_linger_ms,
            0..=100,
        )
    }
}

impl HistoryConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        within("history.partitions_ahead", self.partitions_ahead, 1..=366)?;
        within("history.retention_days", self.retention_days, 0..=36_500)?;
        within(
            "history.audit_retention_days",
            self.audit_retention_days,
            0..=36_500,
        )?;
        at_least_one(
            "history.maintenance_interval_secs",
            self.maintenance_interval_secs,
        )
    }
}

impl QuotasConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        at_least_one("quotas.keys_per_user", self.keys_per_user.into())?;
        at_least_one("quotas.sessions_per_user", self.sessions_per_user.into())?;
        at_least_one("quotas.tokens_per_user", self.tokens_per_user.into())
    }
}

impl LogConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        match self.format.as_str() {
            "json" | "pretty" => Ok(()),
            _ => Err(invalid("log.format", "must be json or pretty")),
        }
    }
}

pub(super) fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        variable: variable_for(key),
        message: message.into(),
    }
}

pub(super) fn within<T: PartialOrd + Display>(
    key: &str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        Ok(())
    } else {
        let (low, high) = range.into_inner();
        Err(invalid(key, format!("must be between {low} and {high}")))
    }
}

pub(super) fn at_least_one(key: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        Err(invalid(key, "must be at least 1"))
    } else {
        Ok(())
    }
}

fn not_empty(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        Err(invalid(key, "must not be empty"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Config {
        let mut config = Config::default();
        config.database.url = super::super::Secret::new("postgres://sigil_app@db/sigil");
        config
    }

    #[test]
    fn the_defaults_with_a_database_are_valid() {
        valid().validate().expect("valid");
    }

    #[test]
    fn each_refusal_names_its_setting_and_variable() {
        type Spoil = fn(&mut Config);
        let cases: [(Spoil, &str, &str); 19] = [
            (
                |c| c.verify.record_writers = 0,
                "verify.record_writers",
                "SIGIL_VERIFY__RECORD_WRITERS",
            ),
            (
                // As many writers as pooled connections: none left for requests.
                |c| c.verify.record_writers = c.database.max_connections as usize,
                "verify.record_writers",
                "SIGIL_VERIFY__RECORD_WRITERS",
            ),
            (
                |c| c.database.max_connections = 1,
                "database.max_connections",
                "SIGIL_DATABASE__MAX_CONNECTIONS",
            ),
            (
                |c| c.verify.record_batch_linger_ms = 101,
                "verify.record_batch_linger_ms",
                "SIGIL_VERIFY__RECORD_BATCH_LINGER_MS",
            ),
            (
                |c| c.database.url = Default::default(),
                "database.url",
                "DATABASE_URL",
            ),
            (
                |c| c.database.ssl_mode = Some("always".into()),
                "database.ssl_mode",
                "SIGIL_DATABASE__SSL_MODE",
            ),
            (
                |c| c.redis.url = super::super::Secret::new("http://cache"),
                "redis.url",
                "REDIS_URL",
            ),
            (
                |c| {
                    c.redis.url = super::super::Secret::new("redis://main");
                    c.redis.result_cache_url = super::super::Secret::new("cache:6379");
                },
                "redis.result_cache_url",
                "SIGIL_REDIS__RESULT_CACHE_URL",
            ),
            (
                |c| c.redis.url = super::super::Secret::new("redis://a:1,redis://b:2"),
                "redis.url",
                "REDIS_URL",
            ),
            (
                |c| {
                    c.redis.url = super::super::Secret::new("redis://a:1,redis://b:2");
                    c.redis.cluster = true;
                    c.redis.sentinel_master = "main".into();
                },
                "redis.sentinel_master",
                "SIGIL_REDIS__SENTINEL_MASTER",
            ),
            (
                |c| c.quotas.keys_per_user = 0,
                "quotas.keys_per_user",
                "SIGIL_QUOTAS__KEYS_PER_USER",
            ),
            (
                |c| c.quotas.sessions_per_user = 0,
                "quotas.sessions_per_user",
                "SIGIL_QUOTAS__SESSIONS_PER_USER",
            ),
            (
                |c| c.quotas.tokens_per_user = 0,
                "quotas.tokens_per_user",
                "SIGIL_QUOTAS__TOKENS_PER_USER",
            ),
            (
                |c| c.auth.api_token_max_ttl_secs = 59,
                "auth.api_token_max_ttl_secs",
                "SIGIL_AUTH__API_TOKEN_MAX_TTL_SECS",
            ),
            (
                |c| c.plugins.deadline_ms = 0,
                "plugins.deadline_ms",
                "SIGIL_PLUGINS__DEADLINE_MS",
            ),
            (
                |c| c.auth.access_token_ttl_secs = 59,
                "auth.access_token_ttl_secs",
                "SIGIL_AUTH__ACCESS_TOKEN_TTL_SECS",
            ),
            (
                |c| c.auth.audience.clear(),
                "auth.audience",
                "SIGIL_AUTH__AUDIENCE",
            ),
            (
                |c| c.verify.max_batch_items = 100_001,
                "verify.max_batch_items",
                "SIGIL_VERIFY__MAX_BATCH_ITEMS",
            ),
            (
                |c| c.log.format = "xml".into(),
                "log.format",
                "SIGIL_LOG__FORMAT",
            ),
        ];
        for (spoil, key, variable) in cases {
            let mut config = valid();
            spoil(&mut config);
            let error = config.validate().expect_err(key).to_string();
            assert!(error.contains(key) && error.contains(variable), "{error}");
        }
    }
}
