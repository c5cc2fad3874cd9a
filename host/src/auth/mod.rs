//! Authentication and authorisation: passwords, access tokens, refresh
//! sessions, revocation, the input rules of an account, and the
//! authenticated [`Caller`] with its permission check. Nothing here knows
//! HTTP: `http::extract` turns a request into a [`Caller`].
//!
//! A request is authenticated by its bearer token ([`authenticate`]): an
//! access JWT's signature and claims are checked, then revocation (Redis,
//! PostgreSQL behind it); an API token (`sigil_pat_...`, see
//! [`api_tokens`]) is looked up by hash in PostgreSQL. Then the user is
//! loaded with roles and permissions (cached briefly and dropped on every
//! change, see `cache::entities`), so a suspension or a role change takes
//! effect on the next request.

pub mod api_tokens;
pub mod identity;
pub mod passwords;
pub mod revocation;
pub mod sealing;
pub mod sessions;
pub mod tokens;
pub mod verified;

use std::net::IpAddr;

use uuid::Uuid;

use crate::app::AppState;
use crate::store::StoreError;
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

    /// The permission named `name` (as in the `permissions` table, and as
    /// API token scopes).
    pub fn parse(name: &str) -> Option<Permission> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

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

/// The caller lacks a permission the operation requires.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("this requires the {} permission", .0.as_str())]
pub struct MissingPermission(pub Permission);

/// What a request authenticated with.
#[derive(Debug, Clone)]
pub enum Credential {
    /// An access JWT of a login session: its verified claims.
    Session(Claims),
    /// An API token.
    ApiToken {
        /// The token's id (never its value).
        id: Uuid,
        /// Its scopes, as stored.
        scopes: Vec<String>,
    },
}

/// The authenticated user making the request (extracted from a request
/// by `http::extract`).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user, roles and permissions, as of this request. With an API
    /// token, the permissions are the token's scopes intersected with the
    /// user's own.
    pub principal: Principal,
    /// The credential presented.
    pub credential: Credential,
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

    /// Whether the user is an administrator (sees every user's rows). An
    /// administrator's API token has that reach only if it carries the
    /// `manage_users` scope, so a token scoped to verification cannot act
    /// on other users' tokens.
    pub fn is_admin(&self) -> bool {
        let admin = self
            .principal
            .user
            .roles
            .iter()
            .any(|r| r == crate::store::users::ADMIN_ROLE);
        match &self.credential {
            Credential::Session(_) => admin,
            Credential::ApiToken { .. } => admin && self.can(Permission::ManageUsers),
        }
    }

    /// Refuse unless the user holds `permission`; the reason is logged,
    /// the answer stays short.
    pub fn require(&self, permission: Permission) -> Result<(), MissingPermission> {
        if self.can(permission) {
            Ok(())
        } else {
            tracing::info!(
                user = %self.id(),
                required = permission.as_str(),
                held = ?self.principal.permissions,
                "access denied: missing permission"
            );
            Err(MissingPermission(permission))
        }
    }
}

/// Why a bearer token authenticates nobody.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token is expired, malformed, or not signed by this service.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token or its session was revoked.
    #[error("the access token has been revoked")]
    Revoked,
    /// The token's user no longer exists.
    #[error("the token's user no longer exists")]
    UnknownUser,
    /// The user is not active.
    #[error("the account is {0}")]
    AccountDisabled(crate::store::users::UserStatus),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The caller a bearer token stands for: an API token by its row (see
/// [`api_tokens::authenticate`]; `ip` is for the audit log of a refused
/// use); an access JWT by signature and claims, then revocation (Redis,
/// PostgreSQL behind it), then the user as of now (through
/// `Caches::principal`), who must be active.
pub async fn authenticate(state: &AppState, token: &str, ip: IpAddr) -> Result<Caller, AuthError> {
    if api_tokens::is_api_token(token) {
        return api_tokens::authenticate(state, token, ip).await;
    }
    let claims = state.tokens.verify(token).await?;
    if state.revocations.is_revoked(claims.jti, claims.sid).await? {
        return Err(AuthError::Revoked);
    }
    let principal = state
        .caches
        .principal(claims.sub)
        .await?
        .ok_or(AuthError::UnknownUser)?;
    if principal.user.status != crate::store::users::UserStatus::Active {
        tracing::info!(user = %principal.user.id, status = %principal.user.status, "access denied: account not active");
        return Err(AuthError::AccountDisabled(principal.user.status));
    }
    Ok(Caller {
        principal,
        credential: Credential::Session(claims),
    })
}

/// A permission as a type, so that a route's permission is checked by an
/// extractor, before its body is read.
pub trait RequiredPermission {
    /// The permission.
    const PERMISSION: Permission;
}

/// Marker types for `http::extract::Authorized`.
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
