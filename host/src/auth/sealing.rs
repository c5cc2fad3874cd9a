//! Token signing keys at rest. With `auth.signing_key_secret` set, a private
//! key is sealed with XChaCha20-Poly1305 under a key derived from that
//! secret, which lives outside the database: a dump, a backup or read
//! access to PostgreSQL then does not let anyone mint tokens. The row's
//! `kid` is the associated data, so a sealed key cannot be moved to another
//! row. The sealing key is derived with argon2id (OWASP parameters, fixed
//! salt), so a weak secret is still slow to guess from a stolen row.
//!
//! Stored form: `SGK1` || 24-byte random nonce || ciphertext and tag. A key
//! written while no secret was configured is plain PKCS#8 DER (it starts
//! with 0x30) and is still read, so a secret can be introduced at any time;
//! keys rotate out within `auth.signing_key_rotation_secs`.
//!
//! The same sealer keeps the deployment secrets (`deployment_secrets`; the
//! Redis sealing key `cache_mac`) out of the clear: stored form `SDS1` ||
//! nonce || ciphertext and tag, the associated data naming the secret, so
//! a sealed signing key and a sealed secret cannot stand in for each
//! other. [`cache_seal_key`] creates the Redis sealing key, or opens it,
//! and re-wraps one that an older version stored in the clear.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::store::{Store, StoreError};

/// Marks a sealed key (and its format version).
const MAGIC: &[u8; 4] = b"SGK1";
/// Marks a sealed deployment secret.
const SECRET_MAGIC: &[u8; 4] = b"SDS1";
/// Length of a deployment secret.
const SECRET_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// The derivation's salt: fixed, so every host derives the same key, and
/// specific to this use.
const SALT: &[u8] = b"sigil/jwt-signing-key-seal/v1";

/// Why a stored key cannot be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The key is sealed and this host has no secret.
    #[error("the key is sealed and auth.signing_key_secret is not set")]
    NoSecret,
    /// Wrong secret, another row's key, or damaged bytes.
    #[error("the sealed key does not open with this secret (another secret, or altered)")]
    DoesNotOpen,
    /// Neither a sealed key nor PKCS#8 DER.
    #[error("the stored key is in no known form")]
    UnknownForm,
    /// Deriving the sealing key or encrypting failed.
    #[error("sealing: {0}")]
    Crypto(String),
}

/// Seals and opens signing keys with the configured secret.
pub struct KeySealer {
    cipher: Option<XChaCha20Poly1305>,
}

impl KeySealer {
    /// A sealer for `secret`; an empty secret stores keys unsealed.
    /// Derivation takes tens of milliseconds: build one at start.
    pub fn new(secret: &str) -> Result<Self, SealError> {
        if secret.is_empty() {
            return Ok(Self { cipher: None });
        }
        let mut key = [0u8; 32];
        argon2::Argon2::default()
            .hash_password_into(secret.as_bytes(), SALT, &mut key)
            .map_err(|e| SealError::Crypto(e.to_string()))?;
        Ok(Self {
            cipher: Some(XChaCha20Poly1305::new(&key.into())),
        })
    }

    /// Whether new keys are sealed.
    pub fn seals(&self) -> bool {
        self.cipher.is_some()
    }

    /// The form to store `private_der` (the key of row `kid`) in.
    pub fn seal(&self, kid: &str, private_der: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some(cipher) = &self.cipher else {
            return Ok(private_der.to_vec());
        };
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let payload = Payload {
            msg: private_der,
            aad: kid.as_bytes(),
        };
        let sealed = cipher
            .encrypt(&XNonce::from(nonce), payload)
            .map_err(|e| SealError::Crypto(e.to_string()))?;
        Ok([MAGIC.as_slice(), &nonce, &sealed].concat())
    }

    /// The stored form of deployment secret `name` (sealed when a secret
    /// is configured).
    pub fn seal_secret(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some(cipher) = &self.cipher else {
            return Ok(value.to_vec());
        };
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let aad = format!("deployment_secret:{name}");
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: value,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|e| SealError::Crypto(e.to_string()))?;
        Ok([SECRET_MAGIC.as_slice(), &nonce, &sealed].concat())
    }

    /// Deployment secret `name` from its stored form, and whether that form
    /// was the clear one (written before secrets were sealed, or without a
    /// configured secret).
    pub fn open_secret(&self, name: &str, stored: &[u8]) -> Result<(Vec<u8>, bool), SealError> {
        let Some(rest) = stored.strip_prefix(SECRET_MAGIC.as_slice()) else {
            return if stored.len() == SECRET_LEN {
                Ok((stored.to_vec(), true))
            } else {
                Err(SealError::UnknownForm)
            };
        };
        let cipher = self.cipher.as_ref().ok_or(SealError::NoSecret)?;
        if rest.len() < NONCE_LEN {
            return Err(SealError::DoesNotOpen);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::DoesNotOpen)?;
        let aad = format!("deployment_secret:{name}");
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map(|value| (value, false))
            .map_err(|_| SealError::DoesNotOpen)
    }

    /// The PKCS#8 DER of a stored key.
    pub fn open(&self, kid: &str, stored: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some(rest) = stored.strip_prefix(MAGIC.as_slice()) else {
            return match stored.first() {
                Some(0x30) => Ok(stored.to_vec()),
                _ => Err(SealError::UnknownForm),
            };
        };
        let cipher = self.cipher.as_ref().ok_or(SealError::NoSecret)?;
        if rest.len() < NONCE_LEN {
            return Err(SealError::DoesNotOpen);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::DoesNotOpen)?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| SealError::DoesNotOpen)
    }
}

/// Why the Redis sealing key is not available.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The stored secret does not open.
    #[error("deployment secret {name}: {source}")]
    Seal {
        /// Which secret.
        name: &'static str,
        /// Why.
        source: SealError,
    },
    /// PostgreSQL failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The key that seals Redis entries (`deployment_secrets.cache_mac`),
/// created by the first host that asks. Stored sealed with
/// `auth.signing_key_secret`; a row an older version wrote in the clear is
/// re-wrapped in place (compare-and-swap, so hosts starting together agree).
pub async fn cache_seal_key(store: &Store, sealer: &KeySealer) -> Result<Vec<u8>, SecretError> {
    const NAME: &str = "cache_mac";
    let seal_error = |source| SecretError::Seal { name: NAME, source };
    let mut fresh = [0u8; SECRET_LEN];
    rand::fill(&mut fresh);
    let stored = store
        .deployment_secret_stored(NAME, &sealer.seal_secret(NAME, &fresh).map_err(seal_error)?)
        .await?;
    let (key, clear) = sealer.open_secret(NAME, &stored).map_err(seal_error)?;
    if clear && sealer.seals() {
        let wrapped = sealer.seal_secret(NAME, &key).map_err(seal_error)?;
        if store
            .rewrap_deployment_secret(NAME, &stored, &wrapped)
            .await?
        {
            tracing::info!("the Redis sealing key is now sealed with auth.signing_key_secret");
        }
    } else if clear {
        tracing::warn!(
            "auth.signing_key_secret is not set: the Redis sealing key is stored in the clear"
        );
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DER: &[u8] = &[0x30, 0x2e, 0x02, 0x01, 0x00, 0xaa, 0xbb, 0xcc];
    const SECRET: &str = "a secret of at least thirty-two characters";

    #[test]
    fn sealed_keys_open_only_with_the_same_secret_and_kid() {
        let sealer = KeySealer::new(SECRET).expect("sealer");
        let stored = sealer.seal("kid-1", DER).expect("seal");
        assert!(stored.starts_with(MAGIC));
        assert!(
            !stored.windows(DER.len()).any(|w| w == DER),
            "the key is not stored in the clear"
        );
        assert_eq!(sealer.open("kid-1", &stored), Ok(DER.to_vec()));
        assert_eq!(
            sealer.open("kid-2", &stored),
            Err(SealError::DoesNotOpen),
            "bound to its row"
        );
        let other = KeySealer::new("another secret of thirty-two characters!").expect("sealer");
        assert_eq!(other.open("kid-1", &stored), Err(SealError::DoesNotOpen));
        assert_eq!(
            KeySealer::new("").expect("sealer").open("kid-1", &stored),
            Err(SealError::NoSecret)
        );
    }

    #[test]
    fn altered_sealed_keys_do_not_open() {
        let sealer = KeySealer::new(SECRET).expect("sealer");
        let stored = sealer.seal("kid", DER).expect("seal");
        for at in [4, 4 + NONCE_LEN, stored.len() - 1] {
            let mut altered = stored.clone();
            altered[at] ^= 1;
            assert_eq!(sealer.open("kid", &altered), Err(SealError::DoesNotOpen));
        }
        assert_eq!(
            sealer.open("kid", &stored[..10]),
            Err(SealError::DoesNotOpen)
        );
    }

    #[test]
    fn deployment_secrets_are_sealed_bound_to_their_name_and_read_in_the_clear() {
        let sealer = KeySealer::new(SECRET).expect("sealer");
        let value = [9u8; SECRET_LEN];
        let stored = sealer.seal_secret("cache_mac", &value).expect("seal");
        assert!(stored.starts_with(SECRET_MAGIC));
        assert!(
            !stored.windows(8).any(|w| w == &value[..8]),
            "not in the clear"
        );
        assert_eq!(
            sealer.open_secret("cache_mac", &stored),
            Ok((value.to_vec(), false))
        );
        assert_eq!(
            sealer.open_secret("other", &stored),
            Err(SealError::DoesNotOpen)
        );
        assert_eq!(
            sealer.open("cache_mac", &stored),
            Err(SealError::UnknownForm),
            "not a signing key"
        );
        assert_eq!(
            sealer.open_secret("cache_mac", &value),
            Ok((value.to_vec(), true)),
            "an old row in the clear still reads"
        );
        let plain = KeySealer::new("").expect("sealer");
        assert_eq!(plain.seal_secret("cache_mac", &value), Ok(value.to_vec()));
        assert_eq!(
            plain.open_secret("cache_mac", &stored),
            Err(SealError::NoSecret)
        );
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let sealer = KeySealer::new(SECRET).expect("sealer");
        assert_ne!(sealer.seal("kid", DER), sealer.seal("kid", DER));
    }

    #[test]
    fn plain_keys_are_stored_and_read_without_a_secret() {
        let plain = KeySealer::new("").expect("sealer");
        assert!(!plain.seals());
        assert_eq!(plain.seal("kid", DER), Ok(DER.to_vec()));
        assert_eq!(plain.open("kid", DER), Ok(DER.to_vec()));
        // A plain key written before a secret was set still reads.
        assert_eq!(
            KeySealer::new(SECRET).expect("sealer").open("kid", DER),
            Ok(DER.to_vec())
        );
        assert_eq!(plain.open("kid", b"junk"), Err(SealError::UnknownForm));
    }
}
