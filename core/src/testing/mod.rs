//! Test support, behind the `testing` feature: one set of fakes and helpers for the core's
//! unit and integration tests, the bench's `ops` driver and the Spin host's tests, in the
//! manner of quinn-proto's `tests/util.rs`. Everything is deterministic: no sockets, no
//! sleeps, no wall clock, no OS randomness.
//!
//! - [`MemDb`]: the real migrations and queries on an in-memory SQLite, with an outage switch
//!   and a statement counter;
//! - [`CannedDb`]: fixed records answering the store's read statements by exact SQL (cheap and
//!   deterministic, for instruction counts);
//! - [`FixedRandom`] and [`SeededRandom`]: the random sources;
//! - [`block_on`], [`head`]: drive a step, build a request head;
//! - [`FakeSecrets`]: the runtime's secret store and token endpoint (upstream credentials);
//! - [`DpopKey`]: a client's DPoP key pair and its proofs (RFC 9449);
//! - [`ClientKey`]: clients' EdDSA, ES256 and RS256 keys, signing `private_key_jwt` assertions;
//! - [`Harness`]: a deployment (database, gateway, clock, random source) driven through
//!   `Gateway::start` exactly as a runtime adapter drives it.

mod canned;
mod client_keys;
mod dpop;
mod harness;
mod memdb;
mod secrets;
mod wire;

pub use canned::CannedDb;
pub use client_keys::{assertion_claims, ClientKey, JWT_BEARER};
pub use dpop::DpopKey;
pub use harness::*;
pub use memdb::MemDb;
pub use secrets::FakeSecrets;
pub use wire::*;

use crate::capability::RandomSource;
use crate::http::{Method, RequestHead};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// The client address every test request comes from (TEST-NET-3, RFC 5737).
pub const CLIENT_IP: &str = "203.0.113.7";

/// A request head as a runtime would hand it over: `https`, from [`CLIENT_IP`].
pub fn head(
    method: &str,
    host: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
) -> RequestHead {
    RequestHead {
        method: Method::parse(method),
        scheme: "https".into(),
        host: host.into(),
        path: path.into(),
        query: query.map(str::to_owned),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        client_ip: Some(CLIENT_IP.into()),
    }
}

/// Runs a future to completion. The fakes never wait, so the first poll (with a no-op waker:
/// nothing allocated, which keeps instruction counts honest) normally finishes it; should
/// anything wait, a real executor takes over.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    if let Poll::Ready(output) = future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        return output;
    }
    pollster::block_on(future)
}

/// "Random" bytes that are all one value: determinism matters in the bench, not secrecy.
/// `FixedRandom(0)` is a broken random source: every client id it makes is the same.
#[derive(Clone, Copy, Debug)]
pub struct FixedRandom(pub u8);

impl RandomSource for FixedRandom {
    fn fill(&self, buf: &mut [u8]) {
        buf.fill(self.0);
    }
}

/// SplitMix64: deterministic, and well spread so that client ids do not collide by accident.
#[derive(Debug)]
pub struct SeededRandom {
    state: Cell<u64>,
}

impl SeededRandom {
    pub fn new(seed: u64) -> SeededRandom {
        SeededRandom {
            state: Cell::new(seed),
        }
    }
}

impl RandomSource for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let state = self.state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
            self.state.set(state);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// The portable Ed25519, counting what the core asks of it: how many signatures it checked and
/// how many it made (the costs a cache of verified tokens or of assertions saves).
#[derive(Debug, Default)]
pub struct CountingEd25519 {
    pub verifications: Cell<usize>,
    pub signatures: Cell<usize>,
}

impl crate::keys::Ed25519 for CountingEd25519 {
    async fn sign(&self, key: &crate::keys::SigningKey, message: &[u8]) -> [u8; 64] {
        self.signatures.set(self.signatures.get() + 1);
        crate::keys::PortableEd25519.sign(key, message).await
    }

    async fn verify(
        &self,
        key: &crate::keys::VerifyingKey,
        message: &[u8],
        signature: &[u8; 64],
    ) -> bool {
        self.verifications.set(self.verifications.get() + 1);
        crate::keys::PortableEd25519
            .verify(key, message, signature)
            .await
    }
}
