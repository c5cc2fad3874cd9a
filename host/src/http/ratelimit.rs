//! Rate limits on `/v1/*`: per client IP and per endpoint before routing to
//! the handler, per user once the caller is authenticated (see
//! `auth::Caller`). Every limited answer carries the IETF RateLimit
//! headers (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy`
//! lists the policies, `RateLimit` reports the one closest to its limit.
//! A refusal is a 429 problem with `Retry-After`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::client_ip;
use crate::cache::ratelimit::{Decision, Limit};

/// Where the `Caller` extractor leaves the per-user decision for the
/// middleware's headers.
#[derive(Debug, Clone, Default)]
pub struct UserLimitSlot(Arc<Mutex<Option<Decision>>>);

impl UserLimitSlot {
    /// Leave the per-user decision.
    pub fn set(&self, decision: Decision) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(decision);
        }
    }

    fn take(&self) -> Option<Decision> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// The middleware.
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let config = &state.config.rate_limits;
    if !config.enabled || !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let ip = client_ip(&parts, state.config.http.trust_forwarded_for).to_string();
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str());
    let endpoint = format!("{} {route}", parts.method);
    let window = Duration::from_secs(config.window_secs);
    let mut decisions = state
        .rate_limiter
        .check_all(
            &[
                Limit {
                    scope: "ip",
                    id: &ip,
                    limit: config.per_ip,
                },
                Limit {
                    scope: "endpoint",
                    id: &endpoint,
                    limit: config.per_endpoint,
                },
            ],
            window,
        )
        .await;
    if decisions.iter().any(|d| !d.allowed) {
        for decision in decisions.iter().filter(|d| !d.allowed) {
            state.metrics.rate_limited(&decision.scope);
        }
        let mut response = refusal(&decisions).into_response();
        set_headers(response.headers_mut(), &decisions);
        return response;
    }
    let slot = UserLimitSlot::default();
    parts.extensions.insert(slot.clone());
    let mut response = next.run(Request::from_parts(parts, body)).await;
    decisions.extend(slot.take());
    set_headers(response.headers_mut(), &decisions);
    response
}

/// The 429 for a set of decisions of which at least one refused.
pub fn refusal(decisions: &[Decision]) -> ApiError {
    let denied: Vec<&Decision> = decisions.iter().filter(|d| !d.allowed).collect();
    let retry = denied.iter().map(|d| d.retry_after_secs).max().unwrap_or(1);
    let scopes: Vec<&str> = denied.iter().map(|d| d.scope.as_str()).collect();
    ApiError::too_many_requests(
        retry,
        format!(
            "rate limit exceeded ({}); retry in {retry} s",
            scopes.join(", ")
        ),
    )
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
