//! `serve` and `migrate`: running the service and bringing its schema up
//! to date.

use anyhow::Context as _;

use crate::app::{Application, shutdown_signal};
use crate::config::Config;
use crate::store::migrations;

/// `serve`: build the application and serve until a shutdown signal.
pub(super) async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await.context("starting")?;
    app.run_until(shutdown_signal()).await.context("serving")
}

/// `migrate`: apply the migrations as the schema owner.
pub(super) async fn migrate(config: &Config) -> anyhow::Result<()> {
    let options = crate::store::connect_options(config.migrate_url(), &config.database)
        .context("the database URL")?;
    let pool = sqlx::PgPool::connect_with(options)
        .await
        .context("connecting")?;
    migrations::run(&pool).await.context("migrating")?;
    println!(
        "database migrated ({} migrations)",
        migrations::MIGRATOR.iter().count()
    );
    Ok(())
}
