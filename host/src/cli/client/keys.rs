//! `keys add|list|show|revoke`: the caller's public keys (`/v1/keys`).

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Value, json};

use super::api::Api;
use super::error::{ClientError, Result};
use super::output::{self, OutputArgs};

/// `sigil keys …`.
#[derive(Debug, clap::Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Register a public key from a file: PEM, DER, raw or JWK (the format
    /// is recognised, or given with --format).
    #[command(after_help = "\
Examples:
  openssl genpkey -algorithm ed25519 -out alice.key && openssl pkey -in alice.key -pubout -out alice.pub
  sigil keys add alice.pub --algorithm EdDSA --name 'alice laptop'
  sigil keys add point.bin --format raw --algorithm ECDSA --curve secp256k1")]
    Add {
        /// The public key file.
        file: PathBuf,
        /// The algorithm: ECDSA, EdDSA, RSA, or another the service serves
        /// (`GET /v1/algorithms`).
        #[arg(long, short)]
        algorithm: String,
        /// The curve or parameter set (P-256, secp256k1, ...): required for
        /// raw keys, checked against the key otherwise.
        #[arg(long, short)]
        curve: Option<String>,
        /// A name for the key (1-64 characters).
        #[arg(long, short)]
        name: Option<String>,
        /// PEM, DER, raw or JWK (default: PEM or JWK when the file is one,
        /// else DER).
        #[arg(long, value_parser = ["PEM", "DER", "raw", "JWK"])]
        format: Option<String>,
        /// When the key stops being usable: a time (RFC 3339), a date, or a
        /// duration from now (`90d`).
        #[arg(long, value_parser = super::time::parse_from_now)]
        expires: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// List your keys (an administrator's: everyone's), newest first.
    List {
        /// Only keys of this status.
        #[arg(long, value_parser = ["active", "revoked", "expired"])]
        status: Option<String>,
    },
    /// Show one key, with its PEM.
    Show {
        /// The key's id.
        id: uuid::Uuid,
    },
    /// Revoke a key: verifications with it are refused from now on.
    Revoke {
        /// The key's id.
        id: uuid::Uuid,
    },
}

/// Run a `keys` command.
pub(crate) fn run(args: &KeysArgs) -> Result<()> {
    let mut api = Api::from_config()?;
    let json = args.out.json;
    match &args.command {
        KeysCommand::Add {
            file,
            algorithm,
            curve,
            name,
            format,
            expires,
        } => {
            let bytes = std::fs::read(file)
                .map_err(|e| ClientError::io(format!("reading {}", file.display()), e))?;
            let (format, key_data) = key_data(&bytes, format.as_deref())?;
            let mut body = json!({"key_data": key_data, "format": format, "algorithm": algorithm});
            if let Some(curve) = curve {
                body["curve"] = json!(curve);
            }
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            if let Some(expires) = expires {
                body["expires_at"] = json!(expires.to_rfc3339());
            }
            let key = api.post("/v1/keys", &body)?;
            if json {
                return output::json(&key);
            }
            output::lines([format!(
                "Registered key {} ({} {}, fingerprint {}).",
                output::field(&key, "id"),
                output::field(&key, "algorithm"),
                output::field(&key, "curve"),
                output::field(&key, "fingerprint")
            )])
        }
        KeysCommand::List { status } => {
            let query: Vec<(&str, String)> = status.iter().map(|s| ("status", s.clone())).collect();
            let keys = api.list_all("/v1/keys", &query, None)?;
            if json {
                return output::json(&keys);
            }
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|key| {
                    vec![
                        output::field(key, "id"),
                        output::field(key, "name"),
                        output::field(key, "algorithm"),
                        output::field(key, "curve"),
                        output::field(key, "status"),
                        output::when(key, "created_at"),
                        output::when(key, "expires_at"),
                    ]
                })
                .collect();
            output::table(
                &[
                    "ID",
                    "NAME",
                    "ALGORITHM",
                    "CURVE",
                    "STATUS",
                    "CREATED",
                    "EXPIRES",
                ],
                &rows,
            )
        }
        KeysCommand::Show { id } => {
            let key = api.get(&format!("/v1/keys/{id}"), &[])?;
            if json {
                return output::json(&key);
            }
            show(&key)
        }
        KeysCommand::Revoke { id } => {
            let key = api.call::<Value>(
                reqwest::Method::POST,
                &format!("/v1/keys/{id}/revoke"),
                &[],
                super::api::Body::Empty,
            )?;
            if json {
                return output::json(&key);
            }
            output::lines([format!(
                "Key {} is {}.",
                output::field(&key, "id"),
                output::field(&key, "status")
            )])
        }
    }
}

/// A key's fields, one a line, then its PEM.
fn show(key: &Value) -> Result<()> {
    let mut lines: Vec<String> = [
        "id",
        "name",
        "algorithm",
        "curve",
        "bits",
        "status",
        "fingerprint",
        "uploaded_format",
        "created_at",
        "expires_at",
        "user_id",
    ]
    .iter()
    .map(|name| format!("{:<16}{}", format!("{name}:"), output::field(key, name)))
    .collect();
    lines.push(String::new());
    lines.push(output::field(key, "key_data").trim_end().to_owned());
    output::lines(lines)
}

/// The request's `format` and `key_data` for a key file: PEM and JWK as
/// text, DER and raw as base64.
fn key_data(bytes: &[u8], format: Option<&str>) -> Result<(&'static str, Value)> {
    let text = std::str::from_utf8(bytes).ok().map(str::trim);
    let looks_pem = text.is_some_and(|t| t.starts_with("-----BEGIN"));
    let as_jwk = || {
        text.and_then(|t| serde_json::from_str::<Value>(t).ok())
            .filter(Value::is_object)
    };
    let b64 = || json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    match format {
        Some("PEM") | None if looks_pem => Ok(("PEM", json!(text.unwrap_or_default()))),
        Some("PEM") => Err(ClientError::Usage(
            "the file is not PEM (`-----BEGIN PUBLIC KEY-----`)".into(),
        )),
        Some("JWK") => as_jwk()
            .map(|jwk| ("JWK", jwk))
            .ok_or_else(|| ClientError::Usage("the file is not a JWK (a JSON object)".into())),
        Some("raw") => Ok(("raw", b64())),
        Some(_) => Ok(("DER", b64())),
        None => Ok(as_jwk().map_or_else(|| ("DER", b64()), |jwk| ("JWK", jwk))),
    }
}

#[cfg(test)]
mod tests {
    use super::key_data;

    #[test]
    fn key_files_are_recognised() {
        let pem = b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n";
        assert_eq!(key_data(pem, None).expect("pem").0, "PEM");
        assert_eq!(key_data(br#"{"kty":"OKP"}"#, None).expect("jwk").0, "JWK");
        let (format, data) = key_data(&[0x30, 0x2a, 0xff], None).expect("der");
        assert_eq!((format, data.as_str()), ("DER", Some("MCr/")));
        assert_eq!(key_data(&[4, 1, 2], Some("raw")).expect("raw").0, "raw");
        assert!(key_data(b"not pem", Some("PEM")).is_err());
    }
}
