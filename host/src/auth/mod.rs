//! Authentication and authorisation: passwords, access tokens, refresh
//! sessions, revocation, and the [`Caller`] extractor with its per-route
//! permission check.
//!
//! A request is authenticated by its bearer token: the signature and claims
//! are checked, then revocation (Redis, PostgreSQL behind it), then the
//! user is loaded with roles and permissions from the database, so a
//! suspension or a role change takes effect on the next request.

pub mod passwords;
pub mod revocation;
pub mod sealing;
pub mod sessions;
pub mod tokens;
pub mod verified;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::store::users::Principal;
use tokens::{Claims, TokenError};

/// The permissions of the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Create, update and delete users.
    ManageUsers,
    /// Add, update and delete curves (and plugins).
    ManageCurves,
    /// Verify document signatures.
    VerifySignatures,
    /// Add and remove public keys.
    ManagePublicKeys,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 4] = [
        Permission::ManageUsers,
        Permission::ManageCurves,
        Permission::VerifySignatures,
        Permission::ManagePublicKeys,
    ];

    /// The name in the `permissions` table.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ManageUsers => "manage_users",
            Permission::ManageCurves => "manage_curves",
            Permission::VerifySignatures => "verify_signatures",
            Permission::ManagePublicKeys => "manage_public_keys",
        }
    }
}

/// The authenticated user making the request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user, roles and permissions, as of this request.
    pub principal: Principal,
    /// The verified token's claims.
    pub claims: Claims,
}

impl Caller {
    /// The user's id.
    pub fn id(&self) -> Uuid {
        self.principal.user.id
    }

    /// Whether the user holds `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.principal
            .permissions
            .iter()
            .any(|p| p == permission.as_str())
    }

    /// Whether the user is an administrator (sees every user's rows).
    pub fn is_admin(&self) -> bool {
        self.principal
            .user
            .roles
            .iter()
            .any(|r| r == crate::store::users::ADMIN_ROLE)
    }

    /// Refuse with 403 unless the user holds `permission`; the reason is
    /// logged, the answer stays short.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.can(permission) {
            Ok(())
        } else {
            tracing::info!(
                user = %self.id(),
                required = permission.as_str(),
                held = ?self.principal.permissions,
                "access denied: missing permission"
            );
            Err(ApiError::forbidden(
                "forbidden",
                format!("this requires the {} permission", permission.as_str()),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let claims = state
            .tokens
            .verify(token)
            .await
            .map_err(|error| match error {
                TokenError::Expired => {
                    ApiError::unauthorized("token_expired", "the access token has expired")
                }
                TokenError::UnknownKey => ApiError::unauthorized(
                    "invalid_token",
                    "the token was not signed by this service",
                ),
                TokenError::Invalid(reason) => {
                    tracing::info!(%reason, "access denied: invalid token");
                    ApiError::unauthorized("invalid_token", "the access token is not valid")
                }
                TokenError::Store(e) => ApiError::from(e),
                TokenError::Sealing(e) => ApiError::internal(e),
            })?;
        if state.revocations.is_revoked(claims.jti, claims.sid).await? {
            return Err(ApiError::unauthorized(
                "token_revoked",
                "the access token has been revoked",
            ));
        }
        let principal = state.caches.principal(claims.sub).await?.ok_or_else(|| {
            ApiError::unauthorized("invalid_token", "the token's user no longer exists")
        })?;
        if principal.user.status != crate::store::users::UserStatus::Active {
            tracing::info!(user = %principal.user.id, status = %principal.user.status, "access denied: account not active");
            return Err(ApiError::unauthorized(
                "account_disabled",
                format!("the account is {}", principal.user.status),
            ));
        }
        check_user_limit(parts, state, principal.user.id).await?;
        Ok(Caller { principal, claims })
    }
}

/// The per-user rate limit, checked once the user is known; the decision
/// is left for the rate-limit middleware's headers.
async fn check_user_limit(parts: &Parts, state: &AppState, user: Uuid) -> Result<(), ApiError> {
    let limits = &state.config.rate_limits;
    if !limits.enabled {
        return Ok(());
    }
    let window = std::time::Duration::from_secs(limits.window_secs);
    let decision = state
        .rate_limiter
        .check("user", &user.to_string(), limits.per_user, window)
        .await;
    let refusal = (!decision.allowed).then(|| {
        state.metrics.rate_limited("user");
        crate::http::ratelimit::refusal(std::slice::from_ref(&decision))
    });
    if let Some(slot) = parts
        .extensions
        .get::<crate::http::ratelimit::UserLimitSlot>()
    {
        slot.set(decision);
    }
    refusal.map_or(Ok(()), Err)
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(
            "missing_token",
            "an Authorization: Bearer token is required",
        )
    })?;
    let value = value.to_str().map_err(|_| {
        ApiError::unauthorized("invalid_token", "the Authorization header is not text")
    })?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        ApiError::unauthorized("invalid_token", "expected `Authorization: Bearer <token>`")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "expected `Authorization: Bearer <token>`",
        ));
    }
    if token.len() > 4096 {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "the token is too long",
        ));
    }
    Ok(token.trim())
}

/// A permission as a type, so that a route's permission is checked by an
/// extractor, before its body is read.
pub trait RequiredPermission {
    /// The permission.
    const PERMISSION: Permission;
}

/// Marker types for [`Authorized`].
pub mod perm {
    use super::{Permission, RequiredPermission};

    macro_rules! marker {
        ($($name:ident),+) => {$(
            #[doc = concat!("Requires `", stringify!($name), "`.")]
            #[derive(Debug)]
            pub struct $name;
            impl RequiredPermission for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )+};
    }
    marker!(
        ManageUsers,
        ManageCurves,
        VerifySignatures,
        ManagePublicKeys
    );
}

/// An authenticated caller holding the permission `P` (401 without a valid
/// token, 403 without the permission).
#[derive(Debug)]
pub struct Authorized<P>(pub Caller, std::marker::PhantomData<P>);

impl<P> std::ops::Deref for Authorized<P> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl<P: RequiredPermission + Send + Sync> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(P::PERMISSION)?;
        Ok(Authorized(caller, std::marker::PhantomData))
    }
}

/// The client's address: the socket peer, or the last `X-Forwarded-For`
/// entry (the one the proxy itself appended) when the deployment says a
/// trusted proxy sits in front.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(ClientIp(client_ip(
            parts,
            state.config.http.trust_forwarded_for,
        )))
    }
}

/// See [`ClientIp`].
pub fn client_ip(parts: &Parts, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for
        && let Some(ip) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            // The last hop is the one the trusted proxy appended; earlier
            // entries are whatever the client sent.
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return ip;
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |ConnectInfo(addr)| addr.ip())
}
