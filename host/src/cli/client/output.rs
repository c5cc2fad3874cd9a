//! Printing answers: JSON for scripts (`--json`), aligned tables and CSV
//! for people and spreadsheets. Everything goes to standard output through
//! `io::Write`, so a closed pipe (`sigil history | head`) is an error
//! the command can stop on, not a panic.

use std::io::Write;

use serde_json::Value;

use super::error::Result;

/// `--json`, accepted by every client command and its subcommands.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct OutputArgs {
    /// Print the service's answer as JSON (for scripts) instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// Pretty JSON and a newline.
pub(crate) fn json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Lines of text.
pub(crate) fn lines<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{}", line.as_ref())?;
    }
    Ok(())
}

/// A field of an answer as text: strings as they are, `null` and absent
/// fields as `-`, anything else as JSON.
pub(crate) fn field(value: &Value, name: &str) -> String {
    text(value.get(name).unwrap_or(&Value::Null))
}

/// A JSON value as a table cell.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// An instant field shortened for a table (`2026-12-01 03:04:05`).
pub(crate) fn when(value: &Value, name: &str) -> String {
    match value.get(name).and_then(Value::as_str) {
        Some(at) => chrono::DateTime::parse_from_rfc3339(at)
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_else(|_| at.to_owned()),
        None => "-".into(),
    }
}

/// Rows under a header, columns padded to their widest cell (the last
/// column is not padded).
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (cell, &width)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// One CSV cell (RFC 4180): quoted when it holds a comma, a quote or a
/// line break, with quotes doubled.
pub(crate) fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

/// A CSV line.
pub(crate) fn csv_line<S: AsRef<str>>(cells: impl IntoIterator<Item = S>) -> String {
    cells
        .into_iter()
        .map(|c| csv_cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_only_when_needed() {
        assert_eq!(
            csv_line(["a", "b,c", "say \"hi\""]),
            r#"a,"b,c","say ""hi""""#
        );
    }

    #[test]
    fn cells_show_nulls_as_dashes_and_lists_joined() {
        let value = serde_json::json!({"a": null, "b": ["x", "y"], "c": 3, "d": "t"});
        assert_eq!(field(&value, "a"), "-");
        assert_eq!(field(&value, "b"), "x,y");
        assert_eq!(field(&value, "c"), "3");
        assert_eq!(field(&value, "d"), "t");
        assert_eq!(field(&value, "missing"), "-");
    }
}
