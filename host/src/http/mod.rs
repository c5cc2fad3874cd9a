//! The HTTP API: one module per resource, each exporting `router()`; what
//! handlers extract besides the body ([`extract`]: caller, permission,
//! client address); every rate limit ([`ratelimit`]); the middleware
//! stack, with its bound on requests in flight (`shed_load`); the OpenAPI
//! document generated from the handlers' annotations and completed by
//! [`openapi`] (`/openapi.json`).

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod error;
pub mod extract;
pub mod history;
pub mod keys;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod plugins;
pub mod ratelimit;
pub mod tokens;
pub mod users;
pub mod verify;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use error::ApiError;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(title = "Sigil", description = "Signature verification with algorithms as sandboxed WebAssembly components."),
    modifiers(&BearerAuth),
    components(schemas(error::Problem))
)]
struct ApiDoc;

/// Declares the bearer schemes: `bearer` (a login session's access JWT)
/// and `api_token` (`sigil_pat_...`, see `/v1/tokens`); operations list the
/// permission they need as the scheme's scope.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A login session's access token (`POST /v1/auth/login`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_TOKEN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sigil_pat")
                    .description(Some(
                        "An API token (`sigil_pat_...`, `POST /v1/tokens`), sent as \
                         `Authorization: Bearer`. Its permissions are its scopes, \
                         limited to those its owner still holds.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The name of the API-token security scheme.
const API_TOKEN_SCHEME: &str = "api_token";

/// POST operations an API token cannot do.
const SESSION_ONLY: [&str; 2] = ["/v1/tokens", "/v1/auth/logout"];

/// An API token authenticates wherever an access token does: every
/// operation that accepts `bearer` also accepts `api_token` with the same
/// scopes (an alternative requirement), except creating a token and
/// logging out, which need a login session.
fn accept_api_tokens(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::SecurityRequirement;
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            (&mut item.get, false),
            (&mut item.put, false),
            (&mut item.post, SESSION_ONLY.contains(&path.as_str())),
            (&mut item.delete, false),
            (&mut item.patch, false),
        ];
        for (operation, session_only) in operations {
            let Some(operation) = operation.as_mut() else {
                continue;
            };
            if session_only {
                continue;
            }
            let Some(security) = operation.security.as_mut() else {
                continue;
            };
            let scopes = security.iter().find_map(|requirement| {
                serde_json::to_value(requirement)
                    .ok()
                    .and_then(|value| value.get("bearer").cloned())
                    .and_then(|scopes| serde_json::from_value::<Vec<String>>(scopes).ok())
            });
            if let Some(scopes) = scopes {
                security.push(SecurityRequirement::new(API_TOKEN_SCHEME, scopes));
            }
        }
    }
}

/// The API's routes and their OpenAPI description.
pub fn api(config: &crate::config::Config) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(users::router())
        .merge(catalog::router())
        .merge(keys::router())
        .merge(verify::router())
        .merge(history::router())
        .merge(plugins::router(config.plugins.max_upload_bytes))
        .merge(audit::router())
        .merge(tokens::router())
        .merge(ops::router())
        .split_for_parts();
    accept_api_tokens(&mut openapi);
    openapi::make_truthful(&mut openapi);
    openapi::state_limits(&mut openapi, config);
    (routes, openapi)
}

/// The complete router with its middleware.
pub fn router(state: AppState) -> axum::Router {
    let (routes, openapi) = api(&state.config);
    // Serialised once: serving the document costs a copy of a reference.
    let openapi = axum::body::Bytes::from(serde_json::to_vec(&openapi).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the OpenAPI document does not serialise");
        b"{}".to_vec()
    }));
    let http = &state.config.http;
    routes
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let openapi = openapi.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], openapi) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), ratelimit::rate_limit))
        .layer(DefaultBodyLimit::max(http.body_limit_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), request_timeout))
        .layer(middleware::from_fn(shed_load(&state.config.overload)))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(SetSensitiveRequestHeadersLayer::new([axum::http::header::AUTHORIZATION]))
                .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), %request_id)
                }))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Count and time every request by method, route template and status.
/// Every label comes from a closed set, so no client can add series.
async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics.http_request(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The method as a metrics label: the standard methods by name, any other
/// (`curl -X ANYTHING`) as `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("other", |(_, name)| name)
}

/// Overload protection: at most `overload.max_in_flight` requests are
/// served at once on this host; past that a request is shed at once with
/// 503 `overloaded` and `Retry-After`, before any work (`/health` and
/// `/metrics` are always answered). A bound on work, not a counter
/// clients could fill: it frees itself as requests finish.
fn shed_load(
    overload: &crate::config::OverloadConfig,
) -> impl Fn(Request, Next) -> std::pin::Pin<Box<dyn Future<Output = Response> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    let permits = Arc::new(Semaphore::new(
        usize::try_from(overload.max_in_flight).unwrap_or(usize::MAX),
    ));
    let retry_after = overload.retry_after_secs.to_string();
    move |request: Request, next: Next| {
        let permits = permits.clone();
        let retry_after = retry_after.clone();
        Box::pin(async move {
            let path = request.uri().path();
            if path == "/health" || path == "/metrics" {
                return next.run(request).await;
            }
            match permits.try_acquire_owned() {
                Ok(_permit) => next.run(request).await,
                Err(_) => ApiError::unavailable(
                    "overloaded",
                    "the server is serving as many requests as it can; retry shortly",
                )
                .with_header(axum::http::header::RETRY_AFTER, retry_after)
                .into_response(),
            }
        })
    }
}

/// Bound every request's time; a request that runs over answers 503.
async fn request_timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = Duration::from_millis(state.config.http.request_timeout_ms);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::unavailable("request_timeout", "the request took too long").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::method_label;
    use axum::http::Method;

    #[test]
    fn standard_methods_keep_their_names_and_any_other_is_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        for made_up in ["ANYTHING", "get", "X-1"] {
            let method = Method::from_bytes(made_up.as_bytes()).expect("a token");
            assert_eq!(method_label(&method), "other", "{made_up}");
        }
    }
}
