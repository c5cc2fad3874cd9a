//! `history`: verification records, newest first, following the list's
//! cursors (`/v1/verifications`), as a table, JSON or CSV.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::api::Api;
use super::error::Result;
use super::output::{self, OutputArgs};

/// `sigil history`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  sigil history --since 24h
  sigil history --since 2026-11-01 --until 2026-12-01 --format csv > november.csv
  sigil history --key $KEY --invalid --format json | jq length")]
pub(crate) struct HistoryArgs {
    /// Records from this time on: RFC 3339, a date (midnight UTC), or a
    /// duration ago (`90m`, `24h`, `7d`).
    #[arg(long, value_parser = super::time::parse_since)]
    since: Option<DateTime<Utc>>,
    /// Records before this time (same forms).
    #[arg(long, value_parser = super::time::parse_since)]
    until: Option<DateTime<Utc>>,
    /// Only verifications with this key.
    #[arg(long, short)]
    key: Option<uuid::Uuid>,
    /// Only valid signatures.
    #[arg(long, conflicts_with = "invalid")]
    valid: bool,
    /// Only invalid signatures.
    #[arg(long)]
    invalid: bool,
    /// At most this many records (default: every record in range).
    #[arg(long, short = 'n')]
    limit: Option<usize>,
    /// table, json (an array) or csv (with a header).
    #[arg(long, value_enum, default_value_t = HistoryFormat::Table)]
    format: HistoryFormat,
    #[command(flatten)]
    out: OutputArgs,
}

/// How `history` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum HistoryFormat {
    /// Aligned columns.
    Table,
    /// A JSON array of the service's records.
    Json,
    /// Comma-separated, one header line.
    Csv,
}

/// The CSV columns: the record's fields, then three of its metadata's.
const CSV_COLUMNS: [&str; 11] = [
    "id",
    "verified_at",
    "valid",
    "algorithm",
    "curve",
    "public_key_id",
    "document_hash",
    "user_id",
    "plugin",
    "plugin_version",
    "batch_id",
];

/// Print the history.
pub(crate) fn run(args: &HistoryArgs) -> Result<()> {
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(since) = args.since {
        query.push(("from", since.to_rfc3339()));
    }
    if let Some(until) = args.until {
        query.push(("to", until.to_rfc3339()));
    }
    if let Some(key) = args.key {
        query.push(("public_key_id", key.to_string()));
    }
    if args.valid || args.invalid {
        query.push(("valid", args.valid.to_string()));
    }
    let mut api = Api::from_config()?;
    let records = api.list_all("/v1/verifications", &query, args.limit)?;
    let format = if args.out.json {
        HistoryFormat::Json
    } else {
        args.format
    };
    match format {
        HistoryFormat::Json => output::json(&records),
        HistoryFormat::Csv => {
            let mut lines = vec![output::csv_line(CSV_COLUMNS)];
            lines.extend(records.iter().map(|record| {
                output::csv_line(CSV_COLUMNS.iter().map(|column| cell(record, column)))
            }));
            output::lines(lines)
        }
        HistoryFormat::Table => {
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|record| {
                    vec![
                        output::when(record, "verified_at"),
                        if record["valid"].as_bool() == Some(true) {
                            "valid".into()
                        } else {
                            "INVALID".into()
                        },
                        output::field(record, "algorithm"),
                        output::field(record, "curve"),
                        output::field(record, "public_key_id"),
                        output::field(record, "id"),
                    ]
                })
                .collect();
            output::table(
                &["VERIFIED", "RESULT", "ALGORITHM", "CURVE", "KEY", "ID"],
                &rows,
            )
        }
    }
}

/// A CSV cell: empty for null; the record's field, else its metadata's.
fn cell(record: &Value, column: &str) -> String {
    let value = record
        .get(column)
        .or_else(|| record.get("metadata").and_then(|m| m.get(column)));
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}
