//! The in-isolate caches of the records the service hot path reads, so that a request with
//! warm caches makes no storage read. Entries live `ttl_ms`, which bounds how long a deleted
//! credential or user, or a token revoked elsewhere, can still be honoured by an isolate that
//! did not see the change.
//!
//! Each cache is bounded and, when full, evicts its least-recently-used entry ([`lru`]): a
//! burst of new keys costs the coldest entries, never the ones in use. Concurrent misses for
//! one key make one storage read ([`flight`]): the runtimes interleave an isolate's requests at
//! their awaits, and a second request for a key being loaded awaits that load.
//!
//! The isolate's per-credential rate counts live here too ([`IsolateCounts`]), bounded the same
//! way.
//!
//! The clock is passed in. Interior mutability because the runtimes keep one gateway per
//! isolate and run requests on one thread.

mod counts;
mod flight;
pub(crate) mod lru;

pub use counts::IsolateCounts;
pub(crate) use lru::Lru;

use crate::error::StoreError;
pub(crate) use flight::{Flight, Landed};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;

/// Entries kept per cache; past it, the least recently used goes (bounds memory on a
/// long-lived isolate).
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
    entries: RefCell<Lru<String, (V, u64)>>,
    /// Loads in progress, by key.
    flights: RefCell<HashMap<String, Rc<Flight>>>,
    /// Whether a miss may await another request's load of the same key (see
    /// [`crate::config::GatewayConfig::shared_loads`]); when not, every miss reads for itself.
    shared_loads: bool,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl_ms: u64) -> Self {
        TtlCache::with_capacity(ttl_ms, MAX_ENTRIES)
    }

    pub fn with_capacity(ttl_ms: u64, capacity: usize) -> Self {
        TtlCache {
            ttl_ms,
            entries: RefCell::new(Lru::new(capacity)),
            flights: RefCell::new(HashMap::new()),
            shared_loads: true,
        }
    }

    /// Every miss reads for itself, never awaiting another request's load (for runtimes that
    /// cancel a request waiting on another request's I/O, as workerd does).
    pub fn without_shared_loads(mut self) -> Self {
        self.shared_loads = false;
        self
    }

    /// The cached value, if fresh at `now_ms`.
    pub fn get(&self, key: &str, now_ms: u64) -> Option<V> {
        let mut entries = self.entries.borrow_mut();
        let (value, stored_at) = entries.get(key)?;
        (now_ms < stored_at.saturating_add(self.ttl_ms) && now_ms >= *stored_at)
            .then(|| value.clone())
    }

    pub fn put(&self, key: &str, value: V, now_ms: u64) {
        if self.ttl_ms == 0 {
            return;
        }
        self.entries
            .borrow_mut()
            .insert(key.to_owned(), (value, now_ms));
    }

    /// Forgets `key` at once; a load of it in progress still answers its waiters but is not
    /// cached (it may have read the record from before the change).
    pub fn invalidate(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
        self.flights.borrow_mut().remove(key);
    }

    /// The value for `key`: cached, or awaited from a load of it already in progress, or
    /// loaded by `load` (and cached when the load succeeds). A failed load is not cached; its
    /// error goes to every request that awaited it. (With caching off, a TTL of 0, concurrent
    /// misses each read.)
    pub async fn get_or_load<F, Fut>(
        &self,
        key: &str,
        now_ms: u64,
        load: F,
    ) -> Result<V, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, StoreError>>,
    {
        loop {
            if let Some(hit) = self.get(key, now_ms) {
                return Ok(hit);
            }
            // Without shared loads this request reads for itself; its flight is still
            // registered, so an invalidation during the read keeps the result out of the cache.
            let in_flight = match self.shared_loads {
                true => self.flights.borrow().get(key).cloned(),
                false => None,
            };
            let Some(flight) = in_flight else { break };
            match flight.wait().await {
                Landed::Failed(e) => return Err(e),
                // Cached: read it above; abandoned: load it below.
                Landed::Cached | Landed::Abandoned => continue,
            }
        }
        let flight = Rc::new(Flight::default());
        self.flights
            .borrow_mut()
            .insert(key.to_owned(), flight.clone());
        let loading = Loading {
            cache: self,
            key,
            flight,
        };
        let result = load().await;
        loading.land(&result, now_ms);
        result
    }

    /// Unregisters `flight` if it is still the one loading `key`; says whether it was.
    fn detach(&self, key: &str, flight: &Rc<Flight>) -> bool {
        let mut flights = self.flights.borrow_mut();
        let registered = flights.get(key).is_some_and(|f| Rc::ptr_eq(f, flight));
        if registered {
            flights.remove(key);
        }
        registered
    }
}

/// The load a request is making; dropped unfinished (the request was cancelled), it abandons
/// the flight so that its waiters load for themselves.
struct Loading<'c, V: Clone> {
    cache: &'c TtlCache<V>,
    key: &'c str,
    flight: Rc<Flight>,
}

impl<V: Clone> Loading<'_, V> {
    fn land(self, result: &Result<V, StoreError>, now_ms: u64) {
        let registered = self.cache.detach(self.key, &self.flight);
        self.flight.land(match result {
            Ok(value) => {
                // Not cached if the key was invalidated meanwhile: the waiters read it again.
                if registered {
                    self.cache.put(self.key, value.clone(), now_ms);
                }
                Landed::Cached
            }
            Err(e) => Landed::Failed(e.clone()),
        });
    }
}

impl<V: Clone> Drop for Loading<'_, V> {
    fn drop(&mut self) {
        if !self.flight.is_landed() {
            self.cache.detach(self.key, &self.flight);
            self.flight.land(Landed::Abandoned);
        }
    }
}

#[cfg(test)]
mod tests;
