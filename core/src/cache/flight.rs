//! Single-flight loads: while one request awaits storage for a key, others that miss the same
//! key await that load instead of sending their own read. The runtimes run one isolate's
//! requests on one thread, interleaved at their awaits, so this is plain `Rc`/`RefCell` with
//! the runtime's own [`Waker`]s: no executor, no lock, no IO here.
//!
//! A flight carries no value (so one type serves every cache): the loader puts what it read in
//! the cache, and the waiters read it from there. A load whose future is dropped before it
//! finishes (the runtime cancelled its request) leaves its flight *abandoned*: the waiters
//! wake and load for themselves, never hang.

use crate::error::StoreError;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// How a flight ended, as its waiters see it.
#[derive(Clone)]
pub(crate) enum Landed {
    /// The value is in the cache (if it is not, because the cache holds nothing or the key was
    /// invalidated meanwhile, load again).
    Cached,
    /// The load failed: every request that awaited it gets the error.
    Failed(StoreError),
    /// The loading request went away; load again.
    Abandoned,
}

/// One load in progress, shared by the request making it and those waiting for it.
#[derive(Default)]
pub(crate) struct Flight {
    landed: RefCell<Option<Landed>>,
    waiters: RefCell<Vec<Waker>>,
}

impl Flight {
    /// Ends the flight and wakes every waiter.
    pub(crate) fn land(&self, landed: Landed) {
        *self.landed.borrow_mut() = Some(landed);
        for waker in self.waiters.take() {
            waker.wake();
        }
    }

    pub(crate) fn is_landed(&self) -> bool {
        self.landed.borrow().is_some()
    }

    /// Resolves when the flight lands.
    pub(crate) fn wait(self: &Rc<Self>) -> Wait {
        Wait {
            flight: self.clone(),
        }
    }
}

pub(crate) struct Wait {
    flight: Rc<Flight>,
}

impl Future for Wait {
    type Output = Landed;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Landed> {
        if let Some(landed) = self.flight.landed.borrow().as_ref() {
            return Poll::Ready(landed.clone());
        }
        // Keep the waker of the latest poll (an executor may poll with a new one, e.g. the
        // Workers adapter's first poll uses a no-op waker).
        let mut waiters = self.flight.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
