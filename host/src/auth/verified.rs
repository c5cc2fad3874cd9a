//! Access tokens whose signature and claims have already been checked on
//! this host, so that a client presenting the same token again costs a hash
//! lookup instead of an Ed25519 verification and a JSON parse (about 60 µs,
//! a large share of a request's fixed cost).
//!
//! Entries are keyed by the SHA-256 of the whole compact token: any changed
//! byte is a miss and gets the full check. An entry answers only while the
//! token is unexpired and the key that signed it still verifies; revocation
//! and the user's status are checked on every request after this, so the
//! cache never extends what a token can do.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::tokens::{Claims, LEEWAY_SECS};

/// Least time between two sweeps of expired entries when the cache is full.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A bounded map from token hash to the claims it was verified with.
pub struct VerifiedTokens {
    capacity: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    entries: HashMap<[u8; 32], Entry>,
    last_sweep: Option<Instant>,
}

struct Entry {
    kid: String,
    claims: Claims,
}

impl Entry {
    /// Whether the token is still within `exp` (and its leeway) at `now`;
    /// stricter by a second than the full check, never looser.
    fn live(&self, now: i64) -> bool {
        now < self.claims.exp.saturating_add(LEEWAY_SECS as i64)
    }
}

impl VerifiedTokens {
    /// A cache holding at most `capacity` tokens (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                last_sweep: None,
            }),
        }
    }

    /// The claims `token` was verified with, if it was, is unexpired at
    /// `now` (seconds since the epoch) and `key_verifies` still accepts the
    /// key id that signed it.
    pub fn get(
        &self,
        token: &str,
        now: i64,
        key_verifies: impl Fn(&str) -> bool,
    ) -> Option<Claims> {
        if self.capacity == 0 {
            return None;
        }
        let hash = digest(token);
        let mut inner = self.inner.lock().ok()?;
        let entry = inner.entries.get(&hash)?;
        if entry.live(now) && key_verifies(&entry.kid) {
            return Some(entry.claims.clone());
        }
        inner.entries.remove(&hash);
        None
    }

    /// Remember that `token`, signed by `kid`, verified with `claims`. When
    /// the cache is full, expired entries are swept (at most once per
    /// second); if none can go, the token is simply not cached.
    pub fn insert(&self, token: &str, kid: &str, claims: &Claims, now: i64) {
        if self.capacity == 0 {
            return;
        }
        let hash = digest(token);
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.entries.len() >= self.capacity {
            if inner
                .last_sweep
                .is_some_and(|at| at.elapsed() < SWEEP_INTERVAL)
            {
                return;
            }
            inner.last_sweep = Some(Instant::now());
            inner.entries.retain(|_, entry| entry.live(now));
            if inner.entries.len() >= self.capacity {
                return;
            }
        }
        inner.entries.insert(
            hash,
            Entry {
                kid: kid.to_owned(),
                claims: claims.clone(),
            },
        );
    }

    /// How many tokens are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().map_or(0, |inner| inner.entries.len())
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "sigil".into(),
            aud: "sigil-api".into(),
            sub: Uuid::new_v4(),
            exp,
            nbf: exp - 900,
            iat: exp - 900,
            jti: Uuid::new_v4(),
            sid: Uuid::new_v4(),
        }
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn answers_only_the_exact_token() {
        let cache = VerifiedTokens::new(8);
        let c = claims(NOW + 600);
        cache.insert("aaa.bbb.ccc", "k1", &c, NOW);
        assert_eq!(cache.get("aaa.bbb.ccc", NOW, |_| true), Some(c));
        assert_eq!(cache.get("aaa.bbb.ccd", NOW, |_| true), None);
        assert_eq!(cache.get("aaa.bbb.cc", NOW, |_| true), None);
    }

    #[test]
    fn expired_tokens_are_dropped() {
        let cache = VerifiedTokens::new(8);
        let c = claims(NOW);
        cache.insert("t", "k1", &c, NOW - 100);
        let leeway = LEEWAY_SECS as i64;
        assert!(cache.get("t", NOW + leeway - 1, |_| true).is_some());
        assert!(cache.get("t", NOW + leeway, |_| true).is_none());
        assert_eq!(cache.len(), 0, "an expired entry is removed when seen");
    }

    #[test]
    fn a_retired_signing_key_ends_its_tokens() {
        let cache = VerifiedTokens::new(8);
        cache.insert("t", "k1", &claims(NOW + 600), NOW);
        assert!(cache.get("t", NOW, |kid| kid == "k2").is_none());
        assert!(cache.get("t", NOW, |_| true).is_none(), "and stays gone");
    }

    #[test]
    fn a_full_cache_sweeps_expired_entries_then_stops_growing() {
        let cache = VerifiedTokens::new(2);
        cache.insert("old", "k", &claims(NOW - 100), NOW - 200);
        cache.insert("live", "k", &claims(NOW + 600), NOW);
        cache.insert("new", "k", &claims(NOW + 600), NOW);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("old", NOW, |_| true).is_none());
        assert!(cache.get("new", NOW, |_| true).is_some());
        // Full of live tokens: the next one is verified every time instead.
        cache.insert("more", "k", &claims(NOW + 600), NOW);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("more", NOW, |_| true).is_none());
    }

    #[test]
    fn capacity_zero_disables_it() {
        let cache = VerifiedTokens::new(0);
        cache.insert("t", "k", &claims(NOW + 600), NOW);
        assert!(cache.get("t", NOW, |_| true).is_none());
    }
}
