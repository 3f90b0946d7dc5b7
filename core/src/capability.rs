//! The capabilities a runtime injects into the core, in one place. The core has no clock, no
//! random source, no storage and no crypto backend of its own: each request gets a [`Now`] and
//! a [`Capabilities`] (database, Ed25519, JWS verification, random bytes) from the runtime, which is why the same
//! core runs on Workers, on Spin and in the deterministic tests.

#[cfg(feature = "portable-jws")]
pub use crate::jws::PortableJws;
pub use crate::jws::{JwsAlg, JwsVerifier, PublicJwk};
pub use crate::keys::{Ed25519, PortableEd25519};
pub use crate::store::SqlDb;
pub use crate::upstream_auth::{TokenFetch, TokenReply};

use std::future::Future;
use std::pin::Pin;

/// A future of the runtime's, boxed so that [`OriginSecrets`] can be a trait object (no
/// `Send`: the runtimes run a request on one thread).
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The runtime's secret store and its outbound HTTP, for upstream credentials
/// ([`crate::upstream_auth`]): secrets by name (Workers: the Worker's secrets and vars; Spin:
/// its variables, lower-cased), and the POST of an origin's token request (Workers: `fetch`;
/// Spin: wasi:http). The core asks only for names a service's `upstream_auth` holds, never for
/// `ISOGATE_*`.
pub trait OriginSecrets {
    /// The secret's value, if the runtime has one by that name.
    fn secret(&self, name: &str) -> Option<String>;
    /// Sends `request` (a POST) and returns the answer's status and at most
    /// [`crate::upstream_auth::origin_token::MAX_REPLY_BYTES`] + 1 bytes of its body, or the
    /// runtime's words for why there is none (never a header value: they hold the secret).
    fn fetch_token(&self, request: TokenFetch) -> LocalFuture<'_, Result<TokenReply, String>>;
    /// GETs a public document (no credential, no redirect followed) within `timeout_ms`: an
    /// external issuer's discovery document or JWKS (Workers: `fetch`; Spin: wasi:http, the
    /// host in `allowed_outbound_hosts`). Without outbound HTTP: an error.
    fn fetch_document(
        &self,
        url: &str,
        timeout_ms: u64,
    ) -> LocalFuture<'_, Result<DocumentReply, String>> {
        let _ = (url, timeout_ms);
        Box::pin(async { Err("this runtime has no outbound HTTP".to_owned()) })
    }
}

/// The answer to a GET of a public document (an OIDC discovery document, a JWKS: workload
/// identity federation, [`crate::federation`]): its status, at most
/// [`crate::federation::MAX_DOCUMENT_BYTES`] + 1 bytes of its body, and its `Cache-Control`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentReply {
    pub status: u16,
    pub body: Vec<u8>,
    pub cache_control: Option<String>,
}

/// No secrets and no outbound HTTP: for tests and tools that forward to no origin needing a
/// credential (a service with `upstream_auth` answers 502 there).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoOriginSecrets;

impl OriginSecrets for NoOriginSecrets {
    fn secret(&self, _: &str) -> Option<String> {
        None
    }

    fn fetch_token(&self, _: TokenFetch) -> LocalFuture<'_, Result<TokenReply, String>> {
        Box::pin(async { Err("this runtime has no outbound HTTP".to_owned()) })
    }
}

/// An instant of wall-clock time, as the runtime read it for this request (milliseconds since
/// the Unix epoch). The core never reads a clock; every time-dependent step takes one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Now(u64);

impl Now {
    pub const fn from_unix_ms(ms: u64) -> Now {
        Now(ms)
    }

    pub const fn unix_ms(self) -> u64 {
        self.0
    }

    /// Whole seconds (JWT `iat`/`exp` and stored timestamps are in seconds).
    pub const fn unix_secs(self) -> i64 {
        (self.0 / 1000) as i64
    }
}

/// A source of cryptographically secure random bytes (the runtime's `getrandom`). Takes
/// `&self`: implementations are stateless handles (or use interior mutability, like the
/// seeded test source), so one can be shared by every step of a request.
pub trait RandomSource {
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's (or runtime's) CSPRNG through `getrandom`: `crypto.getRandomValues`
/// on Workers, `wasi:random` on Spin. Behind the `os-random` feature, which only the runtime
/// adapters enable: it is the one capability both need verbatim, and the core's own code
/// never calls it (it is passed in like any other [`RandomSource`]).
#[cfg(feature = "os-random")]
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

#[cfg(feature = "os-random")]
impl RandomSource for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // Failure means the runtime is broken, and issuing a predictable secret would be worse
        // than stopping.
        getrandom::fill(buf).expect("the runtime's random source is available");
    }
}

/// Whether the runtime's instance memory outlives a request: where the core keeps counts that
/// must (per-credential rate limits, [`crate::rate_limit`]). The adapter says which it is, as
/// it says which HTTP client it forwards with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceMemory {
    /// One instance serves many requests (a Workers isolate): counts live in its memory, at no
    /// storage cost, per instance.
    Kept,
    /// Each request gets a fresh instance (Spin runs a wasi:http 0.2 component so): memory
    /// forgets everything, so counts go through the database, one statement per request to a
    /// service with a limit. With the `instance-per-request` feature only: a runtime that does
    /// not need it carries none of its code.
    #[cfg(feature = "instance-per-request")]
    PerRequest,
}

/// What a request may use besides its own inputs: the runtime's database, its Ed25519 and its
/// random source, and what its instance memory is good for. Borrowed for the request and
/// `Copy`, so every step can take it by value.
pub struct Capabilities<'a, D: SqlDb, E: Ed25519> {
    pub db: &'a D,
    pub ed25519: &'a E,
    pub random: &'a dyn RandomSource,
    pub memory: InstanceMemory,
    /// Upstream credentials' secrets and token fetches.
    pub secrets: &'a dyn OriginSecrets,
    /// Signature checks of client assertions (`private_key_jwt`, [`crate::client_assertion`]).
    pub jws: &'a dyn JwsVerifier,
}

impl<D: SqlDb, E: Ed25519> Clone for Capabilities<'_, D, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D: SqlDb, E: Ed25519> Copy for Capabilities<'_, D, E> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_converts_to_whole_seconds_rounding_down() {
        let now = Now::from_unix_ms(1_700_000_000_999);
        assert_eq!(now.unix_ms(), 1_700_000_000_999);
        assert_eq!(now.unix_secs(), 1_700_000_000);
    }
}
