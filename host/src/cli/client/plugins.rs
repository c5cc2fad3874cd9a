//! `plugins list|show|upload|activate|disable|rollback`: the service's
//! algorithm plugins (`/v1/plugins`, permission `manage_curves`, which
//! administrators hold). An upload prints its admission report: what the
//! component declared, which routes it now serves, who signed it; a
//! refused upload prints the check that refused it.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::api::{Api, Body};
use super::error::{ClientError, Result};
use super::output::{self, OutputArgs};

/// The header carrying an upload's detached signature.
const SIGNATURE_HEADER: &str = "sigil-plugin-signature";

/// `sigil plugins …`.
#[derive(Debug, clap::Args)]
pub(crate) struct PluginsArgs {
    #[command(subcommand)]
    command: PluginsCommand,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, clap::Subcommand)]
enum PluginsCommand {
    /// Every stored plugin version, newest first.
    List,
    /// One version, with its descriptor.
    Show {
        /// The version: its id, or NAME@VERSION.
        plugin: String,
    },
    /// Upload a component: the service checks, self-tests, stores and
    /// activates it on every host, and this prints its admission report.
    #[command(after_help = "\
A refusal names the check that failed (not_wasm, wrong_world,
incompatible_contract, forbidden_import, self_test_failed, untrusted_signature...)
and changes nothing. See PLUGINS.md.

Examples:
  sigil plugin sign --key publisher.key target/plugins/extra/my-curve.wasm
  sigil plugins upload target/plugins/extra/my-curve.wasm   # sends my-curve.wasm.sig too")]
    Upload {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Its detached signature (base64, as `sigil plugin sign` writes
        /// it). Default: FILE.sig when it exists.
        #[arg(long, value_name = "SIGFILE")]
        signature: Option<PathBuf>,
        /// Send no signature even if FILE.sig exists.
        #[arg(long, conflicts_with = "signature")]
        unsigned: bool,
    },
    /// Activate a stored version on every host (it replaces the active
    /// version of the same plugin).
    Activate {
        /// The version: its id, or NAME@VERSION.
        plugin: String,
    },
    /// Disable a version; if it was active, its curves stop being served.
    Disable {
        /// The version: its id, or NAME@VERSION.
        plugin: String,
    },
    /// Go back to the version of a plugin that was active before the
    /// current one (or to --to).
    Rollback {
        /// The plugin's name (`ecdsa-p256`).
        name: String,
        /// The version to go back to: its id, or its version string.
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
    },
}

/// Run a `plugins` command.
pub(crate) fn run(args: &PluginsArgs) -> Result<()> {
    let mut api = Api::from_config()?;
    let json = args.out.json;
    let answer = match &args.command {
        PluginsCommand::List => {
            let plugins = api.list_all("/v1/plugins", &[], None)?;
            if json {
                return output::json(&plugins);
            }
            return list(&plugins);
        }
        PluginsCommand::Show { plugin } => {
            let id = resolve(&mut api, plugin)?;
            api.get(&format!("/v1/plugins/{id}"), &[])?
        }
        PluginsCommand::Upload {
            file,
            signature,
            unsigned,
        } => upload(&mut api, file, signature.as_deref(), *unsigned)?,
        PluginsCommand::Activate { plugin } => {
            let id = resolve(&mut api, plugin)?;
            post(&mut api, &format!("/v1/plugins/{id}/activate"))?
        }
        PluginsCommand::Disable { plugin } => {
            let id = resolve(&mut api, plugin)?;
            post(&mut api, &format!("/v1/plugins/{id}/disable"))?
        }
        PluginsCommand::Rollback { name, to } => {
            let id = rollback_target(&mut api, name, to.as_deref())?;
            post(&mut api, &format!("/v1/plugins/{id}/activate"))?
        }
    };
    if json {
        return output::json(&answer);
    }
    let headline = match &args.command {
        PluginsCommand::Upload { .. } => "Admitted and activated",
        PluginsCommand::Activate { .. } => "Activated",
        PluginsCommand::Rollback { .. } => "Rolled back to",
        PluginsCommand::Disable { .. } => "Disabled",
        PluginsCommand::Show { .. } | PluginsCommand::List => "Plugin",
    };
    report(headline, &answer)
}

fn post(api: &mut Api, path: &str) -> Result<Value> {
    api.call(reqwest::Method::POST, path, &[], Body::Empty)
}

fn upload(api: &mut Api, file: &Path, signature: Option<&Path>, unsigned: bool) -> Result<Value> {
    let bytes = std::fs::read(file)
        .map_err(|e| ClientError::io(format!("reading {}", file.display()), e))?;
    let beside = super::super::plugin_tools::sig_path(file);
    let signature = match signature {
        Some(path) => Some(path.to_path_buf()),
        None if !unsigned && beside.is_file() => Some(beside),
        None => None,
    };
    let mut headers = Vec::new();
    if let Some(path) = &signature {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ClientError::io(format!("reading {}", path.display()), e))?;
        headers.push((SIGNATURE_HEADER, text.trim().to_owned()));
        eprintln!("signature: {}", path.display());
    }
    api.call(
        reqwest::Method::POST,
        "/v1/plugins",
        &[],
        Body::Bytes {
            content_type: "application/wasm",
            bytes: &bytes,
            headers,
        },
    )
}

/// A plugin's id from an id or `NAME@VERSION`.
fn resolve(api: &mut Api, plugin: &str) -> Result<uuid::Uuid> {
    if let Ok(id) = plugin.parse() {
        return Ok(id);
    }
    let Some((name, version)) = plugin.split_once('@') else {
        return Err(ClientError::Usage(format!(
            "`{plugin}` is neither a plugin id nor NAME@VERSION"
        )));
    };
    let plugins = api.list_all("/v1/plugins", &[], None)?;
    plugins
        .iter()
        .find(|p| p["name"] == json!(name) && p["version"] == json!(version))
        .and_then(|p| p["id"].as_str()?.parse().ok())
        .ok_or_else(|| ClientError::Usage(format!("no stored version {name}@{version}")))
}

/// The version a rollback activates: `to` (an id or a version string), or
/// the version of `name` activated most recently before the active one.
fn rollback_target(api: &mut Api, name: &str, to: Option<&str>) -> Result<String> {
    let plugins = api.list_all("/v1/plugins", &[], None)?;
    let versions: Vec<&Value> = plugins
        .iter()
        .filter(|p| p["name"] == json!(name))
        .collect();
    if versions.is_empty() {
        return Err(ClientError::Usage(format!("no plugin named `{name}`")));
    }
    let chosen = match to {
        Some(to) => versions
            .iter()
            .find(|p| p["id"] == json!(to) || p["version"] == json!(to))
            .ok_or_else(|| ClientError::Usage(format!("{name} has no version or id `{to}`")))?,
        None => versions
            .iter()
            .filter(|p| p["status"] != json!("active") && !p["activated_at"].is_null())
            .max_by_key(|p| p["activated_at"].as_str().unwrap_or_default().to_owned())
            .ok_or_else(|| {
                ClientError::Usage(format!(
                    "{name} has no earlier activated version to roll back to (see `sigil plugins list`)"
                ))
            })?,
    };
    chosen["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ClientError::Unexpected {
            path: "/v1/plugins".into(),
            reason: "a plugin without an id".into(),
        })
}

fn list(plugins: &[Value]) -> Result<()> {
    let rows: Vec<Vec<String>> = plugins
        .iter()
        .map(|p| {
            vec![
                output::field(p, "id"),
                output::field(p, "name"),
                output::field(p, "version"),
                output::field(p, "status"),
                if p["serving"].as_bool() == Some(true) {
                    "yes".into()
                } else {
                    "no".into()
                },
                output::field(p, "publisher"),
                output::field(p, "routes"),
                output::when(p, "created_at"),
            ]
        })
        .collect();
    output::table(
        &[
            "ID",
            "NAME",
            "VERSION",
            "STATUS",
            "SERVING",
            "PUBLISHER",
            "ROUTES",
            "UPLOADED",
        ],
        &rows,
    )
}

/// A version's report: identity, status, signature, what it declared.
fn report(headline: &str, plugin: &Value) -> Result<()> {
    let descriptor = &plugin["descriptor"];
    let curves: Vec<String> = descriptor["curves"]
        .as_array()
        .map(|curves| curves.iter().map(|c| output::field(c, "name")).collect())
        .unwrap_or_default();
    let publisher = match plugin["publisher"].as_str() {
        Some(publisher) => format!(
            "{publisher} (signature sha256 {})",
            output::field(plugin, "signature_sha256")
        ),
        None => "unsigned".into(),
    };
    let line = |label: &str, value: String| format!("  {label:<12}{value}");
    output::lines([
        format!(
            "{headline} {} {}",
            output::field(plugin, "name"),
            output::field(plugin, "version")
        ),
        line("id:", output::field(plugin, "id")),
        line(
            "status:",
            format!(
                "{} (serving on the answering host: {})",
                output::field(plugin, "status"),
                if plugin["serving"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                }
            ),
        ),
        line(
            "component:",
            format!(
                "sha256 {}, {} bytes",
                output::field(plugin, "sha256"),
                output::field(plugin, "size_bytes")
            ),
        ),
        line("publisher:", publisher),
        line(
            "algorithm:",
            format!(
                "{} ({})",
                output::field(descriptor, "algorithm"),
                output::field(descriptor, "description")
            ),
        ),
        line(
            "curves:",
            if curves.is_empty() {
                "-".into()
            } else {
                curves.join(", ")
            },
        ),
        line("input:", output::field(descriptor, "input")),
        line("hashes:", output::field(descriptor, "hashes")),
        line(
            "encodings:",
            output::field(descriptor, "signature_encodings"),
        ),
        line("schemes:", output::field(descriptor, "schemes")),
        line(
            "context:",
            match descriptor["max_context_bytes"].as_u64() {
                Some(max) if max > 0 => format!("up to {max} bytes"),
                _ => "none".into(),
            },
        ),
        line("key formats:", output::field(descriptor, "key_formats")),
        line("routes:", output::field(plugin, "routes")),
        line(
            "contract:",
            match plugin["contract"].as_str() {
                Some(version) => version.to_owned(),
                None => "- (not served by the answering host)".into(),
            },
        ),
    ])
}
