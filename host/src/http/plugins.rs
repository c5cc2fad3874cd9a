//! `/v1/plugins`: hot-loading algorithm plugins (permission
//! `manage_curves`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, ApiJson, ApiPath, Problem};
use super::pagination::Paged;
use crate::app::AppState;
use crate::auth::perm::ManageCurves;
use crate::http::extract::{Authorized, ClientIp};
use crate::lifecycle::{self, LifecycleError};
use crate::store::audit::{Action, Audit};
use crate::store::plugins::PluginRow;

/// The routes of this module.
pub fn router(max_upload: usize) -> OpenApiRouter<AppState> {
    let upload = OpenApiRouter::new()
        .routes(routes!(upload_plugin, list_plugins))
        .layer(DefaultBodyLimit::max(max_upload));
    OpenApiRouter::new()
        .merge(upload)
        .routes(routes!(get_plugin))
        .routes(routes!(activate_plugin))
        .routes(routes!(disable_plugin))
}

/// A stored plugin version and whether it is serving here.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PluginView {
    /// The stored version.
    #[serde(flatten)]
    pub plugin: PluginRow,
    /// Whether this host routes requests to it now.
    pub serving: bool,
    /// The routes it serves (`ecdsa/p-256`).
    pub routes: Vec<String>,
    /// The plugin contract the component exports (`0.2.0`, or `0.1.0` for
    /// one built before it), where this host serves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<&'static str>,
}

fn view(state: &AppState, row: PluginRow) -> PluginView {
    let snapshot = state.plugins.snapshot();
    let serving_as = snapshot
        .plugins()
        .into_iter()
        .find(|p| p.sha256() == row.sha256);
    let (serving, contract) = (
        serving_as.is_some(),
        serving_as.map(|p| p.contract_version()),
    );
    let routes = serde_json::from_value::<crate::plugins::Descriptor>(row.descriptor.clone())
        .map(|d| d.routes().iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    PluginView {
        plugin: row,
        serving,
        routes,
        contract,
    }
}

/// What an activation's audit event records: the version, its bytes and
/// who signed them.
fn activation_facts(row: &PluginRow) -> serde_json::Value {
    json!({
        "name": row.name, "version": row.version, "sha256": row.sha256,
        "publisher": row.publisher, "signature_sha256": row.signature_sha256,
    })
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> Self {
        match error {
            LifecycleError::Refused { code, detail } => ApiError::unprocessable(code, detail),
            LifecycleError::Conflict { code, detail } => ApiError::conflict(code, detail),
            LifecycleError::Busy {
                detail,
                retry_after_secs,
            } => ApiError::unavailable("admission_busy", detail)
                .with_header(header::RETRY_AFTER, retry_after_secs.to_string()),
            LifecycleError::NotFound => ApiError::not_found("plugin"),
            LifecycleError::Store(e) => e.into(),
        }
    }
}

/// The header carrying an upload's detached signature.
pub const SIGNATURE_HEADER: &str = "sigil-plugin-signature";

/// Upload a component (`Content-Type: application/wasm`): it is compiled,
/// checked against the contract, described, self-tested on known-answer
/// vectors, stored and activated on every host. A refusal names the check
/// that failed and changes nothing.
///
/// Signed plugins: the `Sigil-Plugin-Signature` header carries a detached
/// Ed25519 signature over the body, base64 (`sigil plugin sign` writes
/// it). It must verify with one of `plugins.trusted_publishers`
/// (`untrusted_signature` otherwise, also for an altered component); the
/// stored version then names its `publisher` and `signature_sha256`.
/// With `plugins.require_signature` on, an upload without the header is
/// refused (`signature_required`).
#[utoipa::path(post, path = "/v1/plugins", tag = "plugins", security(("bearer" = ["manage_curves"])),
    params(("Sigil-Plugin-Signature" = Option<String>, Header,
            description = "Detached Ed25519 signature over the component by a trusted publisher, base64 (64 bytes). Required when the service requires signed plugins.")),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, body = PluginView), (status = 401, body = Problem), (status = 403, body = Problem),
               (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem),
               (status = 503, body = Problem)))]
async fn upload_plugin(
    State(state): State<AppState>,
    caller: Authorized<ManageCurves>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, ApiJson<PluginView>), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/wasm") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the component as application/wasm",
        ));
    }
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "plugin_too_large",
                format!(
                    "a component may be at most {} bytes",
                    state.config.plugins.max_upload_bytes
                ),
            )
        } else {
            ApiError::bad_request("malformed_body", rejection.body_text())
        }
    })?;
    let sha256 = lifecycle::sha256_hex(&bytes);
    let signature = headers.get(SIGNATURE_HEADER).map(|v| v.as_bytes());
    let outcome = state
        .lifecycle
        .upload_signed(bytes.to_vec(), Some(caller.id()), signature)
        .await;
    let event = Audit::by(caller.id(), ip, Action::PluginUpload).on(&sha256);
    state
        .audit(match &outcome {
            Ok(row) => event.details(json!({
                "id": row.id, "name": row.name, "version": row.version, "activated": true,
                "publisher": row.publisher, "signature_sha256": row.signature_sha256,
            })),
            Err(error) => event.failed(json!({
                "refused": error.to_string(), "signed": signature.is_some(),
            })),
        })
        .await;
    let row = outcome?;
    // The upload activated it: who activated what, like an activation.
    state
        .audit(
            Audit::by(caller.id(), ip, Action::PluginActivate)
                .on(row.id)
                .details(activation_facts(&row)),
        )
        .await;
    Ok((StatusCode::CREATED, ApiJson(view(&state, row))))
}

/// Every stored version, newest first.
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins", security(("bearer" = ["manage_curves"])),
    responses((status = 200, body = Paged<PluginView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_plugins(
    State(state): State<AppState>,
    _caller: Authorized<ManageCurves>,
) -> Result<ApiJson<Paged<PluginView>>, ApiError> {
    let rows = state.store.plugins().await?;
    Ok(ApiJson(Paged::complete(
        rows.into_iter().map(|row| view(&state, row)).collect(),
    )))
}

/// One stored version.
#[utoipa::path(get, path = "/v1/plugins/{id}", tag = "plugins", security(("bearer" = ["manage_curves"])),
    params(("id" = Uuid, Path, description = "plugin id")),
    responses((status = 200, body = PluginView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_plugin(
    State(state): State<AppState>,
    _caller: Authorized<ManageCurves>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<PluginView>, ApiError> {
    let row = state
        .store
        .plugin(id)
        .await?
        .ok_or_else(|| ApiError::not_found("plugin"))?;
    Ok(ApiJson(view(&state, row)))
}

/// Activate a stored version on every host (also how to roll back).
#[utoipa::path(post, path = "/v1/plugins/{id}/activate", tag = "plugins", security(("bearer" = ["manage_curves"])),
    params(("id" = Uuid, Path, description = "plugin id")),
    responses((status = 200, body = PluginView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn activate_plugin(
    State(state): State<AppState>,
    caller: Authorized<ManageCurves>,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<PluginView>, ApiError> {
    let row = state.lifecycle.activate(id).await?;
    let event = Audit::by(caller.id(), ip, Action::PluginActivate).on(id);
    state.audit(event.details(activation_facts(&row))).await;
    Ok(ApiJson(view(&state, row)))
}

/// Disable a version; its routes stop being served if it was active.
#[utoipa::path(post, path = "/v1/plugins/{id}/disable", tag = "plugins", security(("bearer" = ["manage_curves"])),
    params(("id" = Uuid, Path, description = "plugin id")),
    responses((status = 200, body = PluginView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn disable_plugin(
    State(state): State<AppState>,
    caller: Authorized<ManageCurves>,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<PluginView>, ApiError> {
    let row = state.lifecycle.disable(id).await?;
    let event = Audit::by(caller.id(), ip, Action::PluginDisable).on(id);
    state
        .audit(event.details(json!({"name": row.name, "version": row.version})))
        .await;
    Ok(ApiJson(view(&state, row)))
}
