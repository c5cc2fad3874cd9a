//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes,
//! 1 lane), computed on blocking threads and bounded in concurrency so a
//! burst of logins cannot starve the runtime or exhaust memory. A request
//! waits at most [`MAX_QUEUE_WAIT`] for a turn; past that the host answers
//! 503 rather than letting a queue of hashes grow without bound.
//!
//! Each hashing slot owns its 19 MiB of argon2 memory for the life of the
//! process. Allocating it per hash let the allocator keep a freed copy in
//! every blocking thread's arena: a login flood took the server from
//! 116 MB to 325-569 MB (`just abuse`), though never more than `slots`
//! hashes ran at once.

use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    /// One argon2 memory per permit: a holder of a permit always finds one.
    memories: Arc<Mutex<Vec<Box<[Block]>>>>,
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

/// The parameters of new hashes.
fn params() -> Result<Params, HashError> {
    Params::new(19 * 1024, 2, 1, None).map_err(failed)
}

fn failed(error: impl std::fmt::Display) -> HashError {
    HashError::Failed(error.to_string())
}

/// A new PHC string for `password`, computed in `memory`.
fn hash_in(password: &[u8], memory: &mut [Block]) -> Result<String, HashError> {
    let params = params()?;
    let salt = argon2::password_hash::generate_salt();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let blocks = memory
        .get_mut(..params.block_count())
        .ok_or_else(|| failed("argon2 memory too small"))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon2
        .hash_password_into_with_memory(password, &salt, &mut out, blocks)
        .map_err(failed)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(failed)?,
        salt: Some(Salt::new(&salt).map_err(failed)?),
        hash: Some(Output::new(&out).map_err(failed)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash` (argon2 of any
/// variant and parameters), computed in `memory` when it is large enough
/// (a stored hash with a larger memory cost gets a memory of its own).
fn verify_in(password: &[u8], hash: &str, memory: &mut [Block]) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(hash).map_err(failed)?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(failed("stored hash has no salt or output"));
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(failed)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(failed)?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(failed)?;
    let mut own;
    let blocks = match memory.get_mut(..params.block_count()) {
        Some(blocks) => blocks,
        None => {
            own = vec![Block::default(); params.block_count()];
            &mut own[..]
        }
    };
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = buffer
        .get_mut(..expected.len())
        .ok_or_else(|| failed("stored hash output too long"))?;
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, out, blocks)
        .map_err(failed)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(out).map_err(failed)? == *expected)
}

/// A fresh argon2 memory of the current parameters' size.
fn memory() -> Result<Box<[Block]>, HashError> {
    Ok(vec![Block::default(); params()?.block_count()].into_boxed_slice())
}

impl Passwords {
    /// A hasher running at most `concurrency` hashes at once (0: one per core).
    pub fn new(concurrency: usize) -> Result<Self, HashError> {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            concurrency
        };
        let mut first = memory()?;
        let decoy = hash_in(uuid::Uuid::new_v4().to_string().as_bytes(), &mut first)?;
        let mut memories = vec![first];
        for _ in 1..concurrency {
            memories.push(memory()?);
        }
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            memories: Arc::new(Mutex::new(memories)),
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

    /// Run `work` on a blocking thread with a slot's memory (the caller
    /// holds a permit, so one is free), then give the memory back.
    async fn with_memory<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let taken = self
            .memories
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut memory = match taken {
            Some(memory) => memory,
            None => memory()?,
        };
        let (memory, outcome) = tokio::task::spawn_blocking(move || {
            let outcome = work(&mut memory);
            (memory, outcome)
        })
        .await
        .map_err(failed)?;
        self.memories
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(memory);
        outcome
    }

    /// Hash a password (PHC string).
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let _permit = self.turn().await?;
        self.with_memory(move |memory| hash_in(password.as_bytes(), memory))
            .await
    }

    /// Check a password against a stored hash; with no hash (unknown user)
    /// the decoy is checked instead and the answer is `false`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let _permit = self.turn().await?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.decoy.as_str().to_owned());
        let matches = self
            .with_memory(move |memory| verify_in(password.as_bytes(), &hash, memory))
            .await?;
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

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_hasher_and_verifier() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let mut memory = memory().expect("memory");
        let ours = hash_in(b"correct horse battery", &mut memory).expect("hash");
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            params().expect("params"),
        );
        assert!(
            theirs
                .verify_password(b"correct horse battery", ours.as_str())
                .is_ok()
        );
        assert!(
            theirs
                .verify_password(b"wrong horse battery", ours.as_str())
                .is_err()
        );
        let standard = theirs
            .hash_password(b"correct horse battery")
            .expect("standard hash")
            .to_string();
        assert!(verify_in(b"correct horse battery", &standard, &mut memory).expect("verify"));
        assert!(!verify_in(b"wrong horse battery", &standard, &mut memory).expect("verify"));
        // Other parameters (a larger memory than a slot holds; argon2i).
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(24 * 1024, 1, 1, None).expect("params"),
        )
        .hash_password(b"correct horse battery")
        .expect("other hash")
        .to_string();
        assert!(verify_in(b"correct horse battery", &other, &mut memory).expect("verify"));
        assert!(!verify_in(b"correct horse batterx", &other, &mut memory).expect("verify"));
    }
}
