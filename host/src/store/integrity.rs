//! What keeps Redis honest, on the PostgreSQL side: the generations a
//! sealed Redis entry binds (`cache_generations`, bumped by triggers when a
//! key, a user or the revocation list changes), and the stored form of the
//! Redis sealing key (`deployment_secrets`).

use super::{Store, StoreError};

/// What a generation counts changes of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationOf {
    /// Public keys (any update or deletion).
    PublicKey,
    /// Users (name, e-mail, password, status, deletion) and their roles.
    User,
    /// Revoked tokens and sessions.
    Revocation,
}

impl GenerationOf {
    /// The row's name in `cache_generations`.
    pub fn as_str(self) -> &'static str {
        match self {
            GenerationOf::PublicKey => "public_key",
            GenerationOf::User => "user",
            GenerationOf::Revocation => "revocation",
        }
    }
}

impl Store {
    /// The current generation of `what`.
    pub async fn cache_generation(&self, what: GenerationOf) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(
            "SELECT generation FROM cache_generations WHERE name = $1",
            what.as_str()
        )
        .fetch_one(self.pool())
        .await?)
    }

    /// The stored form of deployment secret `name`; `fresh` (its stored
    /// form, sealed or not) is stored first if there is none yet.
    pub async fn deployment_secret_stored(
        &self,
        name: &str,
        fresh: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        sqlx::query!(
            "INSERT INTO deployment_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            name,
            fresh
        )
        .execute(self.pool())
        .await?;
        Ok(
            sqlx::query_scalar!("SELECT value FROM deployment_secrets WHERE name = $1", name)
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Replace the stored form of `name` by `new` if it is still `old`
    /// (re-wrapping a secret written in the clear); whether it was.
    pub async fn rewrap_deployment_secret(
        &self,
        name: &str,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query!(
            "UPDATE deployment_secrets SET value = $3 WHERE name = $1 AND value = $2",
            name,
            old,
            new
        )
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }
}
