//! Operations: `/health` (liveness), `/ready` (dependencies), `/metrics`
//! (Prometheus), and the JWKS that verifies access tokens.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiJson;
use crate::app::AppState;
use crate::auth::tokens::Jwks;
use crate::metrics::Sample;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(metrics))
        .routes(routes!(ready))
        .routes(routes!(jwks))
}

/// Liveness.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// Readiness and what it is made of.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// PostgreSQL answers.
    pub database: bool,
    /// `up`, `down` (requests run on fallbacks) or `disabled`.
    pub redis: &'static str,
    /// Redis circuit breaker state.
    pub redis_breaker: &'static str,
    /// Plugins loaded.
    pub plugins: usize,
}

/// The process is alive.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Health)))]
async fn health() -> ApiJson<Health> {
    ApiJson(Health { status: "ok" })
}

/// Whether the service can serve: PostgreSQL answers and plugins are
/// loaded. Redis being down does not make it unready (fallbacks).
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn ready(State(state): State<AppState>) -> (StatusCode, ApiJson<Readiness>) {
    let database = state.store.ping().await;
    let plugins = state.plugins.snapshot().plugins().len();
    let redis = if !state.redis.is_configured() {
        "disabled"
    } else if state.redis.ping().await {
        "up"
    } else {
        "down"
    };
    let ready = database && plugins > 0;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        ApiJson(Readiness {
            status: if ready { "ready" } else { "not_ready" },
            database,
            redis,
            redis_breaker: state.redis.breaker_state(),
            plugins,
        }),
    )
}

/// Public keys that verify access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth", responses((status = 200, body = Jwks)))]
async fn jwks(State(state): State<AppState>) -> ApiJson<Jwks> {
    ApiJson(state.tokens.jwks())
}

/// Prometheus metrics (text exposition format): what the metrics registry
/// recorded, then the samples each component exposes now.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String)))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let plugins = state.plugins.snapshot().plugins().len() as f64;
    let gauges = state
        .caches
        .stats()
        .samples()
        .chain(state.redis.samples())
        .chain(state.store.pool_samples())
        .chain([Sample::gauge(
            "sigil_plugins_loaded",
            "Plugins serving requests.",
            plugins,
        )])
        .chain(state.verifier.recorder().stats().samples());
    let text = state.metrics.render(gauges);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
