//! `tokens create|list|revoke`: API tokens (`sigil_pat_…`) for programs,
//! through `/v1/tokens` (DESIGN.md, "Additions for the second round").

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::api::{Api, Body};
use super::error::{ClientError, Result};
use super::output::{self, OutputArgs};

/// `sigil tokens …`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokensArgs {
    #[command(subcommand)]
    command: TokensCommand,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, clap::Subcommand)]
enum TokensCommand {
    /// Make an API token; it is shown once, so store it now.
    #[command(after_help = "\
Examples:
  sigil tokens create --name ci --expires-in 90d --scope verify_signatures
  printf '%s' \"$(sigil tokens create --name laptop --json | jq -r .token)\" | sigil login --token")]
    Create {
        /// What the token is for (1-64 characters).
        #[arg(long, short)]
        name: String,
        /// When it stops working: a duration from now (`30d`), a time
        /// (RFC 3339) or a date.
        #[arg(long, value_name = "WHEN", default_value = "30d", value_parser = super::time::parse_from_now)]
        expires_in: DateTime<Utc>,
        /// A permission the token carries (repeat it); each must be one of
        /// yours. Default: all of yours.
        #[arg(long = "scope", value_name = "PERMISSION")]
        scopes: Vec<String>,
    },
    /// List your tokens (an administrator may list a user's with --user).
    List {
        /// Another user's tokens (administrators).
        #[arg(long, value_name = "USER_ID")]
        user: Option<uuid::Uuid>,
    },
    /// Revoke a token: it stops working at once, on every host.
    Revoke {
        /// The token's id (not its value).
        id: uuid::Uuid,
    },
}

/// Run a `tokens` command.
pub(crate) fn run(args: &TokensArgs) -> Result<()> {
    let mut api = Api::from_config()?;
    let json = args.out.json;
    match &args.command {
        TokensCommand::Create {
            name,
            expires_in,
            scopes,
        } => {
            let scopes = if scopes.is_empty() {
                let me = api.get("/v1/auth/me", &[])?;
                serde_json::from_value::<Vec<String>>(me["permissions"].clone()).map_err(|e| {
                    ClientError::Unexpected {
                        path: "/v1/auth/me".into(),
                        reason: format!("permissions: {e}"),
                    }
                })?
            } else {
                scopes.clone()
            };
            let body =
                json!({"name": name, "expires_at": expires_in.to_rfc3339(), "scopes": scopes});
            let created = api.post("/v1/tokens", &body)?;
            if json {
                return output::json(&created);
            }
            let token = secret(&created).ok_or_else(|| ClientError::Unexpected {
                path: "/v1/tokens".into(),
                reason: "the answer carries no token".into(),
            })?;
            output::lines([
                format!(
                    "Created token {} ({}), expires {}, scopes {}.",
                    output::field(&created, "id"),
                    output::field(&created, "name"),
                    output::when(&created, "expires_at"),
                    output::field(&created, "scopes"),
                ),
                "Copy it now; it is not shown again:".to_owned(),
                token,
            ])
        }
        TokensCommand::List { user } => {
            let query: Vec<(&str, String)> =
                user.iter().map(|u| ("user_id", u.to_string())).collect();
            let tokens = api.list_all("/v1/tokens", &query, None)?;
            if json {
                return output::json(&tokens);
            }
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|token| {
                    let status = if token.get("revoked_at").is_some_and(|v| !v.is_null()) {
                        "revoked"
                    } else {
                        "active"
                    };
                    vec![
                        output::field(token, "id"),
                        output::field(token, "name"),
                        status.to_owned(),
                        output::field(token, "scopes"),
                        output::when(token, "created_at"),
                        output::when(token, "expires_at"),
                        output::when(token, "last_used_at"),
                    ]
                })
                .collect();
            output::table(
                &[
                    "ID",
                    "NAME",
                    "STATUS",
                    "SCOPES",
                    "CREATED",
                    "EXPIRES",
                    "LAST USED",
                ],
                &rows,
            )
        }
        TokensCommand::Revoke { id } => {
            api.call::<Value>(
                reqwest::Method::DELETE,
                &format!("/v1/tokens/{id}"),
                &[],
                Body::Empty,
            )?;
            if json {
                return output::json(&json!({"id": id, "revoked": true}));
            }
            output::lines([format!("Token {id} revoked.")])
        }
    }
}

/// The token's value in a creation answer: `token`, or any field holding
/// a `sigil_pat_` string.
fn secret(created: &Value) -> Option<String> {
    if let Some(token) = created.get("token").and_then(Value::as_str) {
        return Some(token.to_owned());
    }
    created
        .as_object()?
        .values()
        .filter_map(Value::as_str)
        .find(|value| value.starts_with("sigil_pat_"))
        .map(str::to_owned)
}
