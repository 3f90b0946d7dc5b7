//! [`IsolateCounts`]: the per-credential rate counts of an isolate whose memory outlives its
//! requests (Workers; [`crate::capability::InstanceMemory::Kept`]). What is counted and
//! decided is [`crate::rate_limit`]'s; this keeps the counts.

use super::{Lru, MAX_ENTRIES};
use crate::rate_limit::{Count, RateLimit};
use std::cell::RefCell;

/// One count per (service, credential) with a window, in the isolate's memory: no storage read,
/// and no allocation for a pair already counted. Bounded like the caches (`MAX_ENTRIES`, 10,000
/// pairs): past it the least recently counted pair is forgotten and, should it come back,
/// starts a fresh window. Under memory pressure the limit errs towards admitting, never
/// towards refusing. A count is read and written with no await in between, so requests that
/// an isolate interleaves never lose one.
pub struct IsolateCounts {
    inner: RefCell<Counts>,
}

struct Counts {
    /// Keyed by `client_id '\n' service`: client ids and service names never hold a newline
    /// (`admin::create::new_client_id`, DNS labels), so no two pairs share a key.
    by_key: Lru<String, Count>,
    /// The key being looked up, built here so that a lookup allocates nothing.
    scratch: String,
}

impl Default for IsolateCounts {
    fn default() -> Self {
        IsolateCounts::with_capacity(MAX_ENTRIES)
    }
}

impl IsolateCounts {
    pub fn new() -> IsolateCounts {
        IsolateCounts::default()
    }

    pub fn with_capacity(pairs: usize) -> IsolateCounts {
        IsolateCounts {
            inner: RefCell::new(Counts {
                by_key: Lru::new(pairs),
                scratch: String::new(),
            }),
        }
    }

    /// Counts one request of `client_id` to `service` at `now_ms`; returns the count.
    pub fn hit(&self, limit: RateLimit, service: &str, client_id: &str, now_ms: u64) -> Count {
        let mut inner = self.inner.borrow_mut();
        let Counts { by_key, scratch } = &mut *inner;
        scratch.clear();
        scratch.push_str(client_id);
        scratch.push('\n');
        scratch.push_str(service);
        if let Some(count) = by_key.get_mut(scratch.as_str()) {
            *count = limit.count(Some(*count), client_id, now_ms);
            return *count;
        }
        let count = limit.count(None, client_id, now_ms);
        by_key.insert(scratch.clone(), count);
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn five_per_second() -> RateLimit {
        RateLimit::parse("5/s").unwrap()
    }

    #[test]
    fn each_credential_and_each_service_is_counted_apart() {
        let counts = IsolateCounts::new();
        let l = five_per_second();
        for _ in 0..7 {
            counts.hit(l, "svc-a", "alice", T0);
        }
        assert_eq!(counts.hit(l, "svc-a", "alice", T0).hits, 8);
        assert_eq!(
            counts.hit(l, "svc-a", "bob", T0).hits,
            1,
            "another credential"
        );
        assert_eq!(
            counts.hit(l, "svc-b", "alice", T0).hits,
            1,
            "another service"
        );
        assert_eq!(counts.hit(l, "svc-a", "alice", T0).hits, 9);
    }

    #[test]
    fn a_full_isolate_forgets_the_least_recently_counted_pair_which_starts_afresh() {
        let counts = IsolateCounts::with_capacity(3);
        let l = five_per_second();
        for client in ["a", "b", "c", "a"] {
            counts.hit(l, "s", client, T0);
        }
        counts.hit(l, "s", "d", T0); // full: "b" was counted least recently
        assert_eq!(counts.hit(l, "s", "a", T0).hits, 3);
        assert_eq!(
            counts.hit(l, "s", "b", T0).hits,
            1,
            "forgotten: admitted afresh"
        );
        assert_eq!(counts.inner.borrow().by_key.len(), 3);
    }
}
