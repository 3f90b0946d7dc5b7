//! The one way to accept an access token: RFC 9068 §4 validation (type and algorithm, key,
//! signature, issuer, audience, time), with the time-independent part remembered per token.
//! The service path, revocation (RFC 7009) and introspection (RFC 7662) all verify here.
//!
//! A client reuses its token for the token's lifetime, so each isolate remembers the tokens it
//! has verified (by SHA-256 digest) together with their parsed scopes: a repeat request pays a
//! hash instead of an Ed25519 verification and a scope parse. Time is checked on every call.

use crate::cache::Lru;
use crate::capability::Now;
use crate::keys::{Ed25519, KeySet};
use crate::resource::{ServiceUrls, TokenAudience};
use crate::scope::ScopeSet;
use crate::token::{
    check_token_time, parse_access_token, AccessTokenClaims, TokenInvalid, MAX_TOKEN_BYTES,
};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::rc::Rc;

/// Tokens kept; past it, the least recently used goes (bounds memory on a long-lived isolate).
const MAX_VERIFIED_TOKENS: usize = 10_000;

/// A token whose signature, issuer and audience were verified, with its scopes parsed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    pub claims: AccessTokenClaims,
    /// The `scope` claim, parsed. `None` if it does not parse, which only a token signed
    /// outside this gateway's code could carry: the service path refuses such a token,
    /// introspection describes it as it is.
    pub scopes: Option<ScopeSet>,
    /// What its `aud` lets it reach: every service, or (RFC 8707) the services it names.
    pub audience: TokenAudience,
}

/// Verifies tokens against this deployment's keys, issuer and audience.
pub struct Verifier {
    keys: KeySet,
    issuer: String,
    audience: String,
    /// The services' URLs, the other `aud` values accepted (RFC 8707); `None`: only
    /// `audience`.
    services: Option<ServiceUrls>,
    verified: VerifiedTokens,
}

impl Verifier {
    pub fn new(keys: KeySet, issuer: &str, audience: &str) -> Verifier {
        Verifier {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            services: None,
            verified: VerifiedTokens::default(),
        }
    }

    /// Also accepts tokens whose `aud` is one or more of these services' URLs (tokens issued
    /// with RFC 8707 `resource`), each then good at those services only.
    pub fn with_services(mut self, services: ServiceUrls) -> Verifier {
        self.services = Some(services);
        self
    }

    /// The issuer tokens must name (also the audience client assertions may name).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The published keys (the JWKS).
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Full validation at `now`, the signature checked with the runtime's `ed25519` unless this
    /// isolate verified the very same token before. A refused token is never remembered.
    pub async fn verify(
        &self,
        ed25519: &impl Ed25519,
        token: &str,
        now: Now,
    ) -> Result<Rc<VerifiedToken>, TokenInvalid> {
        let (verified, _) = self.verify_with_digest(ed25519, token, now).await?;
        Ok(verified)
    }

    /// [`Verifier::verify`], also handing back the token's SHA-256: the key this isolate
    /// remembers it under, which the service flow reuses as the key of its assertions.
    pub async fn verify_with_digest(
        &self,
        ed25519: &impl Ed25519,
        token: &str,
        now: Now,
    ) -> Result<(Rc<VerifiedToken>, [u8; 32]), TokenInvalid> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenInvalid::Malformed);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let verified = match self.verified.get(&digest) {
            Some(verified) => verified,
            None => {
                let verified = Rc::new(self.check(ed25519, token).await?);
                self.verified.put(digest, verified.clone());
                verified
            }
        };
        check_token_time(&verified.claims, now)?;
        Ok((verified, digest))
    }

    /// Full validation at `now` without the cache: what a token this isolate has not seen
    /// costs.
    pub async fn validate(
        &self,
        ed25519: &impl Ed25519,
        token: &str,
        now: Now,
    ) -> Result<VerifiedToken, TokenInvalid> {
        let verified = self.check(ed25519, token).await?;
        check_token_time(&verified.claims, now)?;
        Ok(verified)
    }

    /// The time-independent part of validation: it holds for as long as the key set does.
    async fn check(
        &self,
        ed25519: &impl Ed25519,
        token: &str,
    ) -> Result<VerifiedToken, TokenInvalid> {
        let signed = parse_access_token(token, &self.keys)?;
        let genuine = ed25519
            .verify(signed.key, signed.signing_input(), &signed.signature)
            .await;
        let claims = signed.claims_if(genuine, &self.issuer)?;
        self.accept_claims(claims)
    }

    /// The checks of genuine claims that hold for as long as the key set does: issuer (done by
    /// the caller), audience, scopes parsed.
    #[inline(always)] // one caller where instances serve many requests (Workers): no call
    fn accept_claims(&self, claims: AccessTokenClaims) -> Result<VerifiedToken, TokenInvalid> {
        let audience = match &self.services {
            Some(services) => TokenAudience::classify(claims.aud.iter(), &self.audience, services),
            None => claims
                .aud
                .iter()
                .all(|a| a == self.audience)
                .then_some(TokenAudience::Gateway),
        };
        // RFC 9068 §4: an `aud` that names nothing this gateway serves is another audience's.
        let audience = audience
            .filter(|_| claims.aud.iter().next().is_some())
            .ok_or(TokenInvalid::WrongAudience)?;
        let scopes = ScopeSet::parse(&claims.scope).ok();
        Ok(VerifiedToken {
            claims,
            scopes,
            audience,
        })
    }
}

/// A token read before its signature is checked, on an instance that remembers nothing
/// (Spin): its claims give the request's one read the credential and `jti` to look up, and that
/// same read says whether the signature was verified before ([`Unverified::remembered_as`],
/// `isogate_verified_tokens`). Nothing in it is trusted until [`Verifier::verify_unverified`]
/// says so. The read then runs before the signature check, so a forged token costs one read
/// (one SQLite statement, ~37 µs) instead of none; a verification costs more than that
/// (430-580 µs measured in the Spin host), and a forged token still writes nothing.
#[cfg(feature = "instance-per-request")]
pub struct Unverified<'a> {
    token: &'a str,
    signed: crate::token::SignedToken<'a>,
    claims: AccessTokenClaims,
    remembered_as: String,
}

#[cfg(feature = "instance-per-request")]
impl Unverified<'_> {
    /// The claims as the token states them: only to choose what to read.
    pub fn claims(&self) -> &AccessTokenClaims {
        &self.claims
    }

    /// The key of this token's row of verified tokens: hex SHA-256 over a label, the raw public
    /// key the token names (a rotated key never matches an old row) and the whole token string
    /// (another token, or this one with a byte changed, never matches either).
    pub fn remembered_as(&self) -> &str {
        &self.remembered_as
    }
}

#[cfg(feature = "instance-per-request")]
impl Verifier {
    /// The token's form, type, key and claims, no signature checked; `None` when any of it does
    /// not parse: [`Verifier::verify_with_digest`] then refuses it as it always has (a bad
    /// signature is refused as one, not as a malformed payload). `None` too when this instance
    /// verified the token itself (an instance that does serve more than one request).
    pub fn read_unverified<'a>(&'a self, token: &'a str) -> Option<Unverified<'a>> {
        if token.len() > MAX_TOKEN_BYTES
            || self
                .verified
                .get(&Sha256::digest(token.as_bytes()).into())
                .is_some()
        {
            return None;
        }
        let signed = parse_access_token(token, &self.keys).ok()?;
        let claims: AccessTokenClaims = signed.peek_payload().ok()?;
        let mut hasher = Sha256::new();
        hasher.update(b"isogate-verified-token-v1:");
        hasher.update(signed.key.raw());
        hasher.update(token.as_bytes());
        let remembered_as = crate::secret::hex(&hasher.finalize());
        Some(Unverified {
            token,
            signed,
            claims,
            remembered_as,
        })
    }

    /// Full validation of `token` at `now`, as [`Verifier::verify_with_digest`], except that
    /// the signature is not checked again when `verified_before` (the token's row of verified
    /// tokens exists, which only an accepted token's verification writes). Issuer, audience and
    /// time are checked either way.
    pub(crate) async fn verify_unverified(
        &self,
        ed25519: &impl Ed25519,
        token: Unverified<'_>,
        verified_before: bool,
        now: Now,
    ) -> Result<(Rc<VerifiedToken>, [u8; 32]), TokenInvalid> {
        let Unverified {
            token,
            signed,
            claims,
            ..
        } = token;
        if !verified_before {
            let genuine = ed25519
                .verify(signed.key, signed.signing_input(), &signed.signature)
                .await;
            if !genuine {
                return Err(TokenInvalid::BadSignature);
            }
        }
        if claims.iss != self.issuer {
            return Err(TokenInvalid::WrongIssuer);
        }
        let verified = Rc::new(self.accept_claims(claims)?);
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.verified.put(digest, verified.clone());
        check_token_time(&verified.claims, now)?;
        Ok((verified, digest))
    }
}

/// Verified tokens by the SHA-256 of the whole token. Only verified tokens are stored, so
/// invalid tokens cannot fill it; keyed by digest, so a lookup's timing says nothing about the
/// bytes of tokens held. What can change while a token is held is checked by the caller on
/// every hit: time, credential liveness and revocation. When full, the least recently used
/// token goes (expired ones are not used again, so they go first).
struct VerifiedTokens {
    entries: RefCell<Lru<[u8; 32], Rc<VerifiedToken>>>,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        VerifiedTokens {
            entries: RefCell::new(Lru::new(MAX_VERIFIED_TOKENS)),
        }
    }
}

impl VerifiedTokens {
    fn get(&self, digest: &[u8; 32]) -> Option<Rc<VerifiedToken>> {
        self.entries.borrow_mut().get(digest).cloned()
    }

    fn put(&self, digest: [u8; 32], token: Rc<VerifiedToken>) {
        self.entries.borrow_mut().insert(digest, token);
    }
}

#[cfg(test)]
mod tests;
