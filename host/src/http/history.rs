//! `/v1/verifications` and `/v1/batches`: verification history (permission
//! `verify_signatures`). Users see their own; admins see all.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, Problem};
use super::pagination::{self, Paged};
use crate::app::AppState;
use crate::auth::perm::VerifySignatures;
use crate::http::extract::Authorized;
use crate::store::verifications::{self, BatchItemView, BatchView, RecordFilter, RecordView};

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_verifications))
        .routes(routes!(recent_verifications))
        .routes(routes!(get_verification))
        .routes(routes!(list_batches))
        .routes(routes!(get_batch))
}

/// Filters of the verification history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerificationQuery {
    /// Only this key.
    pub public_key_id: Option<Uuid>,
    /// Only valid (`true`) or invalid (`false`) results.
    pub valid: Option<bool>,
    /// Not before (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page.
    pub limit: Option<u32>,
}

/// A batch with its items in request order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchDetail {
    /// The batch.
    #[serde(flatten)]
    pub batch: BatchView,
    /// Items that produced a record, in request order.
    pub items: Vec<BatchItemView>,
}

/// Verification records, newest first.
#[utoipa::path(get, path = "/v1/verifications", tag = "history", security(("bearer" = ["verify_signatures"])), params(VerificationQuery),
    responses((status = 200, body = Paged<RecordView>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_verifications(
    State(state): State<AppState>,
    caller: Authorized<VerifySignatures>,
    ApiQuery(query): ApiQuery<VerificationQuery>,
) -> Result<ApiJson<Paged<RecordView>>, ApiError> {
    let filter = RecordFilter {
        user_id: None,
        public_key_id: query.public_key_id,
        valid: query.valid,
        from: query.from,
        to: query.to,
    };
    let records =
        pagination::fetch_page(&state, query.cursor.as_deref(), query.limit, async |page| {
            // A listing may lag by the replica's bound (DATABASE_READ_URL);
            // a record by id (below) is read from the primary.
            let mut tx = state
                .store
                .reading_as(caller.id(), caller.is_admin())
                .await?;
            let records = verifications::list_records(&mut tx, &filter, page).await?;
            tx.commit().await?;
            Ok(records)
        })
        .await?;
    Ok(ApiJson(records))
}

/// The caller's last 20 verifications, newest first (from Redis's
/// `verify:recent:{user}`, else from PostgreSQL).
#[utoipa::path(get, path = "/v1/verifications/recent", tag = "history", security(("bearer" = ["verify_signatures"])),
    responses((status = 200, body = Paged<RecordView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn recent_verifications(
    State(state): State<AppState>,
    caller: Authorized<VerifySignatures>,
) -> Result<ApiJson<Paged<RecordView>>, ApiError> {
    let user = caller.id();
    let load = || async {
        let filter = RecordFilter {
            user_id: Some(user),
            ..RecordFilter::default()
        };
        let page = crate::store::Page {
            after: None,
            limit: crate::cache::entities::RECENT_LEN as i64,
        };
        let mut tx = state.store.acting_for(user).await?;
        let records = verifications::list_records(&mut tx, &filter, page).await?;
        tx.commit().await?;
        Ok(records)
    };
    Ok(ApiJson(Paged::complete(
        state.caches.recent(user, load).await?,
    )))
}

/// One verification record.
#[utoipa::path(get, path = "/v1/verifications/{id}", tag = "history", security(("bearer" = ["verify_signatures"])),
    params(("id" = Uuid, Path, description = "verification id")),
    responses((status = 200, body = RecordView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_verification(
    State(state): State<AppState>,
    caller: Authorized<VerifySignatures>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<RecordView>, ApiError> {
    let mut tx = state
        .store
        .acting_as(caller.id(), caller.is_admin())
        .await?;
    let record = verifications::record(&mut tx, id).await?;
    tx.commit().await?;
    Ok(ApiJson(
        record.ok_or_else(|| ApiError::not_found("verification"))?,
    ))
}

/// Batches, newest first.
#[utoipa::path(get, path = "/v1/batches", tag = "history", security(("bearer" = ["verify_signatures"])), params(pagination::PageQuery),
    responses((status = 200, body = Paged<BatchView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_batches(
    State(state): State<AppState>,
    caller: Authorized<VerifySignatures>,
    ApiQuery(query): ApiQuery<pagination::PageQuery>,
) -> Result<ApiJson<Paged<BatchView>>, ApiError> {
    let batches =
        pagination::fetch_page(&state, query.cursor.as_deref(), query.limit, async |page| {
            let mut tx = state
                .store
                .reading_as(caller.id(), caller.is_admin())
                .await?;
            let batches = verifications::list_batches(&mut tx, page).await?;
            tx.commit().await?;
            Ok(batches)
        })
        .await?;
    Ok(ApiJson(batches))
}

/// One batch with its items in request order.
#[utoipa::path(get, path = "/v1/batches/{id}", tag = "history", security(("bearer" = ["verify_signatures"])),
    params(("id" = Uuid, Path, description = "batch id")),
    responses((status = 200, body = BatchDetail), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_batch(
    State(state): State<AppState>,
    caller: Authorized<VerifySignatures>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<BatchDetail>, ApiError> {
    let mut tx = state
        .store
        .acting_as(caller.id(), caller.is_admin())
        .await?;
    let batch = verifications::batch(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("batch"))?;
    let items = verifications::batch_items(&mut tx, id).await?;
    tx.commit().await?;
    Ok(ApiJson(BatchDetail { batch, items }))
}
