//! What `verify-batch` verifies: the lines of a manifest (CSV or JSONL of
//! file, signature file and key id), or a directory where every file `F`
//! is signed by `F.sig`.
//!
//! CSV: one line per item, `file,signature,key`, cells quoted as RFC 4180
//! says when they hold a comma or a quote. A first line naming the columns
//! (`file,signature,key`, in any order, with optional `hash_algorithm`,
//! `signature_encoding`, `signature_algorithm`) is a header. JSONL: one
//! object per line with the same names (`key` may be `public_key_id`).
//! Relative paths are relative to the manifest's folder. An empty key
//! takes `--key`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{ClientError, Result};
use super::verify::Overrides;

/// One item to verify.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The document.
    pub(crate) file: PathBuf,
    /// Its signature.
    pub(crate) signature: PathBuf,
    /// The public key's id.
    pub(crate) key: String,
    /// The line's own options.
    pub(crate) overrides: Overrides,
}

/// A manifest's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Comma-separated `file,signature,key`.
    Csv,
    /// One JSON object a line.
    Jsonl,
}

/// A JSONL line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine {
    file: PathBuf,
    signature: PathBuf,
    #[serde(default, alias = "public_key_id", alias = "key_id")]
    key: Option<String>,
    hash_algorithm: Option<String>,
    signature_encoding: Option<String>,
    signature_algorithm: Option<String>,
}

/// The entries of a manifest file (`-`: standard input, paths relative to
/// the working directory).
pub(crate) fn read_manifest(
    path: &Path,
    format: Option<Format>,
    default_key: Option<&str>,
) -> Result<Vec<Entry>> {
    let (text, base) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
            .map_err(|e| ClientError::io("reading the manifest from standard input", e))?;
        (text, PathBuf::new())
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ClientError::io(format!("reading {}", path.display()), e))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        (text, base)
    };
    let format = format.unwrap_or_else(|| guess_format(path, &text));
    let name = path.display().to_string();
    let entries = match format {
        Format::Csv => parse_csv(&text, &name, default_key)?,
        Format::Jsonl => parse_jsonl(&text, &name, default_key)?,
    };
    Ok(entries
        .into_iter()
        .map(|mut entry| {
            entry.file = base.join(&entry.file);
            entry.signature = base.join(&entry.signature);
            entry
        })
        .collect())
}

/// By the extension, else by the first line (`{` starts JSONL).
fn guess_format(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => Format::Csv,
        Some("jsonl" | "ndjson") => Format::Jsonl,
        _ if text.trim_start().starts_with('{') => Format::Jsonl,
        _ => Format::Csv,
    }
}

fn parse_jsonl(text: &str, name: &str, default_key: Option<&str>) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line: JsonLine = serde_json::from_str(line)
            .map_err(|e| ClientError::Usage(format!("{name} line {}: {e}", number + 1)))?;
        entries.push(Entry {
            key: key_or_default(line.key, default_key, name, number)?,
            file: line.file,
            signature: line.signature,
            overrides: Overrides {
                hash: line.hash_algorithm,
                encoding: line.signature_encoding,
                rsa_padding: line.signature_algorithm,
            },
        });
    }
    Ok(entries)
}

/// The columns a CSV manifest may have, in the order a headerless one
/// has them.
const COLUMNS: [&str; 6] = [
    "file",
    "signature",
    "key",
    "hash_algorithm",
    "signature_encoding",
    "signature_algorithm",
];

fn parse_csv(text: &str, name: &str, default_key: Option<&str>) -> Result<Vec<Entry>> {
    let mut rows = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty());
    let mut order: Vec<usize> = (0..COLUMNS.len()).collect();
    let mut pending = None;
    if let Some((number, first)) = rows.next() {
        let cells = csv_cells(first).map_err(|e| usage(name, number, &e))?;
        let header: Option<Vec<usize>> = cells
            .iter()
            .map(|cell| {
                let cell = cell.trim().to_ascii_lowercase();
                let cell = match cell.as_str() {
                    "public_key_id" | "key_id" => "key",
                    other => other,
                };
                COLUMNS.iter().position(|c| *c == cell)
            })
            .collect();
        match header {
            Some(header) if header.contains(&0) && header.contains(&1) => order = header,
            _ => pending = Some((number, cells)),
        }
    }
    let mut entries = Vec::new();
    let rest = rows.map(|(number, line)| {
        csv_cells(line)
            .map(|cells| (number, cells))
            .map_err(|e| usage(name, number, &e))
    });
    for row in pending.map(Ok).into_iter().chain(rest) {
        let (number, cells) = row?;
        let mut values: [Option<String>; COLUMNS.len()] = Default::default();
        for (cell, column) in cells.into_iter().zip(&order) {
            let cell = cell.trim().to_owned();
            if !cell.is_empty() {
                values[*column] = Some(cell);
            }
        }
        let [file, signature, key, hash, encoding, rsa_padding] = values;
        let missing = |what: &str| usage(name, number, &format!("no {what}"));
        entries.push(Entry {
            file: file.ok_or_else(|| missing("file"))?.into(),
            signature: signature.ok_or_else(|| missing("signature file"))?.into(),
            key: key_or_default(key, default_key, name, number)?,
            overrides: Overrides {
                hash,
                encoding,
                rsa_padding,
            },
        });
    }
    Ok(entries)
}

fn usage(name: &str, number: usize, problem: &str) -> ClientError {
    ClientError::Usage(format!("{name} line {}: {problem}", number + 1))
}

fn key_or_default(
    key: Option<String>,
    default_key: Option<&str>,
    name: &str,
    number: usize,
) -> Result<String> {
    key.filter(|k| !k.is_empty())
        .or_else(|| default_key.map(str::to_owned))
        .ok_or_else(|| usage(name, number, "no key (give a key column, or --key)"))
}

/// The cells of one CSV line (RFC 4180 quoting; no line breaks inside
/// cells).
fn csv_cells(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => {
                quoted = false;
                if !matches!(chars.peek(), None | Some(',')) {
                    return Err("text after a closing quote".into());
                }
            }
            (false, ',') => {
                cells.push(std::mem::take(&mut cell));
                at_start = true;
                continue;
            }
            (_, c) => cell.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    cells.push(cell);
    Ok(cells)
}

/// The directory convention: every file under `dir` (recursively, in
/// name order) whose name does not end in `.sig` is a document signed by
/// the file beside it with `.sig` added (`doc.txt` and `doc.txt.sig`),
/// all with `key`. A document without its `.sig` file is still an entry:
/// it fails alone, as an unreadable file does.
pub(crate) fn read_dir(dir: &Path, key: &str) -> Result<Vec<Entry>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let listing = std::fs::read_dir(&folder)
            .map_err(|e| ClientError::io(format!("listing {}", folder.display()), e))?;
        for entry in listing {
            let entry =
                entry.map_err(|e| ClientError::io(format!("listing {}", folder.display()), e))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| ClientError::io(format!("reading {}", path.display()), e))?;
            if kind.is_dir() {
                stack.push(path);
            } else if path.extension().is_none_or(|ext| ext != "sig") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files
        .into_iter()
        .map(|file| Entry {
            signature: super::super::plugin_tools::sig_path(&file),
            file,
            key: key.to_owned(),
            overrides: Overrides::default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_and_without_header() {
        let plain = parse_csv(
            "a.txt,a.sig,k1\n\n\"b,c.txt\",b.sig,\n",
            "m.csv",
            Some("k0"),
        )
        .expect("parses");
        assert_eq!(plain.len(), 2);
        assert_eq!(plain[0].key, "k1");
        assert_eq!(plain[1].file, PathBuf::from("b,c.txt"));
        assert_eq!(plain[1].key, "k0", "an empty key takes --key");
        let headed = parse_csv(
            "key,signature,file,hash_algorithm\nk2,x.sig,x.txt,sha512\n",
            "m.csv",
            None,
        )
        .expect("parses");
        assert_eq!(headed.len(), 1);
        assert_eq!(headed[0].file, PathBuf::from("x.txt"));
        assert_eq!(headed[0].key, "k2");
        assert_eq!(headed[0].overrides.hash.as_deref(), Some("sha512"));
    }

    #[test]
    fn csv_errors_name_the_line() {
        let error = parse_csv("a.txt,a.sig,k\nb.txt\n", "m.csv", None).expect_err("no sig");
        assert!(error.to_string().contains("m.csv line 2"), "{error}");
        let error = parse_csv("a.txt,a.sig\n", "m.csv", None).expect_err("no key");
        assert!(error.to_string().contains("--key"), "{error}");
        assert!(csv_cells("\"open,a").is_err());
    }

    #[test]
    fn jsonl_lines() {
        let text = "{\"file\":\"a\",\"signature\":\"a.sig\",\"public_key_id\":\"k\"}\n\n{\"file\":\"b\",\"signature\":\"b.sig\",\"signature_encoding\":\"p1363\"}\n";
        let entries = parse_jsonl(text, "m.jsonl", Some("d")).expect("parses");
        assert_eq!(entries[0].key, "k");
        assert_eq!(entries[1].key, "d");
        assert_eq!(entries[1].overrides.encoding.as_deref(), Some("p1363"));
        assert!(parse_jsonl("{\"file\":\"a\"}", "m.jsonl", Some("d")).is_err());
    }

    #[test]
    fn formats_are_guessed() {
        assert_eq!(guess_format(Path::new("m.csv"), "{"), Format::Csv);
        assert_eq!(guess_format(Path::new("m.jsonl"), ""), Format::Jsonl);
        assert_eq!(guess_format(Path::new("-"), " {\"file\":1}"), Format::Jsonl);
        assert_eq!(guess_format(Path::new("list"), "a,b,c"), Format::Csv);
    }
}
