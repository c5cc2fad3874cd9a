//! The HTTP side of the client: one blocking connection to the service,
//! with the stored (or `SIGIL_TOKEN`) credential, a password session
//! refreshed when its access token has expired, a few patient retries
//! when the service says "later" (429, 503 with `Retry-After`), and
//! problems (`application/problem+json`) turned into [`ClientError`]s.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{self, HeaderMap};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::{self, ClientConfig, Session};
use super::error::{ClientError, Result};

/// Items per page when following cursors (the service caps it).
const PAGE_LIMIT: &str = "100";
/// A refresh happens this long before the stored expiry, so a request
/// does not leave with a token that expires on the way.
const EXPIRY_MARGIN_SECS: i64 = 30;
/// Waits for a service that answered "later", at most.
const MAX_RETRIES: u32 = 4;
/// A `Retry-After` longer than this is not waited for: the error is shown.
const MAX_RETRY_AFTER_SECS: u64 = 60;

/// What a request sends.
pub(crate) enum Body<'a> {
    /// Nothing.
    Empty,
    /// A JSON document.
    Json(&'a Value),
    /// Bytes of a given media type, with extra headers.
    Bytes {
        /// `Content-Type`.
        content_type: &'static str,
        /// The bytes.
        bytes: &'a [u8],
        /// Other headers (`Sigil-Plugin-Signature`).
        headers: Vec<(&'static str, String)>,
    },
}

/// How requests authenticate.
enum Credential {
    /// Nobody (`login` before it has a token).
    None,
    /// A bearer token that is never refreshed: `SIGIL_TOKEN`, or an API
    /// token from `sigil login --token`.
    Token(String),
    /// A password login's pair, refreshed and saved back to the file.
    Session(Session),
}

/// A connection to the service.
pub(crate) struct Api {
    http: Client,
    base: String,
    credential: Credential,
    /// Where a refreshed session is saved (none with `SIGIL_TOKEN`).
    file: Option<(PathBuf, ClientConfig)>,
}

/// A problem body, as far as the client reads it.
#[derive(Deserialize)]
struct ProblemBody {
    code: Option<String>,
    detail: Option<String>,
    title: Option<String>,
}

/// A list page: `{"items": [...], "next_cursor": ...}`.
#[derive(Deserialize)]
struct Page {
    items: Vec<Value>,
    next_cursor: Option<String>,
}

/// A login or refresh answer.
#[derive(Deserialize)]
pub(crate) struct TokenPair {
    /// The JWT.
    pub(crate) access_token: String,
    /// The single-use refresh token.
    pub(crate) refresh_token: String,
    /// Seconds until the access token expires.
    pub(crate) expires_in: i64,
}

impl TokenPair {
    /// The pair as a stored session of `username`.
    pub(crate) fn into_session(self, username: &str) -> Session {
        Session {
            username: username.to_owned(),
            expires_at: Utc::now() + chrono::Duration::seconds(self.expires_in),
            access_token: self.access_token,
            refresh_token: self.refresh_token,
        }
    }
}

/// The HTTP client every command uses: rustls, a user agent naming the
/// version, generous timeouts (a batch of a thousand items takes a while).
fn http_client() -> Result<Client> {
    Client::builder()
        .user_agent(concat!("sigil-cli/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|error| ClientError::Unexpected {
            path: "(client set-up)".into(),
            reason: error_chain(&error),
        })
}

/// `http://host:port` without a trailing slash; a bare `host:port` is
/// taken as `http://` only for loopback addresses, `https://` otherwise.
pub(crate) fn normalise_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    if url.is_empty() {
        return Err(ClientError::Usage("the server URL is empty".into()));
    }
    let url = if url.contains("://") {
        url.to_owned()
    } else if url.starts_with("127.") || url.starts_with("localhost") || url.starts_with("[::1]") {
        format!("http://{url}")
    } else {
        format!("https://{url}")
    };
    let parsed = reqwest::Url::parse(&url)
        .map_err(|error| ClientError::Usage(format!("`{url}` is not a URL: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ClientError::Usage(format!(
            "`{url}`: the server URL is http:// or https://"
        )));
    }
    Ok(url)
}

impl Api {
    /// A connection as the configuration says: `SIGIL_URL` over the file's
    /// URL, `SIGIL_TOKEN` over the file's credential.
    pub(crate) fn from_config() -> Result<Self> {
        Self::load(true)
    }

    /// A connection with the file's URL and credential only (`logout` ends
    /// the stored session, not whatever `SIGIL_TOKEN` holds).
    pub(crate) fn from_file() -> Result<Self> {
        Self::load(false)
    }

    fn load(environment: bool) -> Result<Self> {
        let path = config::path()?;
        let stored = ClientConfig::load(&path)?;
        let env_url = std::env::var(config::URL_VAR).ok().filter(|_| environment);
        let url = match env_url {
            Some(url) if !url.trim().is_empty() => url,
            _ => stored.url.clone().ok_or_else(|| {
                ClientError::NotLoggedIn(format!(" ({} has no server)", path.display()))
            })?,
        };
        let base = normalise_url(&url)?;
        let env_token = std::env::var(config::TOKEN_VAR)
            .ok()
            .filter(|t| environment && !t.trim().is_empty());
        let (credential, file) = match env_token {
            Some(token) => (Credential::Token(token.trim().to_owned()), None),
            None => {
                let credential = match (&stored.token, &stored.session) {
                    (Some(token), _) => Credential::Token(token.clone()),
                    (None, Some(session)) => Credential::Session(session.clone()),
                    (None, None) => Credential::None,
                };
                (credential, Some((path, stored)))
            }
        };
        Ok(Self {
            http: http_client()?,
            base,
            credential,
            file,
        })
    }

    /// A connection to `base` without credentials (for `login`).
    pub(crate) fn anonymous(base: &str) -> Result<Self> {
        Ok(Self {
            http: http_client()?,
            base: normalise_url(base)?,
            credential: Credential::None,
            file: None,
        })
    }

    /// A connection to `base` with `token` (to check a token before
    /// storing it).
    pub(crate) fn with_token(base: &str, token: &str) -> Result<Self> {
        let mut api = Self::anonymous(base)?;
        api.credential = Credential::Token(token.to_owned());
        Ok(api)
    }

    /// The service's base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Send a request and read a JSON answer (`null` for 204).
    pub(crate) fn call<T: DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<T> {
        let response = self.send(method, path, query, &body)?;
        let status = response.status();
        let bytes = response.bytes().map_err(|error| self.unreachable(&error))?;
        let text: &[u8] = if status == reqwest::StatusCode::NO_CONTENT || bytes.is_empty() {
            b"null"
        } else {
            &bytes
        };
        serde_json::from_slice(text).map_err(|error| ClientError::Unexpected {
            path: path.to_owned(),
            reason: error.to_string(),
        })
    }

    /// `GET path` as JSON.
    pub(crate) fn get(&mut self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.call(Method::GET, path, query, Body::Empty)
    }

    /// `POST path` with a JSON body.
    pub(crate) fn post(&mut self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, path, &[], Body::Json(body))
    }

    /// Every item of a list, following `next_cursor` until the last page
    /// or until `max` items.
    pub(crate) fn list_all(
        &mut self,
        path: &str,
        query: &[(&str, String)],
        max: Option<usize>,
    ) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut page_query: Vec<(&str, String)> = query.to_vec();
            page_query.push(("limit", PAGE_LIMIT.to_owned()));
            if let Some(cursor) = cursor.take() {
                page_query.push(("cursor", cursor));
            }
            let page: Page = self.call(Method::GET, path, &page_query, Body::Empty)?;
            items.extend(page.items);
            if let Some(max) = max
                && items.len() >= max
            {
                items.truncate(max);
                return Ok(items);
            }
            match page.next_cursor {
                Some(next) if !next.is_empty() => cursor = Some(next),
                _ => return Ok(items),
            }
        }
    }

    /// Send, refreshing an expired session first (and once more if the
    /// service says the token expired on the way), waiting out 429 and
    /// 503 answers that carry a short `Retry-After`. A non-success answer
    /// becomes an error.
    fn send(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body<'_>,
    ) -> Result<Response> {
        self.refresh_if_expired()?;
        let mut refreshed = false;
        let mut retries = 0;
        loop {
            let request = self.request(method.clone(), path, query, body);
            let response = request.send().map_err(|error| self.unreachable(&error))?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let headers = response.headers().clone();
            let error = problem(status.as_u16(), response, self.hint(status.as_u16()));
            if status == reqwest::StatusCode::UNAUTHORIZED
                && !refreshed
                && error.code() == Some("token_expired")
                && matches!(self.credential, Credential::Session(_))
            {
                self.refresh()?;
                refreshed = true;
                continue;
            }
            match retry_after(&headers, &error) {
                Some(wait) if retries < MAX_RETRIES => {
                    retries += 1;
                    std::thread::sleep(wait);
                }
                _ => return Err(error),
            }
        }
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body<'_>,
    ) -> RequestBuilder {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(header::ACCEPT, "application/json, application/problem+json");
        if !query.is_empty() {
            request = request.query(query);
        }
        match &self.credential {
            Credential::None => {}
            Credential::Token(token) => request = request.bearer_auth(token),
            Credential::Session(session) => request = request.bearer_auth(&session.access_token),
        }
        match body {
            Body::Empty => request,
            Body::Json(value) => request.json(value),
            Body::Bytes {
                content_type,
                bytes,
                headers,
            } => {
                let mut request = request
                    .header(header::CONTENT_TYPE, *content_type)
                    .body(bytes.to_vec());
                for (name, value) in headers {
                    request = request.header(*name, value);
                }
                request
            }
        }
    }

    /// Refresh the session if its access token has expired (or is about
    /// to).
    fn refresh_if_expired(&mut self) -> Result<()> {
        let expired = match &self.credential {
            Credential::Session(session) => {
                session.expires_at - chrono::Duration::seconds(EXPIRY_MARGIN_SECS) <= Utc::now()
            }
            _ => false,
        };
        if expired { self.refresh() } else { Ok(()) }
    }

    /// Exchange the refresh token for a new pair and save it at once: the
    /// old refresh token is spent, and the file must not keep it.
    fn refresh(&mut self) -> Result<()> {
        let Credential::Session(session) = &self.credential else {
            return Ok(());
        };
        let username = session.username.clone();
        let body = serde_json::json!({"refresh_token": session.refresh_token});
        let response = self
            .http
            .post(format!("{}/v1/auth/refresh", self.base))
            .json(&body)
            .send()
            .map_err(|error| self.unreachable(&error))?;
        let status = response.status();
        if !status.is_success() {
            let mut error = problem(status.as_u16(), response, String::new());
            if let ClientError::Problem { hint, .. } = &mut error {
                *hint = "\nthe session has ended: run `sigil login` again".into();
            }
            return Err(error);
        }
        let pair: TokenPair = response.json().map_err(|error| ClientError::Unexpected {
            path: "/v1/auth/refresh".into(),
            reason: error_chain(&error),
        })?;
        let session = pair.into_session(&username);
        if let Some((path, stored)) = &mut self.file {
            stored.session = Some(session.clone());
            stored.save(path)?;
        }
        self.credential = Credential::Session(session);
        Ok(())
    }

    /// What to add to a problem of this status.
    fn hint(&self, status: u16) -> String {
        match (status, &self.credential) {
            (401, Credential::None) => "\nlog in first: `sigil login`".into(),
            (401, _) => "\nthe credential was refused: `sigil login` again".into(),
            (403, _) => "\nthe account lacks the permission for this".into(),
            _ => String::new(),
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            reason: error_chain(error),
        }
    }
}

/// An error answer as a [`ClientError`]: the problem's `code` and
/// `detail` when it is one, else the status and the start of the body.
fn problem(status: u16, response: Response, hint: String) -> ClientError {
    let text = response.text().unwrap_or_default();
    match serde_json::from_str::<ProblemBody>(&text) {
        Ok(ProblemBody {
            code: Some(code),
            detail,
            title,
        }) => ClientError::Problem {
            status,
            code,
            detail: detail.or(title).unwrap_or_default(),
            hint,
        },
        _ => ClientError::Status {
            status,
            body: text.chars().take(200).collect::<String>().trim().to_owned(),
        },
    }
}

/// How long to wait before trying again, if the answer asks for a short
/// wait: 429 (any code), or 503 for a service that shed the request before
/// doing anything (`overloaded`, `admission_busy`).
fn retry_after(headers: &HeaderMap, error: &ClientError) -> Option<Duration> {
    let again = match error.status() {
        Some(429) => true,
        Some(503) => matches!(error.code(), Some("overloaded" | "admission_busy")),
        _ => false,
    };
    if !again {
        return None;
    }
    let secs = headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    (secs <= MAX_RETRY_AFTER_SECS).then(|| Duration::from_secs(secs.max(1)))
}

/// An error with its causes (`error sending request: … : connection
/// refused`).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::normalise_url;

    #[test]
    fn urls_are_normalised() {
        assert_eq!(
            normalise_url("http://127.0.0.1:8080/").expect("ok"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalise_url("127.0.0.1:8080").expect("ok"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalise_url("sigil.example.com").expect("ok"),
            "https://sigil.example.com"
        );
        assert!(normalise_url("ftp://example.com").is_err());
        assert!(normalise_url(" ").is_err());
    }
}
