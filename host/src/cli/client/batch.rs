//! `verify-batch`: many signatures through `POST /v1/verify/batch`, in
//! chunks of the service's batch maximum, with a progress bar on a
//! terminal and a summary. Exit status as `verify`: 0 all valid, 1 some
//! invalid, 2 some could not be verified.

use std::collections::VecDeque;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Outcome;
use super::api::Api;
use super::error::{ClientError, Result};
use super::manifest::{self, Entry, Format};
use super::output::{self, OutputArgs};
use super::verify::{self, ItemOptions};

/// Items per request when the service does not say (its own default,
/// `verify.max_batch_items`).
const DEFAULT_BATCH_ITEMS: usize = 1000;
/// Document bytes per request at most: half the service's default
/// `verify.max_batch_document_bytes`, so that the base64 body stays well
/// under `http.batch_body_limit_bytes`. A service with lower limits
/// answers `batch_too_large` or 413, and the chunk is split.
const CHUNK_DOCUMENT_BYTES: usize = 16 << 20;

/// `sigil verify-batch`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Manifests: CSV lines `file,signature,key` (an optional header names the
columns, also hash_algorithm, signature_encoding, signature_algorithm), or
JSONL objects {\"file\": ..., \"signature\": ..., \"key\": ...}. Relative paths are
relative to the manifest. An empty key takes --key.

Directory convention (--dir DIR --key ID): every file F under DIR is signed
by F.sig beside it (doc.txt and doc.txt.sig).

The items are sent in chunks of the service's batch maximum (read from its
/openapi.json, else 1000; --batch-size overrides). A progress bar is drawn
on standard error when it is a terminal. Each item that is not valid is
printed, then a summary.

Exit status: 0 every signature is valid, 1 some are invalid, 2 some could
not be verified (unreadable files, unknown or revoked keys, malformed
signatures, a refused request).

Examples:
  sigil verify-batch signed.csv
  sigil verify-batch --dir releases/ --key $KEY
  find . -name '*.sig' | sed 's/\\.sig$//;s/.*/&,&.sig/' | sigil verify-batch --key $KEY -")]
pub(crate) struct BatchArgs {
    /// The manifest (CSV or JSONL; `-` reads standard input).
    #[arg(required_unless_present = "dir", conflicts_with = "dir")]
    manifest: Option<PathBuf>,
    /// Verify every file under DIR against the `.sig` file beside it.
    #[arg(long, value_name = "DIR", requires = "key")]
    dir: Option<PathBuf>,
    /// The key for --dir, and for manifest lines that name none.
    #[arg(long, short)]
    key: Option<uuid::Uuid>,
    /// The manifest's format (default: by its extension, else by its first
    /// line).
    #[arg(long, value_enum)]
    manifest_format: Option<Format>,
    /// Items per request (default: the service's maximum).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: Option<u32>,
    /// Print every item's result, valid ones too.
    #[arg(long)]
    all: bool,
    /// Draw no progress bar, even on a terminal.
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    options: ItemOptions,
    #[command(flatten)]
    out: OutputArgs,
}

/// The answer to one batch.
#[derive(Deserialize)]
struct BatchAnswer {
    batch_id: String,
    results: Vec<ItemAnswer>,
}

#[derive(Deserialize)]
struct ItemAnswer {
    index: usize,
    valid: Option<bool>,
    verification_id: Option<String>,
    error: Option<ItemError>,
}

#[derive(Clone, Deserialize, serde::Serialize)]
struct ItemError {
    code: String,
    detail: String,
}

/// What became of one entry.
#[derive(Clone)]
enum Verdict {
    Valid(Option<String>),
    Invalid(Option<String>),
    Failed(ItemError),
}

/// Items on their way: which entries, and their request items.
struct Chunk {
    entries: Vec<usize>,
    items: Vec<Value>,
    document_bytes: usize,
}

impl Chunk {
    /// Two halves, in order.
    fn split(mut self) -> (Chunk, Chunk) {
        let half = self.items.len() / 2;
        let items = self.items.split_off(half);
        let entries = self.entries.split_off(half);
        let bytes = self.document_bytes / 2;
        self.document_bytes -= bytes;
        (
            self,
            Chunk {
                entries,
                items,
                document_bytes: bytes,
            },
        )
    }
}

/// The run: entries, their verdicts so far, and the progress bar.
struct Run<'a> {
    entries: &'a [Entry],
    verdicts: Vec<Option<Verdict>>,
    batches: Vec<String>,
    progress: ProgressBar,
    counts: [usize; 3],
}

impl Run<'_> {
    fn settle(&mut self, entry: usize, verdict: Verdict) {
        let slot = match &verdict {
            Verdict::Valid(_) => 0,
            Verdict::Invalid(_) => 1,
            Verdict::Failed(_) => 2,
        };
        self.counts[slot] += 1;
        self.verdicts[entry] = Some(verdict);
        self.progress.inc(1);
        let [valid, invalid, errors] = self.counts;
        self.progress
            .set_message(format!("{valid} valid, {invalid} invalid, {errors} errors"));
    }
}

/// Verify the manifest's (or directory's) signatures.
pub(crate) fn run(args: &BatchArgs) -> Result<Outcome> {
    let default_key = args.key.map(|k| k.to_string());
    let entries = match (&args.manifest, &args.dir) {
        (_, Some(dir)) => manifest::read_dir(dir, default_key.as_deref().unwrap_or_default())?,
        (Some(path), None) => {
            manifest::read_manifest(path, args.manifest_format, default_key.as_deref())?
        }
        (None, None) => return Err(ClientError::Usage("give a manifest or --dir".into())),
    };
    if entries.is_empty() {
        return Err(ClientError::Usage("nothing to verify".into()));
    }
    let mut api = Api::from_config()?;
    let mut max_items = match args.batch_size {
        Some(size) => usize::try_from(size).unwrap_or(DEFAULT_BATCH_ITEMS),
        None => service_batch_max(&mut api).unwrap_or(DEFAULT_BATCH_ITEMS),
    };
    let mut max_bytes = CHUNK_DOCUMENT_BYTES;
    let mut run = Run {
        entries: &entries,
        verdicts: vec![None; entries.len()],
        batches: Vec::new(),
        progress: progress_bar(entries.len(), args.no_progress),
        counts: [0; 3],
    };
    let mut next = 0;
    let mut pending: VecDeque<Chunk> = VecDeque::new();
    loop {
        let mut chunk = match pending.pop_front() {
            Some(chunk) => chunk,
            None if next < entries.len() => {
                read_chunk(&mut run, &args.options, &mut next, max_items, max_bytes)
            }
            None => break,
        };
        if chunk.items.is_empty() {
            continue;
        }
        // The items move into the body and back: a chunk's documents are
        // held once, not twice.
        let body = Value::Object(serde_json::Map::from_iter([(
            "items".to_owned(),
            Value::Array(std::mem::take(&mut chunk.items)),
        )]));
        let answer = api.call::<BatchAnswer>(
            reqwest::Method::POST,
            "/v1/verify/batch",
            &[],
            super::api::Body::Json(&body),
        );
        if let Value::Object(mut body) = body
            && let Some(Value::Array(items)) = body.remove("items")
        {
            chunk.items = items;
        }
        match answer {
            Ok(answer) => settle_answer(&mut run, &chunk, answer)?,
            Err(error) if too_large(&error) && chunk.items.len() > 1 => {
                // The service's limits are lower than assumed: smaller
                // chunks from now on, and this one split in two.
                if let Some(max) = error_limit(&error, " items") {
                    max_items = max.min(chunk.items.len() - 1).max(1);
                } else {
                    max_items = (chunk.items.len() / 2).max(1);
                    max_bytes = (chunk.document_bytes / 2).max(1);
                }
                let (first, second) = chunk.split();
                pending.push_front(second);
                pending.push_front(first);
            }
            Err(error) if whole_run_fails(&error) => {
                run.progress.abandon();
                let done = run.counts.iter().sum::<usize>();
                eprintln!("stopped after {done} of {} items", entries.len());
                return Err(error);
            }
            Err(error) => {
                let failure = match &error {
                    ClientError::Problem { code, detail, .. } => ItemError {
                        code: code.clone(),
                        detail: detail.clone(),
                    },
                    other => ItemError {
                        code: "request_failed".into(),
                        detail: other.to_string(),
                    },
                };
                for &entry in &chunk.entries {
                    run.settle(entry, Verdict::Failed(failure.clone()));
                }
            }
        }
    }
    run.progress.finish();
    report(&run, args)
}

/// Read the next entries' files into a chunk of at most `max_items` items
/// and about `max_bytes` of documents; an entry whose files cannot be read
/// fails alone, now.
fn read_chunk(
    run: &mut Run<'_>,
    options: &ItemOptions,
    next: &mut usize,
    max_items: usize,
    max_bytes: usize,
) -> Chunk {
    let mut chunk = Chunk {
        entries: Vec::new(),
        items: Vec::new(),
        document_bytes: 0,
    };
    while *next < run.entries.len()
        && chunk.items.len() < max_items
        && (chunk.items.is_empty() || chunk.document_bytes < max_bytes)
    {
        let index = *next;
        *next += 1;
        let entries = run.entries;
        let entry = &entries[index];
        let item = verify::read(&entry.file).and_then(|document| {
            let signature = verify::read(&entry.signature)?;
            let item = options.item(&entry.key, &document, &signature, &entry.overrides)?;
            Ok((item, document.len()))
        });
        match item {
            Ok((item, bytes)) => {
                chunk.entries.push(index);
                chunk.items.push(item);
                chunk.document_bytes += bytes;
            }
            Err(error) => run.settle(
                index,
                Verdict::Failed(ItemError {
                    code: "unreadable_file".into(),
                    detail: error.to_string(),
                }),
            ),
        }
    }
    chunk
}

/// Each item's answer into its entry's verdict.
fn settle_answer(run: &mut Run<'_>, chunk: &Chunk, answer: BatchAnswer) -> Result<()> {
    if answer.results.len() != chunk.items.len() {
        return Err(ClientError::Unexpected {
            path: "/v1/verify/batch".into(),
            reason: format!(
                "{} results for {} items",
                answer.results.len(),
                chunk.items.len()
            ),
        });
    }
    run.batches.push(answer.batch_id);
    for result in answer.results {
        let Some(&entry) = chunk.entries.get(result.index) else {
            return Err(ClientError::Unexpected {
                path: "/v1/verify/batch".into(),
                reason: format!("a result for item {}, which was not sent", result.index),
            });
        };
        let verdict = match (result.valid, result.error) {
            (_, Some(error)) => Verdict::Failed(error),
            (Some(true), None) => Verdict::Valid(result.verification_id),
            (Some(false), None) => Verdict::Invalid(result.verification_id),
            (None, None) => Verdict::Failed(ItemError {
                code: "no_answer".into(),
                detail: "the service gave neither an answer nor an error".into(),
            }),
        };
        run.settle(entry, verdict);
    }
    Ok(())
}

/// The service's batch maximum, from the `maxItems` of `BatchRequest`'s
/// `items` in its OpenAPI document, if it states one.
fn service_batch_max(api: &mut Api) -> Option<usize> {
    let document = api.get("/openapi.json", &[]).ok()?;
    let max = document
        .pointer("/components/schemas/BatchRequest/properties/items/maxItems")?
        .as_u64()?;
    usize::try_from(max).ok().filter(|max| *max > 0)
}

/// A refusal that a smaller chunk may avoid.
fn too_large(error: &ClientError) -> bool {
    error.code() == Some("batch_too_large") || error.status() == Some(413)
}

/// The number in "at most N items" (or another `unit`) of a problem's
/// detail.
fn error_limit(error: &ClientError, unit: &str) -> Option<usize> {
    let ClientError::Problem { detail, .. } = error else {
        return None;
    };
    let rest = &detail[detail.find("at most ")? + "at most ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    rest[digits.len()..]
        .starts_with(unit)
        .then(|| digits.parse().ok())
        .flatten()
}

/// Errors that every other chunk would meet too: no connection, no
/// credential or permission, the quota or the service's capacity spent.
fn whole_run_fails(error: &ClientError) -> bool {
    match error {
        ClientError::Problem { status, .. } | ClientError::Status { status, .. } => {
            matches!(status, 401 | 403 | 429 | 503)
        }
        ClientError::Unreachable { .. } | ClientError::Output(_) => true,
        _ => false,
    }
}

/// A bar on standard error when it is a terminal; hidden otherwise.
fn progress_bar(total: usize, disabled: bool) -> ProgressBar {
    if disabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(
        Some(u64::try_from(total).unwrap_or(u64::MAX)),
        ProgressDrawTarget::stderr(),
    );
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} items ({per_sec}, {eta} left) {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("#>-");
    bar.set_style(style);
    bar
}

/// The failures (or every result), then the summary.
fn report(run: &Run<'_>, args: &BatchArgs) -> Result<Outcome> {
    let [valid, invalid, errors] = run.counts;
    let total = run.entries.len();
    if args.out.json {
        let results: Vec<Value> = run
            .entries
            .iter()
            .zip(&run.verdicts)
            .map(|(entry, verdict)| {
                let (valid, id, error) = match verdict {
                    Some(Verdict::Valid(id)) => (Some(true), id.clone(), None),
                    Some(Verdict::Invalid(id)) => (Some(false), id.clone(), None),
                    Some(Verdict::Failed(error)) => (None, None, Some(error.clone())),
                    None => (None, None, None),
                };
                json!({
                    "file": entry.file, "signature": entry.signature, "key": entry.key,
                    "valid": valid, "verification_id": id, "error": error,
                })
            })
            .collect();
        output::json(&json!({
            "total": total, "valid": valid, "invalid": invalid, "errors": errors,
            "batches": run.batches, "results": results,
        }))?;
    } else {
        let mut lines = Vec::new();
        for (entry, verdict) in run.entries.iter().zip(&run.verdicts) {
            let file = entry.file.display();
            match verdict {
                Some(Verdict::Valid(_)) if args.all => lines.push(format!("valid    {file}")),
                Some(Verdict::Invalid(id)) => lines.push(format!(
                    "INVALID  {file}  (signature {}, key {}, verification {})",
                    entry.signature.display(),
                    entry.key,
                    id.as_deref().unwrap_or("-")
                )),
                Some(Verdict::Failed(error)) => {
                    lines.push(format!("ERROR    {file}: {}: {}", error.code, error.detail))
                }
                _ => {}
            }
        }
        lines.push(format!(
            "{total} items in {} batches: {valid} valid, {invalid} invalid, {errors} errors",
            run.batches.len()
        ));
        output::lines(lines)?;
    }
    Ok(if errors > 0 {
        Outcome::Failed
    } else if invalid > 0 {
        Outcome::Negative
    } else {
        Outcome::Success
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(code: &str, detail: &str) -> ClientError {
        ClientError::Problem {
            status: 422,
            code: code.into(),
            detail: detail.into(),
            hint: String::new(),
        }
    }

    #[test]
    fn the_limit_is_read_from_the_refusal() {
        let items = problem("batch_too_large", "a batch holds at most 50 items, got 80");
        assert!(too_large(&items));
        assert_eq!(error_limit(&items, " items"), Some(50));
        let bytes = problem(
            "batch_too_large",
            "a batch's documents total at most 1024 bytes, got 4096",
        );
        assert_eq!(error_limit(&bytes, " items"), None);
        assert!(!too_large(&problem("invalid_body", "at most 3 items")));
    }

    #[test]
    fn chunks_split_in_order() {
        let chunk = Chunk {
            entries: vec![4, 5, 6],
            items: vec![json!(4), json!(5), json!(6)],
            document_bytes: 30,
        };
        let (first, second) = chunk.split();
        assert_eq!(first.entries, vec![4]);
        assert_eq!(second.entries, vec![5, 6]);
        assert_eq!(second.items, vec![json!(5), json!(6)]);
        assert_eq!(first.document_bytes + second.document_bytes, 30);
    }
}
