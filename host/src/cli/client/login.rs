//! `login`, `logout`, `whoami`: getting a credential into the
//! configuration file, out of it, and seeing whose it is.

use std::io::{IsTerminal as _, Read as _};

use serde_json::{Value, json};

use super::api::{Api, TokenPair};
use super::config::{self, ClientConfig};
use super::error::{ClientError, Result};
use super::output::{self, OutputArgs};

/// The server `login` talks to when neither `--url`, `SIGIL_URL` nor the
/// file names one: what `just run` serves.
const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// `sigil login`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  sigil login --url https://sigil.example.com          # asks for username and password
  printf '%s' \"$PASSWORD\" | sigil login --username ci --password-stdin
  printf '%s' \"$SIGIL_PAT\" | sigil login --token        # store an API token (sigil_pat_...)")]
pub(crate) struct LoginArgs {
    /// The service (default: SIGIL_URL, the stored URL, else
    /// http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Login name (asked for when omitted).
    #[arg(long, short, conflicts_with = "token")]
    username: Option<String>,
    /// Read the password from standard input instead of asking for it.
    #[arg(long, conflicts_with = "token")]
    password_stdin: bool,
    /// Store an API token instead of logging in with a password; the token
    /// is read from standard input (asked for on a terminal). API tokens
    /// are made with `sigil tokens create`.
    #[arg(long)]
    token: bool,
    #[command(flatten)]
    out: OutputArgs,
}

/// `sigil logout`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogoutArgs {
    #[command(flatten)]
    out: OutputArgs,
}

/// `sigil whoami`.
#[derive(Debug, clap::Args)]
pub(crate) struct WhoamiArgs {
    #[command(flatten)]
    out: OutputArgs,
}

/// Log in with a password (keeping the session, refreshed as needed) or
/// store an API token, after checking with the service that it works.
pub(crate) fn login(args: &LoginArgs) -> Result<()> {
    let path = config::path()?;
    let mut stored = ClientConfig::load(&path)?;
    let url = args
        .url
        .clone()
        .or_else(|| {
            std::env::var(config::URL_VAR)
                .ok()
                .filter(|u| !u.is_empty())
        })
        .or_else(|| stored.url.clone())
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let url = super::api::normalise_url(&url)?;
    let previous = stored
        .session
        .take()
        .filter(|_| stored.url.as_deref() == Some(url.as_str()));
    let (me, kind) = if args.token {
        let token = read_secret("API token: ", false)?;
        let me = Api::with_token(&url, &token)?.get("/v1/auth/me", &[])?;
        stored.token = Some(token);
        (me, "token")
    } else {
        let username = match &args.username {
            Some(username) => username.clone(),
            None => ask("Username: ")?,
        };
        let password = read_secret("Password: ", args.password_stdin)?;
        let body = json!({"username": username, "password": password});
        let mut anonymous = Api::anonymous(&url)?;
        let pair: TokenPair = anonymous.call(
            reqwest::Method::POST,
            "/v1/auth/login",
            &[],
            super::api::Body::Json(&body),
        )?;
        let mut api = Api::with_token(&url, &pair.access_token)?;
        let me = api.get("/v1/auth/me", &[])?;
        let name = me["username"].as_str().unwrap_or(&username).to_owned();
        stored.token = None;
        stored.session = Some(pair.into_session(&name));
        (me, "session")
    };
    stored.url = Some(url.clone());
    stored.save(&path)?;
    // The session this login replaces is ended, so logins do not pile up
    // against the per-user session quota. Best effort: it may be gone.
    if let Some(old) = previous
        && let Ok(mut api) = Api::with_token(&url, &old.access_token)
    {
        let _ = api.call::<Value>(
            reqwest::Method::POST,
            "/v1/auth/logout",
            &[],
            super::api::Body::Empty,
        );
    }
    if args.out.json {
        return output::json(&json!({
            "url": url, "credential": kind, "config": path,
            "user": me,
        }));
    }
    output::lines([
        format!(
            "Logged in to {url} as {} ({}).",
            output::field(&me, "username"),
            output::field(&me, "roles")
        ),
        format!(
            "{} saved in {} (mode 0600).",
            if kind == "token" {
                "API token"
            } else {
                "Session"
            },
            path.display()
        ),
    ])
}

/// End the stored session on the service (for a password login) and
/// forget the credential; the URL stays for the next `login`.
pub(crate) fn logout(args: &LogoutArgs) -> Result<()> {
    let path = config::path()?;
    let mut stored = ClientConfig::load(&path)?;
    let url = stored.url.clone().unwrap_or_default();
    let ended = match stored.session.take() {
        Some(_) => {
            // Through `Api`, so an expired access token is refreshed first
            // and the logout revokes the live session.
            let mut api = Api::from_file()?;
            api.call::<Value>(
                reqwest::Method::POST,
                "/v1/auth/logout",
                &[],
                super::api::Body::Empty,
            )
            .map(|_| true)
            .or_else(|error| match error.status() {
                Some(401) => Ok(false),
                _ => Err(error),
            })?
        }
        None => false,
    };
    let had_token = stored.token.take().is_some();
    stored.save(&path)?;
    if args.out.json {
        return output::json(
            &json!({"url": url, "session_ended": ended, "token_forgotten": had_token}),
        );
    }
    let what = match (ended, had_token) {
        (true, _) => "session ended and forgotten",
        (false, true) => "API token forgotten (it stays valid: `sigil tokens revoke` ends it)",
        (false, false) => "nothing was stored",
    };
    output::lines([format!("Logged out of {url}: {what}.")])
}

/// Who the configured credential is.
pub(crate) fn whoami(args: &WhoamiArgs) -> Result<()> {
    let mut api = Api::from_config()?;
    let me = api.get("/v1/auth/me", &[])?;
    if args.out.json {
        return output::json(&me);
    }
    output::lines([
        format!(
            "{} ({}) on {}",
            output::field(&me, "username"),
            output::field(&me, "id"),
            api.base()
        ),
        format!("roles: {}", output::field(&me, "roles")),
        format!("permissions: {}", output::field(&me, "permissions")),
    ])
}

/// A line typed at the terminal.
fn ask(prompt: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        return Err(ClientError::Usage(format!(
            "no terminal to ask `{}` on: pass it as an option",
            prompt.trim_end_matches([':', ' '])
        )));
    }
    let term = console::Term::stderr();
    term.write_str(prompt)?;
    let line = term.read_line()?;
    Ok(line.trim().to_owned())
}

/// A secret: from standard input when it is not a terminal (or
/// `from_stdin`), else typed without echo.
fn read_secret(prompt: &str, from_stdin: bool) -> Result<String> {
    let stdin = std::io::stdin();
    let secret = if from_stdin || !stdin.is_terminal() {
        let mut text = String::new();
        stdin
            .lock()
            .read_to_string(&mut text)
            .map_err(|e| ClientError::io("reading standard input", e))?;
        text.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        let term = console::Term::stderr();
        term.write_str(prompt)?;
        term.read_secure_line()?
    };
    if secret.is_empty() {
        return Err(ClientError::Usage(format!(
            "no {} given",
            prompt.trim_end_matches([':', ' ']).to_lowercase()
        )));
    }
    Ok(secret)
}
