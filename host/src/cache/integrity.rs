//! Binding Redis entries to PostgreSQL's generations, so that an entry
//! written before a change (a key revoked, a user suspended, a token
//! revoked) cannot be replayed after it.
//!
//! A [`Generation`] is this host's copy of one row of
//! `cache_generations`, which a trigger bumps in the transaction of every
//! such change. An entry is sealed together with the generation current
//! when its content was read (read *before* the content, so the content is
//! never older than the generation it is sealed with); an entry sealed
//! under an older generation does not open with the current one and is a
//! miss. The copy is forgotten when an invalidation arrives (this host's
//! own changes and other hosts' events) and lives at most
//! [`GENERATION_TTL`] otherwise, which bounds how long a host that lost an
//! event can honour an entry from before the change.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};

use crate::store::integrity::GenerationOf;
use crate::store::{Store, StoreError};

/// Longest a host uses a generation it read without reading it again.
pub const GENERATION_TTL: Duration = Duration::from_secs(1);

type HmacSha256 = hmac::Hmac<sha2::Sha256>;
/// Bytes of a seal.
pub const SEAL_LEN: usize = 32;

/// HMAC-SHA-256 under `key` over `parts`, each length-prefixed.
pub fn seal(key: &[u8], parts: &[&[u8]]) -> Option<[u8; SEAL_LEN]> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).ok()?;
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    let mut tag = [0u8; SEAL_LEN];
    tag.copy_from_slice(&mac.finalize().into_bytes());
    Some(tag)
}

/// Whether `tag` is the seal of `parts` under `key` (constant time).
pub fn opens(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return false;
    };
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.verify_slice(tag).is_ok()
}

/// The name an entry is sealed under when it binds `generation`: the Redis
/// key and the generation, which no real Redis key can spell (NUL).
pub fn bound(key: &str, generation: i64) -> String {
    format!("{key}\0generation={generation}")
}

/// This host's copy of one generation.
#[derive(Debug)]
pub struct Generation {
    of: GenerationOf,
    store: Store,
    known: Mutex<Option<(i64, Instant)>>,
    /// Bumped by [`Generation::forget`]; a read that overlapped one is not
    /// kept.
    forgotten: AtomicU64,
}

impl Generation {
    /// The generation of `of`, read from `store` when needed.
    pub fn new(of: GenerationOf, store: Store) -> Self {
        Self {
            of,
            store,
            known: Mutex::new(None),
            forgotten: AtomicU64::new(0),
        }
    }

    /// The current generation: this host's copy if fresh, else PostgreSQL's.
    pub async fn current(&self) -> Result<i64, StoreError> {
        if let Ok(known) = self.known.lock()
            && let Some((generation, read_at)) = *known
            && read_at.elapsed() < GENERATION_TTL
        {
            return Ok(generation);
        }
        self.fresh().await
    }

    /// PostgreSQL's generation, now (kept as this host's copy).
    pub async fn fresh(&self) -> Result<i64, StoreError> {
        let seen = self.forgotten.load(Ordering::Acquire);
        let read_at = Instant::now();
        let generation = self.store.cache_generation(self.of).await?;
        if let Ok(mut known) = self.known.lock()
            && self.forgotten.load(Ordering::Acquire) == seen
        {
            *known = Some((generation, read_at));
        }
        Ok(generation)
    }

    /// Something changed: the next use reads PostgreSQL.
    pub fn forget(&self) {
        self.forgotten.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut known) = self.known.lock() {
            *known = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_bind_every_part_and_its_boundaries() {
        let key = [7u8; 32];
        let tag = seal(&key, &[b"k", b"v"]).expect("seal");
        assert!(opens(&key, &[b"k", b"v"], &tag));
        assert!(!opens(&key, &[b"kv", b""], &tag), "length-prefixed");
        assert!(!opens(&[8u8; 32], &[b"k", b"v"], &tag), "another key");
        assert!(!opens(&key, &[b"k", b"v"], &tag[1..]));
        assert_ne!(bound("k", 1), bound("k", 2));
    }
}
