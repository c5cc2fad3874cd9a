//! Login sessions: login issues an access token and the first refresh token
//! of a new family; refresh spends a refresh token for a new pair (a spent
//! token presented again revokes the whole family); logout revokes the
//! access token and its session.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use std::net::IpAddr;
use uuid::Uuid;

use super::Caller;
use super::passwords::HashError;
use super::tokens::{LEEWAY_SECS, TokenError};
use crate::app::AppState;
use crate::store::audit::{Action, Audit};
use crate::store::tokens::RefreshTokenRow;
use crate::store::users::UserStatus;
use crate::store::{StoreError, Tx};

/// A token pair, as the login and refresh endpoints answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// The JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque, single-use; exchange it at `/v1/auth/refresh`.
    pub refresh_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Unknown user or wrong password (indistinguishable on purpose).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The account is inactive or suspended.
    #[error("the account is {0}")]
    AccountDisabled(UserStatus),
    /// Unknown, expired or revoked refresh token.
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    /// A spent refresh token came back: the family is revoked.
    #[error("the refresh token was already used; the session has been revoked")]
    RefreshTokenReused,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// Signing failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Logout was asked with an API token, which belongs to no session.
    #[error("an API token belongs to no session; revoke it with DELETE /v1/tokens/{{id}}")]
    NotASession,
}

fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Log in: argon2id check, new session. The caller has charged the
/// attempt to the login rate limits first (`http::ratelimit`).
pub async fn login(
    state: &AppState,
    username: &str,
    password: String,
    ip: IpAddr,
) -> Result<TokenPair, SessionError> {
    let credentials = state.store.credentials(username).await?;
    let hash = credentials.as_ref().map(|c| c.password_hash.clone());
    let valid = state.passwords.verify(password, hash).await?;
    let Some(credentials) = credentials.filter(|_| valid) else {
        let event = Audit::anonymous(ip, Action::AuthLogin).on(username);
        state
            .audit(event.failed(json!({"reason": "invalid_credentials"})))
            .await;
        return Err(SessionError::InvalidCredentials);
    };
    if credentials.status != UserStatus::Active {
        let event = Audit::by(credentials.id, ip, Action::AuthLogin).on(credentials.id);
        let reason = json!({"reason": "account_disabled", "status": credentials.status});
        state.audit(event.failed(reason)).await;
        return Err(SessionError::AccountDisabled(credentials.status));
    }

    let family = Uuid::new_v4();
    let pair = start_session(state, credentials.id, family).await?;
    state.store.touch_last_login(credentials.id).await?;
    let event = Audit::by(credentials.id, ip, Action::AuthLogin).on(credentials.id);
    state.audit(event).await;
    Ok(pair)
}

/// Issue an access token and store a fresh refresh token in `family`, a
/// new session. If the user already holds `quotas.sessions_per_user` live
/// sessions, those used longest ago end (their refresh tokens and access
/// tokens stop working) so that the new one fits.
async fn start_session(
    state: &AppState,
    user: Uuid,
    family: Uuid,
) -> Result<TokenPair, SessionError> {
    let refresh_token = new_refresh_token();
    let refresh_expires = Utc::now()
        + chrono::Duration::seconds(
            i64::try_from(state.config.auth.refresh_token_ttl_secs).unwrap_or(1_209_600),
        );
    let mut tx = state.store.begin().await?;
    let evicted = evict_beyond_quota(state, &mut tx, user).await?;
    state
        .store
        .insert_refresh_token(
            &mut tx,
            user,
            family,
            &hash_refresh_token(&refresh_token),
            refresh_expires,
        )
        .await?;
    tx.commit().await.map_err(StoreError::from)?;
    for (sid, until) in evicted {
        state.revocations.session_revoked(sid, until).await;
    }
    let issued = state.tokens.issue(user, family)?;
    Ok(TokenPair {
        access_token: issued.token,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl().as_secs(),
    })
}

/// Make room for one more session of `user`: under the per-user login
/// lock (concurrent logins count one after the other), revoke the least
/// recently used live sessions beyond `quotas.sessions_per_user - 1`.
/// Returns them with their revocation's end, for Redis once committed.
async fn evict_beyond_quota(
    state: &AppState,
    tx: &mut Tx,
    user: Uuid,
) -> Result<Vec<(Uuid, chrono::DateTime<Utc>)>, SessionError> {
    state.store.lock_user_sessions(tx, user).await?;
    let live = state.store.live_sessions(tx, user).await?;
    let quota = usize::try_from(state.config.quotas.sessions_per_user).unwrap_or(usize::MAX);
    let excess = (live.len() + 1).saturating_sub(quota.max(1));
    let until = session_revocation_end(state);
    let mut evicted = Vec::with_capacity(excess);
    for sid in live.into_iter().take(excess) {
        state.store.revoke_session(tx, sid, user, until).await?;
        evicted.push((sid, until));
    }
    if !evicted.is_empty() {
        tracing::info!(%user, evicted = evicted.len(), "session quota reached; the least recently used sessions ended");
    }
    Ok(evicted)
}

/// Exchange a refresh token for a new pair.
pub async fn refresh(
    state: &AppState,
    refresh_token: &str,
    ip: IpAddr,
) -> Result<TokenPair, SessionError> {
    if refresh_token.is_empty() || refresh_token.len() > 256 {
        return Err(SessionError::InvalidRefreshToken);
    }
    let token_hash = hash_refresh_token(refresh_token);
    let mut tx = state.store.begin().await?;
    // Rotation and revocation of a family are serialised by one lock per
    // family, always taken before any row lock: a revocation cannot miss a
    // token a concurrent refresh is issuing, and a refresh cannot outlive a
    // revocation.
    let row = live_refresh_token(state, &mut tx, &token_hash).await?;
    if row.spent_at.is_some() {
        let until = session_revocation_end(state);
        state
            .store
            .revoke_session(&mut tx, row.family_id, row.user_id, until)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        state
            .revocations
            .session_revoked(row.family_id, until)
            .await;
        let event = Audit::by(row.user_id, ip, Action::AuthRefreshTokenReuse).on(row.family_id);
        let reason = json!({"reason": "spent refresh token presented again; session revoked"});
        state.audit(event.failed(reason)).await;
        return Err(SessionError::RefreshTokenReused);
    }
    let Some(user) = state.store.user(row.user_id).await? else {
        return Err(SessionError::InvalidRefreshToken);
    };
    if user.status != UserStatus::Active {
        return Err(SessionError::AccountDisabled(user.status));
    }
    state.store.spend_refresh_token(&mut tx, row.id).await?;
    let next = new_refresh_token();
    state
        .store
        .insert_refresh_token(
            &mut tx,
            row.user_id,
            row.family_id,
            &hash_refresh_token(&next),
            row.expires_at,
        )
        .await?;
    tx.commit().await.map_err(StoreError::from)?;
    let issued = state.tokens.issue(row.user_id, row.family_id)?;
    Ok(TokenPair {
        access_token: issued.token,
        refresh_token: next,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl().as_secs(),
    })
}

/// The refresh token `token_hash` names, locked together with its family
/// (family first), unless it is unknown, revoked or expired or its session
/// is revoked. A spent token is returned: the caller treats it as reuse.
async fn live_refresh_token(
    state: &AppState,
    tx: &mut Tx,
    token_hash: &str,
) -> Result<RefreshTokenRow, SessionError> {
    let Some(family) = state.store.refresh_family(tx, token_hash).await? else {
        return Err(SessionError::InvalidRefreshToken);
    };
    state.store.lock_session(tx, family).await?;
    let Some(row) = state.store.refresh_token_for_update(tx, token_hash).await? else {
        return Err(SessionError::InvalidRefreshToken);
    };
    if row.revoked_at.is_some()
        || row.expires_at <= Utc::now()
        || state.store.is_session_revoked(tx, family).await?
    {
        return Err(SessionError::InvalidRefreshToken);
    }
    Ok(row)
}

/// How long a session revocation is kept: as long as any refresh token of
/// the session could still be presented (and so any access token it could
/// still yield).
fn session_revocation_end(state: &AppState) -> chrono::DateTime<Utc> {
    let refresh = i64::try_from(state.config.auth.refresh_token_ttl_secs).unwrap_or(1_209_600);
    let access = i64::try_from(state.tokens.access_ttl().as_secs()).unwrap_or(900);
    Utc::now() + chrono::Duration::seconds(refresh.max(access) + LEEWAY_SECS as i64 + 60)
}

/// Log out: the presented access token and its whole session stop working.
pub async fn logout(state: &AppState, caller: &Caller, ip: IpAddr) -> Result<(), SessionError> {
    let crate::auth::Credential::Session(claims) = &caller.credential else {
        return Err(SessionError::NotASession);
    };
    // Accepted until `exp` plus the verification leeway: revoked as long.
    let token_end = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now)
        + chrono::Duration::seconds(LEEWAY_SECS as i64 + 60);
    state
        .revocations
        .revoke_token(claims.jti, claims.sub, claims.sid, token_end)
        .await?;
    let until = session_revocation_end(state);
    let mut tx = state.store.begin().await?;
    state
        .store
        .revoke_session(&mut tx, claims.sid, claims.sub, until)
        .await?;
    tx.commit().await.map_err(StoreError::from)?;
    state.revocations.session_revoked(claims.sid, until).await;
    let event = Audit::by(claims.sub, ip, Action::AuthLogout).on(claims.sid);
    state.audit(event).await;
    Ok(())
}

/// End every session of a user (suspension, deactivation, password reset).
pub async fn end_all_sessions(state: &AppState, user: Uuid) -> Result<(), StoreError> {
    let until = session_revocation_end(state);
    for family in state.store.revoke_user_sessions(user, until).await? {
        state.revocations.session_revoked(family, until).await;
    }
    Ok(())
}
