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

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String)))]
async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    use crate::metrics::sample;
    use std::sync::atomic::Ordering::Relaxed;
    let mut gauges = String::new();
    let stats = state.caches.stats();
    for (i, (name, counter)) in stats.all().iter().enumerate() {
        let labels = format!("cache=\"{name}\"");
        sample(
            &mut gauges,
            "sigil_cache_hits_total",
            "counter",
            "Cache hits (in-process or Redis), by cache.",
            &labels,
            counter.hits.load(Relaxed) as f64,
            i == 0,
        );
    }
    for (i, (name, counter)) in stats.all().iter().enumerate() {
        let labels = format!("cache=\"{name}\"");
        sample(
            &mut gauges,
            "sigil_cache_misses_total",
            "counter",
            "Cache misses (answered by PostgreSQL or a plugin), by cache.",
            &labels,
            counter.misses.load(Relaxed) as f64,
            i == 0,
        );
    }
    if let Some(redis) = state.redis.stats() {
        let help = "Redis commands by outcome.";
        sample(
            &mut gauges,
            "sigil_redis_commands_total",
            "counter",
            help,
            "outcome=\"ok\"",
            redis.ok.load(Relaxed) as f64,
            true,
        );
        sample(
            &mut gauges,
            "sigil_redis_commands_total",
            "counter",
            help,
            "outcome=\"failed\"",
            redis.failed.load(Relaxed) as f64,
            false,
        );
        sample(
            &mut gauges,
            "sigil_redis_commands_total",
            "counter",
            help,
            "outcome=\"short_circuited\"",
            redis.short_circuited.load(Relaxed) as f64,
            false,
        );
        sample(
            &mut gauges,
            "sigil_redis_command_seconds_total",
            "counter",
            "Time spent in successful Redis commands.",
            "",
            redis.latency_micros.load(Relaxed) as f64 / 1e6,
            true,
        );
    }
    let breaker = state.redis.breaker_state();
    for (i, name) in ["closed", "open", "half_open", "disabled"]
        .iter()
        .enumerate()
    {
        let value = if *name == breaker { 1.0 } else { 0.0 };
        sample(
            &mut gauges,
            "sigil_redis_breaker_state",
            "gauge",
            "Redis circuit breaker state (1 for the current one).",
            &format!("state=\"{name}\""),
            value,
            i == 0,
        );
    }
    let pool = state.store.pool();
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    sample(
        &mut gauges,
        "sigil_db_pool_connections",
        "gauge",
        "PostgreSQL pool connections by state.",
        "state=\"idle\"",
        idle,
        true,
    );
    sample(
        &mut gauges,
        "sigil_db_pool_connections",
        "gauge",
        "",
        "state=\"in_use\"",
        size - idle,
        false,
    );
    sample(
        &mut gauges,
        "sigil_db_pool_max_connections",
        "gauge",
        "PostgreSQL pool size limit.",
        "",
        f64::from(state.config.database.max_connections),
        true,
    );
    sample(
        &mut gauges,
        "sigil_plugins_loaded",
        "gauge",
        "Plugins serving requests.",
        "",
        state.plugins.snapshot().plugins().len() as f64,
        true,
    );
    let recorder = state.verifier.recorder().stats();
    sample(
        &mut gauges,
        "sigil_record_commits_total",
        "counter",
        "Verification-record transactions committed.",
        "",
        recorder.commits.load(Relaxed) as f64,
        true,
    );
    sample(
        &mut gauges,
        "sigil_record_rows_total",
        "counter",
        "Rows committed by the recorder.",
        "",
        recorder.rows.load(Relaxed) as f64,
        true,
    );
    sample(
        &mut gauges,
        "sigil_record_failures_total",
        "counter",
        "Recorder transactions that failed.",
        "",
        recorder.failures.load(Relaxed) as f64,
        true,
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&gauges),
    )
}
