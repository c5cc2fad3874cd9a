//! Rate limits, every policy in one place. A [`LimitedAction`] names what
//! is being done and by whom; [`check`] derives the counters it is charged
//! to, reads the configured limits and window, counts refusals in the
//! metrics and builds the one 429 problem (with `Retry-After`).
//!
//! - every `/v1/*` request, per client IP and per endpoint, before routing
//!   ([`rate_limit`], the middleware);
//! - every authenticated request, per user (the `Caller` extractor, through
//!   [`charge_user`]);
//! - login attempts per username and per IP, registrations per IP (their
//!   handlers, before any work).
//!
//! Answers to `/v1/*` carry the IETF RateLimit headers
//! (draft-ietf-httpapi-ratelimit-headers) of the request and user limits:
//! `RateLimit-Policy` lists the policies, `RateLimit` reports the one
//! closest to its limit.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::client_ip;
use crate::app::AppState;
use crate::cache::ratelimit::{Decision, Limit};
use crate::config::Config;

/// Something limited, with who does it.
#[derive(Debug, Clone, Copy)]
pub enum LimitedAction<'a> {
    /// Any `/v1/*` request; `endpoint` is `METHOD /route/{template}`.
    Request {
        /// The client.
        ip: IpAddr,
        /// The matched route.
        endpoint: &'a str,
    },
    /// An authenticated request.
    User(Uuid),
    /// A login attempt (counted whether or not it succeeds).
    Login {
        /// The username tried.
        username: &'a str,
        /// The client.
        ip: IpAddr,
    },
    /// An account registration.
    Register(IpAddr),
}

/// The counters an action is charged to, in one window.
struct Policy {
    window: Duration,
    /// (scope, key, limit per window)
    counters: Vec<(&'static str, String, u32)>,
}

impl LimitedAction<'_> {
    /// What this action is charged to; `None` when it is not limited.
    fn policy(&self, config: &Config) -> Option<Policy> {
        match *self {
            LimitedAction::Request { ip, endpoint } => request_policy(config, ip, endpoint),
            LimitedAction::User(user) => user_policy(config, user),
            LimitedAction::Login { username, ip } => Some(login_policy(config, username, ip)),
            LimitedAction::Register(ip) => Some(register_policy(config, ip)),
        }
    }

    /// The problem's detail when `scopes` refused.
    fn refusal(&self, scopes: &[&str], retry: u64) -> String {
        match self {
            LimitedAction::Request { .. } | LimitedAction::User(_) => format!(
                "rate limit exceeded ({}); retry in {retry} s",
                scopes.join(", ")
            ),
            LimitedAction::Login { .. } => "too many login attempts; try again later".to_owned(),
            LimitedAction::Register(_) => {
                "too many registrations from this address; try again later".to_owned()
            }
        }
    }
}

fn request_policy(config: &Config, ip: IpAddr, endpoint: &str) -> Option<Policy> {
    let limits = &config.rate_limits;
    limits.enabled.then(|| Policy {
        window: Duration::from_secs(limits.window_secs),
        counters: vec![
            ("ip", ip.to_string(), limits.per_ip),
            ("endpoint", endpoint.to_owned(), limits.per_endpoint),
        ],
    })
}

fn user_policy(config: &Config, user: Uuid) -> Option<Policy> {
    let limits = &config.rate_limits;
    limits.enabled.then(|| Policy {
        window: Duration::from_secs(limits.window_secs),
        counters: vec![("user", user.to_string(), limits.per_user)],
    })
}

/// Login limits apply even with `rate_limits.enabled = false`: they guard
/// passwords, not capacity.
fn login_policy(config: &Config, username: &str, ip: IpAddr) -> Policy {
    let auth = &config.auth;
    Policy {
        window: Duration::from_secs(auth.login_window_secs),
        counters: vec![
            (
                "login:user",
                username.to_lowercase(),
                auth.login_attempts_per_user,
            ),
            ("login:ip", ip.to_string(), auth.login_attempts_per_ip),
        ],
    }
}

fn register_policy(config: &Config, ip: IpAddr) -> Policy {
    let auth = &config.auth;
    Policy {
        window: Duration::from_secs(auth.login_window_secs),
        counters: vec![("register:ip", ip.to_string(), auth.registrations_per_ip)],
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

/// Charge `action` to its counters, atomically: a refused action counts
/// against none of them. Returns the decisions (empty when the action is
/// not limited).
pub async fn check(state: &AppState, action: LimitedAction<'_>) -> Result<Vec<Decision>, Refused> {
    let Some(policy) = action.policy(&state.config) else {
        return Ok(Vec::new());
    };
    let limits: Vec<Limit<'_>> = policy
        .counters
        .iter()
        .map(|(scope, id, limit)| Limit {
            scope,
            id,
            limit: *limit,
        })
        .collect();
    let decisions = state.rate_limiter.check_all(&limits, policy.window).await;
    let denied: Vec<&Decision> = decisions.iter().filter(|d| !d.allowed).collect();
    if denied.is_empty() {
        return Ok(decisions);
    }
    for decision in &denied {
        state.metrics.rate_limited(&decision.scope);
    }
    let retry = denied.iter().map(|d| d.retry_after_secs).max().unwrap_or(1);
    let scopes: Vec<&str> = denied.iter().map(|d| d.scope.as_str()).collect();
    let error = ApiError::too_many_requests(retry, action.refusal(&scopes, retry));
    Err(Refused { decisions, error })
}

/// Where [`charge_user`] leaves the per-user decision for the middleware's
/// headers (the user is known only once the extractor has run).
#[derive(Debug, Clone, Default)]
struct UserLimitSlot(Arc<Mutex<Vec<Decision>>>);

impl UserLimitSlot {
    fn set(&self, decisions: &[Decision]) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = decisions.to_vec();
        }
    }

    fn take(&self) -> Vec<Decision> {
        self.0
            .lock()
            .map(|mut slot| std::mem::take(&mut *slot))
            .unwrap_or_default()
    }
}

/// The per-user limit, charged by the `Caller` extractor once the user is
/// known.
pub(super) async fn charge_user(
    parts: &Parts,
    state: &AppState,
    user: Uuid,
) -> Result<(), ApiError> {
    let outcome = check(state, LimitedAction::User(user)).await;
    if let Some(slot) = parts.extensions.get::<UserLimitSlot>() {
        slot.set(match &outcome {
            Ok(decisions) => decisions,
            Err(refused) => &refused.decisions,
        });
    }
    outcome.map(drop).map_err(ApiError::from)
}

/// The middleware: the request limits before routing to the handler, the
/// RateLimit headers on the way out.
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.config.rate_limits.enabled || !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let ip = client_ip(&parts, state.config.http.trust_forwarded_for);
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str());
    let endpoint = format!("{} {route}", parts.method);
    let mut decisions = match check(
        &state,
        LimitedAction::Request {
            ip,
            endpoint: &endpoint,
        },
    )
    .await
    {
        Ok(decisions) => decisions,
        Err(refused) => {
            let mut response = refused.error.into_response();
            set_headers(response.headers_mut(), &refused.decisions);
            return response;
        }
    };
    let slot = UserLimitSlot::default();
    parts.extensions.insert(slot.clone());
    let mut response = next.run(Request::from_parts(parts, body)).await;
    decisions.extend(slot.take());
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
