//! Plugin artifacts: every uploaded version, which one is active per plugin,
//! and who uploaded it. Every host loads the active set from here.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Store, StoreError};

status_enum! {
    /// Where a stored plugin version stands.
    PluginStatus {
        /// Serving (at most one version per plugin name).
        Active => "active",
        /// Stored, not serving; can be activated (a rollback target).
        Inactive => "inactive",
        /// Switched off by an administrator.
        Disabled => "disabled",
    }
}

/// A stored plugin version (without its bytes).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginRow {
    /// Identifier.
    pub id: Uuid,
    /// Plugin name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Hex SHA-256 of the component.
    pub sha256: String,
    /// Component size.
    pub size_bytes: i32,
    /// What the plugin declared.
    #[schema(value_type = Object)]
    pub descriptor: serde_json::Value,
    /// `active`, `inactive` or `disabled`.
    pub status: PluginStatus,
    /// Who uploaded it (none for components from the plugin directory).
    pub uploaded_by: Option<Uuid>,
    /// The trusted publisher whose signature admitted it (none: admitted
    /// unsigned).
    pub publisher: Option<String>,
    /// Hex SHA-256 of that detached signature.
    pub signature_sha256: Option<String>,
    /// Upload time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last activation.
    pub activated_at: Option<DateTime<Utc>>,
}

/// A plugin version about to be stored.
#[derive(Debug)]
pub struct NewPlugin<'a> {
    /// Name.
    pub name: &'a str,
    /// Version.
    pub version: &'a str,
    /// Hex SHA-256.
    pub sha256: &'a str,
    /// The component.
    pub artifact: &'a [u8],
    /// Descriptor.
    pub descriptor: &'a serde_json::Value,
    /// Uploader.
    pub uploaded_by: Option<Uuid>,
    /// The trusted publisher that signed it, and the signature's hex
    /// SHA-256.
    pub signed_by: Option<(&'a str, &'a str)>,
}

impl Store {
    /// Store a new version (inactive).
    pub async fn insert_plugin(&self, plugin: &NewPlugin<'_>) -> Result<PluginRow, StoreError> {
        let size = i32::try_from(plugin.artifact.len()).unwrap_or(i32::MAX);
        Ok(sqlx::query_as!(
            PluginRow,
            r#"INSERT INTO plugins (name, version, sha256, size_bytes, artifact, descriptor, uploaded_by, publisher, signature_sha256)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               RETURNING id, name, version, sha256 AS "sha256!", size_bytes, descriptor, status AS "status: PluginStatus", uploaded_by,
                          publisher, signature_sha256 AS "signature_sha256?",
                         created_at, updated_at, activated_at"#,
            plugin.name,
            plugin.version,
            plugin.sha256,
            size,
            plugin.artifact,
            plugin.descriptor,
            plugin.uploaded_by,
            plugin.signed_by.map(|(publisher, _)| publisher),
            plugin.signed_by.map(|(_, digest)| digest)
        )
        .fetch_one(self.pool())
        .await?)
    }

    /// Every stored version, newest first.
    pub async fn plugins(&self) -> Result<Vec<PluginRow>, StoreError> {
        self.retry("plugins", || async {
            Ok(sqlx::query_as!(
                PluginRow,
                r#"SELECT id, name, version, sha256 AS "sha256!", size_bytes, descriptor, status AS "status: PluginStatus", uploaded_by,
                          publisher, signature_sha256 AS "signature_sha256?",
                          created_at, updated_at, activated_at
                   FROM plugins ORDER BY created_at DESC, id DESC"#
            )
            .fetch_all(self.pool())
            .await?)
        })
        .await
    }

    /// One version.
    pub async fn plugin(&self, id: Uuid) -> Result<Option<PluginRow>, StoreError> {
        Ok(sqlx::query_as!(
            PluginRow,
            r#"SELECT id, name, version, sha256 AS "sha256!", size_bytes, descriptor, status AS "status: PluginStatus", uploaded_by,
                          publisher, signature_sha256 AS "signature_sha256?",
                      created_at, updated_at, activated_at
               FROM plugins WHERE id = $1"#,
            id
        )
        .fetch_optional(self.pool())
        .await?)
    }

    /// The version with these bytes, if stored.
    pub async fn plugin_by_sha256(&self, sha256: &str) -> Result<Option<PluginRow>, StoreError> {
        Ok(sqlx::query_as!(
            PluginRow,
            r#"SELECT id, name, version, sha256 AS "sha256!", size_bytes, descriptor, status AS "status: PluginStatus", uploaded_by,
                          publisher, signature_sha256 AS "signature_sha256?",
                      created_at, updated_at, activated_at
               FROM plugins WHERE sha256 = $1"#,
            sha256
        )
        .fetch_optional(self.pool())
        .await?)
    }

    /// A version's component bytes.
    pub async fn plugin_artifact(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        self.retry("plugin_artifact", || async {
            Ok(
                sqlx::query_scalar!("SELECT artifact FROM plugins WHERE id = $1", id)
                    .fetch_optional(self.pool())
                    .await?,
            )
        })
        .await
    }

    /// Make `id` the active version of its plugin (the previously active
    /// version becomes inactive), atomically. Returns the row.
    pub async fn activate_plugin(&self, id: Uuid) -> Result<Option<PluginRow>, StoreError> {
        let mut tx = self.begin().await?;
        let name = sqlx::query_scalar!("SELECT name FROM plugins WHERE id = $1 FOR UPDATE", id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(name) = name else { return Ok(None) };
        sqlx::query!(
            "UPDATE plugins SET status = 'inactive' WHERE name = $1 AND status = 'active' AND id <> $2",
            name,
            id
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE plugins SET status = 'active', activated_at = now() WHERE id = $1",
            id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.plugin(id).await
    }

    /// Disable a version.
    pub async fn disable_plugin(&self, id: Uuid) -> Result<Option<PluginRow>, StoreError> {
        let updated = sqlx::query_scalar!(
            "UPDATE plugins SET status = 'disabled' WHERE id = $1 RETURNING id",
            id
        )
        .fetch_optional(self.pool())
        .await?;
        match updated {
            Some(id) => self.plugin(id).await,
            None => Ok(None),
        }
    }
}
