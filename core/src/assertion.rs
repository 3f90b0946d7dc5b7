//! Signed identity assertions: what the gateway states about a request it forwards, in a form
//! the origin checks for itself. An origin reachable by other paths (on Workers it is often on
//! the public internet) can then tell a request that came through Isogate from one sent
//! straight to it with made-up `X-Isogate-*` headers: the pattern of Cloudflare Access's
//! `Cf-Access-Jwt-Assertion` and Pomerium's `X-Pomerium-Jwt-Assertion`.
//!
//! Every forwarded request carries [`ASSERTION_HEADER`]: a JWS (RFC 7515) signed with EdDSA
//! (RFC 8037) by the gateway's signing key, the one that signs access tokens, whose public half
//! the JWKS (`/.well-known/jwks.json`, `/oauth2/jwks`) publishes under the header's `kid`. Its
//! header `typ` is [`ASSERTION_TYP`]; its claims are [`AssertionClaims`]; `aud` is the
//! service's URL ([`ServiceUrls`](crate::resource::ServiceUrls)). [`mint::Minter`](crate::mint::Minter) signs it, like
//! every token this gateway makes.
//!
//! **The two kinds never pass for each other** (RFC 8725 §3.11 explicit typing, §3.12 mutually
//! exclusive validation rules): access tokens are `typ: at+jwt` with `aud` = the issuer, and
//! the gateway's [`Verifier`](crate::verify::Verifier) accepts no other `typ`; assertions are
//! `typ: isogate-assertion+jwt` with `aud` = a service URL, and an origin accepts no other
//! `typ` ([`verify_assertion`] is the reference check the README's snippets make).
//!
//! **Lifetime and reuse.** An assertion lives [`ASSERTION_LIFETIME_SECS`] (5 minutes), never
//! past the access token's `exp`. Each isolate keeps the assertions it signed, per (SHA-256 of
//! the access token, service), and forwards the same one until fewer than
//! [`RESIGN_MARGIN_SECS`] of its life remain (so an origin always gets at least a minute of
//! validity, room for clock skew and a slow origin), then signs a new one; an assertion cut
//! short by the token's own `exp` is kept until the token expires, since a new one could not
//! live longer. A warm request therefore pays a map lookup, not a signature.

use crate::cache::Lru;
use crate::capability::Now;
use crate::forward::Principal;
use crate::keys::{Ed25519, KeySet};
use crate::token::{parse_jws, TokenInvalid, CLOCK_LEEWAY_SECS};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// The request header that carries the assertion to the origin. Being an `X-Isogate-*`
/// header, any the client sent is stripped before the forward (crate::forward).
pub const ASSERTION_HEADER: &str = "x-isogate-assertion";
/// The JWS `typ` of assertions (RFC 8725 §3.11), never that of an access token (`at+jwt`).
pub const ASSERTION_TYP: &str = "isogate-assertion+jwt";
/// The longest an assertion lives.
pub const ASSERTION_LIFETIME_SECS: i64 = 300;
/// A cached assertion is re-signed once fewer than this many seconds of its life remain.
pub const RESIGN_MARGIN_SECS: i64 = 60;
/// Assertions an isolate keeps; past it, the least recently used goes (bounds memory: ~0.7 KiB
/// each).
pub(crate) const MAX_CACHED_ASSERTIONS: usize = 4096;

/// What an assertion states, in the order it is serialised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    /// The issuer, as in access tokens.
    pub iss: String,
    /// The service's URL ([`ServiceUrls`](crate::resource::ServiceUrls)): an assertion for one service is refused by
    /// another's origin.
    pub aud: String,
    /// The user the access token acts for.
    pub sub: String,
    pub client_id: String,
    /// The credential's name.
    pub credential: String,
    /// The access token's space-delimited scopes.
    pub scope: String,
    /// The access token's `jti`: which token this request was authorized with.
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

/// An authorized request, as its assertion states it.
#[derive(Clone, Copy, Debug)]
pub struct AssertedRequest<'a> {
    /// SHA-256 of the access token: with the service, the key of its cached assertion.
    pub token_digest: &'a [u8; 32],
    /// The access token's `exp`: the assertion never outlives it.
    pub token_expires_at: i64,
    pub service: &'a str,
    pub principal: &'a Principal,
}

/// A signed assertion and its lifetime.
#[derive(Clone)]
pub struct SignedAssertion {
    /// The JWS, as forwarded: it lets its holder act as the user at one origin for minutes,
    /// so it is never logged.
    pub assertion: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

impl fmt::Debug for SignedAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedAssertion")
            .field("assertion", &"[redacted]")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// [`AssertionClaims`] as signed: borrowed from the request, serialised in the same order.
#[derive(Serialize)]
pub(crate) struct ClaimsToSign<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    client_id: &'a str,
    credential: &'a str,
    scope: &'a str,
    jti: &'a str,
    pub iat: i64,
    pub exp: i64,
}

/// The claims of `request`'s assertion to `audience`, signed at `now`.
pub(crate) fn assertion_claims<'a>(
    issuer: &'a str,
    audience: &'a str,
    request: &AssertedRequest<'a>,
    now: Now,
) -> ClaimsToSign<'a> {
    let iat = now.unix_secs();
    let p = request.principal;
    ClaimsToSign {
        iss: issuer,
        aud: audience,
        sub: &p.user,
        client_id: &p.client_id,
        credential: &p.credential,
        scope: &p.scope,
        jti: &p.token_id,
        iat,
        exp: (iat + ASSERTION_LIFETIME_SECS).min(request.token_expires_at),
    }
}

/// The isolate's signed assertions by (token digest, service). Only assertions for requests
/// that were authorized are stored, so a client cannot fill it without valid tokens for
/// services that admit it; when full, the least recently used goes (stale ones are not used
/// again), never every entry at once (issue #10).
pub(crate) struct SignedAssertions {
    entries: RefCell<Lru<Box<[u8]>, Cached>>,
}

impl Default for SignedAssertions {
    fn default() -> Self {
        SignedAssertions {
            entries: RefCell::new(Lru::new(MAX_CACHED_ASSERTIONS)),
        }
    }
}

struct Cached {
    assertion: Rc<str>,
    issued_at: i64,
    /// Forwarded while `now` is before this.
    reuse_until: i64,
}

/// Longest service name kept in the cache key's stack buffer (a DNS label: 63).
const MAX_KEYED_SERVICE: usize = 63;

/// The digest, then the service name: no two pairs give one key. Built on the stack: a warm
/// lookup allocates nothing.
struct CacheKey {
    bytes: [u8; 32 + MAX_KEYED_SERVICE],
    len: usize,
}

impl CacheKey {
    /// `None` for a service name longer than a DNS label (never stored, so never cached).
    fn of(request: &AssertedRequest<'_>) -> Option<CacheKey> {
        let service = request.service.as_bytes();
        if service.len() > MAX_KEYED_SERVICE {
            return None;
        }
        let mut bytes = [0; 32 + MAX_KEYED_SERVICE];
        bytes[..32].copy_from_slice(request.token_digest);
        bytes[32..32 + service.len()].copy_from_slice(service);
        Some(CacheKey {
            bytes,
            len: 32 + service.len(),
        })
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl SignedAssertions {
    /// The assertion signed earlier for the same token and service, if it may still be
    /// forwarded at `now` (a clock that went backwards past its `iat` misses).
    pub(crate) fn get(&self, request: &AssertedRequest<'_>, now: Now) -> Option<Rc<str>> {
        let now = now.unix_secs();
        let mut entries = self.entries.borrow_mut();
        let cached = entries.get(CacheKey::of(request)?.as_slice())?;
        (now < cached.reuse_until && now >= cached.issued_at).then(|| cached.assertion.clone())
    }

    /// Keeps `signed` for reuse; when full, in place of the least recently used.
    pub(crate) fn put(&self, request: &AssertedRequest<'_>, signed: &SignedAssertion) -> Rc<str> {
        let reuse_until = if signed.expires_at >= request.token_expires_at {
            // Cut short by the token: a new one would expire no later, so keep this one for
            // as long as the token is accepted at all.
            request.token_expires_at + CLOCK_LEEWAY_SECS
        } else {
            signed.expires_at - RESIGN_MARGIN_SECS
        };
        let assertion: Rc<str> = signed.assertion.as_str().into();
        let Some(key) = CacheKey::of(request) else {
            return assertion;
        };
        let mut entries = self.entries.borrow_mut();
        let cached = Cached {
            assertion: assertion.clone(),
            issued_at: signed.issued_at,
            reuse_until,
        };
        entries.insert(key.as_slice().into(), cached);
        assertion
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.borrow().len()
    }
}

/// What an origin checks before it believes an assertion, in Rust: the reference that the
/// README's Node, Python and Go snippets follow (the gateway itself never calls it). `typ`
/// must be [`ASSERTION_TYP`] (so an access token is refused), `alg` EdDSA, `kid` one of
/// `keys` (the JWKS), the signature genuine, `iss` and `aud` exact, and `exp`/`iat` within
/// [`CLOCK_LEEWAY_SECS`] of `now`. The reasons are [`TokenInvalid`]'s.
pub async fn verify_assertion(
    ed25519: &impl Ed25519,
    assertion: &str,
    keys: &KeySet,
    issuer: &str,
    audience: &str,
    now: Now,
) -> Result<AssertionClaims, TokenInvalid> {
    let signed = parse_jws(assertion, keys, &[ASSERTION_TYP])?;
    let genuine = ed25519
        .verify(signed.key, signed.signing_input(), &signed.signature)
        .await;
    let claims: AssertionClaims = signed.payload_if(genuine)?;
    if claims.iss != issuer {
        return Err(TokenInvalid::WrongIssuer);
    }
    if claims.aud != audience {
        return Err(TokenInvalid::WrongAudience);
    }
    let now = now.unix_secs();
    if now >= claims.exp + CLOCK_LEEWAY_SECS {
        return Err(TokenInvalid::Expired);
    }
    if now + CLOCK_LEEWAY_SECS < claims.iat {
        return Err(TokenInvalid::NotYetValid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests;
