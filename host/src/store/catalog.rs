//! Algorithms and curves: the catalogue the API shows, kept in step with
//! the loaded plugins.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::plugins::Descriptor;
use crate::plugins::policy::{AlgorithmPolicy, CurvePolicy};

status_enum! {
    /// Whether an administrator lets keys on a curve be used.
    CurveStatus {
        /// Usable (if a plugin serves it).
        Enabled => "enabled",
        /// Refused, whatever the plugins.
        Disabled => "disabled",
    }
}

/// An algorithm row.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlgorithmRow {
    /// Identifier.
    pub id: Uuid,
    /// Name (`ECDSA`).
    pub name: String,
    /// Family (`ECDSA`, `RSA`, `EdDSA`, `other`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Description.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// What verification with it means where it has no curves (RSA:
    /// `min_modulus_bits`, `max_modulus_bits`, `min_exponent`,
    /// `max_exponent`, `schemes`, `hashes`); see PLUGINS.md.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub policy: Json<AlgorithmPolicy>,
}

/// A curve row.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CurveRow {
    /// Identifier.
    pub id: Uuid,
    /// Name (`P-256`).
    pub name: String,
    /// The algorithm's id.
    pub algorithm_id: Uuid,
    /// The algorithm's name.
    pub algorithm: String,
    /// Parameters (OID, field size...).
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// Description.
    pub description: Option<String>,
    /// `enabled` or `disabled`.
    pub status: CurveStatus,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// What verification on it means, whatever plugin serves it
    /// (`low_s_only`, `order`, `strict`, `hashes`, `encodings`); see
    /// PLUGINS.md.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub policy: Json<CurvePolicy>,
}

impl CurveRow {
    /// Whether an administrator left the curve enabled (a plugin must
    /// still serve it).
    pub fn is_enabled(&self) -> bool {
        self.status == CurveStatus::Enabled
    }
}

impl Store {
    /// Every algorithm.
    pub async fn algorithms(&self) -> Result<Vec<AlgorithmRow>, StoreError> {
        self.retry("algorithms", || async {
            Ok(sqlx::query_as!(
                AlgorithmRow,
                r#"SELECT id, name, type AS "type_", description, created_at, policy AS "policy: Json<AlgorithmPolicy>" FROM algorithms ORDER BY name"#
            )
            .fetch_all(self.pool())
            .await?)
        })
        .await
    }

    /// Every curve.
    pub async fn curves(&self) -> Result<Vec<CurveRow>, StoreError> {
        self.retry("curves", || async {
            Ok(sqlx::query_as!(
                CurveRow,
                r#"SELECT c.id, c.name, c.algorithm_id, a.name AS algorithm, c.parameters, c.description, c.status AS "status: CurveStatus",
                          c.created_at, c.updated_at, c.policy AS "policy: Json<CurvePolicy>"
                   FROM curves c JOIN algorithms a ON a.id = c.algorithm_id ORDER BY c.name"#
            )
            .fetch_all(self.pool())
            .await?)
        })
        .await
    }

    /// One curve by id.
    pub async fn curve(&self, id: Uuid) -> Result<Option<CurveRow>, StoreError> {
        Ok(sqlx::query_as!(
            CurveRow,
            r#"SELECT c.id, c.name, c.algorithm_id, a.name AS algorithm, c.parameters, c.description, c.status AS "status: CurveStatus",
                      c.created_at, c.updated_at, c.policy AS "policy: Json<CurvePolicy>"
               FROM curves c JOIN algorithms a ON a.id = c.algorithm_id WHERE c.id = $1"#,
            id
        )
        .fetch_optional(self.pool())
        .await?)
    }

    /// Add a curve to an existing algorithm. `None` if there is no such
    /// algorithm.
    pub async fn create_curve(
        &self,
        name: &str,
        algorithm: &str,
        parameters: &serde_json::Value,
        description: Option<&str>,
        policy: &CurvePolicy,
    ) -> Result<Option<CurveRow>, StoreError> {
        let policy =
            serde_json::to_value(policy).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let id = sqlx::query_scalar!(
            "INSERT INTO curves (name, algorithm_id, parameters, description, policy)
             SELECT $1, id, $3, $4, $5 FROM algorithms WHERE name = $2 RETURNING id",
            name,
            algorithm,
            parameters,
            description,
            policy
        )
        .fetch_optional(self.pool())
        .await?;
        match id {
            Some(id) => self.curve(id).await,
            None => Ok(None),
        }
    }

    /// Change a curve's status and description.
    pub async fn update_curve(
        &self,
        id: Uuid,
        status: Option<CurveStatus>,
        description: Option<&str>,
    ) -> Result<Option<CurveRow>, StoreError> {
        let status = status.map(CurveStatus::as_str);
        let updated = sqlx::query_scalar!(
            "UPDATE curves SET status = COALESCE($2, status), description = COALESCE($3, description) WHERE id = $1 RETURNING id",
            id,
            status,
            description
        )
        .fetch_optional(self.pool())
        .await?;
        match updated {
            Some(id) => self.curve(id).await,
            None => Ok(None),
        }
    }

    /// Make sure the algorithm and curves a plugin serves are catalogued
    /// (existing rows keep their status and policy; new ones start enabled,
    /// with the policy the plugin proposes: see `CurvePolicy::proposed_by`).
    pub async fn catalogue_plugin(&self, descriptor: &Descriptor) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let algorithm_id = sqlx::query_scalar!(
            "INSERT INTO algorithms (name, type, description) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET description = COALESCE(algorithms.description, EXCLUDED.description)
             RETURNING id",
            descriptor.algorithm,
            descriptor.algorithm_type.as_str(),
            descriptor.description
        )
        .fetch_one(&mut *tx)
        .await?;
        for curve in &descriptor.curves {
            let policy = serde_json::to_value(CurvePolicy::proposed_by(descriptor, curve))
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            sqlx::query!(
                "INSERT INTO curves (name, algorithm_id, parameters, description, policy) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name) DO NOTHING",
                curve.name,
                algorithm_id,
                curve.parameters,
                curve.description,
                policy
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
