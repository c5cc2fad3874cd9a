//! `export`: stream a period of every user's history to a file or standard
//! output (an archive before retention drops it).

use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::Config;
use crate::store::migrations;

/// `sigil export …`.
#[derive(Debug, clap::Args)]
pub(super) struct ExportArgs {
    /// Start of the period, included: RFC 3339 (`2026-11-01T00:00:00Z`)
    /// or a date (`2026-11-01`, midnight UTC).
    #[arg(long, value_parser = parse_instant)]
    from: chrono::DateTime<chrono::Utc>,
    /// End of the period, excluded (same forms).
    #[arg(long, value_parser = parse_instant)]
    to: chrono::DateTime<chrono::Utc>,
    /// `jsonl` or `csv`.
    #[arg(long, value_parser = ["jsonl", "csv"], default_value = "jsonl")]
    format: String,
    /// Write here instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// An RFC 3339 instant, or a date meaning its midnight UTC.
pub(super) fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc())
        .ok_or_else(|| format!("`{text}` is neither an RFC 3339 time nor a YYYY-MM-DD date"))
}

/// `export`: stream a period of history to a file or standard output.
pub(super) async fn export(config: &Config, args: &ExportArgs) -> anyhow::Result<()> {
    use crate::store::history::{self, ExportFormat};
    anyhow::ensure!(args.from < args.to, "--from must be before --to");
    let format = if args.format == "csv" {
        ExportFormat::Csv
    } else {
        ExportFormat::Jsonl
    };
    let options = crate::store::connect_options(config.migrate_url(), &config.database)
        .context("the database URL")?;
    let pool = sqlx::PgPool::connect_with(options)
        .await
        .context("connecting")?;
    migrations::ensure_current(&pool)
        .await
        .context("checking the migrations")?;
    let exported = match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            history::export(&pool, args.from, args.to, format, &mut out).await
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            history::export(&pool, args.from, args.to, format, &mut out).await
        }
    }
    .context("exporting")?;
    eprintln!(
        "exported {} records and {} batches of [{}, {})",
        exported.records,
        exported.batches,
        args.from.to_rfc3339(),
        args.to.to_rfc3339()
    );
    Ok(())
}
