//! A small in-isolate cache of the records the service hot path reads, so that a request with
//! warm caches makes no storage read. Entries live `ttl_ms`, which bounds how long a deleted
//! credential or user can still be honoured by an isolate that did not see the deletion.
//!
//! The clock is passed in. Interior mutability because the runtimes keep one gateway per
//! isolate and run requests on one thread.

use std::cell::RefCell;
use std::collections::HashMap;

/// Entries kept per map before the cache starts over (bounds memory on a long-lived isolate).
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// What the admin API tells the isolate's caches after a change, so that the isolate that
/// made it never serves the old record (other isolates catch up within the TTL). The admin
/// API knows only this trait, not the caches behind it.
pub trait CacheInvalidation {
    /// A credential was created, deleted, or lost its user.
    fn credential_changed(&self, client_id: &str);
    /// A service was created or deleted.
    fn service_changed(&self, name: &str);
}

pub struct TtlCache<V> {
    ttl_ms: u64,
    entries: RefCell<HashMap<String, (V, u64)>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl_ms: u64) -> Self {
        TtlCache {
            ttl_ms,
            entries: RefCell::new(HashMap::new()),
        }
    }

    /// The cached value, if fresh at `now_ms`.
    pub fn get(&self, key: &str, now_ms: u64) -> Option<V> {
        let entries = self.entries.borrow();
        let (value, stored_at) = entries.get(key)?;
        (now_ms < stored_at.saturating_add(self.ttl_ms) && now_ms >= *stored_at)
            .then(|| value.clone())
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

    #[test]
    fn a_clock_that_went_backwards_misses() {
        let c = TtlCache::new(1000);
        c.put("k", 1, 5000);
        assert_eq!(c.get("k", 4000), None);
    }

    #[test]
    fn a_full_cache_starts_over_instead_of_growing() {
        let c = TtlCache::new(1000);
        for i in 0..MAX_ENTRIES {
            c.put(&i.to_string(), i, 0);
        }
        c.put("new", 0, 0);
        assert_eq!(c.get("1", 0), None);
        assert_eq!(c.get("new", 0), Some(0));
    }
}
