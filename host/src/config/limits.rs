//! Rate limits, login throttling and overload protection: the settings of
//! `http::ratelimit` (sections `rate_limits` and `overload`), kept apart
//! from the other sections, with their checks.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::validate::{at_least_one, invalid, within};

/// Rate limits (sliding windows). Each counter is keyed by the
/// authenticated user where there is one, and by the client network
/// (`ipv4_prefix_len`, `ipv6_prefix_len`) otherwise; there is no counter
/// every client shares.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Apply the request and action limits (login throttling and the
    /// registration limit apply regardless: they guard accounts, not
    /// capacity).
    pub enabled: bool,
    /// Window of the request, key-write, plugin-upload and refresh
    /// limits, in seconds.
    pub window_secs: u64,
    /// IPv4 clients are counted per network of this prefix length.
    pub ipv4_prefix_len: u8,
    /// IPv6 clients are counted per network of this prefix length.
    pub ipv6_prefix_len: u8,
    /// Requests per authenticated user per window.
    pub per_user: u32,
    /// Requests without an authenticated user (no token, or one that
    /// fails) per client network per window.
    pub per_network: u32,
    /// Verification items (a single verification is one, a batch one per
    /// item) per user per minute.
    pub verify_items_per_minute: u32,
    /// Key writes (create, update, revoke, delete) per user per window.
    pub key_writes_per_user: u32,
    /// Plugin uploads per user per window.
    pub plugin_uploads_per_user: u32,
    /// Refresh-token exchanges per client network per window.
    pub refreshes_per_network: u32,
    /// Registrations per client network per `login_window_secs`.
    pub registrations_per_network: u32,
    /// Window of the login and registration limits, in seconds.
    pub login_window_secs: u64,
    /// Login attempts per client network (any usernames) per login window.
    pub login_attempts_per_network: u32,
    /// Login attempts one client network may make for one username before
    /// each further attempt locks the pair for a growing time.
    pub login_free_attempts: u32,
    /// The first lockout of a (username, network) pair, in seconds; each
    /// further attempt doubles it.
    pub login_lockout_base_secs: u64,
    /// The longest lockout, in seconds.
    pub login_lockout_max_secs: u64,
    /// Login attempts per username per login window from all networks,
    /// except those where that user logged in recently.
    pub login_attempts_per_username: u32,
    /// How long a successful login exempts its network from the
    /// per-username ceiling, in seconds.
    pub login_trusted_network_secs: u64,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 60,
            ipv4_prefix_len: 32,
            ipv6_prefix_len: 64,
            per_user: 6_000,
            per_network: 600,
            verify_items_per_minute: 60_000,
            key_writes_per_user: 120,
            plugin_uploads_per_user: 10,
            refreshes_per_network: 300,
            registrations_per_network: 20,
            login_window_secs: 300,
            login_attempts_per_network: 50,
            login_free_attempts: 5,
            login_lockout_base_secs: 1,
            login_lockout_max_secs: 900,
            login_attempts_per_username: 100,
            login_trusted_network_secs: 30 * 24 * 3600,
        }
    }
}

/// Overload protection: a bound on the requests in flight at once, past
/// which requests are shed with 503 and `Retry-After`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverloadConfig {
    /// Requests in flight at once on this host (`/health` and `/metrics`
    /// are not counted).
    pub max_in_flight: u32,
    /// `Retry-After` of a shed request, in seconds.
    pub retry_after_secs: u64,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 1024,
            retry_after_secs: 1,
        }
    }
}

impl RateLimitsConfig {
    pub(super) fn validate(&self, max_batch_items: usize) -> Result<(), ConfigError> {
        within("rate_limits.ipv4_prefix_len", self.ipv4_prefix_len, 1..=32)?;
        within("rate_limits.ipv6_prefix_len", self.ipv6_prefix_len, 1..=128)?;
        at_least_one("rate_limits.window_secs", self.window_secs)?;
        at_least_one("rate_limits.login_window_secs", self.login_window_secs)?;
        for (key, value) in [
            ("rate_limits.per_user", self.per_user),
            ("rate_limits.per_network", self.per_network),
            ("rate_limits.key_writes_per_user", self.key_writes_per_user),
            (
                "rate_limits.plugin_uploads_per_user",
                self.plugin_uploads_per_user,
            ),
            (
                "rate_limits.refreshes_per_network",
                self.refreshes_per_network,
            ),
            (
                "rate_limits.login_attempts_per_network",
                self.login_attempts_per_network,
            ),
            (
                "rate_limits.login_attempts_per_username",
                self.login_attempts_per_username,
            ),
        ] {
            at_least_one(key, value.into())?;
        }
        if usize::try_from(self.verify_items_per_minute).unwrap_or(usize::MAX) < max_batch_items {
            return Err(invalid(
                "rate_limits.verify_items_per_minute",
                format!(
                    "must be at least verify.max_batch_items ({max_batch_items}), or a full batch could never be verified"
                ),
            ));
        }
        at_least_one(
            "rate_limits.login_lockout_base_secs",
            self.login_lockout_base_secs,
        )?;
        if self.login_lockout_max_secs < self.login_lockout_base_secs {
            return Err(invalid(
                "rate_limits.login_lockout_max_secs",
                "must be at least rate_limits.login_lockout_base_secs",
            ));
        }
        Ok(())
    }
}

impl OverloadConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        at_least_one("overload.max_in_flight", self.max_in_flight.into())?;
        within("overload.retry_after_secs", self.retry_after_secs, 1..=3600)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, Secret};

    fn valid() -> Config {
        let mut config = Config::default();
        config.database.url = Secret::new("postgres://sigil_app@db/sigil");
        config
    }

    #[test]
    fn limit_settings_out_of_range_are_refused_by_name() {
        type Spoil = fn(&mut Config);
        let cases: [(Spoil, &str); 6] = [
            (
                |c| c.rate_limits.ipv6_prefix_len = 129,
                "SIGIL_RATE_LIMITS__IPV6_PREFIX_LEN",
            ),
            (
                |c| c.rate_limits.ipv4_prefix_len = 0,
                "SIGIL_RATE_LIMITS__IPV4_PREFIX_LEN",
            ),
            (
                |c| c.rate_limits.verify_items_per_minute = 999,
                "SIGIL_RATE_LIMITS__VERIFY_ITEMS_PER_MINUTE",
            ),
            (
                |c| c.rate_limits.login_lockout_max_secs = 0,
                "SIGIL_RATE_LIMITS__LOGIN_LOCKOUT_MAX_SECS",
            ),
            (
                |c| c.rate_limits.per_network = 0,
                "SIGIL_RATE_LIMITS__PER_NETWORK",
            ),
            (
                |c| c.overload.max_in_flight = 0,
                "SIGIL_OVERLOAD__MAX_IN_FLIGHT",
            ),
        ];
        for (spoil, variable) in cases {
            let mut config = valid();
            spoil(&mut config);
            let error = config.validate().expect_err(variable).to_string();
            assert!(error.contains(variable), "{error}");
        }
        valid().validate().expect("the defaults are valid");
    }
}
