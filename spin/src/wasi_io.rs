//! Async reads and writes on wasi:io streams, driven by spin-sdk's executor.
//!
//! spin-sdk's own body sink always *finishes* the body when dropped, so a proxy built on it
//! would turn an origin that dies mid-body into a clean, truncated response. These helpers
//! leave finishing to the caller: a body that is dropped unfinished makes the host abort the
//! message, and the client sees the failure.

use spin_executor::{push_waker_and_get_token, CancelOnDropToken};
use std::future::poll_fn;
use std::task::Poll;
use wasi::clocks::monotonic_clock::{self, Instant};
use wasi::io::poll::Pollable;
use wasi::io::streams::{InputStream, OutputStream, StreamError};

/// Largest chunk asked of an input stream at once.
const READ_SIZE: u64 = 64 * 1024;

/// Resolves once the pollable made by `subscribe` is ready. A new pollable is made per poll
/// (subscribing has no side effect); the registration is cancelled, and the pollable dropped,
/// if this future is dropped first, so it never outlives the stream or future it belongs to.
///
/// Only for pollables whose `ready` tells the current state (streams, incoming-response
/// futures). Not for clocks: wasmtime's pollable for an instant already past answers "not
/// ready" on its first check (it yields to its scheduler once), so a fresh one per poll would
/// never be ready and the instance would spin. Use [`until_instant`].
pub async fn until_ready(subscribe: impl Fn() -> Pollable) {
    let mut registration: Option<CancelOnDropToken> = None;
    poll_fn(move |cx| {
        let pollable = subscribe();
        if pollable.ready() {
            registration.take();
            Poll::Ready(())
        } else {
            registration.replace(push_waker_and_get_token(pollable, cx.waker().clone()).into());
            Poll::Pending
        }
    })
    .await
}

/// Resolves once the monotonic clock has reached `deadline` (nanoseconds). Readiness is read
/// from the clock itself, never from a fresh pollable (see [`until_ready`]).
pub async fn until_instant(deadline: Instant) {
    let mut registration: Option<CancelOnDropToken> = None;
    poll_fn(move |cx| {
        if monotonic_clock::now() >= deadline {
            registration.take();
            Poll::Ready(())
        } else {
            let timer = monotonic_clock::subscribe_instant(deadline);
            registration.replace(push_waker_and_get_token(timer, cx.waker().clone()).into());
            Poll::Pending
        }
    })
    .await
}

/// The next chunk of `stream`; `None` at its end.
pub async fn read_chunk(stream: &InputStream) -> Result<Option<Vec<u8>>, StreamError> {
    loop {
        match stream.read(READ_SIZE) {
            Ok(chunk) if chunk.is_empty() => until_ready(|| stream.subscribe()).await,
            Ok(chunk) => return Ok(Some(chunk)),
            Err(StreamError::Closed) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// Writes all of `data`, flushes, and waits for the flush: the next chunk is only read from
/// the source once this one has left, so a slow reader slows the writer (backpressure).
pub async fn write_all(stream: &OutputStream, mut data: &[u8]) -> Result<(), StreamError> {
    while !data.is_empty() {
        let room = stream.check_write()?;
        if room == 0 {
            until_ready(|| stream.subscribe()).await;
            continue;
        }
        let n = usize::try_from(room).unwrap_or(usize::MAX).min(data.len());
        stream.write(&data[..n])?;
        data = &data[n..];
    }
    stream.flush()?;
    // `check-write` answers 0 until the flush has completed.
    while stream.check_write()? == 0 {
        until_ready(|| stream.subscribe()).await;
    }
    Ok(())
}
