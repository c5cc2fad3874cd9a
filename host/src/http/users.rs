//! `/v1/users`: user administration (permission `manage_users`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::pagination::{self, Paged};
use crate::app::AppState;
use crate::auth::identity::{Email, InputError, Username};
use crate::auth::passwords::Password;
use crate::auth::perm::ManageUsers;
use crate::auth::sessions;
use crate::http::extract::{Authorized, ClientIp};
use crate::store::StoreError;
use crate::store::audit::{Action, Audit};
use crate::store::users::{NewUser, RoleChangeError, USER_ROLE, User, UserChanges, UserStatus};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(set_roles))
}

const STATUSES: &[&str] = &["active", "inactive", "suspended"];

/// A registration (`POST /v1/auth/register`): an account's name, e-mail
/// and password; its roles and status are an administrator's to choose
/// (`POST /v1/users`), so they are unknown fields here.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// 3-64 characters of letters, digits, `.`, `_`, `-`.
    #[schema(min_length = 3, max_length = 64, pattern = r"^[A-Za-z0-9._-]+$")]
    pub username: String,
    /// E-mail address: `local@domain.tld`, at most 256 characters, no
    /// whitespace or control characters.
    #[schema(format = "email", max_length = 256)]
    pub email: String,
    /// 12-256 characters.
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

impl From<Registration> for NewAccount {
    fn from(registration: Registration) -> Self {
        NewAccount {
            username: registration.username,
            email: registration.email,
            password: registration.password,
            roles: None,
            status: None,
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// 3-64 characters of letters, digits, `.`, `_`, `-`.
    #[schema(min_length = 3, max_length = 64, pattern = r"^[A-Za-z0-9._-]+$")]
    pub username: String,
    /// E-mail address: `local@domain.tld`, at most 256 characters, no
    /// whitespace or control characters.
    #[schema(format = "email", max_length = 256)]
    pub email: String,
    /// 12-256 characters.
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
    /// Roles to grant (admins only; default `["user"]`).
    pub roles: Option<Vec<String>>,
    /// Initial status (admins only; default `active`).
    #[schema(inline, value_type = Option<super::openapi::vocabulary::UserStatusName>)]
    pub status: Option<String>,
}

/// Changes to a user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New e-mail address (as at registration).
    #[schema(format = "email", max_length = 256)]
    pub email: Option<String>,
    /// New password, 12-256 characters (ends every session of the user).
    #[schema(min_length = 12, max_length = 256)]
    pub password: Option<String>,
    /// `active`, `inactive` or `suspended` (leaving `active` ends every
    /// session).
    #[schema(inline, value_type = Option<super::openapi::vocabulary::UserStatusName>)]
    pub status: Option<String>,
}

/// The roles a user should hold.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesBody {
    /// Role names (`admin`, `user`).
    pub roles: Vec<String>,
}

/// Filters of the user list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only users with this status.
    #[param(inline, value_type = Option<super::openapi::vocabulary::UserStatusName>)]
    pub status: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page.
    pub limit: Option<u32>,
}

impl From<InputError> for ApiError {
    fn from(error: InputError) -> Self {
        ApiError::unprocessable(error.code(), error.to_string())
    }
}

fn validate_status(status: &str) -> Result<(), ApiError> {
    if STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "invalid_status",
            format!("status must be one of {STATUSES:?}"),
        ))
    }
}

impl From<RoleChangeError> for ApiError {
    fn from(error: RoleChangeError) -> Self {
        match error {
            RoleChangeError::UnknownRole(role) => {
                ApiError::unprocessable("unknown_role", format!("no role named {role:?}"))
            }
            RoleChangeError::LastAdmin => {
                ApiError::conflict("last_admin", "this would leave no active administrator")
            }
            RoleChangeError::NoSuchUser => ApiError::not_found("user"),
            RoleChangeError::Store(StoreError::Conflict { constraint }) => {
                match constraint.as_str() {
                    "users_username_key" => {
                        ApiError::conflict("username_taken", "that username is taken")
                    }
                    "users_email_key" => ApiError::conflict(
                        "email_taken",
                        "that e-mail address is already registered",
                    ),
                    "verification_records_user_id_fkey" | "batch_verifications_user_id_fkey" => {
                        ApiError::conflict(
                            "user_has_history",
                            "the user has verification history, which is kept; suspend or deactivate the user instead",
                        )
                    }
                    _ => StoreError::Conflict { constraint }.into(),
                }
            }
            RoleChangeError::Store(e) => e.into(),
        }
    }
}

/// A status a request names, as the column's type (after
/// [`validate_status`], which words the refusal).
fn user_status(status: &str) -> Result<UserStatus, ApiError> {
    validate_status(status)?;
    status.parse().map_err(ApiError::internal)
}

/// Validate and create an account with `roles` (used by registration too).
pub(crate) async fn create_account(
    state: &AppState,
    account: NewAccount,
    roles: &[String],
) -> Result<User, ApiError> {
    let username = Username::parse(&account.username)?;
    let email = Email::parse(&account.email)?;
    let password = Password::parse(account.password)?;
    let status = account.status.as_deref().unwrap_or("active");
    validate_status(status)?;
    let hash = state.passwords.hash(password.expose()).await?;
    Ok(state
        .store
        .create_user(&NewUser {
            username: username.as_str(),
            email: email.as_str(),
            password_hash: &hash,
            status: user_status(status)?,
            roles,
        })
        .await?)
}

/// List users.
#[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = ["manage_users"])), params(UserQuery),
    responses((status = 200, body = Paged<User>), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)))]
async fn list_users(
    State(state): State<AppState>,
    _caller: Authorized<ManageUsers>,
    ApiQuery(query): ApiQuery<UserQuery>,
) -> Result<ApiJson<Paged<User>>, ApiError> {
    let status = query.status.as_deref().map(user_status).transpose()?;
    let users =
        pagination::fetch_page(&state, query.cursor.as_deref(), query.limit, async |page| {
            state.store.users(status, page).await
        })
        .await?;
    Ok(ApiJson(users))
}

/// Create a user (any roles and status).
#[utoipa::path(post, path = "/v1/users", tag = "users", security(("bearer" = ["manage_users"])), request_body = NewAccount,
    responses((status = 201, body = User), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem),
               (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem, description = "invalid_username, invalid_email (including NUL and control characters), weak_password, unknown_role, invalid_status, invalid_body; invalid_input: the database refused a value")))]
async fn create_user(
    State(state): State<AppState>,
    caller: Authorized<ManageUsers>,
    ClientIp(ip): ClientIp,
    ApiJson(account): ApiJson<NewAccount>,
) -> Result<(StatusCode, ApiJson<User>), ApiError> {
    let roles = account
        .roles
        .clone()
        .unwrap_or_else(|| vec![USER_ROLE.to_owned()]);
    let user = create_account(&state, account, &roles).await?;
    let facts = json!({"roles": user.roles, "status": user.status});
    let event = Audit::by(caller.id(), ip, Action::UserCreate).on(user.id);
    state.audit(event.details(facts)).await;
    Ok((StatusCode::CREATED, ApiJson(user)))
}

/// One user.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", security(("bearer" = ["manage_users"])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = User), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem), (status = 404, body = super::error::Problem)))]
async fn get_user(
    State(state): State<AppState>,
    _caller: Authorized<ManageUsers>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<User>, ApiError> {
    state
        .store
        .user(id)
        .await?
        .map(ApiJson)
        .ok_or_else(|| ApiError::not_found("user"))
}

/// Change a user's e-mail, password or status.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", security(("bearer" = ["manage_users"])),
    params(("id" = Uuid, Path, description = "user id")), request_body = UserPatch,
    responses((status = 200, body = User), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem),
               (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem, description = "invalid_email (including NUL and control characters), weak_password, invalid_status, invalid_body; invalid_input: the database refused a value")))]
async fn update_user(
    State(state): State<AppState>,
    caller: Authorized<ManageUsers>,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<ApiJson<User>, ApiError> {
    let email = patch.email.as_deref().map(Email::parse).transpose()?;
    let status = patch.status.as_deref().map(user_status).transpose()?;
    let password_hash = match patch.password {
        Some(password) => Some(
            state
                .passwords
                .hash(Password::parse(password)?.expose())
                .await?,
        ),
        None => None,
    };
    let changes = UserChanges {
        email: email.map(Email::into_inner),
        password_hash,
        status,
    };
    let user = state
        .store
        .update_user(id, &changes)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    state.caches.user_changed(id).await;
    if changes.password_hash.is_some() || user.status != UserStatus::Active {
        sessions::end_all_sessions(&state, id).await?;
    }
    let facts = json!({
        "email_changed": changes.email.is_some(),
        "password_changed": changes.password_hash.is_some(),
        "status": patch.status,
    });
    let event = Audit::by(caller.id(), ip, Action::UserUpdate).on(id);
    state.audit(event.details(facts)).await;
    Ok(ApiJson(user))
}

/// Delete a user without verification history.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "users", security(("bearer" = ["manage_users"])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 204), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem),
               (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)))]
async fn delete_user(
    State(state): State<AppState>,
    caller: Authorized<ManageUsers>,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    if id == caller.id() {
        return Err(ApiError::conflict(
            "cannot_delete_self",
            "you cannot delete your own account",
        ));
    }
    if !state.store.delete_user(id).await? {
        return Err(ApiError::not_found("user"));
    }
    state.caches.user_changed(id).await;
    state
        .audit(Audit::by(caller.id(), ip, Action::UserDelete).on(id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a user's roles.
#[utoipa::path(put, path = "/v1/users/{id}/roles", tag = "users", security(("bearer" = ["manage_users"])),
    params(("id" = Uuid, Path, description = "user id")), request_body = RolesBody,
    responses((status = 200, body = User), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem),
               (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)))]
async fn set_roles(
    State(state): State<AppState>,
    caller: Authorized<ManageUsers>,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<RolesBody>,
) -> Result<ApiJson<User>, ApiError> {
    let mut roles = body.roles;
    roles.sort();
    roles.dedup();
    let user = state.store.set_roles(id, &roles).await?;
    state.caches.user_changed(id).await;
    let event = Audit::by(caller.id(), ip, Action::UserRoles).on(id);
    state.audit(event.details(json!({"roles": roles}))).await;
    Ok(ApiJson(user))
}
