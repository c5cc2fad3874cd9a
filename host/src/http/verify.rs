//! `/v1/verify` and `/v1/verify/batch` (permission `verify_signatures`).

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiJson, Problem};
use crate::app::AppState;
use crate::auth::perm::VerifySignatures;
use crate::http::extract::Authorized;
use crate::plugins::{ContractError, PluginError};
use crate::verify::request::VerifyItem;
use crate::verify::{BatchVerified, Verified, VerifyError};

/// The routes of this module.
pub fn router(batch_body_limit: usize) -> OpenApiRouter<AppState> {
    let batch = OpenApiRouter::new()
        .routes(routes!(verify_batch))
        .layer(DefaultBodyLimit::max(batch_body_limit));
    OpenApiRouter::new()
        .routes(routes!(verify_single))
        .merge(batch)
}

/// A batch of verifications.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The items; each is a verification request. Items that do not parse
    /// fail alone, in their slot.
    #[schema(value_type = Vec<VerifyItem>)]
    pub items: Vec<serde_json::Value>,
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        let detail = error.client_detail();
        let code = error.code();
        match error {
            VerifyError::Invalid {
                malformed: true, ..
            } => ApiError::bad_request(code, detail),
            VerifyError::Invalid { .. } => ApiError::unprocessable(code, detail),
            VerifyError::KeyNotFound => ApiError::new(StatusCode::NOT_FOUND, code, detail),
            VerifyError::KeyRevoked | VerifyError::KeyExpired | VerifyError::CurveDisabled(_) => {
                ApiError::unprocessable(code, detail)
            }
            VerifyError::PluginUnavailable(_) => ApiError::unavailable(code, detail),
            VerifyError::Refused(refusal) => plugin_refused(&refusal, code, detail),
            VerifyError::Plugin(failure) => plugin_failed(failure, code, detail),
            VerifyError::Store(e) => e.into(),
            VerifyError::Recording(e) => {
                tracing::error!(error = %e, "verification not recorded; refusing to answer");
                ApiError::unavailable(
                    code,
                    "the verification could not be recorded, so it is not answered; try again",
                )
            }
        }
    }
}

/// A plugin's refusal of an input (a key or a signature) as a problem.
pub(super) fn plugin_refused(
    refusal: &ContractError,
    code: &'static str,
    detail: String,
) -> ApiError {
    match refusal {
        ContractError::MalformedSignature(_) => ApiError::bad_request(code, detail),
        ContractError::Internal(fault) => {
            tracing::warn!(%fault, code, "plugin reported an internal fault");
            ApiError::new(StatusCode::BAD_GATEWAY, code, detail)
        }
        _ => ApiError::unprocessable(code, detail),
    }
}

/// A plugin that could not answer (trap, timeout, engine) as a problem.
pub(super) fn plugin_failed(failure: PluginError, code: &'static str, detail: String) -> ApiError {
    tracing::warn!(error = %failure, code, "plugin failure");
    match failure {
        PluginError::Timeout(_) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, code, detail),
        PluginError::Engine(_) => ApiError::internal(failure),
        _ => ApiError::new(StatusCode::BAD_GATEWAY, code, detail),
    }
}

/// Verify one signature. An invalid signature is `200` with
/// `"valid": false`; every answer is recorded before it is sent.
#[utoipa::path(post, path = "/v1/verify", tag = "verify", security(("bearer" = ["verify_signatures"])), request_body = VerifyItem,
    responses((status = 200, body = Verified), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
               (status = 404, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn verify_single(
    State(state): State<AppState>,
    caller: Authorized<VerifySignatures>,
    ApiJson(item): ApiJson<VerifyItem>,
) -> Result<ApiJson<Verified>, ApiError> {
    Ok(ApiJson(state.verifier.verify_one(&caller, item).await?))
}

/// Verify up to the configured maximum of items (default 1000) in one
/// request; results come back in request order, a bad item fails alone,
/// and the batch is recorded atomically.
#[utoipa::path(post, path = "/v1/verify/batch", tag = "verify", security(("bearer" = ["verify_signatures"])), request_body = BatchRequest,
    responses((status = 200, body = BatchVerified), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
               (status = 413, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn verify_batch(
    State(state): State<AppState>,
    caller: Authorized<VerifySignatures>,
    ApiJson(request): ApiJson<BatchRequest>,
) -> Result<ApiJson<BatchVerified>, ApiError> {
    Ok(ApiJson(
        state.verifier.verify_batch(&caller, request.items).await?,
    ))
}
