//! `/v1/algorithms` and `/v1/curves`: the catalogue, with the plugin that
//! serves each entry.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, ApiJson, ApiPath, Problem};
use super::pagination::Paged;
use crate::app::AppState;
use crate::auth::Caller;
use crate::auth::perm::ManageCurves;
use crate::http::extract::{Authorized, ClientIp};
use crate::plugins::policy::{CurvePolicy, known_order};
use crate::store::audit::{Action, Audit};
use crate::store::catalog::{AlgorithmRow, CurveRow, CurveStatus};
use crate::store::text::{StoredJson, StoredText};

/// Longest curve description, in characters.
const MAX_DESCRIPTION: usize = 4096;

/// A description as sent: no NUL, at most [`MAX_DESCRIPTION`] characters.
type Description = StoredText<MAX_DESCRIPTION>;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_algorithms))
        .routes(routes!(list_curves, create_curve))
        .routes(routes!(update_curve))
}

/// The plugin serving an entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServedBy {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// SHA-256 of the component.
    pub sha256: String,
}

/// An algorithm with the plugins that serve it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlgorithmView {
    /// The catalogue row.
    #[serde(flatten)]
    pub algorithm: AlgorithmRow,
    /// Plugins serving it (any curve).
    pub plugins: Vec<ServedBy>,
}

/// A curve with the plugin that serves it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurveView {
    /// The catalogue row.
    #[serde(flatten)]
    pub curve: CurveRow,
    /// The plugin serving it, if one is loaded.
    pub plugin: Option<ServedBy>,
    /// Whether verifications on it can run now (enabled and served).
    pub available: bool,
    /// The status an admin set (`status` also says `disabled` when no
    /// plugin serves the curve).
    pub configured_status: CurveStatus,
}

/// A curve to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCurve {
    /// Curve name (`P-521`).
    pub name: String,
    /// The algorithm it belongs to (`ECDSA`).
    #[schema(value_type = String, max_length = 32)]
    pub algorithm: StoredText<32>,
    /// Parameters (a JSON object, nested at most 32 deep, at most 1024
    /// keys, no NUL in keys or strings).
    #[schema(value_type = Object)]
    pub parameters: StoredJson,
    /// Description (at most 4096 characters, no NUL).
    #[schema(value_type = Option<String>, max_length = 4096)]
    pub description: Option<Description>,
    /// What verification on it means (`low_s_only`, `order` as hex,
    /// `strict`, `hashes`, `encodings`; see PLUGINS.md). Absent: low-S as
    /// `parameters.low_s_only` says, with the order where Sigil knows the
    /// curve. A plugin serving the curve must agree with it.
    #[schema(value_type = Option<Object>)]
    pub policy: Option<StoredJson>,
}

/// The policy of a curve to add: the one sent, or the one its parameters
/// imply; it must be enforceable and agree with the parameters.
fn new_curve_policy(curve: &NewCurve) -> Result<CurvePolicy, ApiError> {
    let invalid = |detail: String| ApiError::unprocessable("invalid_policy", detail);
    let declared_low_s = curve
        .parameters
        .as_value()
        .get("low_s_only")
        .and_then(serde_json::Value::as_bool);
    let policy = match &curve.policy {
        Some(policy) => serde_json::from_value::<CurvePolicy>(policy.as_value().clone())
            .map_err(|e| invalid(format!("policy: {e}")))?,
        None => CurvePolicy {
            low_s_only: declared_low_s,
            order: known_order(&curve.name).map(str::to_owned),
            ..CurvePolicy::default()
        },
    };
    if policy.order.is_some() && policy.order_bytes().is_none() {
        return Err(invalid("policy.order is the group order in hex".into()));
    }
    if policy.low_s() && policy.order_bytes().is_none() {
        return Err(invalid(
            "a low-S curve needs policy.order (the group order in hex) so that the host can enforce it".into(),
        ));
    }
    if let (Some(declared), Some(required)) = (declared_low_s, policy.low_s_only)
        && declared != required
    {
        return Err(invalid(format!(
            "parameters.low_s_only is {declared} but policy.low_s_only is {required}"
        )));
    }
    Ok(policy)
}

/// Changes to a curve.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CurvePatch {
    /// `enabled` or `disabled`.
    #[schema(inline, value_type = Option<super::openapi::vocabulary::CurveStatusName>)]
    pub status: Option<String>,
    /// Description (at most 4096 characters, no NUL).
    #[schema(value_type = Option<String>, max_length = 4096)]
    pub description: Option<Description>,
}

fn served_by(plugin: &crate::plugins::LoadedPlugin) -> ServedBy {
    ServedBy {
        name: plugin.descriptor().name.clone(),
        version: plugin.descriptor().version.clone(),
        sha256: plugin.sha256().to_owned(),
    }
}

/// The curve as callers see it: `status` is `disabled` when an admin
/// disabled it or when no plugin serves it (`configured_status` keeps the
/// admin's setting).
fn curve_view(state: &AppState, mut curve: CurveRow) -> CurveView {
    let plugin = state.plugins.route(&curve.algorithm, Some(&curve.name));
    let available = curve.is_enabled() && plugin.is_some();
    let effective = if available {
        CurveStatus::Enabled
    } else {
        CurveStatus::Disabled
    };
    let configured_status = std::mem::replace(&mut curve.status, effective);
    CurveView {
        plugin: plugin.as_deref().map(served_by),
        available,
        configured_status,
        curve,
    }
}

/// Algorithms and their plugins.
#[utoipa::path(get, path = "/v1/algorithms", tag = "catalogue", security(("bearer" = [])),
    responses((status = 200, body = Paged<AlgorithmView>), (status = 401, body = Problem)))]
async fn list_algorithms(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<ApiJson<Paged<AlgorithmView>>, ApiError> {
    let snapshot = state.plugins.snapshot();
    let algorithms = state.caches.algorithms().await?;
    Ok(ApiJson(Paged::complete(
        algorithms
            .iter()
            .cloned()
            .map(|algorithm| {
                let plugins = snapshot
                    .for_algorithm(&algorithm.name)
                    .iter()
                    .map(|p| served_by(p))
                    .collect();
                AlgorithmView { algorithm, plugins }
            })
            .collect(),
    )))
}

/// Curves, their status and their plugins.
#[utoipa::path(get, path = "/v1/curves", tag = "catalogue", security(("bearer" = [])),
    responses((status = 200, body = Paged<CurveView>), (status = 401, body = Problem)))]
async fn list_curves(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<ApiJson<Paged<CurveView>>, ApiError> {
    let curves = state.caches.curves().await?;
    Ok(ApiJson(Paged::complete(
        curves
            .iter()
            .cloned()
            .map(|c| curve_view(&state, c))
            .collect(),
    )))
}

/// Add a curve to the catalogue (a plugin must serve it before keys on it
/// can be used).
#[utoipa::path(post, path = "/v1/curves", tag = "catalogue", security(("bearer" = ["manage_curves"])), request_body = NewCurve,
    responses((status = 201, body = CurveView), (status = 400, body = Problem, description = "malformed_body (including an unpaired surrogate)"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem, description = "invalid_name, invalid_algorithm, invalid_parameters, invalid_policy (unparseable, a low-S curve without its order, disagreeing with parameters), invalid_description (NUL, length, nesting, key count), unknown_algorithm, invalid_body; invalid_input: the database refused a value")))]
async fn create_curve(
    State(state): State<AppState>,
    caller: Authorized<ManageCurves>,
    ClientIp(ip): ClientIp,
    ApiJson(curve): ApiJson<NewCurve>,
) -> Result<(StatusCode, ApiJson<CurveView>), ApiError> {
    let name_ok = !curve.name.is_empty()
        && curve.name.len() <= 64
        && curve
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err(ApiError::unprocessable(
            "invalid_name",
            "a curve name is 1-64 characters of letters, digits, '-', '_', '.'",
        ));
    }
    if !curve.parameters.as_value().is_object() {
        return Err(ApiError::unprocessable(
            "invalid_parameters",
            "parameters must be a JSON object",
        ));
    }
    let policy = new_curve_policy(&curve)?;
    let row = match state
        .store
        .create_curve(
            &curve.name,
            &curve.algorithm,
            curve.parameters.as_value(),
            curve.description.as_deref(),
            &policy,
        )
        .await
    {
        Ok(Some(row)) => row,
        Ok(None) => {
            return Err(ApiError::unprocessable(
                "unknown_algorithm",
                format!("no algorithm named {:?}", curve.algorithm),
            ));
        }
        Err(crate::store::StoreError::Conflict { .. }) => {
            return Err(ApiError::conflict(
                "curve_exists",
                format!("a curve named {:?} exists", curve.name),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    state.caches.catalogue_changed().await;
    let event = Audit::by(caller.id(), ip, Action::CurveCreate).on(row.id);
    let facts = json!({"name": row.name, "algorithm": row.algorithm});
    state.audit(event.details(facts)).await;
    Ok((StatusCode::CREATED, ApiJson(curve_view(&state, row))))
}

/// Enable or disable a curve (or change its description).
#[utoipa::path(patch, path = "/v1/curves/{id}", tag = "catalogue", security(("bearer" = ["manage_curves"])),
    params(("id" = Uuid, Path, description = "curve id")), request_body = CurvePatch,
    responses((status = 200, body = CurveView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem, description = "invalid_status, invalid_description (NUL, length), invalid_body; invalid_input: the database refused a value")))]
async fn update_curve(
    State(state): State<AppState>,
    caller: Authorized<ManageCurves>,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<CurvePatch>,
) -> Result<ApiJson<CurveView>, ApiError> {
    let status = patch
        .status
        .as_deref()
        .map(str::parse::<CurveStatus>)
        .transpose()
        .map_err(|_| ApiError::unprocessable("invalid_status", "status is enabled or disabled"))?;
    let row = state
        .store
        .update_curve(id, status, patch.description.as_deref())
        .await?
        .ok_or_else(|| ApiError::not_found("curve"))?;
    tracing::info!(curve = %row.name, algorithm = %row.algorithm, status = %row.status, "curve changed");
    state.caches.catalogue_changed().await;
    let event = Audit::by(caller.id(), ip, Action::CurveUpdate).on(id);
    state
        .audit(event.details(json!({"status": patch.status})))
        .await;
    Ok(ApiJson(curve_view(&state, row)))
}
