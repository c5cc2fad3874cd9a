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

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// Marks a sealed key (and its format version).
const MAGIC: &[u8; 4] = b"SGK1";
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
