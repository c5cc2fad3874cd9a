//! `/v1/verify` and `/v1/verify/batch` (permission `verify_signatures`).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use futures::StreamExt as _;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiJson, Problem};
use crate::app::AppState;
use crate::auth::perm::VerifySignatures;
use crate::http::extract::Authorized;
use crate::plugins::{ContractError, PluginError};
use crate::verify::batch_body::{BatchBodyError, parse_batch_body};
use crate::verify::request::VerifyItem;
use crate::verify::{BatchVerified, Verified, VerifyError};

/// The routes of this module. The batch body's limit
/// (`http.batch_body_limit_bytes`) is applied by [`BatchRequest`] as it
/// streams the body; the single request's is the API's default limit.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_single))
        .routes(routes!(verify_batch))
}

/// A batch of verifications. Its body is read by [`BatchRequest`]'s
/// extractor, which stops at the first item past `verify.max_batch_items`
/// (`batch_too_large`) before reading or allocating for the rest, and at
/// `http.batch_body_limit_bytes` (`body_too_large`).
#[derive(Debug, utoipa::ToSchema)]
pub struct BatchRequest {
    /// The items; each is a verification request. Items that do not parse
    /// fail alone, in their slot.
    #[schema(value_type = Vec<VerifyItem>)]
    pub items: Vec<Box<RawValue>>,
}

impl FromRequest<AppState> for BatchRequest {
    type Rejection = ApiError;

    /// The body is streamed into the parser on a blocking thread, never
    /// buffered whole: reading stops at the body limit or as soon as the
    /// parser has seen one item too many.
    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(&request) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let limit = state.config.http.batch_body_limit_bytes;
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Err(body_too_large());
        }
        let max = state.config.verify.max_batch_items;
        let (chunks, reader) = ChannelReader::new();
        let parser = tokio::task::spawn_blocking(move || parse_batch_body(reader, max));
        let pumped = pump(request.into_body(), chunks, limit).await;
        let parsed = parser.await.map_err(ApiError::internal)?;
        match (parsed, pumped) {
            (Err(BatchBodyError::TooManyItems { max }), _) => {
                Err(batch_body_refused(BatchBodyError::TooManyItems { max }))
            }
            (_, Err(refused)) => Err(refused),
            (parsed, Ok(())) => Ok(Self {
                items: parsed.map_err(batch_body_refused)?,
            }),
        }
    }
}

fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "the request body is too large",
    )
}

/// Send the body's chunks to the parser until it ends or more than
/// `limit` bytes have come. Once the parser has stopped listening (done,
/// or refused), the rest is read and dropped chunk by chunk, up to the
/// limit: a client still sending would otherwise see its connection reset
/// and miss the answer.
async fn pump(body: Body, chunks: mpsc::Sender<Bytes>, limit: usize) -> Result<(), ApiError> {
    let mut stream = body.into_data_stream();
    let mut received = 0usize;
    let mut listening = true;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("malformed_body", e.to_string()))?;
        received = received.saturating_add(chunk.len());
        if received > limit {
            return if listening {
                Err(body_too_large())
            } else {
                Ok(())
            };
        }
        if listening && chunks.send(chunk).await.is_err() {
            listening = false;
        }
    }
    Ok(())
}

/// A blocking `Read` over the chunks [`pump`] sends; the end of the
/// channel is the end of the body.
struct ChannelReader {
    chunks: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    /// A few chunks in flight at most: the body waits in the client's
    /// socket, not in memory here.
    fn new() -> (mpsc::Sender<Bytes>, Self) {
        let (sender, chunks) = mpsc::channel(4);
        let reader = Self {
            chunks,
            current: Bytes::new(),
        };
        (sender, reader)
    }
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// `application/json` or `application/<anything>+json`, as `Json` takes.
fn is_json(request: &Request) -> bool {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

/// A refused batch body as the problem `ApiJson` (or the item count
/// check) would answer.
fn batch_body_refused(error: BatchBodyError) -> ApiError {
    match error {
        BatchBodyError::TooManyItems { max } => ApiError::unprocessable(
            "batch_too_large",
            format!("a batch holds at most {max} items"),
        ),
        BatchBodyError::Json(e) if e.classify() == serde_json::error::Category::Data => {
            ApiError::unprocessable("invalid_body", e.to_string())
        }
        BatchBodyError::Json(e) => ApiError::bad_request("malformed_body", e.to_string()),
    }
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
               (status = 404, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem), (status = 503, body = Problem)))]
async fn verify_single(
    State(state): State<AppState>,
    caller: Authorized<VerifySignatures>,
    ApiJson(item): ApiJson<VerifyItem>,
) -> Result<ApiJson<Verified>, ApiError> {
    Ok(ApiJson(state.verifier.verify_one(&caller, item).await?))
}

/// Verify up to the configured maximum of items (default 1000) in one
/// request; results come back in request order, a bad item fails alone,
/// and the batch is recorded atomically. Each item counts against the
/// caller's verification quota (`rate_limits.verify_items_per_minute`).
#[utoipa::path(post, path = "/v1/verify/batch", tag = "verify", security(("bearer" = ["verify_signatures"])), request_body = BatchRequest,
    responses((status = 200, body = BatchVerified), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
               (status = 413, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem, description = "verification_quota_exceeded: the batch's items do not fit in the caller's quota"), (status = 503, body = Problem)))]
async fn verify_batch(
    State(state): State<AppState>,
    caller: Authorized<VerifySignatures>,
    request: BatchRequest,
) -> Result<ApiJson<BatchVerified>, ApiError> {
    // Charged per item, before any is verified (429
    // verification_quota_exceeded).
    super::ratelimit::charge_items(&state, caller.id(), request.items.len()).await?;
    Ok(ApiJson(
        state.verifier.verify_batch(&caller, request.items).await?,
    ))
}
