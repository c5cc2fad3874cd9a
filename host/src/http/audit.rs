//! `/v1/audit`: the audit trail, for administrators (permission
//! `manage_users`).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, ApiJson, ApiQuery, Problem};
use super::pagination::{self, Paged};
use crate::app::AppState;
use crate::auth::perm::ManageUsers;
use crate::http::extract::Authorized;
use crate::store::audit::{AuditEvent, AuditFilter};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// Filters of the audit trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this actor.
    pub actor_id: Option<Uuid>,
    /// Only this action (`auth.login`, `key.revoke`, `plugin.upload`...).
    pub action: Option<String>,
    /// Not before (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page.
    pub limit: Option<u32>,
}

/// Security-relevant actions, newest first.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", security(("bearer" = ["manage_users"])), params(AuditQuery),
    responses((status = 200, body = Paged<AuditEvent>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_audit(
    State(state): State<AppState>,
    _caller: Authorized<ManageUsers>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<ApiJson<Paged<AuditEvent>>, ApiError> {
    let filter = AuditFilter {
        actor_id: query.actor_id,
        action: query.action,
        from: query.from,
        to: query.to,
    };
    let events =
        pagination::fetch_page(&state, query.cursor.as_deref(), query.limit, async |page| {
            state.store.audit_events(&filter, page).await
        })
        .await?;
    Ok(ApiJson(events))
}
