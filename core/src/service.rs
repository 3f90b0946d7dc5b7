//! The service flow: what happens to a request for `<service>.<DOMAIN>` before it is
//! forwarded, in the order it happens:
//!
//! ```text
//! extract_bearer ─► Verifier::verify ─► the token's audience (RFC 8707) ─► credential (cache/store) ─► is the jti revoked (cache/store)
//!                ─► check_scope ─► service (cache/store) ─► decide_access (allowed users,
//!                   policy rules: the user's groups came with the credential, the rules with
//!                   the service)
//!                ─► check_rate_limit (services with a limit) ─► plan_forward
//!                ─► the origin's own credential, if the service has one (crate::upstream_auth)
//!                ─► Minter::identity_assertion (cached per token and service)
//! ```
//!
//! With warm caches ([`ServiceCaches`], and the minter's assertions) the flow makes no storage
//! read and signs nothing: the cost of a request is a token digest, a few map lookups and the
//! forward plan. A service's rate limit counts in the same isolate memory where the runtime
//! keeps it (Workers); on a runtime that starts an instance per request (Spin) it costs one
//! UPSERT ([`crate::capability::InstanceMemory`]).

use crate::assertion::{AssertedRequest, ASSERTION_HEADER};
use crate::cache::{CacheInvalidation, IsolateCounts, TtlCache};
use crate::capability::{Capabilities, InstanceMemory, Now, SqlDb};
use crate::dpop::{accept_proof, proof_header, request_url, DpopInvalid, ProofTarget, SeenProofs};
use crate::error::{BearerError, ScopeRefusal, StoreError, TokenRefusal};
use crate::forward::websocket::bearer_subprotocol;
use crate::forward::{plan_forward, ForwardPlan, Principal};
use crate::http::RequestHead;
use crate::keys::Ed25519;
use crate::mint::Minter;
use crate::model::{CredentialStatus, Service};
use crate::policy::{self, Verdict};
use crate::scope::ScopeSet;
use crate::store::Store;
use crate::token_request::form_urldecode;
use crate::upstream_auth::{inject, origin_credential, OriginCredentialError, OriginTokens};
use crate::verify::{VerifiedToken, Verifier};
use std::rc::Rc;

/// The isolate's caches of what the service flow reads from storage, and its rate counts.
/// Cache entries live the configured TTL, the bound on how long another isolate's change goes
/// unseen here; each cache is bounded (least recently used out) and loads each key once however
/// many requests miss it together.
pub struct ServiceCaches {
    /// Per-credential counts of services with a rate limit, where the instance outlives the
    /// request ([`InstanceMemory::Kept`]).
    rate_counts: IsolateCounts,
    services: TtlCache<Option<Rc<Service>>>,
    credentials: TtlCache<Option<Rc<CredentialStatus>>>,
    /// Whether a token (by `jti`) was revoked (RFC 7009), "no" included: one indexed read per
    /// token per cache lifetime per isolate, whatever the number of revoked tokens (issue #10:
    /// loading the whole table let one client's revocations slow every other client down).
    revoked: TtlCache<bool>,
    /// Origins' tokens of services with `oauth2-client-credentials` upstream credentials.
    origin_tokens: OriginTokens,
    /// DPoP proofs accepted on this isolate (RFC 9449 §11.1), token endpoint and services.
    proofs: SeenProofs,
}

impl ServiceCaches {
    /// `shared_loads`: see [`crate::config::GatewayConfig::shared_loads`].
    pub fn new(ttl_ms: u64, shared_loads: bool) -> ServiceCaches {
        fn cache<V: Clone>(ttl_ms: u64, shared_loads: bool) -> TtlCache<V> {
            let cache = TtlCache::new(ttl_ms);
            if shared_loads {
                cache
            } else {
                cache.without_shared_loads()
            }
        }
        ServiceCaches {
            rate_counts: IsolateCounts::new(),
            services: cache(ttl_ms, shared_loads),
            credentials: cache(ttl_ms, shared_loads),
            revoked: cache(ttl_ms, shared_loads),
            origin_tokens: OriginTokens::new(shared_loads),
            proofs: SeenProofs::default(),
        }
    }

    /// The DPoP proofs this isolate accepted ([`crate::dpop`]).
    pub fn proofs(&self) -> &SeenProofs {
        &self.proofs
    }

    /// A token was revoked through this isolate: refused here from now on.
    pub fn token_revoked(&self, jti: &str, now: Now) {
        self.revoked.invalidate(jti);
        self.revoked.put(jti, true, now.unix_ms());
    }

    /// The credential, from the cache or, on a miss, from a service request's one read
    /// ([`Store::service_request`]): whether token `jti` was revoked and the service come with
    /// it, into `read_with_it`, for [`ServiceCaches::is_token_revoked`] and
    /// [`ServiceCaches::service_or`] to take instead of reads of their own (an instance that
    /// caches nothing, Spin's, makes that one statement per request).
    async fn credential<D: SqlDb>(
        &self,
        db: &D,
        client_id: &str,
        (jti, service_name): (&str, &str),
        now: Now,
        (read_first, read_with_it): (Option<ReadFirst>, &mut Option<ReadWith>),
    ) -> Result<Option<Rc<CredentialStatus>>, BearerError> {
        let load = || async move {
            #[cfg(feature = "instance-per-request")]
            let read = match read_first {
                Some(read) => (*read)?,
                None => {
                    Store::new(db)
                        .service_request(jti, client_id, service_name)
                        .await?
                }
            };
            #[cfg(not(feature = "instance-per-request"))]
            let read = {
                let _ = read_first;
                Store::new(db)
                    .service_request(jti, client_id, service_name)
                    .await?
            };
            *read_with_it = Some(ReadWith {
                revoked: read.revoked,
                service: read.service.map(Rc::new),
            });
            Ok(read.status.map(Rc::new))
        };
        Ok(self
            .credentials
            .get_or_load(client_id, now.unix_ms(), load)
            .await?)
    }

    /// Whether token `jti` was revoked: cached, else `read` with the credential, else read now.
    async fn is_token_revoked<D: SqlDb>(
        &self,
        db: &D,
        jti: &str,
        now: Now,
        read: Option<bool>,
    ) -> Result<bool, BearerError> {
        let load = || async move {
            match read {
                Some(revoked) => Ok(revoked),
                None => Store::new(db).is_token_revoked(jti).await,
            }
        };
        Ok(self.revoked.get_or_load(jti, now.unix_ms(), load).await?)
    }

    /// The service named, from the cache or storage (`None`: no such service).
    pub(crate) async fn service<D: SqlDb>(
        &self,
        db: &D,
        name: &str,
        now: Now,
    ) -> Result<Option<Rc<Service>>, StoreError> {
        self.service_or(db, name, now, None).await
    }

    /// [`ServiceCaches::service`], taking `read` (read with the credential) on a miss if given.
    async fn service_or<D: SqlDb>(
        &self,
        db: &D,
        name: &str,
        now: Now,
        read: Option<Option<Rc<Service>>>,
    ) -> Result<Option<Rc<Service>>, StoreError> {
        let load = || async move {
            match read {
                Some(service) => Ok(service),
                None => Ok(Store::new(db).service(name).await?.map(Rc::new)),
            }
        };
        self.services.get_or_load(name, now.unix_ms(), load).await
    }

    /// Counts the request against the service's rate limit, if it has one, and refuses it past
    /// the limit (429). Where the instance outlives the request the count is the isolate's (no
    /// storage); else the database's, one UPSERT.
    #[cfg_attr(not(feature = "instance-per-request"), allow(unused_variables))]
    async fn check_rate_limit<D: SqlDb>(
        &self,
        db: &D,
        memory: InstanceMemory,
        service: &Service,
        client_id: &str,
        now: Now,
    ) -> Result<(), BearerError> {
        let Some(limit) = service.rate_limit else {
            return Ok(());
        };
        let now_ms = now.unix_ms();
        let count = match memory {
            InstanceMemory::Kept => self
                .rate_counts
                .hit(limit, &service.name, client_id, now_ms),
            #[cfg(feature = "instance-per-request")]
            InstanceMemory::PerRequest => {
                Store::new(db)
                    .count_request(&service.name, client_id, limit, now_ms)
                    .await?
            }
        };
        limit
            .decide(count, now_ms)
            .map_err(BearerError::RateLimited)
    }
}

/// A service request's one read made before the token's signature was checked
/// ([`verify_reading_first`]), its failure included: taken by [`ServiceCaches::credential`]
/// instead of a read of its own, so that a refusal or failure answers as without it.
/// Boxed: carried through the futures of every request's flow, which it would otherwise widen.
#[cfg(feature = "instance-per-request")]
pub(crate) type ReadFirst = Box<Result<crate::store::ServiceRequestRead, StoreError>>;
/// Never made where an instance serves many requests (it carries none of that code).
#[cfg(not(feature = "instance-per-request"))]
pub(crate) type ReadFirst = std::convert::Infallible;

/// What a credential's read brought besides it ([`Store::service_request`]): taken by the
/// request that made the read when the revocation and service caches miss too. A change to the
/// service through this isolate while the read was under way may then be cached for one TTL, the
/// bound another isolate's changes have anyway.
pub(crate) struct ReadWith {
    pub revoked: bool,
    pub service: Option<Rc<Service>>,
}

impl CacheInvalidation for ServiceCaches {
    fn credential_changed(&self, client_id: &str) {
        self.credentials.invalidate(client_id);
    }

    fn service_changed(&self, name: &str) {
        self.services.invalidate(name);
    }
}

/// An authorized service request: forward it.
#[derive(Debug)]
pub struct Authorized {
    pub plan: ForwardPlan,
    pub principal: Principal,
}

/// What the service flow learned about the caller on its way, kept when it refuses: the
/// audit line of a refusal names the token and credential it was about.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// The presented token, once verified.
    pub token: Option<Rc<VerifiedToken>>,
    /// The credential behind it, once looked up.
    pub credential: Option<Rc<CredentialStatus>>,
}

/// The service flow up to the forward: authenticate, load, decide, plan, assert. The runtime's
/// `ed25519` checks the signature of tokens this isolate has not verified before and signs
/// assertions it has not signed before. What it learns of the caller goes in `seen`.
// The isolate's three parts, the runtime's capabilities, the request, the clock and the
// caller's record: grouping them would only move the list into a struct built per request.
#[allow(clippy::too_many_arguments)]
pub async fn authorize_service<D: SqlDb, E: Ed25519>(
    verifier: &Verifier,
    minter: &Minter,
    caches: &ServiceCaches,
    caps: Capabilities<'_, D, E>,
    head: &RequestHead,
    service_name: &str,
    now: Now,
    seen: &mut Seen,
) -> Result<Authorized, BearerError> {
    let db = caps.db;
    // Path and framing first: refusing them needs no credential (and costs no signature check).
    crate::forward::check_request(head)?;
    let (token, scheme) = extract_access_token(head)?;
    #[cfg_attr(not(feature = "instance-per-request"), allow(unused_mut))]
    let mut read_first = None;
    #[cfg(feature = "instance-per-request")]
    let mut to_remember = None;
    let (verified, token_digest) = match caps.memory {
        InstanceMemory::Kept => verifier
            .verify_with_digest(caps.ed25519, token, now)
            .await
            .map_err(|e| BearerError::InvalidToken(TokenRefusal::Invalid(e)))?,
        #[cfg(feature = "instance-per-request")]
        InstanceMemory::PerRequest => {
            // Boxed: its state would otherwise widen this future, which every request (and
            // every runtime's gateway future) carries, for a path only Spin takes.
            let first = Box::pin(verify_reading_first(
                verifier,
                caps,
                token,
                service_name,
                now,
            ));
            let first = first.await?;
            (read_first, to_remember) = (first.read, first.to_remember);
            first.verified
        }
    };
    seen.token = Some(verified.clone());
    // RFC 8707: a token issued for other services (its `aud`) is refused here whatever its
    // scope, before any storage is read for it (on an instance per request the one read came
    // first, with the signature check it may save).
    if !verified.audience.admits(service_name) {
        return Err(BearerError::InvalidToken(TokenRefusal::OtherResource));
    }
    let claims = &verified.claims;
    // RFC 9449 §7.1-7.2: a bound token only under the DPoP scheme, and only a bound one.
    let bound_to = match (&claims.cnf, scheme) {
        (None, Scheme::Bearer) => None,
        (Some(cnf), Scheme::DPoP) => Some(cnf.jkt.as_str()),
        (Some(_), Scheme::Bearer) => {
            return Err(BearerError::InvalidToken(TokenRefusal::DpopBoundAsBearer))
        }
        (None, Scheme::DPoP) => return Err(BearerError::InvalidToken(TokenRefusal::NotDpopBound)),
    };
    let holder = Holder {
        client_id: &claims.client_id,
        user: &claims.sub,
        jti: &claims.jti,
        iat: claims.iat,
        exp: claims.exp,
        scopes: verified.scopes.as_ref(),
        request: Some((head.method.as_str(), &head.path)),
    };
    let read = (read_first, &mut seen.credential);
    let (status, service) = admit(caches, db, holder, service_name, now, read).await?;
    let credential = &status.credential;
    // The proof of a bound token, once the token and its credential passed every other check
    // (a refused request spends no replay slot and no signature check on it).
    if let Some(jkt) = bound_to {
        let proof = proof_header(head)
            .map_err(BearerError::InvalidDpopProof)?
            .ok_or(BearerError::InvalidDpopProof(DpopInvalid::Missing))?;
        let url = request_url(&head.scheme, &head.host, &head.path);
        let target = ProofTarget {
            method: head.method.as_str(),
            url: &url,
            access_token: Some(token),
            bound_to: Some(jkt),
        };
        let proofs = &caches.proofs;
        let crypto = (caps.ed25519, caps.jws);
        accept_proof(proofs, db, caps.memory, crypto, proof, &target, now).await?;
    }
    // Counted only once the credential, its scope and the service's policy have admitted the
    // request: nobody without the credential can spend its quota. Before the plan and the
    // assertion, so a refused request costs neither.
    caches
        .check_rate_limit(db, caps.memory, &service, &claims.client_id, now)
        .await?;
    let principal = Principal {
        user: claims.sub.clone(),
        client_id: claims.client_id.clone(),
        credential: credential.name.clone(),
        scope: claims.scope.clone(),
        token_id: claims.jti.clone(),
    };
    let mut plan = plan_forward(head, &service, &principal)?;
    // The origin's own credential, set after the client's were stripped (crate::upstream_auth).
    if let Some(auth) = &service.upstream_auth {
        let value = origin_credential(&caches.origin_tokens, caps.secrets, auth, now)
            .await
            .map_err(|why| {
                BearerError::UpstreamCredential(OriginCredentialError {
                    service: service.name.clone(),
                    why,
                })
            })?;
        inject(&mut plan.headers, auth.header_name(), value);
    }
    // The same identity, signed, for origins that cannot trust the network in front of them
    // (crate::assertion). Any the client sent went with the other X-Isogate-* headers.
    let asserted = AssertedRequest {
        token_digest: &token_digest,
        token_expires_at: claims.exp,
        service: &service.name,
        principal: &principal,
    };
    let assertion = minter
        .identity_assertion(caps.ed25519, &asserted, now)
        .await;
    plan.headers
        .push((ASSERTION_HEADER.to_owned(), assertion.to_string()));
    // Remembered only now, once the request is admitted: a refused one writes nothing.
    // Best-effort: a failed write (a read-only replica, say) changes nothing for the request.
    #[cfg(feature = "instance-per-request")]
    if let Some(remembered_as) = to_remember {
        let cutoff = crate::token::expiry_cutoff(now);
        let store = Store::new(db);
        let remember = store.remember_verified_token(&remembered_as, claims.exp, cutoff);
        let _ = Box::pin(remember).await;
    }
    Ok(Authorized { plan, principal })
}

/// What [`verify_reading_first`] did: the token verified, the request's one read (`None`: no
/// read made) and, if the token's signature was checked because no row vouched for it, the
/// key to remember it under once the request is admitted.
#[cfg(feature = "instance-per-request")]
struct ReadAndVerified {
    verified: (Rc<VerifiedToken>, [u8; 32]),
    read: Option<ReadFirst>,
    to_remember: Option<String>,
}

/// The token verified on an instance that remembers nothing (Spin), with the request's one
/// read made first: the read also says whether this token's signature was verified before
/// ([`crate::verify::Unverified`]), and then it is not checked again. The claims the read is
/// chosen by are trusted only once the token is verified. A token whose form does not parse is
/// refused as ever, with no read.
#[cfg(feature = "instance-per-request")]
async fn verify_reading_first<D: SqlDb, E: Ed25519>(
    verifier: &Verifier,
    caps: Capabilities<'_, D, E>,
    token: &str,
    service_name: &str,
    now: Now,
) -> Result<ReadAndVerified, BearerError> {
    let invalid = |e| BearerError::InvalidToken(TokenRefusal::Invalid(e));
    let Some(unverified) = verifier.read_unverified(token) else {
        let verified = verifier.verify_with_digest(caps.ed25519, token, now).await;
        return Ok(ReadAndVerified {
            verified: verified.map_err(invalid)?,
            read: None,
            to_remember: None,
        });
    };
    let claims = unverified.claims();
    let looked_up = (claims.jti.as_str(), claims.client_id.as_str(), service_name);
    let read = Store::new(caps.db)
        .service_request_remembering(looked_up, unverified.remembered_as())
        .await;
    let verified_before = matches!(read, Ok((_, true)));
    let to_remember = matches!(read, Ok((_, false))).then(|| unverified.remembered_as().to_owned());
    let verified = verifier
        .verify_unverified(caps.ed25519, unverified, verified_before, now)
        .await
        .map_err(invalid)?;
    // A failed read is answered where a read of its own would have been (after the token's
    // own refusals, as before).
    Ok(ReadAndVerified {
        verified,
        read: Some(Box::new(read.map(|(read, _)| read))),
        to_remember,
    })
}

/// The authentication scheme a token came under (RFC 9110 §11.1: compared without case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// RFC 6750: `Authorization: Bearer`, `X-Octelium-Auth`, the WebSocket subprotocol.
    Bearer,
    /// RFC 9449 §7.1: `Authorization: DPoP`, with a `DPoP` proof beside it.
    DPoP,
}

/// The token of a request ([`extract_bearer`]'s rules, with `Authorization: DPoP` too) and
/// the scheme it came under.
pub fn extract_access_token(head: &RequestHead) -> Result<(&str, Scheme), BearerError> {
    let mut scheme = Scheme::Bearer;
    let token = extract_token(head, &mut scheme)?;
    Ok((token, scheme))
}

/// RFC 6750 §2: the token comes from `Authorization: Bearer`, `X-Octelium-Auth` or, on a
/// WebSocket handshake, an `isogate.bearer.<token>` subprotocol, exactly one of them, and
/// never from the query string (§2.3 is deliberately not supported: URLs end
/// up in logs). `Authorization: DPoP` counts as one of them ([`extract_access_token`]).
pub fn extract_bearer(head: &RequestHead) -> Result<&str, BearerError> {
    extract_token(head, &mut Scheme::Bearer)
}

fn extract_token<'h>(head: &'h RequestHead, scheme: &mut Scheme) -> Result<&'h str, BearerError> {
    // Checked first, whatever the headers hold: a token in the query beside one in a header is
    // two methods at once (§2, §3.1 `invalid_request`), and the query would carry it on to the
    // origin's URL and logs.
    if query_has_access_token(head.query.as_deref()) {
        return Err(BearerError::InvalidRequest(
            "access tokens are not accepted in the query string; use the Authorization header"
                .into(),
        ));
    }
    let repeated = |name: &str| BearerError::InvalidRequest(format!("repeated {name} header"));
    let authorization = head
        .single_header("authorization")
        .map_err(|_| repeated("authorization"))?;
    let octelium = head
        .single_header("x-octelium-auth")
        .map_err(|_| repeated("x-octelium-auth"))?;
    let from_authorization = match authorization {
        None => None,
        Some(value) => {
            let value = value.trim();
            let (name, token) = value.split_once(' ').unwrap_or((value, ""));
            let dpop = name.eq_ignore_ascii_case("dpop");
            if dpop || name.eq_ignore_ascii_case("bearer") {
                if dpop {
                    *scheme = Scheme::DPoP;
                }
                let token = token.trim();
                if token.is_empty() {
                    return Err(BearerError::InvalidRequest(
                        "the bearer token is empty".into(),
                    ));
                }
                Some(token)
            } else {
                // Some other scheme (Basic, ...) is not a credential for this gateway.
                None
            }
        }
    };
    let from_octelium = octelium.map(str::trim).filter(|t| !t.is_empty());
    // A WebSocket handshake may carry it as a subprotocol, the one field browsers can set
    // (crate::forward::websocket).
    let from_protocol =
        bearer_subprotocol(head).map_err(|e| BearerError::InvalidRequest(e.into()))?;
    match (from_authorization, from_octelium, from_protocol) {
        (Some(t), None, None) | (None, Some(t), None) | (None, None, Some(t)) => Ok(t),
        (None, None, None) => Err(BearerError::Missing),
        _ => Err(BearerError::InvalidRequest(
            "send the access token in one header only".into(),
        )),
    }
}

fn query_has_access_token(query: Option<&str>) -> bool {
    // Decode the name too: `access%5Ftoken` is the same parameter to any form parser.
    query.is_some_and(|q| {
        q.split('&').any(|p| {
            let name = p.split('=').next().unwrap_or("");
            form_urldecode(name).as_deref().unwrap_or(name) == "access_token"
        })
    })
}

/// RFC 6750 §3.1 `insufficient_scope` unless the token's scopes name the service.
pub fn check_scope(scopes: &ScopeSet, service_name: &str) -> Result<(), BearerError> {
    if scopes.allows_service(service_name) {
        return Ok(());
    }
    Err(BearerError::InsufficientScope {
        refusal: ScopeRefusal::NotInScope,
        scope: format!("service:{service_name}"),
    })
}

/// The token's scopes must cover the service, the service's allowed users must include the
/// user, by id (a user re-created under a deleted user's name is another user), and then its
/// rules must admit the request ([`policy::evaluate`]: first match wins, default deny). Every
/// refusal is RFC 6750 §3.1 `insufficient_scope` (403): the token is valid, it just does not
/// reach this.
pub fn decide_access(request: &policy::Request<'_>, service: &Service) -> Result<(), BearerError> {
    decide_users(request.scopes, request.user, service)?;
    match policy::evaluate(&service.rules, request) {
        Verdict::Allow(_) => Ok(()),
        Verdict::Denied(_) => Err(refusal(ScopeRefusal::DeniedByRule, service)),
        Verdict::NoRuleMatched => Err(refusal(ScopeRefusal::NoRuleMatched, service)),
    }
}

/// The scope and allowed-users part of [`decide_access`], without the rules (an open
/// connection's re-check, which has no request line: its rules were decided at the handshake).
#[inline]
pub fn decide_users(scopes: &ScopeSet, user: i64, service: &Service) -> Result<(), BearerError> {
    check_scope(scopes, &service.name)?;
    if !service.allowed_user_ids.is_empty() && !service.allowed_user_ids.contains(&user) {
        return Err(refusal(ScopeRefusal::Policy, service));
    }
    Ok(())
}

fn refusal(refusal: ScopeRefusal, service: &Service) -> BearerError {
    BearerError::InsufficientScope {
        refusal,
        scope: format!("service:{}", service.name),
    }
}

mod admit;
pub mod session;

pub(crate) use admit::{admit, Holder};

#[cfg(test)]
mod tests;
