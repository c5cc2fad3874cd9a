//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes,
//! 1 lane), computed on blocking threads and bounded in concurrency so a
//! burst of logins cannot starve the runtime or exhaust memory. A request
//! waits at most [`MAX_QUEUE_WAIT`] for a turn; past that the host answers
//! 503 rather than letting a queue of hashes grow without bound.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::identity::InputError;

/// Why hashing failed (never "wrong password": that is `Ok(false)`).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot stayed busy for [`MAX_QUEUE_WAIT`].
    #[error("password hashing is saturated")]
    Busy,
    /// The hash could not be computed or parsed.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// How long a request waits for a hashing slot before giving up.
pub const MAX_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The hasher.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when a username does
    /// not exist so that both cases cost the same.
    decoy: Arc<String>,
}

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest password accepted (argon2 takes any length; bound the work).
pub const MAX_PASSWORD_LEN: usize = 256;

/// A password that passed the rule: [`MIN_PASSWORD_LEN`] to
/// [`MAX_PASSWORD_LEN`] characters. Its `Debug` does not show it.
pub struct Password(String);

impl Password {
    /// Check `password` against the rule.
    pub fn parse(password: String) -> Result<Self, InputError> {
        let chars = password.chars().count();
        if (MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&chars) {
            Ok(Self(password))
        } else {
            Err(InputError::Password)
        }
    }

    /// The password, for hashing (`Passwords::hash`).
    pub fn expose(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params =
        Params::new(19 * 1024, 2, 1, None).map_err(|e| HashError::Failed(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

impl Passwords {
    /// A hasher running at most `concurrency` hashes at once (0: one per core).
    pub fn new(concurrency: usize) -> Result<Self, HashError> {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            concurrency
        };
        let decoy = argon2()?
            .hash_password(uuid::Uuid::new_v4().to_string().as_bytes())
            .map_err(|e| HashError::Failed(e.to_string()))?
            .to_string();
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            decoy: Arc::new(decoy),
        })
    }

    /// Wait (bounded) for a hashing slot.
    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, HashError> {
        match tokio::time::timeout(MAX_QUEUE_WAIT, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(e)) => Err(HashError::Failed(e.to_string())),
            Err(_) => Err(HashError::Busy),
        }
    }

    /// Hash a password (PHC string).
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let _permit = self.turn().await?;
        tokio::task::spawn_blocking(move || {
            argon2()?
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| HashError::Failed(e.to_string()))
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))?
    }

    /// Check a password against a stored hash; with no hash (unknown user)
    /// the decoy is checked instead and the answer is `false`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let _permit = self.turn().await?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.decoy.as_str().to_owned());
        let matches = tokio::task::spawn_blocking(move || {
            argon2().map(|a| {
                a.verify_password(password.as_bytes(), hash.as_str())
                    .is_ok()
            })
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))??;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_rule_counts_characters() {
        assert!(Password::parse("é".repeat(MIN_PASSWORD_LEN)).is_ok());
        assert!(Password::parse("x".repeat(MAX_PASSWORD_LEN)).is_ok());
        for bad in [
            "x".repeat(MIN_PASSWORD_LEN - 1),
            "x".repeat(MAX_PASSWORD_LEN + 1),
        ] {
            assert!(matches!(Password::parse(bad), Err(InputError::Password)));
        }
        let shown = format!("{:?}", Password::parse("correct horse battery".into()));
        assert!(!shown.contains("horse"), "{shown}");
    }
}
