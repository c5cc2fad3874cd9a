//! `/v1/auth/*`: register, login, refresh, logout, me.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiJson};
use super::extract::ClientIp;
use super::ratelimit;
use super::users::{Registration, create_account};
use crate::app::AppState;
use crate::auth::Caller;
use crate::auth::identity::Username;
use crate::auth::passwords::MAX_PASSWORD_LEN;
use crate::auth::sessions::{self, SessionError, TokenPair};
use crate::store::audit::{Action, Audit};
use crate::store::users::{USER_ROLE, User};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// Credentials for login.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name (no NUL; longer than a username can be is refused as
    /// invalid credentials, past 1024 characters as `invalid_username`).
    #[schema(value_type = String)]
    pub username: crate::store::text::StoredText<1024>,
    /// Password.
    pub password: String,
}

/// A refresh token to exchange.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from login or the previous refresh.
    pub refresh_token: String,
}

/// The caller with roles and permissions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// The user.
    #[serde(flatten)]
    pub user: User,
    /// Permissions through the user's roles (with an API token: those of
    /// them the token's scopes name).
    pub permissions: Vec<String>,
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::InvalidCredentials => {
                ApiError::unauthorized("invalid_credentials", "invalid username or password")
            }
            SessionError::AccountDisabled(status) => {
                ApiError::forbidden("account_disabled", format!("the account is {status}"))
            }
            SessionError::InvalidRefreshToken => {
                ApiError::unauthorized("invalid_refresh_token", "the refresh token is not valid")
            }
            SessionError::RefreshTokenReused => ApiError::unauthorized(
                "refresh_token_reused",
                "the refresh token was already used; the session has been revoked",
            ),
            SessionError::Store(e) => e.into(),
            SessionError::Hash(e) => e.into(),
            SessionError::Token(e) => ApiError::internal(e),
            SessionError::NotASession => ApiError::bad_request(
                "not_a_session",
                "an API token belongs to no session; revoke it with DELETE /v1/tokens/{id}",
            ),
        }
    }
}

/// Create an account (when registration is open). Registrations are
/// limited per client network (`rate_limits.registrations_per_network`).
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = Registration,
    responses((status = 201, body = User), (status = 403, body = super::error::Problem, description = "registration is closed"),
               (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem, description = "invalid_username, invalid_email (including NUL and control characters), weak_password, invalid_body; invalid_input: the database refused a value")))]
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(registration): ApiJson<Registration>,
) -> Result<(StatusCode, ApiJson<User>), ApiError> {
    if !state.config.auth.open_registration {
        return Err(ApiError::forbidden(
            "registration_closed",
            "registration is closed; ask an administrator",
        ));
    }
    let user = create_account(&state, registration.into(), &[USER_ROLE.to_owned()]).await?;
    state
        .audit(Audit::by(user.id, ip, Action::AuthRegister).on(user.id))
        .await;
    Ok((StatusCode::CREATED, ApiJson(user)))
}

/// Log in with a username and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = super::error::Problem),
               (status = 403, body = super::error::Problem), (status = 429, body = super::error::Problem)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<ApiJson<TokenPair>, ApiError> {
    // Counted as registration counts them (characters), so every password
    // that could be set can be used.
    if request.username.len() > Username::MAX_LEN
        || request.password.chars().count() > MAX_PASSWORD_LEN
    {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "invalid username or password",
        ));
    }
    let pass = match ratelimit::login_gate(&state, &request.username, ip).await {
        Ok(pass) => pass,
        Err(refused) => {
            note_refused_login(&state, &request.username, ip).await;
            return Err(refused);
        }
    };
    let pair = sessions::login(&state, &request.username, request.password, ip).await?;
    ratelimit::login_succeeded(&state, pass).await;
    Ok(ApiJson(pair))
}

/// Count a rate-limited login, and audit it only if it is the first
/// refusal for this username and client network in the login window: a
/// flood of refused logins writes a handful of audit rows, not one each.
/// The marker is a limit of one per window on the shared limiter (Redis,
/// or this process's windows while Redis is down).
async fn note_refused_login(state: &AppState, username: &str, ip: IpAddr) {
    state.metrics.login_refused();
    let limits = &state.config.rate_limits;
    let window = Duration::from_secs(limits.login_window_secs);
    let marker = format!(
        "{}|{}",
        username.to_lowercase(),
        ratelimit::client_network(ip, limits)
    );
    let first = state
        .rate_limiter
        .check("login:refusal-audit", &marker, 1, window)
        .await
        .allowed;
    if first {
        let event = Audit::anonymous(ip, Action::AuthLogin).on(username);
        let detail = serde_json::json!({
            "reason": "rate_limited",
            "aggregated": "later refusals for this username and network in the window are counted in sigil_login_refusals_total, not audited",
            "window_secs": window.as_secs(),
        });
        state.audit(event.failed(detail)).await;
    }
}

/// Exchange a refresh token for a new token pair; the old refresh token
/// stops working (presenting it again revokes the session). Limited per
/// client network (`rate_limits.refreshes_per_network`).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = super::error::Problem), (status = 429, body = super::error::Problem)))]
async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<ApiJson<TokenPair>, ApiError> {
    Ok(ApiJson(
        sessions::refresh(&state, &request.refresh_token, ip).await?,
    ))
}

/// Revoke the presented access token and its session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 400, body = super::error::Problem, description = "not_a_session: the request used an API token"), (status = 401, body = super::error::Problem)))]
async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    sessions::logout(&state, &caller, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller, with roles and permissions.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = super::error::Problem)))]
async fn me(caller: Caller) -> ApiJson<Me> {
    ApiJson(Me {
        user: caller.principal.user,
        permissions: caller.principal.permissions,
    })
}
