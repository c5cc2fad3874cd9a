//! The audit trail: security-relevant actions, append-only.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Page, Store, StoreError};

/// One audited action.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Identifier.
    pub id: Uuid,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Who did it (none for anonymous attempts).
    pub actor_id: Option<Uuid>,
    /// From where.
    pub actor_ip: Option<String>,
    /// What (`auth.login`, `key.revoke`, `plugin.activate`...).
    pub action: String,
    /// Kind of the object acted on.
    pub target_type: Option<String>,
    /// The object acted on.
    pub target_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// Anything else worth keeping (never secrets).
    #[schema(value_type = Object)]
    pub details: Option<serde_json::Value>,
}

/// An action about to be audited.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEvent {
    /// Who.
    pub actor_id: Option<Uuid>,
    /// From where.
    pub actor_ip: Option<String>,
    /// What.
    pub action: &'static str,
    /// Kind of object.
    pub target_type: Option<&'static str>,
    /// Object.
    pub target_id: Option<String>,
    /// Whether it succeeded.
    pub success: bool,
    /// Extra facts.
    pub details: Option<serde_json::Value>,
}

/// Filters of the audit listing.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor_id: Option<Uuid>,
    /// Only this action.
    pub action: Option<String>,
    /// Not before.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

impl Store {
    /// Append an event; returns it as stored.
    pub async fn audit(&self, event: &NewAuditEvent) -> Result<AuditEvent, StoreError> {
        self.retry("audit", || async {
            Ok(sqlx::query_as!(
                AuditEvent,
                "INSERT INTO audit_log (actor_id, actor_ip, action, target_type, target_id, outcome, details)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 RETURNING id, occurred_at, actor_id, actor_ip, action, target_type, target_id, outcome, details",
                event.actor_id,
                event.actor_ip,
                event.action,
                event.target_type,
                event.target_id,
                if event.success { "success" } else { "failure" },
                event.details,
            )
            .fetch_one(self.pool())
            .await?)
        })
        .await
    }

    /// Events newest first, after `page.after` (occurred_at, id).
    pub async fn audit_events(
        &self,
        filter: &AuditFilter,
        page: Page<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let (after_time, after_id) = page.after.unzip();
        self.retry("audit_events", || async {
            Ok(sqlx::query_as!(
                AuditEvent,
                "SELECT id, occurred_at, actor_id, actor_ip, action, target_type, target_id, outcome, details
                 FROM audit_log
                 WHERE ($1::uuid IS NULL OR actor_id = $1)
                   AND ($2::text IS NULL OR action = $2)
                   AND ($3::timestamptz IS NULL OR occurred_at >= $3)
                   AND ($4::timestamptz IS NULL OR occurred_at < $4)
                   AND ($5::timestamptz IS NULL OR (occurred_at, id) < ($5, $6::uuid))
                 ORDER BY occurred_at DESC, id DESC
                 LIMIT $7",
                filter.actor_id,
                filter.action,
                filter.from,
                filter.to,
                after_time,
                after_id,
                page.limit
            )
            .fetch_all(self.pool())
            .await?)
        })
        .await
    }
}
