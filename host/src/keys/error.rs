//! Why a key was not registered (or its name or metadata not accepted),
//! with the stable codes clients see.

use crate::plugins::{ContractError, PluginError, internal_detail};
use crate::store::StoreError;

/// Why a key was not registered.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The name is empty or longer than 64 characters.
    #[error("a key name is 1-64 characters")]
    InvalidName,
    /// The metadata is not a JSON object, or too large.
    #[error("{0}")]
    InvalidMetadata(String),
    /// `expires_at` is not in the future.
    #[error("expires_at is in the past")]
    InvalidExpiry,
    /// The key data does not decode (not text, not base64, a broken JWK).
    #[error("{0}")]
    MalformedKey(String),
    /// The format is not PEM, DER, raw or JWK (or a JWK of another kind).
    #[error("{0}")]
    UnsupportedKeyFormat(String),
    /// A JWK holding private key material.
    #[error("the JWK holds private key material; upload the public key only")]
    PrivateKeyRefused,
    /// No plugin or catalogue entry for the curve.
    #[error("{0}")]
    UnsupportedCurve(String),
    /// No plugin or catalogue entry for the algorithm.
    #[error("{0}")]
    UnsupportedAlgorithm(String),
    /// The key's curve must be named, or the plugin did not name it.
    #[error("{0}")]
    CurveRequired(&'static str),
    /// The key is on another curve than the one named.
    #[error("the key is on {actual}, not {named}")]
    CurveMismatch {
        /// The curve the request named.
        named: String,
        /// The curve the key is on.
        actual: String,
    },
    /// The key's curve is disabled.
    #[error("curve {0} is disabled")]
    CurveDisabled(String),
    /// The owner already holds `quotas.keys_per_user` keys.
    #[error(
        "the account already holds {0} public keys, its quota; delete a key it no longer needs to make room"
    )]
    QuotaExceeded(u32),
    /// The plugin refused the key.
    #[error(transparent)]
    Refused(#[from] ContractError),
    /// The plugin failed (trap, timeout, memory).
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl KeyError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::InvalidName => "invalid_name",
            KeyError::InvalidMetadata(_) => "invalid_metadata",
            KeyError::InvalidExpiry => "invalid_expiry",
            KeyError::MalformedKey(_) => "malformed_key",
            KeyError::UnsupportedKeyFormat(_) => "unsupported_key_format",
            KeyError::PrivateKeyRefused => "private_key_refused",
            KeyError::UnsupportedCurve(_) => "unsupported_curve",
            KeyError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            KeyError::CurveRequired(_) => "curve_required",
            KeyError::CurveMismatch { .. } => "curve_mismatch",
            KeyError::CurveDisabled(_) => "curve_disabled",
            KeyError::QuotaExceeded(_) => "key_quota_exceeded",
            KeyError::Refused(e) => e.code(),
            KeyError::Plugin(e) => e.code(),
            KeyError::Store(_) => "internal_error",
        }
    }

    /// Whether the failure's text is for operators only (a trap, a contract
    /// violation, a plugin's internal fault, the database).
    pub fn is_internal(&self) -> bool {
        match self {
            KeyError::Store(_) => true,
            KeyError::Refused(e) => e.is_internal(),
            KeyError::Plugin(e) => e.is_internal(),
            _ => false,
        }
    }

    /// The detail a client sees: the message itself, or for internal
    /// failures a generic sentence naming only the code (the same sentence
    /// verification failures use).
    pub fn client_detail(&self) -> String {
        if self.is_internal() {
            internal_detail(self.code())
        } else {
            self.to_string()
        }
    }
}
