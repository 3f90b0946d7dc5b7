//! Unit tests of the TTL, the LRU bound and single-flight loads.

use super::*;
use std::cell::Cell;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

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
fn a_full_cache_evicts_its_least_recently_used_entry_not_everything() {
    let c = TtlCache::with_capacity(1000, 3);
    for k in ["a", "b", "c"] {
        c.put(k, k, 0);
    }
    assert_eq!(c.get("a", 0), Some("a"), "a is now the most recently used");
    c.put("d", "d", 0);
    assert_eq!(c.get("b", 0), None, "b was the least recently used");
    for k in ["a", "c", "d"] {
        assert_eq!(c.get(k, 0), Some(k));
    }
}

#[test]
fn a_burst_of_new_keys_never_evicts_an_entry_in_use() {
    // The attack of issue #10: random in-scope service names fill the cache. An entry used
    // between the misses stays; the cache never holds more than its bound.
    let c = TtlCache::with_capacity(1000, 100);
    c.put("my-api", 1, 0);
    for i in 0..10_000 {
        c.put(&format!("random-{i}"), 0, 0);
        assert_eq!(c.get("my-api", 0), Some(1), "after {i} misses");
    }
    assert_eq!(c.entries.borrow().len(), 100);
}

#[test]
fn lru_reuses_removed_slots_and_replaces_in_place() {
    let mut l = Lru::new(2);
    l.insert("a", 1);
    l.insert("a", 2);
    assert_eq!((l.len(), l.get("a")), (1, Some(&2)));
    l.remove("a");
    l.remove("a");
    assert_eq!((l.len(), l.get("a")), (0, None));
    l.insert("b", 3);
    l.insert("c", 4);
    l.insert("d", 5);
    assert_eq!(l.len(), 2);
    assert_eq!(l.get("b"), None);
    assert_eq!(l.get("c"), Some(&4));
    assert_eq!(l.get("d"), Some(&5));
    assert_eq!(l.slots.len(), 2, "no slot beyond the capacity");
}

// -- single flight: a database whose read parks until the test releases it

/// A storage read that stays pending until `open` is set.
struct Parked {
    open: Rc<Cell<bool>>,
}

impl Future for Parked {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.open.get() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Counts its wake-ups.
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct Db {
    open: Rc<Cell<bool>>,
    reads: Cell<u32>,
    fail: Cell<bool>,
}

impl Db {
    fn new() -> Db {
        Db {
            open: Rc::new(Cell::new(false)),
            reads: Cell::new(0),
            fail: Cell::new(false),
        }
    }

    async fn read(&self) -> Result<u32, StoreError> {
        self.reads.set(self.reads.get() + 1);
        let n = self.reads.get();
        Parked {
            open: self.open.clone(),
        }
        .await;
        if self.fail.get() {
            return Err(StoreError::new("down"));
        }
        Ok(n)
    }
}

fn poll<F: Future>(f: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(waker))
}

#[test]
fn concurrent_misses_for_one_key_make_one_storage_read() {
    let c = TtlCache::new(1000);
    let db = Db::new();
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(counter.clone());
    let mut first = pin!(c.get_or_load("k", 0, || db.read()));
    let mut second = pin!(c.get_or_load("k", 0, || db.read()));
    let mut other = pin!(c.get_or_load("other-key", 0, || db.read()));
    assert!(poll(first.as_mut(), &waker).is_pending());
    assert!(poll(second.as_mut(), &waker).is_pending());
    assert!(poll(other.as_mut(), &waker).is_pending());
    assert_eq!(db.reads.get(), 2, "one read for k, one for the other key");

    db.open.set(true);
    assert!(matches!(poll(first.as_mut(), &waker), Poll::Ready(Ok(1))));
    assert!(
        counter.0.load(Ordering::SeqCst) >= 1,
        "the waiter was woken"
    );
    assert!(matches!(poll(second.as_mut(), &waker), Poll::Ready(Ok(1))));
    assert!(matches!(poll(other.as_mut(), &waker), Poll::Ready(Ok(2))));
    // And the value is cached for the next request.
    assert_eq!(c.get("k", 1), Some(1));
    assert_eq!(db.reads.get(), 2);
}

#[test]
fn a_cancelled_load_lets_its_waiters_load_for_themselves() {
    let c = TtlCache::new(1000);
    let db = Db::new();
    let waker = Waker::noop();
    let mut waiter = pin!(c.get_or_load("k", 0, || db.read()));
    {
        let mut loader = Box::pin(c.get_or_load("k", 0, || db.read()));
        assert!(poll(loader.as_mut(), waker).is_pending());
        assert!(poll(waiter.as_mut(), waker).is_pending());
        // The runtime drops the first request mid-read (its client went away).
    }
    assert!(
        poll(waiter.as_mut(), waker).is_pending(),
        "it reads for itself"
    );
    assert_eq!(db.reads.get(), 2);
    db.open.set(true);
    assert!(matches!(poll(waiter.as_mut(), waker), Poll::Ready(Ok(2))));
}

#[test]
fn a_failed_load_reaches_its_waiters_and_is_not_cached() {
    let c = TtlCache::new(1000);
    let db = Db::new();
    db.fail.set(true);
    let waker = Waker::noop();
    let mut first = pin!(c.get_or_load("k", 0, || db.read()));
    let mut second = pin!(c.get_or_load("k", 0, || db.read()));
    assert!(poll(first.as_mut(), waker).is_pending());
    assert!(poll(second.as_mut(), waker).is_pending());
    db.open.set(true);
    assert!(matches!(poll(first.as_mut(), waker), Poll::Ready(Err(_))));
    assert!(matches!(poll(second.as_mut(), waker), Poll::Ready(Err(_))));
    assert_eq!(db.reads.get(), 1);
    assert_eq!(c.get("k", 0), None);
}

#[test]
fn an_invalidation_during_a_load_keeps_its_result_out_of_the_cache() {
    // The load may have read the record from before the change (a deletion through this
    // isolate): it answers the requests that were waiting, but is not remembered.
    let c = TtlCache::new(1000);
    let db = Db::new();
    let waker = Waker::noop();
    let mut before = pin!(c.get_or_load("k", 0, || db.read()));
    assert!(poll(before.as_mut(), waker).is_pending());
    c.invalidate("k");
    let mut after = pin!(c.get_or_load("k", 0, || db.read()));
    assert!(poll(after.as_mut(), waker).is_pending());
    assert_eq!(db.reads.get(), 2, "a request after the change reads again");
    db.open.set(true);
    assert!(matches!(poll(before.as_mut(), waker), Poll::Ready(Ok(1))));
    assert!(matches!(poll(after.as_mut(), waker), Poll::Ready(Ok(2))));
    assert_eq!(c.get("k", 0), Some(2));
}

/// workerd answers 500 ("hung") for a request parked on another request's I/O, so a cache
/// built for such a runtime never parks a miss on another request's load.
#[test]
fn without_shared_loads_every_miss_reads_for_itself_and_none_waits_on_another() {
    let c = TtlCache::new(1000).without_shared_loads();
    let db = Db::new();
    let waker = Waker::from(Arc::new(CountingWaker(AtomicUsize::new(0))));
    let mut first = pin!(c.get_or_load("k", 0, || db.read()));
    let mut second = pin!(c.get_or_load("k", 0, || db.read()));
    assert!(poll(first.as_mut(), &waker).is_pending());
    assert!(poll(second.as_mut(), &waker).is_pending());
    assert_eq!(db.reads.get(), 2, "each request made its own read");
    db.open.set(true);
    assert!(matches!(poll(second.as_mut(), &waker), Poll::Ready(Ok(2))));
    assert!(matches!(poll(first.as_mut(), &waker), Poll::Ready(Ok(1))));
    // A hit still needs no read.
    assert!(c.get("k", 1).is_some());
}

#[test]
fn without_shared_loads_an_invalidation_during_a_read_keeps_its_result_out_of_the_cache() {
    let c = TtlCache::new(1000).without_shared_loads();
    let db = Db::new();
    let waker = Waker::from(Arc::new(CountingWaker(AtomicUsize::new(0))));
    let mut load = pin!(c.get_or_load("k", 0, || db.read()));
    assert!(poll(load.as_mut(), &waker).is_pending());
    c.invalidate("k");
    db.open.set(true);
    assert!(matches!(poll(load.as_mut(), &waker), Poll::Ready(Ok(1))));
    assert_eq!(c.get("k", 1), None, "the read may predate the change");
}
