//! `/v1/tokens`: API tokens (personal access tokens) for programs. Any
//! authenticated user manages their own; administrators list and revoke
//! anyone's. The value is answered once, at creation, and never again
//! (see `auth::api_tokens`).

use axum::extract::State;
use axum::http::{StatusCode, header};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem};
use super::extract::ClientIp;
use super::pagination::{self, Listed, Paged, Position};
use crate::app::AppState;
use crate::auth::Caller;
use crate::auth::api_tokens::{self, ApiTokenError, TokenRequest};
use crate::store::api_tokens::{self as store, ApiTokenRow};
use crate::store::text::{StoredText, StoredTime};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
}

/// A token to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// A label (1-64 characters, not blank, no control characters).
    #[schema(value_type = String, min_length = 1, max_length = 64)]
    pub name: StoredText<64>,
    /// When the token stops working (RFC 3339): in the future, and at most
    /// `auth.api_token_max_ttl_secs` (default 366 days) from now.
    #[schema(value_type = DateTime<Utc>)]
    pub expires_at: StoredTime,
    /// The permissions the token carries, a subset of your own:
    /// `verify_signatures`, `manage_public_keys`, `manage_curves`,
    /// `manage_users`.
    #[schema(min_items = 1, example = json!(["verify_signatures"]))]
    pub scopes: Vec<String>,
}

/// An API token as listed (never its value).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    /// Identifier (the audit log names tokens by it).
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The label.
    pub name: String,
    /// The permissions it carries (limited, on each use, to those its owner
    /// still holds).
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Last request it authenticated (recorded at most about once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiTokenRow> for TokenView {
    fn from(row: ApiTokenRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            name: row.name,
            scopes: row.scopes,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked: row.revoked_at.is_some(),
            revoked_at: row.revoked_at,
        }
    }
}

impl Listed for ApiTokenRow {
    fn position(&self) -> Position {
        (self.created_at, self.id)
    }
}

/// A new token: the listed fields and, this once, its value.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The token.
    #[serde(flatten)]
    pub view: TokenView,
    /// The value to send as `Authorization: Bearer <token>`
    /// (`sigil_pat_...`). It is not stored and cannot be shown again.
    pub token: String,
}

/// Filters of the token list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Another user's tokens (administrators only).
    pub user_id: Option<Uuid>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page.
    pub limit: Option<u32>,
}

impl From<ApiTokenError> for ApiError {
    fn from(error: ApiTokenError) -> Self {
        let detail = error.to_string();
        match error {
            ApiTokenError::SessionRequired => ApiError::forbidden("session_required", detail),
            ApiTokenError::InvalidScopes(_) => ApiError::unprocessable("invalid_scopes", detail),
            ApiTokenError::ScopeNotHeld(_) => ApiError::forbidden("scope_not_held", detail),
            ApiTokenError::InvalidName => ApiError::unprocessable("invalid_name", detail),
            ApiTokenError::InvalidExpiry(_) => ApiError::unprocessable("invalid_expiry", detail),
            ApiTokenError::QuotaExceeded(_) => ApiError::conflict("token_quota_exceeded", detail),
            ApiTokenError::NotAdministrator => ApiError::forbidden("forbidden", detail),
            ApiTokenError::NotFound => ApiError::not_found("token"),
            ApiTokenError::Store(e) => e.into(),
        }
    }
}

/// Create an API token; its value is in this answer only.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", security(("bearer" = [])), request_body = NewTokenRequest,
    responses((status = 201, body = CreatedToken, description = "the token, with its value (shown once)"),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "scope_not_held: a scope is not among your permissions; session_required: tokens are created with a login session's access token, not with an API token; account_disabled"),
        (status = 409, body = Problem, description = "token_quota_exceeded: you hold quotas.tokens_per_user live tokens; nothing was stored"),
        (status = 422, body = Problem, description = "invalid_name, invalid_scopes (none, or not a permission), invalid_expiry (past, or beyond auth.api_token_max_ttl_secs), invalid_expires_at, invalid_body")))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<NewTokenRequest>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, &'static str); 1],
        ApiJson<CreatedToken>,
    ),
    ApiError,
> {
    let request = TokenRequest {
        name: request.name.into_inner(),
        expires_at: request.expires_at.get(),
        scopes: request.scopes,
    };
    let (row, secret) = api_tokens::create(&state, &caller, request, ip).await?;
    let created = CreatedToken {
        view: TokenView::from(row),
        token: secret.value,
    };
    // The value must not be kept by caches on the way.
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        ApiJson(created),
    ))
}

/// Your API tokens, newest first (an administrator may name another user);
/// values are never shown.
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", security(("bearer" = [])), params(TokenQuery),
    responses((status = 200, body = Paged<TokenView>), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "forbidden: only administrators list other users' tokens")))]
async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<ApiJson<Paged<TokenView>>, ApiError> {
    let owner = api_tokens::listed_user(&caller, query.user_id)?;
    let rows = pagination::fetch_page(&state, query.cursor.as_deref(), query.limit, async |page| {
        let mut tx = state.store.acting_for(caller.id()).await?;
        let rows = store::list(&mut tx, owner, page).await?;
        tx.commit().await?;
        Ok(rows)
    })
    .await?;
    Ok(ApiJson(rows.map(TokenView::from)))
}

/// Revoke an API token (yours, or anyone's for an administrator): every
/// host refuses it from the next request on. Revoking it again changes
/// nothing.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "token id")),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    api_tokens::revoke(&state, &caller, id, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}
