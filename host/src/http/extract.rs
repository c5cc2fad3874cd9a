//! What handlers extract from a request besides its body: the
//! authenticated [`Caller`] (authenticated by the rate-limit middleware,
//! which counts the request against the user),
//! [`Authorized<P>`] for a route's permission, and the [`ClientIp`].

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use super::error::ApiError;
use super::ratelimit;
use crate::app::AppState;
use crate::auth::tokens::TokenError;
use crate::auth::{AuthError, Caller, MissingPermission, RequiredPermission, authenticate};

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // The rate-limit middleware authenticated the token already (to
        // count the request against its user): take its result.
        if let Some(outcome) = parts
            .extensions
            .get::<ratelimit::Authentication>()
            .and_then(ratelimit::Authentication::take)
        {
            return Ok(outcome?);
        }
        let token = bearer_token(parts)?;
        let ip = client_ip(parts, state.config.http.trust_forwarded_for);
        Ok(authenticate(state, token, ip).await?)
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Token(TokenError::Expired) => {
                ApiError::unauthorized("token_expired", "the access token has expired")
            }
            AuthError::Token(TokenError::UnknownKey) => {
                ApiError::unauthorized("invalid_token", "the token was not signed by this service")
            }
            AuthError::Token(TokenError::Invalid(reason)) => {
                tracing::info!(%reason, "access denied: invalid token");
                ApiError::unauthorized("invalid_token", "the access token is not valid")
            }
            AuthError::Token(TokenError::Store(e)) | AuthError::Store(e) => ApiError::from(e),
            AuthError::Token(TokenError::Sealing(e)) => ApiError::internal(e),
            AuthError::Revoked => {
                ApiError::unauthorized("token_revoked", "the access token has been revoked")
            }
            AuthError::UnknownUser => {
                ApiError::unauthorized("invalid_token", "the token's user no longer exists")
            }
            // The same answer as at login: the credentials are good, the
            // account may not be used.
            AuthError::AccountDisabled(status) => {
                ApiError::forbidden("account_disabled", format!("the account is {status}"))
            }
        }
    }
}

impl From<MissingPermission> for ApiError {
    fn from(error: MissingPermission) -> Self {
        ApiError::forbidden("forbidden", error.to_string())
    }
}

pub(super) fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
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

/// An authenticated caller holding the permission `P` (401 without a valid
/// token, 403 without the permission), checked before the body is read.
#[derive(Debug)]
pub struct Authorized<P>(pub Caller, PhantomData<P>);

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
        Ok(Authorized(caller, PhantomData))
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
