//! Operations: `/health` (liveness), `/ready` (dependencies), the JWKS.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiJson;
use crate::app::AppState;
use crate::auth::tokens::Jwks;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
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
