//! What can go wrong in a client command, and the exit status it means.

/// Why a client command failed. Every variant exits 2 (1 is kept for "a
/// signature is invalid").
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// The service answered a problem (`application/problem+json`).
    #[error("{code}: {detail} (HTTP {status}){hint}")]
    Problem {
        /// HTTP status.
        status: u16,
        /// The problem's stable `code`.
        code: String,
        /// The problem's `detail`.
        detail: String,
        /// What to do about it, when the client knows (starts with a
        /// newline, or is empty).
        hint: String,
    },
    /// The service answered an error that is not a problem (a proxy's
    /// page, say).
    #[error("the server answered HTTP {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// No answer: connection refused, DNS, TLS, timeout.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The service's URL.
        url: String,
        /// reqwest's account of it, with its causes.
        reason: String,
    },
    /// An answer that does not have the shape the API documents.
    #[error("unexpected answer from {path}: {reason}")]
    Unexpected {
        /// The request path.
        path: String,
        /// What was wrong with it.
        reason: String,
    },
    /// No server or no credentials configured.
    #[error("not logged in: run `sigil login --url URL` (or set SIGIL_URL and SIGIL_TOKEN){0}")]
    NotLoggedIn(String),
    /// The command line or an input file asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// A local file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// Which file, doing what.
        context: String,
        /// Why.
        source: std::io::Error,
    },
    /// Writing to standard output failed (a closed pipe, mostly).
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
}

impl ClientError {
    /// A local file error with its context.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// The problem's code, if the service answered one.
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            Self::Problem { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, if the service answered.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Self::Problem { status, .. } | Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Shorthand for the client's results.
pub(crate) type Result<T, E = ClientError> = std::result::Result<T, E>;
