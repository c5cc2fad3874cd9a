//! Why a verification produced no answer, with the stable codes clients
//! see and the rule for what they may read of it.

use super::ItemError;
use super::recorder::RecordError;
use crate::plugins::{ContractError, PluginError, Verdict, internal_detail};
use crate::store::StoreError;

/// Why a verification produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The request is malformed or asks for something unsupported.
    #[error("{detail}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// What to fix.
        detail: String,
        /// Malformed (400) rather than unacceptable (422).
        malformed: bool,
    },
    /// No such key, or not the caller's.
    #[error("no such public key")]
    KeyNotFound,
    /// The key is revoked.
    #[error("the public key has been revoked")]
    KeyRevoked,
    /// The key is past its expiry.
    #[error("the public key has expired")]
    KeyExpired,
    /// The key's curve is disabled.
    #[error("curve {0} is disabled")]
    CurveDisabled(String),
    /// No loaded plugin serves the key's algorithm and curve.
    #[error("no plugin serves {0}")]
    PluginUnavailable(String),
    /// The plugin refused the input.
    #[error(transparent)]
    Refused(#[from] ContractError),
    /// The plugin failed (trap, timeout, memory).
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record could not be stored, so no answer is given.
    #[error("the verification could not be recorded: {0}")]
    Recording(RecordError),
}

impl VerifyError {
    pub(crate) fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        VerifyError::Invalid {
            code,
            detail: detail.into(),
            malformed: false,
        }
    }

    pub(crate) fn malformed(code: &'static str, detail: impl Into<String>) -> Self {
        VerifyError::Invalid {
            code,
            detail: detail.into(),
            malformed: true,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Invalid { code, .. } => code,
            VerifyError::KeyNotFound => "key_not_found",
            VerifyError::KeyRevoked => "key_revoked",
            VerifyError::KeyExpired => "key_expired",
            VerifyError::CurveDisabled(_) => "curve_disabled",
            VerifyError::PluginUnavailable(_) => "plugin_unavailable",
            VerifyError::Refused(e) => e.code(),
            VerifyError::Plugin(e) => e.code(),
            VerifyError::Store(StoreError::Unavailable(_)) | VerifyError::Recording(_) => {
                "recording_unavailable"
            }
            VerifyError::Store(_) => "internal_error",
        }
    }

    /// Whether the failure's text is for operators only: a trap's message
    /// and backtrace, a contract violation, a plugin's internal fault and
    /// database errors are logged, never shown to clients.
    pub fn is_internal(&self) -> bool {
        match self {
            VerifyError::Store(_) => true,
            VerifyError::Refused(e) => e.is_internal(),
            VerifyError::Plugin(e) => e.is_internal(),
            _ => false,
        }
    }

    /// The detail a client sees: the message itself, or for internal
    /// failures a generic sentence naming only the code.
    pub fn client_detail(&self) -> String {
        if self.is_internal() {
            internal_detail(self.code())
        } else {
            self.to_string()
        }
    }

    /// The same key failure for another item of a batch that uses the key:
    /// key failures carry no payload worth sharing, so they are rebuilt.
    pub(super) fn for_another_item(&self) -> Self {
        match self {
            VerifyError::KeyRevoked => VerifyError::KeyRevoked,
            VerifyError::KeyExpired => VerifyError::KeyExpired,
            VerifyError::CurveDisabled(c) => VerifyError::CurveDisabled(c.clone()),
            VerifyError::PluginUnavailable(p) => VerifyError::PluginUnavailable(p.clone()),
            other => VerifyError::invalid("key_unusable", other.to_string()),
        }
    }
}

/// A plugin's answer with both layers of failure as one error: the
/// sandbox's (`PluginError`) and the plugin's refusal (`ContractError`).
pub(super) fn verdict(
    answer: Result<Result<Verdict, ContractError>, PluginError>,
) -> Result<Verdict, VerifyError> {
    Ok(answer??)
}

impl From<&VerifyError> for ItemError {
    /// An item's error as the client sees it: internal failures are
    /// logged and reported without their details, as single requests are.
    fn from(error: &VerifyError) -> Self {
        if error.is_internal() {
            tracing::error!(%error, code = error.code(), "batch item failed internally");
        }
        ItemError {
            code: error.code().to_owned(),
            detail: error.client_detail(),
        }
    }
}
