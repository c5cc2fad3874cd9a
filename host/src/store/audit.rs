//! The audit trail: security-relevant actions, append-only.

use std::net::IpAddr;

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
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// The closed vocabulary of audited actions. Each action names the kind of
/// object it acts on, so an event cannot pair `key.revoke` with a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// An account registered itself (target: the new user).
    AuthRegister,
    /// A login attempt, successful or not (target: the user).
    AuthLogin,
    /// A session ended by its owner.
    AuthLogout,
    /// A spent refresh token came back; its session was revoked.
    AuthRefreshTokenReuse,
    /// A public key registered.
    KeyCreate,
    /// A public key revoked.
    KeyRevoke,
    /// A public key deleted.
    KeyDelete,
    /// An administrator created a user.
    UserCreate,
    /// A user's e-mail, password or status changed.
    UserUpdate,
    /// A user deleted.
    UserDelete,
    /// A user's roles replaced.
    UserRoles,
    /// A curve added to the catalogue.
    CurveCreate,
    /// A curve enabled, disabled or redescribed.
    CurveUpdate,
    /// A component uploaded (admitted or refused).
    PluginUpload,
    /// A stored plugin version activated.
    PluginActivate,
    /// A stored plugin version disabled.
    PluginDisable,
    /// An API token created (target: the token's id, never its value).
    TokenCreate,
    /// An API token revoked by its owner or an administrator.
    TokenRevoke,
    /// A request presented a known API token that may not be used (revoked,
    /// expired, its owner not active); recorded at most once a minute per
    /// token and host.
    TokenUseRefused,
}

impl Action {
    /// The name stored in `audit_log.action` (and filtered on by `/v1/audit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AuthRegister => "auth.register",
            Action::AuthLogin => "auth.login",
            Action::AuthLogout => "auth.logout",
            Action::AuthRefreshTokenReuse => "auth.refresh_token_reuse",
            Action::KeyCreate => "key.create",
            Action::KeyRevoke => "key.revoke",
            Action::KeyDelete => "key.delete",
            Action::UserCreate => "user.create",
            Action::UserUpdate => "user.update",
            Action::UserDelete => "user.delete",
            Action::UserRoles => "user.roles",
            Action::CurveCreate => "curve.create",
            Action::CurveUpdate => "curve.update",
            Action::PluginUpload => "plugin.upload",
            Action::PluginActivate => "plugin.activate",
            Action::PluginDisable => "plugin.disable",
            Action::TokenCreate => "token.create",
            Action::TokenRevoke => "token.revoke",
            Action::TokenUseRefused => "token.use_refused",
        }
    }

    /// The kind of object the action is done to (`audit_log.target_type`).
    pub fn target_type(self) -> &'static str {
        match self {
            Action::AuthRegister
            | Action::AuthLogin
            | Action::UserCreate
            | Action::UserUpdate
            | Action::UserDelete
            | Action::UserRoles => "user",
            Action::AuthLogout | Action::AuthRefreshTokenReuse => "session",
            Action::KeyCreate | Action::KeyRevoke | Action::KeyDelete => "public_key",
            Action::CurveCreate | Action::CurveUpdate => "curve",
            Action::PluginUpload | Action::PluginActivate | Action::PluginDisable => "plugin",
            Action::TokenCreate | Action::TokenRevoke | Action::TokenUseRefused => "api_token",
        }
    }
}

/// An action about to be audited, built in one line at the call site:
/// `Audit::by(caller.id(), ip, Action::KeyRevoke).on(id)`, or for an
/// attempt nobody is known for yet,
/// `Audit::anonymous(ip, Action::AuthLogin).on(username).failed(json!({..}))`.
/// An event succeeded unless [`Audit::failed`] says otherwise.
#[derive(Debug, Clone)]
#[must_use = "an audit event does nothing until it is written"]
pub struct Audit {
    actor_id: Option<Uuid>,
    actor_ip: String,
    action: Action,
    target_id: Option<String>,
    success: bool,
    details: Option<serde_json::Value>,
}

impl Audit {
    /// `actor` did `action` from `ip`.
    pub fn by(actor: Uuid, ip: IpAddr, action: Action) -> Self {
        Self {
            actor_id: Some(actor),
            ..Self::anonymous(ip, action)
        }
    }

    /// Someone not (yet) known did `action` from `ip` (a failed login).
    pub fn anonymous(ip: IpAddr, action: Action) -> Self {
        Self {
            actor_id: None,
            actor_ip: ip.to_string(),
            action,
            target_id: None,
            success: true,
            details: None,
        }
    }

    /// The object acted on (its kind follows from the action).
    pub fn on(mut self, target: impl ToString) -> Self {
        self.target_id = Some(target.to_string());
        self
    }

    /// Facts worth keeping beside the event (never secrets).
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The attempt failed, for the reasons in `details`.
    pub fn failed(self, details: serde_json::Value) -> Self {
        Self {
            success: false,
            ..self.details(details)
        }
    }

    /// The action, for logs.
    pub fn action(&self) -> Action {
        self.action
    }

    fn outcome(&self) -> &'static str {
        if self.success { "success" } else { "failure" }
    }
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
    pub async fn audit(&self, event: &Audit) -> Result<AuditEvent, StoreError> {
        self.retry("audit", || async {
            Ok(sqlx::query_as!(
                AuditEvent,
                "INSERT INTO audit_log (actor_id, actor_ip, action, target_type, target_id, outcome, details)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 RETURNING id, occurred_at, actor_id, actor_ip, action, target_type, target_id, outcome, details",
                event.actor_id,
                event.actor_ip,
                event.action.as_str(),
                event.action.target_type(),
                event.target_id,
                event.outcome(),
                event.details,
            )
            .fetch_one(self.pool())
            .await?)
        })
        .await
    }

    /// Events newest first, after `page.after` (occurred_at, id); the time
    /// bounds prune the audit log's daily partitions (see `list_records`).
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
                   AND occurred_at >= COALESCE($3::timestamptz, '-infinity')
                   AND occurred_at < COALESCE($4::timestamptz, 'infinity')
                   AND occurred_at <= COALESCE($5::timestamptz, 'infinity')
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn an_event_by_a_user_succeeds_and_names_its_target_kind() {
        let actor = Uuid::new_v4();
        let key = Uuid::new_v4();
        let event = Audit::by(actor, IP, Action::KeyRevoke).on(key);
        assert_eq!(event.actor_id, Some(actor));
        assert_eq!(event.actor_ip, "127.0.0.1");
        assert_eq!(event.action.as_str(), "key.revoke");
        assert_eq!(event.action.target_type(), "public_key");
        assert_eq!(event.target_id, Some(key.to_string()));
        assert_eq!(event.outcome(), "success");
        assert_eq!(event.details, None);
    }

    #[test]
    fn a_failed_anonymous_attempt_keeps_its_reason() {
        let event = Audit::anonymous(IP, Action::AuthLogin)
            .on("alice")
            .failed(json!({"reason": "invalid_credentials"}));
        assert_eq!(event.actor_id, None);
        assert_eq!(event.action.as_str(), "auth.login");
        assert_eq!(event.action.target_type(), "user");
        assert_eq!(event.target_id.as_deref(), Some("alice"));
        assert_eq!(event.outcome(), "failure");
        assert_eq!(
            event.details,
            Some(json!({"reason": "invalid_credentials"}))
        );
    }

    #[test]
    fn details_do_not_change_the_outcome() {
        let event = Audit::by(Uuid::nil(), IP, Action::UserRoles).details(json!({"roles": []}));
        assert_eq!(event.outcome(), "success");
        assert_eq!(event.target_id, None);
    }

    #[test]
    fn sessions_are_the_target_of_logout_and_reuse() {
        for action in [Action::AuthLogout, Action::AuthRefreshTokenReuse] {
            assert_eq!(action.target_type(), "session");
        }
        assert_eq!(
            Action::AuthRefreshTokenReuse.as_str(),
            "auth.refresh_token_reuse"
        );
    }

    #[test]
    fn api_token_events_name_the_token_kind() {
        for (action, name) in [
            (Action::TokenCreate, "token.create"),
            (Action::TokenRevoke, "token.revoke"),
            (Action::TokenUseRefused, "token.use_refused"),
        ] {
            assert_eq!(action.as_str(), name);
            assert_eq!(action.target_type(), "api_token");
        }
    }
}
