//! API tokens (personal access tokens): long-lived credentials for
//! programs, `sigil_pat_` followed by 256 random bits (base64url). A user
//! creates one from a login session with a name, an expiry and a subset of
//! their own permissions (its scopes); the value is answered once and
//! stored only as a hash.
//!
//! Why SHA-256 and not a password hash: the secret is 256 bits from the
//! operating system's generator, so there is nothing to guess and a slow
//! hash would add no protection, only cost on every request; a plain hash
//! also lets the row be found by an index lookup (a salted hash could not
//! be).
//!
//! A request with a token is authenticated against PostgreSQL, the source
//! of truth, every time (one short transaction): there is no cached copy
//! of a token anywhere, so a revocation is seen by the next request on
//! every host. The owner is then loaded like any caller (through
//! `Caches::principal`, invalidated on every host when a user is suspended
//! or their roles change) and must be active; the caller's permissions are
//! the token's scopes intersected with the owner's current permissions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::tokens::TokenError;
use super::{AuthError, Caller, Credential, Permission};
use crate::app::AppState;
use crate::store::StoreError;
use crate::store::api_tokens::{self, ApiTokenRow, NewApiToken};
use crate::store::audit::{Action, Audit};
use crate::store::users::UserStatus;

/// What every API token starts with (so that secret scanners and people
/// can tell one apart, and the service can tell one from a JWT).
pub const PREFIX: &str = "sigil_pat_";

/// Random bytes in a token.
const SECRET_BYTES: usize = 32;

/// Characters of the base64url encoding of [`SECRET_BYTES`].
const SECRET_CHARS: usize = 43;

/// How often one host records a token's use (`last_used_at`), or a refused
/// use in the audit log, at most.
pub const USE_RECORD_INTERVAL: Duration = Duration::from_secs(60);

/// Entries [`UseThrottle`] keeps before it forgets them all.
const THROTTLE_CAPACITY: usize = 100_000;

/// Whether `token` is an API token (rather than an access JWT).
pub fn is_api_token(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// A new token: its value (shown once) and the hash that is stored.
pub struct NewSecret {
    /// `sigil_pat_...`.
    pub value: String,
    /// Hex SHA-256 of `value`.
    pub hash: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the value.
        f.debug_struct("NewSecret").finish_non_exhaustive()
    }
}

impl NewSecret {
    /// 256 bits from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::fill(&mut bytes);
        let value = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = digest(&value);
        Self { value, hash }
    }
}

/// The stored hash of a presented token, or `None` if it is not shaped
/// like one this service issues (no lookup is made for it).
pub fn presented_hash(token: &str) -> Option<String> {
    let secret = token.strip_prefix(PREFIX)?;
    let shaped = secret.len() == SECRET_CHARS
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    shaped.then(|| digest(token))
}

fn digest(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Remembers, per token, when this host last did something it needs to
/// do at most once per [`USE_RECORD_INTERVAL`] (write `last_used_at`, audit
/// a refused use), so a busy token costs no write per request.
#[derive(Debug)]
pub struct UseThrottle<K> {
    last: Mutex<HashMap<K, Instant>>,
}

impl<K> Default for UseThrottle<K> {
    fn default() -> Self {
        Self {
            last: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: std::hash::Hash + Eq> UseThrottle<K> {
    /// Whether the interval has passed for `key` (and if so, start a new one).
    pub fn due(&self, key: K) -> bool {
        if self.is_due(&key) {
            self.mark(key);
            true
        } else {
            false
        }
    }

    /// Whether the interval has passed for `key`, without starting a new one.
    pub fn is_due(&self, key: &K) -> bool {
        let Ok(last) = self.last.lock() else {
            return true;
        };
        last.get(key)
            .is_none_or(|at| at.elapsed() >= USE_RECORD_INTERVAL)
    }

    /// Start a new interval for `key`.
    pub fn mark(&self, key: K) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.len() >= THROTTLE_CAPACITY {
            last.retain(|_, at| at.elapsed() < USE_RECORD_INTERVAL);
            if last.len() >= THROTTLE_CAPACITY {
                last.clear();
            }
        }
        last.insert(key, Instant::now());
    }
}

/// Throttles of one host: use times and refused-use audit events.
#[derive(Debug, Default)]
pub struct ApiTokenThrottles {
    /// `last_used_at` writes, by token hash (known before the lookup, so
    /// the write shares its transaction).
    pub uses: UseThrottle<String>,
    /// `token.use_refused` audit events, by token id.
    pub refusals: UseThrottle<Uuid>,
}

/// The caller an API token stands for (see the module doc). A refused use
/// of a known token is audited by the token's id.
pub async fn authenticate(state: &AppState, token: &str, ip: IpAddr) -> Result<Caller, AuthError> {
    let hash = presented_hash(token)
        .ok_or_else(|| TokenError::Invalid("not a well-formed API token".into()))?;
    // A token first seen on this host, or not for a minute, has its use
    // recorded by the lookup's own transaction (if it is usable). Only a
    // token that exists starts an interval, so forged ones fill nothing.
    let uses = &state.tokens.api_throttles().uses;
    let touch = uses.is_due(&hash);
    let row = state.store.api_token_by_hash(&hash, touch).await?;
    let Some(row) = row else {
        return Err(TokenError::Invalid("unknown API token".into()).into());
    };
    if touch {
        uses.mark(hash);
    }
    let refused = |reason: &'static str, error: AuthError| async move {
        if state.tokens.api_throttles().refusals.due(row.id) {
            let event = Audit::by(row.user_id, ip, Action::TokenUseRefused)
                .on(row.id)
                .failed(json!({"reason": reason}));
            state.audit(event).await;
        }
        Err::<Caller, AuthError>(error)
    };
    if row.revoked_at.is_some() {
        return refused("revoked", AuthError::Revoked).await;
    }
    if row.expires_at <= Utc::now() {
        return refused("expired", TokenError::Expired.into()).await;
    }
    let Some(mut principal) = state.caches.principal(row.user_id).await? else {
        return Err(AuthError::UnknownUser);
    };
    if principal.user.status != UserStatus::Active {
        tracing::info!(user = %row.user_id, token = %row.id, status = %principal.user.status, "access denied: API token of an account that is not active");
        let status = principal.user.status;
        return refused("account_not_active", AuthError::AccountDisabled(status)).await;
    }
    principal.permissions.retain(|p| row.scopes.contains(p));
    Ok(Caller {
        principal,
        credential: Credential::ApiToken {
            id: row.id,
            scopes: row.scopes,
        },
    })
}

/// Why a token cannot be created or revoked.
#[derive(Debug, thiserror::Error)]
pub enum ApiTokenError {
    /// Tokens are created from a login session, not from another token.
    #[error("API tokens are created with a login session's access token, not with an API token")]
    SessionRequired,
    /// No scopes, or a name that is not a permission.
    #[error("{0}")]
    InvalidScopes(String),
    /// A scope the creator does not hold.
    #[error("the scope {0} is not among your permissions")]
    ScopeNotHeld(String),
    /// Empty or blank name.
    #[error("a token's name is 1-64 characters and not blank")]
    InvalidName,
    /// In the past, or past the configured maximum.
    #[error("{0}")]
    InvalidExpiry(String),
    /// The owner holds `quotas.tokens_per_user` live tokens.
    #[error("you hold {0} live API tokens already (quotas.tokens_per_user); revoke one first")]
    QuotaExceeded(u32),
    /// Another user's token listed or revoked by a non-administrator.
    #[error("only administrators see other users' tokens")]
    NotAdministrator,
    /// No such token visible to the caller.
    #[error("no such token")]
    NotFound,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a creator asks for.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Label (1-64 characters).
    pub name: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Permission names.
    pub scopes: Vec<String>,
}

/// The scopes as permissions, unique and in the canonical order, refused
/// if empty, unknown, or not held by `caller`.
fn check_scopes(caller: &Caller, scopes: &[String]) -> Result<Vec<String>, ApiTokenError> {
    if scopes.is_empty() {
        return Err(ApiTokenError::InvalidScopes(
            "a token needs at least one scope".into(),
        ));
    }
    if scopes.len() > 4 * Permission::ALL.len() {
        return Err(ApiTokenError::InvalidScopes(
            "too many scopes; name each permission once".into(),
        ));
    }
    let mut wanted = Vec::new();
    for scope in scopes {
        let permission = Permission::parse(scope).ok_or_else(|| {
            let shown: String = scope.chars().take(64).collect();
            ApiTokenError::InvalidScopes(format!(
                "unknown scope {shown:?}; scopes are {}",
                Permission::ALL.map(Permission::as_str).join(", ")
            ))
        })?;
        if !caller.can(permission) {
            tracing::info!(user = %caller.id(), scope = permission.as_str(), "API token refused: scope not held");
            return Err(ApiTokenError::ScopeNotHeld(permission.as_str().to_owned()));
        }
        if !wanted.contains(&permission) {
            wanted.push(permission);
        }
    }
    Ok(Permission::ALL
        .into_iter()
        .filter(|p| wanted.contains(p))
        .map(|p| p.as_str().to_owned())
        .collect())
}

/// Create a token for `caller` (from a login session): scopes within the
/// caller's permissions, expiry within `auth.api_token_max_ttl_secs`, the
/// live-token quota taken atomically. Returns the row and the value, which
/// is never seen again.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    request: TokenRequest,
    ip: IpAddr,
) -> Result<(ApiTokenRow, NewSecret), ApiTokenError> {
    if !matches!(caller.credential, Credential::Session(_)) {
        return Err(ApiTokenError::SessionRequired);
    }
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiTokenError::InvalidName);
    }
    let scopes = check_scopes(caller, &request.scopes)?;
    let now = Utc::now();
    let max_secs = i64::try_from(state.config.auth.api_token_max_ttl_secs).unwrap_or(i64::MAX);
    let latest = now + chrono::Duration::seconds(max_secs.min(100 * 366 * 24 * 3600));
    if request.expires_at <= now {
        return Err(ApiTokenError::InvalidExpiry(
            "expires_at must be in the future".into(),
        ));
    }
    if request.expires_at > latest {
        return Err(ApiTokenError::InvalidExpiry(format!(
            "expires_at may be at most {max_secs} seconds from now ({latest}); see auth.api_token_max_ttl_secs"
        )));
    }
    let quota = state.config.quotas.tokens_per_user;
    let secret = NewSecret::generate();
    let mut tx = state.store.acting_for(caller.id()).await?;
    let live = api_tokens::lock_and_count_live(&mut tx, caller.id()).await?;
    if live >= i64::from(quota) {
        return Err(ApiTokenError::QuotaExceeded(quota));
    }
    let row = api_tokens::insert(
        &mut tx,
        &NewApiToken {
            user_id: caller.id(),
            name,
            token_hash: &secret.hash,
            scopes: &scopes,
            expires_at: request.expires_at,
        },
    )
    .await?;
    tx.commit().await?;
    let event = Audit::by(caller.id(), ip, Action::TokenCreate)
        .on(row.id)
        .details(json!({"name": row.name, "scopes": row.scopes, "expires_at": row.expires_at}));
    state.audit(event).await;
    Ok((row, secret))
}

/// The user whose tokens `caller` asks for: their own, or (administrators
/// only) anyone's.
pub fn listed_user(caller: &Caller, user: Option<Uuid>) -> Result<Uuid, ApiTokenError> {
    match user {
        Some(user) if user != caller.id() => {
            if caller.is_admin() {
                Ok(user)
            } else {
                Err(ApiTokenError::NotAdministrator)
            }
        }
        _ => Ok(caller.id()),
    }
}

/// Revoke token `id` (the caller's own, or anyone's for an administrator;
/// another user's token is not found for anyone else). Idempotent. The
/// next request with it fails on every host, since every request reads the
/// row.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    ip: IpAddr,
) -> Result<ApiTokenRow, ApiTokenError> {
    let mut tx = state.store.acting_for(caller.id()).await?;
    let visible = api_tokens::get(&mut tx, id)
        .await?
        .ok_or(ApiTokenError::NotFound)?;
    // Row-level security shows an administrator every row by role; a
    // token without administrative reach (see `Caller::is_admin`) sees
    // only its owner's.
    if visible.user_id != caller.id() && !caller.is_admin() {
        return Err(ApiTokenError::NotFound);
    }
    let row = api_tokens::revoke(&mut tx, id)
        .await?
        .ok_or(ApiTokenError::NotFound)?;
    tx.commit().await?;
    if visible.revoked_at.is_none() {
        let event = Audit::by(caller.id(), ip, Action::TokenRevoke)
            .on(row.id)
            .details(json!({"owner": row.user_id}));
        state.audit(event).await;
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_has_the_prefix_and_256_bits_and_hashes_to_what_is_stored() {
        let secret = NewSecret::generate();
        assert!(secret.value.starts_with(PREFIX));
        assert_eq!(secret.value.len(), PREFIX.len() + SECRET_CHARS);
        assert_eq!(presented_hash(&secret.value), Some(secret.hash.clone()));
        assert_eq!(secret.hash.len(), 64);
        assert!(!format!("{secret:?}").contains(&secret.value));
        assert_ne!(NewSecret::generate().value, secret.value);
    }

    #[test]
    fn anything_not_shaped_like_a_token_is_not_looked_up() {
        let good = NewSecret::generate().value;
        for bad in [
            "sigil_pat_",
            "sigil_pat_short",
            &format!("{good}x"),
            &good[..good.len() - 1],
            &format!("{}!{}", &good[..20], &good[21..]),
            "eyJhbGciOiJFZERTQSJ9.e30.sig",
        ] {
            assert_eq!(presented_hash(bad), None, "{bad}");
        }
        assert!(is_api_token(&good) && !is_api_token("eyJ.x.y"));
    }

    #[test]
    fn the_throttle_lets_one_through_per_interval_and_token() {
        let throttle = UseThrottle::<Uuid>::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(throttle.due(a));
        assert!(!throttle.due(a));
        assert!(throttle.due(b));
    }
}
