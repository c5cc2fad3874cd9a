//! The error policy at the edge: every failure a client sees is an
//! RFC 9457 `application/problem+json` body with a stable `code`.
//!
//! - Client mistakes (malformed input, missing permission, unknown id) get
//!   a 4xx with a `detail` that says what to fix.
//! - Anything internal (database errors, bugs) becomes an opaque 500 with
//!   code `internal_error`; the cause is logged with the request id (the
//!   `x-request-id` response header lets an operator find it), never sent.
//! - Another user's resource is indistinguishable from a missing one (404).

use std::borrow::Cow;

use axum::extract::rejection::{JsonDataError, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;
use crate::store::text::REFUSAL;

/// A problem to report to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    detail: String,
    headers: Vec<(header::HeaderName, String)>,
}

/// The problem body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Problem type URI (`urn:sigil:problem:<code>`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Short, human-readable summary of the problem type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened, for this occurrence.
    pub detail: String,
    /// Stable machine-readable code. A value that cannot be stored (NUL,
    /// too long, too deep, too many keys, a time out of range) answers
    /// `invalid_<field>` naming the field; one the database refused
    /// nonetheless answers `invalid_input`.
    pub code: String,
}

impl ApiError {
    /// A problem with any status.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            detail: detail.into(),
            headers: Vec::new(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 422: well-formed but unacceptable.
    pub fn unprocessable(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 404 for a resource (or one the caller may not see).
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    /// 409.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 401 with a `WWW-Authenticate` challenge (RFC 6750).
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let challenge = if code == "missing_token" {
            r#"Bearer realm="sigil""#.to_owned()
        } else {
            format!(
                r#"Bearer realm="sigil", error="invalid_token", error_description="{}""#,
                detail.replace('"', "'")
            )
        };
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
            .with_header(header::WWW_AUTHENTICATE, challenge)
    }

    /// 403: authenticated but not allowed.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(retry_after_secs: u64, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail)
            .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
    }

    /// 503: a dependency is down.
    pub fn unavailable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }

    /// 500: log the cause, tell the client nothing about it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred; it has been logged",
        )
    }

    /// Add a response header.
    pub fn with_header(mut self, name: header::HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            type_: format!("urn:sigil:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.into_owned(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name, value);
            }
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(reason) => {
                tracing::error!(%reason, "database unavailable");
                ApiError::unavailable(
                    "database_unavailable",
                    "the database is unavailable; try again shortly",
                )
            }
            StoreError::Conflict { constraint } => {
                // The constraint's name is schema detail: log it, do not
                // show it. Handlers that expect a conflict map it to a
                // specific code first.
                tracing::info!(%constraint, "request conflicts with existing data");
                ApiError::conflict("conflict", "the change conflicts with existing data")
            }
            StoreError::InvalidInput { sqlstate } => {
                // The client's value got past the edge's checks; the
                // database refused it. Not a fault of ours to page about.
                tracing::info!(%sqlstate, "the database refused a value from the request");
                ApiError::unprocessable(
                    "invalid_input",
                    "a value in the request cannot be stored; check its characters, length and range",
                )
            }
            // Bad settings or stored data, an unmigrated schema and any
            // other database error are ours to fix, not the client's.
            other @ (StoreError::Invalid(_)
            | StoreError::NotMigrated(_)
            | StoreError::Database(_)) => ApiError::internal(other),
        }
    }
}

impl From<crate::auth::passwords::HashError> for ApiError {
    fn from(error: crate::auth::passwords::HashError) -> Self {
        match error {
            crate::auth::passwords::HashError::Busy => ApiError::unavailable(
                "busy",
                "too many password checks are in progress; try again shortly",
            )
            .with_header(header::RETRY_AFTER, "1".to_owned()),
            other => ApiError::internal(other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is too large",
                )
            }
            JsonRejection::JsonDataError(e) => data_error(&e),
            other => ApiError::bad_request("malformed_body", other.body_text()),
        }
    }
}

/// A body that decoded but did not fit: a value the store would refuse
/// (see [`crate::store::text`]) answers `invalid_<field>`, anything else
/// (wrong types, missing fields) `invalid_body`.
fn data_error(error: &JsonDataError) -> ApiError {
    match refused_field(error) {
        Some((field, reason)) => {
            ApiError::unprocessable(format!("invalid_{field}"), format!("{field}: {reason}"))
        }
        None => ApiError::unprocessable("invalid_body", error.body_text()),
    }
}

/// The field a store type refused and why: the last object key on axum's
/// `serde_path_to_error` path, when the message is a [`REFUSAL`] and the
/// key looks like one of ours (a client-chosen key never makes a code).
fn refused_field(error: &JsonDataError) -> Option<(String, String)> {
    use serde_path_to_error::Segment;
    let mut source = std::error::Error::source(error);
    let located = loop {
        let current = source?;
        if let Some(located) =
            current.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>()
        {
            break located;
        }
        source = current.source();
    };
    let message = located.inner().to_string();
    let reason = message.strip_prefix(REFUSAL)?;
    // serde_json appends " at line L column C"; the field says where.
    let reason = reason.rsplit_once(" at line ").map_or(reason, |(r, _)| r);
    let field = located
        .path()
        .iter()
        .rev()
        .find_map(|segment| match segment {
            Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })?;
    let ours = field.len() <= 32 && field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    ours.then(|| (field.to_owned(), reason.to_owned()))
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request("invalid_path", rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", rejection.body_text())
    }
}

/// `Json` whose rejections are problems.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `Path` whose rejections are problems.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `Query` whose rejections are problems.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn problem(error: ApiError) -> (Response, serde_json::Value) {
        let response = error.into_response();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .expect("a small body");
        let json = serde_json::from_slice(&bytes).expect("a JSON body");
        (Response::from_parts(parts, axum::body::Body::empty()), json)
    }

    fn header(response: &Response, name: header::HeaderName) -> Option<&str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn a_problem_body_names_its_code_status_and_detail() {
        let (response, body) = problem(ApiError::unprocessable(
            "invalid_status",
            "status is enabled or disabled",
        ))
        .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            Some("application/problem+json")
        );
        assert_eq!(
            body,
            serde_json::json!({
                "type": "urn:sigil:problem:invalid_status",
                "title": "Unprocessable Entity",
                "status": 422,
                "detail": "status is enabled or disabled",
                "code": "invalid_status",
            })
        );
    }

    #[tokio::test]
    async fn a_missing_token_is_challenged_without_an_error() {
        let (response, _) = problem(ApiError::unauthorized("missing_token", "send a token")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&response, header::WWW_AUTHENTICATE),
            Some(r#"Bearer realm="sigil""#)
        );
    }

    #[tokio::test]
    async fn a_bad_token_is_challenged_with_a_quote_safe_description() {
        let error = ApiError::unauthorized("invalid_token", r#"the "kid" is unknown"#);
        let (response, body) = problem(error).await;
        assert_eq!(
            header(&response, header::WWW_AUTHENTICATE),
            Some(
                r#"Bearer realm="sigil", error="invalid_token", error_description="the 'kid' is unknown""#
            )
        );
        assert_eq!(body["detail"], r#"the "kid" is unknown"#);
    }

    #[tokio::test]
    async fn too_many_requests_says_when_to_retry() {
        let (response, body) = problem(ApiError::too_many_requests(7, "slow down")).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&response, header::RETRY_AFTER), Some("7"));
        assert_eq!(body["code"], "rate_limited");
    }

    #[tokio::test]
    async fn internal_failures_are_opaque() {
        let secret = "password authentication failed for user sigil_app";
        for error in [
            StoreError::Invalid(secret.to_owned()),
            StoreError::NotMigrated(secret.to_owned()),
        ] {
            let (response, body) = problem(ApiError::from(error)).await;
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(body["code"], "internal_error");
            assert!(!body.to_string().contains("sigil_app"), "{body}");
        }
    }

    #[tokio::test]
    async fn an_unavailable_database_is_a_503_and_a_conflict_hides_its_constraint() {
        let (response, body) =
            problem(StoreError::Unavailable("connection refused".to_owned()).into()).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["code"], "database_unavailable");
        let conflict = StoreError::Conflict {
            constraint: "users_email_key".to_owned(),
        };
        let (response, body) = problem(conflict.into()).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(body["code"], "conflict");
        assert!(!body.to_string().contains("users_email_key"));
    }

    #[tokio::test]
    async fn a_value_the_database_refused_is_the_clients_422() {
        let refused = StoreError::InvalidInput {
            sqlstate: "22021".to_owned(),
        };
        let (response, body) = problem(refused.into()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["code"], "invalid_input");
        assert!(!body.to_string().contains("22021"), "{body}");
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: Option<crate::store::text::StoredText<8>>,
        metadata: Option<crate::store::text::StoredJson>,
        count: Option<u8>,
    }

    fn rejection(body: &str) -> ApiError {
        axum::Json::<Body>::from_bytes(body.as_bytes())
            .map(|_| ())
            .map_err(ApiError::from)
            .expect_err("refused")
    }

    #[test]
    fn a_store_types_refusal_names_its_field() {
        for (body, code) in [
            (r#"{"name": "a\u0000b"}"#, "invalid_name"),
            (r#"{"name": "much too long"}"#, "invalid_name"),
            (r#"{"metadata": {"a\u0000b": 1}}"#, "invalid_metadata"),
            (r#"{"metadata": {"a": ["\u0000"]}}"#, "invalid_metadata"),
        ] {
            let error = rejection(body);
            assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(error.code(), code, "{body}");
            assert!(!error.detail.contains("line"), "{}", error.detail);
        }
    }

    #[test]
    fn other_decoding_errors_keep_their_codes() {
        assert_eq!(rejection(r#"{"count": 300}"#).code(), "invalid_body");
        assert_eq!(rejection(r#"{"name": 5}"#).code(), "invalid_body");
        // serde_json refuses an unpaired surrogate as a syntax error.
        let lone = rejection(r#"{"name": "\ud800"}"#);
        assert_eq!(
            (lone.status(), lone.code()),
            (StatusCode::BAD_REQUEST, "malformed_body")
        );
    }
}
