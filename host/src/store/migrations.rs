//! The embedded migrations and the start-up check that the database is
//! migrated.

use sqlx::PgPool;
use sqlx::migrate::Migrator;

use super::StoreError;

/// `migrations/`, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Apply every pending migration (as the schema owner).
pub async fn run(pool: &PgPool) -> Result<(), StoreError> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| StoreError::NotMigrated(format!("migrating failed: {e}")))
}

/// Refuse to serve a database that lacks migrations this build expects.
pub async fn ensure_current(pool: &PgPool) -> Result<(), StoreError> {
    let applied: Vec<i64> = match sqlx::query_scalar!(
        r#"SELECT version AS "version!" FROM _sqlx_migrations WHERE success ORDER BY version"#
    )
    .fetch_all(pool)
    .await
    {
        Ok(applied) => applied,
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let missing: Vec<String> = MIGRATOR
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| format!("{} {}", m.version, m.description))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StoreError::NotMigrated(format!(
            "{} migration(s) not applied ({}); run `sigil migrate` as the schema owner",
            missing.len(),
            missing.join(", ")
        )))
    }
}
