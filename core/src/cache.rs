//! A small in-isolate cache of the records the service hot path reads, so that a request with
//! warm caches makes no storage read. Entries live `ttl_ms`, which bounds how long a deleted
//! credential or user can still be honoured by an isolate that did not see the deletion.
//!
//! The clock is passed in. Interior mutability because the runtimes keep one gateway per
//! isolate and run requests on one thread.

use crate::token::{AccessTokenClaims, CLOCK_LEEWAY_SECS};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Entries kept per map before the cache starts over (bounds memory on a long-lived isolate).
const MAX_ENTRIES: usize = 10_000;

pub struct TtlCache<V> {
    ttl_ms: u64,
    entries: RefCell<HashMap<String, (V, u64)>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl_ms: u64) -> Self {
        TtlCache { ttl_ms, entries: RefCell::new(HashMap::new()) }
    }

    /// The cached value, if fresh at `now_ms`.
    pub fn get(&self, key: &str, now_ms: u64) -> Option<V> {
        let entries = self.entries.borrow();
        let (value, stored_at) = entries.get(key)?;
        (now_ms < stored_at.saturating_add(self.ttl_ms) && now_ms >= *stored_at).then(|| value.clone())
    }

    pub fn put(&self, key: &str, value: V, now_ms: u64) {
        if self.ttl_ms == 0 {
            return;
        }
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key.to_owned(), (value, now_ms));
    }

    pub fn invalidate(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
    }
}

/// Tokens whose signature, issuer and audience were verified, by the SHA-256 of the whole
/// token, so that a client reusing its token (the common case: one token for its lifetime)
/// pays a hash instead of an Ed25519 verification on every request.
///
/// Only verified tokens are ever stored, so invalid tokens cannot fill it. Keyed by digest,
/// not by the token, so a lookup's timing says nothing about the bytes of tokens held. What
/// can change while a token is held is checked by the caller on every hit: time (`exp`,
/// `nbf`), credential liveness and the revoked-token set. Entries are dropped once expired;
/// when the map is full it starts over.
pub struct VerifiedTokens {
    entries: RefCell<HashMap<[u8; 32], Rc<AccessTokenClaims>>>,
}

impl VerifiedTokens {
    pub fn new() -> Self {
        VerifiedTokens { entries: RefCell::new(HashMap::new()) }
    }

    pub fn digest(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    pub fn get(&self, digest: &[u8; 32]) -> Option<Rc<AccessTokenClaims>> {
        self.entries.borrow().get(digest).cloned()
    }

    /// Stores a verified token; first drops expired ones (`now` in seconds) when full.
    pub fn put(&self, digest: [u8; 32], claims: Rc<AccessTokenClaims>, now: i64) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, c| now < c.exp + CLOCK_LEEWAY_SECS);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(digest, claims);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.borrow().len()
    }
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let c = TtlCache::new(1000);
        c.put("k", 1, 5000);
        assert_eq!(c.get("k", 5999), Some(1));
        assert_eq!(c.get("k", 6000), None);
    }

    #[test]
    fn invalidation_is_immediate() {
        let c = TtlCache::new(1000);
        c.put("k", 1, 0);
        c.invalidate("k");
        assert_eq!(c.get("k", 1), None);
    }

    #[test]
    fn zero_ttl_disables_caching() {
        let c = TtlCache::new(0);
        c.put("k", 1, 0);
        assert_eq!(c.get("k", 0), None);
    }

    fn claims(exp: i64) -> Rc<AccessTokenClaims> {
        Rc::new(AccessTokenClaims {
            iss: "i".into(),
            sub: "u".into(),
            aud: "i".into(),
            exp,
            iat: 0,
            nbf: None,
            jti: "j".into(),
            client_id: "c".into(),
            scope: String::new(),
        })
    }

    #[test]
    fn verified_tokens_are_found_by_the_digest_of_the_whole_token() {
        let cache = VerifiedTokens::new();
        cache.put(VerifiedTokens::digest("a.b.c"), claims(100), 0);
        assert_eq!(cache.get(&VerifiedTokens::digest("a.b.c")).map(|c| c.exp), Some(100));
        assert!(cache.get(&VerifiedTokens::digest("a.b.d")).is_none(), "a token differing in one byte misses");
    }

    #[test]
    fn a_full_verified_token_cache_drops_expired_tokens_first() {
        let cache = VerifiedTokens::new();
        for i in 0..MAX_ENTRIES {
            let exp = if i % 2 == 0 { 10 } else { 1_000 };
            cache.put(VerifiedTokens::digest(&i.to_string()), claims(exp), 0);
        }
        cache.put(VerifiedTokens::digest("new"), claims(1_000), 10 + CLOCK_LEEWAY_SECS);
        assert_eq!(cache.len(), MAX_ENTRIES / 2 + 1);
        assert!(cache.get(&VerifiedTokens::digest("1")).is_some(), "live tokens are kept");
        assert!(cache.get(&VerifiedTokens::digest("0")).is_none(), "expired tokens are dropped");
    }

    #[test]
    fn a_clock_that_went_backwards_misses() {
        let c = TtlCache::new(1000);
        c.put("k", 1, 5000);
        assert_eq!(c.get("k", 4000), None);
    }
}
