//! Rate limits, every policy in one place. A [`LimitedAction`] names what
//! is being done and by whom; its counters, limits and windows are below,
//! and [`check`] charges them (atomically, in Redis: see
//! `cache::ratelimit`), counts refusals in the metrics and builds the 429
//! problem (with `Retry-After`).
//!
//! Who is counted: the authenticated user where there is one, the client
//! network otherwise ([`client_network`]: the IPv4 address, the IPv6 /64;
//! both prefix lengths are settings). No counter is shared by every
//! client, so no flood of unauthenticated requests can make a user's
//! request answer 429. What protects the server as a whole is the bound on
//! requests in flight (`http::shed_load`, 503), not a counter.
//!
//! | action | counted per | limit (`rate_limits.*`) | charged by |
//! |---|---|---|---|
//! | any `/v1/*` request | user, or network without one | `per_user`, `per_network` | [`rate_limit`] |
//! | verification items | user | `verify_items_per_minute` | [`rate_limit`] (single), the batch handler ([`charge_items`], per item) |
//! | key writes | user | `key_writes_per_user` | [`rate_limit`] |
//! | plugin uploads | user | `plugin_uploads_per_user` | [`rate_limit`] |
//! | refresh | network | `refreshes_per_network` | [`rate_limit`] |
//! | registration | network | `registrations_per_network` | [`rate_limit`] |
//! | login | network; (username, network) with growing lockouts; username unless the network logged in as that user recently | `login_*` | the login handler ([`login_gate`], [`login_succeeded`]) |
//!
//! The middleware authenticates a presented bearer token once, before
//! routing, so that the request is counted against its user; the `Caller`
//! extractor takes that result (see [`Authentication`]).
//!
//! Answers to `/v1/*` carry the IETF RateLimit headers
//! (draft-ietf-httpapi-ratelimit-headers) of the limits charged before the
//! handler: `RateLimit-Policy` lists the policies, `RateLimit` reports the
//! one closest to its limit.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{bearer_token, client_ip};
use crate::app::AppState;
use crate::auth::{AuthError, Caller, authenticate};
use crate::cache::ratelimit::{Decision, Limit, Lockout};
use crate::config::RateLimitsConfig;

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// An authenticated user.
    User(Uuid),
    /// A client network ([`client_network`]) without an authenticated user.
    Network(String),
}

/// Something limited, with who does it.
#[derive(Debug, Clone, Copy)]
pub enum LimitedAction<'a> {
    /// Any `/v1/*` request.
    Request(&'a Client),
    /// Verification items (1 for a single verification, a batch's count).
    VerifyItems {
        /// The user.
        user: Uuid,
        /// How many.
        items: u32,
    },
    /// Creating, changing, revoking or deleting a key.
    KeyWrite(Uuid),
    /// Uploading a plugin.
    PluginUpload(Uuid),
    /// Exchanging a refresh token, from a client network.
    Refresh(&'a str),
    /// Registering an account, from a client network.
    Register(&'a str),
    /// A login attempt from a client network for a (lowercased) username;
    /// `trusted` when that network logged in as that user recently (then
    /// the per-username ceiling does not apply).
    Login {
        /// The client network.
        network: &'a str,
        /// The username, lowercased.
        username: &'a str,
        /// Whether the network logged in as that user recently.
        trusted: bool,
    },
}

/// One counter an action is charged to.
struct Counter {
    scope: &'static str,
    key: String,
    limit: u32,
    window: Duration,
    cost: u32,
}

impl Counter {
    fn new(scope: &'static str, key: impl Into<String>, limit: u32, window: Duration) -> Self {
        Self {
            scope,
            key: key.into(),
            limit,
            window,
            cost: 1,
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);

impl LimitedAction<'_> {
    /// The counters this action is charged to; none when it is not
    /// limited.
    fn counters(&self, limits: &RateLimitsConfig) -> Vec<Counter> {
        let window = Duration::from_secs(limits.window_secs);
        let login_window = Duration::from_secs(limits.login_window_secs);
        // Login and registration limits guard accounts, not capacity:
        // they apply with `rate_limits.enabled = false` too.
        match *self {
            LimitedAction::Register(network) => vec![Counter::new(
                "register",
                network,
                limits.registrations_per_network,
                login_window,
            )],
            LimitedAction::Login {
                network,
                username,
                trusted,
            } => {
                let mut counters = vec![Counter::new(
                    "login_network",
                    network,
                    limits.login_attempts_per_network,
                    login_window,
                )];
                if !trusted {
                    counters.push(Counter::new(
                        "login_username",
                        username,
                        limits.login_attempts_per_username,
                        login_window,
                    ));
                }
                counters
            }
            _ if !limits.enabled => Vec::new(),
            LimitedAction::Request(Client::User(user)) => {
                vec![Counter::new(
                    "user",
                    user.to_string(),
                    limits.per_user,
                    window,
                )]
            }
            LimitedAction::Request(Client::Network(network)) => {
                vec![Counter::new("network", network, limits.per_network, window)]
            }
            LimitedAction::VerifyItems { user, items } => vec![Counter {
                cost: items,
                ..Counter::new(
                    "verify_items",
                    user.to_string(),
                    limits.verify_items_per_minute,
                    MINUTE,
                )
            }],
            LimitedAction::KeyWrite(user) => vec![Counter::new(
                "key_writes",
                user.to_string(),
                limits.key_writes_per_user,
                window,
            )],
            LimitedAction::PluginUpload(user) => vec![Counter::new(
                "plugin_uploads",
                user.to_string(),
                limits.plugin_uploads_per_user,
                window,
            )],
            LimitedAction::Refresh(network) => vec![Counter::new(
                "refresh",
                network,
                limits.refreshes_per_network,
                window,
            )],
        }
    }

    /// The problem when this action is refused.
    fn refusal(&self, scopes: &[&str], retry: u64) -> ApiError {
        let (code, detail) = match self {
            LimitedAction::VerifyItems { items, .. } => (
                "verification_quota_exceeded",
                format!(
                    "the verification quota per user per minute has no room for {items} more item(s); retry in {retry} s"
                ),
            ),
            LimitedAction::Login { .. } => (
                "rate_limited",
                "too many login attempts; try again later".to_owned(),
            ),
            LimitedAction::Register(_) => (
                "rate_limited",
                "too many registrations from this network; try again later".to_owned(),
            ),
            _ => (
                "rate_limited",
                format!(
                    "rate limit exceeded ({}); retry in {retry} s",
                    scopes.join(", ")
                ),
            ),
        };
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, detail)
            .with_header(header::RETRY_AFTER, retry.to_string())
    }
}

/// The network a client address is counted in: the address's first
/// `ipv4_prefix_len` / `ipv6_prefix_len` bits (an IPv4-mapped IPv6 address
/// counts as its IPv4 address), as `address/length`.
pub fn client_network(ip: IpAddr, limits: &RateLimitsConfig) -> String {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let len = u32::from(limits.ipv4_prefix_len.min(32));
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            format!("{}/{len}", Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let len = u32::from(limits.ipv6_prefix_len.min(128));
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            format!("{}/{len}", Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// An action a limit refused: the 429 to answer, and every decision for
/// the RateLimit headers.
#[derive(Debug)]
pub struct Refused {
    /// One decision per counter, allowed or not.
    pub decisions: Vec<Decision>,
    /// The 429 problem.
    pub error: ApiError,
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        refused.error
    }
}

/// Charge `actions` to their counters, atomically: if any counter
/// refuses, none is charged. Returns the decisions (empty when nothing is
/// limited); a refusal is the first refused action's problem.
pub async fn check(
    state: &AppState,
    actions: &[LimitedAction<'_>],
) -> Result<Vec<Decision>, Refused> {
    let limits = &state.config.rate_limits;
    let counters: Vec<(usize, Counter)> = actions
        .iter()
        .enumerate()
        .flat_map(|(i, action)| action.counters(limits).into_iter().map(move |c| (i, c)))
        .collect();
    if counters.is_empty() {
        return Ok(Vec::new());
    }
    let charged: Vec<Limit<'_>> = counters
        .iter()
        .map(|(_, c)| Limit {
            scope: c.scope,
            id: &c.key,
            limit: c.limit,
            window: c.window,
            cost: c.cost,
        })
        .collect();
    let decisions = state.rate_limiter.check_all(&charged).await;
    let denied: Vec<(usize, &Decision)> = counters
        .iter()
        .zip(&decisions)
        .filter(|(_, d)| !d.allowed)
        .map(|((i, _), d)| (*i, d))
        .collect();
    let Some(&(first, _)) = denied.first() else {
        return Ok(decisions);
    };
    for (_, decision) in &denied {
        state.metrics.rate_limited(&decision.scope);
    }
    let retry = denied
        .iter()
        .map(|(_, d)| d.retry_after_secs)
        .max()
        .unwrap_or(1);
    let scopes: Vec<&str> = denied.iter().map(|(_, d)| d.scope.as_str()).collect();
    let error = actions[first].refusal(&scopes, retry);
    Err(Refused { decisions, error })
}

/// Charge a batch's items to its user's verification quota, before any of
/// them is verified.
pub async fn charge_items(state: &AppState, user: Uuid, items: usize) -> Result<(), ApiError> {
    let items = u32::try_from(items).unwrap_or(u32::MAX);
    check(state, &[LimitedAction::VerifyItems { user, items }])
        .await
        .map(drop)
        .map_err(ApiError::from)
}

/// What a route costs besides the request itself, by method and route
/// template. Login and batch verification are charged by their handlers
/// (they need the body: the username, the item count).
enum RouteCharge {
    VerifyOne,
    KeyWrite,
    PluginUpload,
    Refresh,
    Register,
}

fn route_charge(method: &Method, route: &str) -> Option<RouteCharge> {
    match (method.as_str(), route) {
        ("POST", "/v1/verify") => Some(RouteCharge::VerifyOne),
        ("POST", "/v1/keys" | "/v1/keys/{id}/revoke") | ("PATCH" | "DELETE", "/v1/keys/{id}") => {
            Some(RouteCharge::KeyWrite)
        }
        ("POST", "/v1/plugins") => Some(RouteCharge::PluginUpload),
        ("POST", "/v1/auth/refresh") => Some(RouteCharge::Refresh),
        ("POST", "/v1/auth/register") => Some(RouteCharge::Register),
        _ => None,
    }
}

/// The authentication the middleware did, for the `Caller` extractor to
/// take (once) rather than authenticate the token again.
#[derive(Clone, Default)]
pub struct Authentication(Arc<Mutex<Option<Result<Caller, AuthError>>>>);

impl Authentication {
    /// The middleware's result, if it authenticated this request.
    pub fn take(&self) -> Option<Result<Caller, AuthError>> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// The middleware: authenticate a presented token, charge the request and
/// its route's action to the user or the client network before the
/// handler runs, add the RateLimit headers on the way out.
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let limits = &state.config.rate_limits;
    let ip = client_ip(&parts, state.config.http.trust_forwarded_for);
    let network = client_network(ip, limits);
    let mut who = Client::Network(network.clone());
    if limits.enabled
        && let Ok(token) = bearer_token(&parts)
    {
        let outcome = authenticate(&state, token, ip).await;
        if let Ok(caller) = &outcome {
            who = Client::User(caller.id());
        }
        parts
            .extensions
            .insert(Authentication(Arc::new(Mutex::new(Some(outcome)))));
    }
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str());
    let mut actions = vec![LimitedAction::Request(&who)];
    match (route_charge(&parts.method, route), &who) {
        (Some(RouteCharge::VerifyOne), Client::User(user)) => {
            actions.push(LimitedAction::VerifyItems {
                user: *user,
                items: 1,
            });
        }
        (Some(RouteCharge::KeyWrite), Client::User(user)) => {
            actions.push(LimitedAction::KeyWrite(*user));
        }
        (Some(RouteCharge::PluginUpload), Client::User(user)) => {
            actions.push(LimitedAction::PluginUpload(*user));
        }
        (Some(RouteCharge::Refresh), _) => actions.push(LimitedAction::Refresh(&network)),
        (Some(RouteCharge::Register), _) => actions.push(LimitedAction::Register(&network)),
        // Without a user the handler answers 401: the request is counted.
        _ => {}
    }
    let decisions = match check(&state, &actions).await {
        Ok(decisions) => decisions,
        Err(refused) => {
            let mut response = refused.error.into_response();
            set_headers(response.headers_mut(), &refused.decisions);
            return response;
        }
    };
    let mut response = next.run(Request::from_parts(parts, body)).await;
    set_headers(response.headers_mut(), &decisions);
    response
}

fn set_headers(headers: &mut HeaderMap, decisions: &[Decision]) {
    if decisions.is_empty() {
        return;
    }
    let policy = decisions
        .iter()
        .map(|d| format!("\"{}\";q={};w={}", d.scope, d.limit, d.window_secs))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(tightest) = decisions.iter().min_by_key(|d| d.remaining) {
        let current = format!(
            "\"{}\";r={};t={}",
            tightest.scope, tightest.remaining, tightest.reset_secs
        );
        if let Ok(value) = HeaderValue::from_str(&current) {
            headers.insert("ratelimit", value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert("ratelimit-policy", value);
    }
}

/// A login attempt [`login_gate`] let through.
#[derive(Debug)]
pub struct LoginPass {
    /// `username|network`: the lockout's and the trust marker's id.
    pair: String,
}

fn lockout(limits: &RateLimitsConfig) -> Lockout {
    Lockout {
        free: limits.login_free_attempts,
        base: Duration::from_secs(limits.login_lockout_base_secs),
        max: Duration::from_secs(limits.login_lockout_max_secs),
        memory: Duration::from_secs(limits.login_window_secs),
    }
}

/// Throttle a login attempt for `username` from `ip`, before the password
/// is checked:
///
/// 1. per (username, network): `login_free_attempts`, then each attempt
///    locks the pair for `login_lockout_base_secs`, doubling up to
///    `login_lockout_max_secs` (a success clears it). Attempts refused by
///    the lock count nowhere else;
/// 2. per network, any usernames: `login_attempts_per_network`;
/// 3. per username, all networks: `login_attempts_per_username`, except
///    from a network where this user logged in within
///    `login_trusted_network_secs`.
///
/// An attacker at one network locks only that network out (slower and
/// slower); the ceiling needs many networks, and even then the owner's
/// usual networks stay open.
pub async fn login_gate(
    state: &AppState,
    username: &str,
    ip: IpAddr,
) -> Result<LoginPass, ApiError> {
    let limits = &state.config.rate_limits;
    let network = client_network(ip, limits);
    let username = username.to_lowercase();
    let pair = format!("{username}|{network}");
    let attempt = state
        .rate_limiter
        .attempt(&format!("login:{pair}"), &lockout(limits))
        .await;
    if !attempt.allowed {
        state.metrics.rate_limited("login_pair");
        let retry = attempt.lock.as_millis().div_ceil(1000).max(1);
        return Err(LimitedAction::Login {
            network: &network,
            username: &username,
            trusted: false,
        }
        .refusal(&["login_pair"], u64::try_from(retry).unwrap_or(u64::MAX)));
    }
    let trusted = state
        .rate_limiter
        .is_marked(&format!("login-trusted:{pair}"))
        .await;
    check(
        state,
        &[LimitedAction::Login {
            network: &network,
            username: &username,
            trusted,
        }],
    )
    .await?;
    Ok(LoginPass { pair })
}

/// A login through `pass` succeeded: its pair's attempts are forgotten and
/// its network is trusted for the user (exempt from the per-username
/// ceiling) for `login_trusted_network_secs`.
pub async fn login_succeeded(state: &AppState, pass: LoginPass) {
    let limits = &state.config.rate_limits;
    state
        .rate_limiter
        .clear(&format!("login:{}", pass.pair))
        .await;
    state
        .rate_limiter
        .mark(
            &format!("login-trusted:{}", pass.pair),
            Duration::from_secs(limits.login_trusted_network_secs),
        )
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_network_is_the_address_prefix_of_the_configured_length() {
        let mut limits = RateLimitsConfig::default();
        let v4: IpAddr = "192.0.2.7".parse().expect("ip");
        assert_eq!(client_network(v4, &limits), "192.0.2.7/32");
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_network(a, &limits), "2001:db8:1:2::/64");
        assert_eq!(client_network(a, &limits), client_network(b, &limits));
        assert_ne!(client_network(a, &limits), client_network(c, &limits));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(client_network(mapped, &limits), "192.0.2.7/32");

        limits.ipv4_prefix_len = 24;
        limits.ipv6_prefix_len = 48;
        assert_eq!(client_network(v4, &limits), "192.0.2.0/24");
        assert_eq!(client_network(c, &limits), "2001:db8:1::/48");
        limits.ipv6_prefix_len = 128;
        assert_eq!(client_network(a, &limits), "2001:db8:1:2:aaaa::1/128");
    }

    #[test]
    fn every_counter_is_per_user_or_per_network() {
        let limits = RateLimitsConfig::default();
        let user = Uuid::new_v4();
        let network = "192.0.2.7/32".to_owned();
        let anonymous = Client::Network(network.clone());
        let signed_in = Client::User(user);
        let actions = [
            LimitedAction::Request(&anonymous),
            LimitedAction::Request(&signed_in),
            LimitedAction::VerifyItems { user, items: 3 },
            LimitedAction::KeyWrite(user),
            LimitedAction::PluginUpload(user),
            LimitedAction::Refresh(&network),
            LimitedAction::Register(&network),
        ];
        for action in actions {
            let counters = action.counters(&limits);
            assert!(!counters.is_empty(), "{action:?}");
            for counter in counters {
                assert!(
                    counter.key == user.to_string() || counter.key == network,
                    "{action:?} is counted on {}",
                    counter.key
                );
            }
        }
        let items = LimitedAction::VerifyItems { user, items: 3 }.counters(&limits);
        assert_eq!((items[0].cost, items[0].window), (3, MINUTE));
    }

    #[test]
    fn a_trusted_network_skips_the_username_ceiling_only() {
        let limits = RateLimitsConfig::default();
        let scopes = |trusted| {
            LimitedAction::Login {
                network: "n",
                username: "admin",
                trusted,
            }
            .counters(&limits)
            .iter()
            .map(|c| c.scope)
            .collect::<Vec<_>>()
        };
        assert_eq!(scopes(false), ["login_network", "login_username"]);
        assert_eq!(scopes(true), ["login_network"]);
    }

    #[test]
    fn the_routes_charged_besides_the_request() {
        assert!(matches!(
            route_charge(&Method::POST, "/v1/verify"),
            Some(RouteCharge::VerifyOne)
        ));
        assert!(route_charge(&Method::POST, "/v1/verify/batch").is_none());
        assert!(matches!(
            route_charge(&Method::DELETE, "/v1/keys/{id}"),
            Some(RouteCharge::KeyWrite)
        ));
        assert!(route_charge(&Method::GET, "/v1/keys").is_none());
    }
}
