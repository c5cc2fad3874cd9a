//! `/v1/keys`: public keys (permission `manage_public_keys`). Keys are
//! owned: another user's key answers 404.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem};
use super::pagination::{self, Paged};
use super::verify::{plugin_failed, plugin_refused};
use crate::app::AppState;
use crate::auth::perm::ManagePublicKeys;
use crate::http::extract::{Authorized, ClientIp};
use crate::keys::{
    KeyError, KeyName, KeyView, NewKeyRequest, Registrar, check_metadata, check_name,
};
use crate::store::StoreError;
use crate::store::audit::{Action, Audit};
use crate::store::keys::{self, KeyChanges};
use crate::store::text::{StoredJson, StoredTime};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(get_key, update_key, delete_key))
        .routes(routes!(revoke_key))
}

/// Changes to a key.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    /// New name (1-64 characters, no NUL).
    #[schema(value_type = Option<String>, min_length = 1, max_length = 64)]
    pub name: Option<KeyName>,
    /// New metadata (replaces the old; the same rules as at registration).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<StoredJson>,
    /// New expiry (RFC 3339, years 1-9999).
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<StoredTime>,
}

/// Filters of the key list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyQuery {
    /// `active`, `revoked` or `expired`.
    #[param(inline, value_type = Option<super::openapi::vocabulary::KeyStatusName>)]
    pub status: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page.
    pub limit: Option<u32>,
}

/// Register a public key; the plugin for its algorithm validates and
/// canonicalises it.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", security(("bearer" = ["manage_public_keys"])), request_body = NewKeyRequest,
    responses((status = 201, body = KeyView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem, description = "key_quota_exceeded: the caller holds quotas.keys_per_user keys already; nothing was stored"), (status = 422, body = Problem, description = "invalid_name, invalid_metadata, invalid_expires_at (NUL, length, nesting, key count, time range), invalid_expiry, invalid_body, the key's own codes; invalid_input: the database refused a value")))]
async fn create_key(
    State(state): State<AppState>,
    caller: Authorized<ManagePublicKeys>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<NewKeyRequest>,
) -> Result<(StatusCode, ApiJson<KeyView>), ApiError> {
    let registrar = Registrar {
        plugins: &state.plugins,
        executor: &state.executor,
        caches: &state.caches,
        store: &state.store,
        quota: state.config.quotas.keys_per_user,
    };
    let row = registrar.register(caller.id(), request).await?;
    state.caches.write_key(&row).await;
    let view = KeyView::from(row);
    let event = Audit::by(caller.id(), ip, Action::KeyCreate).on(view.id);
    let facts =
        json!({"algorithm": view.algorithm, "curve": view.curve, "fingerprint": view.fingerprint});
    state.audit(event.details(facts)).await;
    Ok((StatusCode::CREATED, ApiJson(view)))
}

/// The caller's keys (an admin's: everyone's), newest first.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", security(("bearer" = ["manage_public_keys"])), params(KeyQuery),
    responses((status = 200, body = Paged<KeyView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_keys(
    State(state): State<AppState>,
    caller: Authorized<ManagePublicKeys>,
    ApiQuery(query): ApiQuery<KeyQuery>,
) -> Result<ApiJson<Paged<KeyView>>, ApiError> {
    if let Some(status) = &query.status
        && !["active", "revoked", "expired"].contains(&status.as_str())
    {
        return Err(ApiError::unprocessable(
            "invalid_status",
            "status is active, revoked or expired",
        ));
    }
    let status = query.status.as_deref();
    let rows = pagination::fetch_page(&state, query.cursor.as_deref(), query.limit, async |page| {
        let mut tx = state
            .store
            .acting_as(caller.id(), caller.is_admin())
            .await?;
        let rows = keys::list(&mut tx, status, page).await?;
        tx.commit().await?;
        Ok(rows)
    })
    .await?;
    Ok(ApiJson(rows.map(KeyView::from)))
}

/// One key.
#[utoipa::path(get, path = "/v1/keys/{id}", tag = "keys", security(("bearer" = ["manage_public_keys"])),
    params(("id" = Uuid, Path, description = "key id")),
    responses((status = 200, body = KeyView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_key(
    State(state): State<AppState>,
    caller: Authorized<ManagePublicKeys>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<KeyView>, ApiError> {
    let mut tx = state
        .store
        .acting_as(caller.id(), caller.is_admin())
        .await?;
    let row = keys::get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(ApiJson(KeyView::from(
        row.ok_or_else(|| ApiError::not_found("key"))?,
    )))
}

/// Rename a key, replace its metadata or change its expiry.
#[utoipa::path(patch, path = "/v1/keys/{id}", tag = "keys", security(("bearer" = ["manage_public_keys"])),
    params(("id" = Uuid, Path, description = "key id")), request_body = KeyPatch,
    responses((status = 200, body = KeyView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem, description = "invalid_name, invalid_metadata, invalid_expires_at (NUL, length, nesting, key count, time range), invalid_body; invalid_input: the database refused a value")))]
async fn update_key(
    State(state): State<AppState>,
    caller: Authorized<ManagePublicKeys>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<KeyPatch>,
) -> Result<ApiJson<KeyView>, ApiError> {
    check_name(patch.name.as_ref())?;
    check_metadata(patch.metadata.as_ref())?;
    let mut tx = state
        .store
        .acting_as(caller.id(), caller.is_admin())
        .await?;
    let row = keys::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("key"))?;
    let metadata = patch.metadata.map(|custom| {
        let mut facts = row.metadata.unwrap_or_else(|| json!({}));
        facts["custom"] = custom.into_inner();
        facts
    });
    let changes = KeyChanges {
        name: patch.name.map(KeyName::into_inner),
        metadata,
        expires_at: patch.expires_at.map(StoredTime::get),
    };
    keys::update(&mut tx, id, &changes).await?;
    let row = keys::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("key"))?;
    tx.commit().await?;
    state.caches.key_changed(id).await;
    Ok(ApiJson(KeyView::from(row)))
}

/// Revoke a key: verifications with it are refused from now on.
#[utoipa::path(post, path = "/v1/keys/{id}/revoke", tag = "keys", security(("bearer" = ["manage_public_keys"])),
    params(("id" = Uuid, Path, description = "key id")),
    responses((status = 200, body = KeyView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn revoke_key(
    State(state): State<AppState>,
    caller: Authorized<ManagePublicKeys>,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<KeyView>, ApiError> {
    let mut tx = state
        .store
        .acting_as(caller.id(), caller.is_admin())
        .await?;
    let row = match keys::revoke(&mut tx, id).await? {
        true => keys::get(&mut tx, id).await?,
        false => None,
    };
    tx.commit().await?;
    let row = row.ok_or_else(|| ApiError::not_found("key"))?;
    state.caches.key_changed(id).await;
    state
        .audit(Audit::by(caller.id(), ip, Action::KeyRevoke).on(id))
        .await;
    Ok(ApiJson(KeyView::from(row)))
}

/// Delete a key that has no verification history (revoke it otherwise).
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys", security(("bearer" = ["manage_public_keys"])),
    params(("id" = Uuid, Path, description = "key id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_key(
    State(state): State<AppState>,
    caller: Authorized<ManagePublicKeys>,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    // The DELETE's trigger reads the records' partitions while partition
    // maintenance, creating one, locks the keys' table: PostgreSQL breaks
    // that deadlock by rolling one side back, so the deletion runs again.
    let deleted = state
        .store
        .retry("delete_key", || async {
            let mut tx = state
                .store
                .acting_as(caller.id(), caller.is_admin())
                .await?;
            let deleted = keys::delete(&mut tx, id).await?;
            tx.commit().await?;
            Ok(deleted)
        })
        .await
        .map_err(|error| match error {
            StoreError::Conflict { .. } => ApiError::conflict(
                "key_in_use",
                "the key has verification history, which is kept; revoke it instead",
            ),
            other => other.into(),
        })?;
    if !deleted {
        return Err(ApiError::not_found("key"));
    }
    state.caches.key_changed(id).await;
    state
        .audit(Audit::by(caller.id(), ip, Action::KeyDelete).on(id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> Self {
        let detail = error.client_detail();
        let code = error.code();
        match error {
            KeyError::MalformedKey(_) => ApiError::bad_request(code, detail),
            KeyError::Refused(refusal) => plugin_refused(&refusal, code, detail),
            KeyError::Plugin(failure) => plugin_failed(failure, code, detail),
            KeyError::Store(e) => e.into(),
            KeyError::QuotaExceeded(_) => ApiError::conflict(code, detail),
            KeyError::InvalidName
            | KeyError::InvalidMetadata(_)
            | KeyError::InvalidExpiry
            | KeyError::UnsupportedKeyFormat(_)
            | KeyError::PrivateKeyRefused
            | KeyError::UnsupportedCurve(_)
            | KeyError::UnsupportedAlgorithm(_)
            | KeyError::CurveRequired(_)
            | KeyError::CurveMismatch { .. }
            | KeyError::CurveDisabled(_) => ApiError::unprocessable(code, detail),
        }
    }
}
