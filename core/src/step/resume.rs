//! A root-domain request waiting for its body ([`Resume`]), and the endpoint it is for: what
//! runs once the body is read, and the audit line of each answer.

use super::{Body, Diagnostic, Step};
use crate::admin::AdminAnswer;
use crate::admin::{self, AdminContext};
use crate::audit::{
    admin_credential_id, AdminEntry, AuditContext, Caller, Entry, Outcome, Reason, Who,
};
use crate::capability::{Capabilities, Ed25519, Now, SqlDb};
use crate::config::GatewayConfig;
use crate::error::{AdminError, GatewayError, TokenError};
use crate::http::{Method, RequestHead, Response};
use crate::mint::Minter;
use crate::oauth;
use crate::service::ServiceCaches;
use crate::throttle::AuthThrottle;
use crate::token_request::MAX_TOKEN_REQUEST_BYTES;
use crate::verify::Verifier;
use std::error::Error as _;
use std::fmt;

/// The root-domain endpoints that read a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    Revoke,
    Introspect,
    Admin,
}

impl Endpoint {
    /// The outcome of a refusal at this endpoint.
    fn refused(self) -> Outcome {
        match self {
            Endpoint::Admin => Outcome::AdminRefused,
            _ => Outcome::TokenRefused,
        }
    }

    /// The most body bytes the endpoint accepts.
    pub(crate) fn limit(self) -> usize {
        match self {
            Endpoint::Admin => admin::MAX_ADMIN_BODY_BYTES,
            _ => MAX_TOKEN_REQUEST_BYTES,
        }
    }

    /// What the endpoint refuses from the head alone, so that no byte of the body is read for
    /// it: the wrong method (OAuth endpoints), a declared length over the limit. The same
    /// checks, in the same order, as after reading, so a chunked body gets the same answer as
    /// one whose length was declared. (The admin credential is checked before these, and
    /// before the body, by the gateway: [`admin::authorize`] reads storage.)
    pub(crate) fn refuse_before_body(
        self,
        head: &RequestHead,
        parts: &Parts<'_>,
        audit: &AuditContext,
    ) -> Option<Step<'static>> {
        let too_large = head
            .declared_length()
            .is_some_and(|n| n > self.limit() as u64);
        if self == Endpoint::Admin {
            let refused = too_large.then_some(AdminError::PayloadTooLarge)?;
            return Some(admin_refused(
                audit,
                head,
                parts.config.realm.as_str(),
                refused,
            ));
        }
        let refused = if head.method != Method::Post {
            TokenError::MethodNotAllowed
        } else {
            too_large.then_some(TokenError::PayloadTooLarge)?
        };
        let realm = &parts.config.realm;
        Some(oauth_answer(
            audit,
            head,
            realm,
            Err(refused),
            Outcome::TokenRefused,
            &Caller::default(),
        ))
    }
}

pub(crate) fn admin_context<'g>(parts: &Parts<'g>) -> AdminContext<'g> {
    AdminContext {
        admin_token: parts.config.admin_token.as_deref(),
        realm: &parts.config.realm,
        minter: parts.minter,
        caches: parts.caches,
        throttle: parts.throttle,
    }
}

/// The parts of the isolate's state a resumed request may use.
#[derive(Clone, Copy)]
pub(crate) struct Parts<'g> {
    pub config: &'g GatewayConfig,
    pub minter: &'g Minter,
    pub verifier: &'g Verifier,
    pub caches: &'g ServiceCaches,
    pub throttle: &'g AuthThrottle,
    /// External issuers' keys (federated credentials), per isolate.
    pub federated: &'g crate::federation::FederatedKeys,
}

/// A root-domain request waiting for its body.
pub struct Resume<'g> {
    pub(crate) endpoint: Endpoint,
    pub(crate) head: RequestHead,
    pub(crate) now: Now,
    pub(crate) parts: Parts<'g>,
    pub(crate) audit: AuditContext,
    /// The admin credential's check, passed before the body was read (admin requests only).
    pub(crate) authorized: Option<admin::Authorized>,
}

impl fmt::Debug for Resume<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resume")
            .field("endpoint", &self.endpoint)
            .field("path", &self.head.path)
            .finish_non_exhaustive()
    }
}

impl<'g> Resume<'g> {
    /// Runs the endpoint on the body the runtime read.
    pub async fn finish<D: SqlDb, E: Ed25519>(
        self,
        caps: Capabilities<'_, D, E>,
        body: Body,
    ) -> Step<'g> {
        let Resume {
            endpoint,
            head,
            now,
            parts,
            audit,
            authorized,
        } = self;
        let realm = &parts.config.realm;
        let body = match body {
            Body::Complete(body) => body,
            Body::Unreadable => return unreadable(&audit, &head, endpoint),
        };
        let mut caller = Caller::default();
        let (answer, answered) = match endpoint {
            Endpoint::Token => (
                oauth::token_endpoint(
                    parts.minter,
                    parts.caches,
                    parts.throttle,
                    parts.caches.proofs(),
                    parts.federated,
                    caps,
                    &head,
                    &body,
                    now,
                    &mut caller,
                )
                .await,
                Outcome::TokenIssued,
            ),
            Endpoint::Revoke => (
                oauth::revocation_endpoint(
                    parts.verifier,
                    parts.caches,
                    parts.config.max_revocations_per_credential,
                    parts.throttle,
                    parts.federated,
                    caps,
                    &head,
                    &body,
                    now,
                    &mut caller,
                )
                .await,
                Outcome::TokenRevoked,
            ),
            Endpoint::Introspect => (
                oauth::introspection_endpoint(
                    parts.verifier,
                    parts.throttle,
                    parts.federated,
                    caps,
                    &head,
                    &body,
                    now,
                    &mut caller,
                )
                .await,
                Outcome::TokenIntrospected,
            ),
            Endpoint::Admin => {
                let ctx = admin_context(&parts);
                let answer = match authorized {
                    Some(authorized) => {
                        admin::handle(&ctx, caps, &head, &body, now, authorized).await
                    }
                    None => Err(AdminError::Unauthorized),
                };
                return admin_answer(&audit, &head, &ctx, answer);
            }
        };
        oauth_answer(&audit, &head, realm, answer, answered, &caller)
    }
}

// The answers are built outside the generic `finish`, which only awaits the endpoints.

/// The line of a root-domain request: no service, and the caller as far as known.
fn root_entry<'a>(
    head: &'a RequestHead,
    who: Who<'a>,
    outcome: Outcome,
    reason: Option<Reason>,
    status: u16,
) -> Entry<'a> {
    Entry {
        head,
        service: None,
        who,
        admin: None,
        outcome,
        reason,
        status,
    }
}

fn unreadable(audit: &AuditContext, head: &RequestHead, endpoint: Endpoint) -> Step<'static> {
    let e = GatewayError::UnreadableBody;
    let response = e.to_response();
    let reason = Some(Reason::from(e));
    let refused = root_entry(
        head,
        Who::default(),
        endpoint.refused(),
        reason,
        response.status,
    );
    Step::answer(audit, &refused, response, None)
}

/// A token, revocation or introspection answer: `answered` when it succeeded.
fn oauth_answer(
    audit: &AuditContext,
    head: &RequestHead,
    realm: &str,
    answer: Result<Response, TokenError>,
    answered: Outcome,
    caller: &Caller,
) -> Step<'static> {
    let (response, outcome, reason, diagnostic) = match answer {
        Ok(response) => (response, answered, None, None),
        Err(e) => (
            e.to_response(realm),
            match e {
                TokenError::Throttled { .. } => Outcome::Throttled,
                _ => Outcome::TokenRefused,
            },
            Some(Reason::from(&e)),
            Diagnostic::behind(e.source()),
        ),
    };
    let entry = root_entry(head, caller.who(), outcome, reason, response.status);
    Step::answer(audit, &entry, response, diagnostic)
}

/// An admin API answer: a change or a read by the admin credential, or a refusal.
fn admin_answer(
    audit: &AuditContext,
    head: &RequestHead,
    ctx: &AdminContext<'_>,
    answer: Result<AdminAnswer, AdminError>,
) -> Step<'static> {
    match answer {
        Ok(answer) => {
            // Authorized: the configured token is the one presented.
            let admin = admin_credential_id(ctx.admin_token.unwrap_or_default());
            let outcome = match answer.change {
                Some(_) => Outcome::AdminChange,
                None => Outcome::AdminRead,
            };
            let done = Entry {
                admin: Some(AdminEntry {
                    admin: &admin,
                    change: answer.change.as_ref(),
                }),
                ..root_entry(head, Who::default(), outcome, None, answer.response.status)
            };
            Step::answer(audit, &done, answer.response, None)
        }
        Err(e) => admin_refused(audit, head, ctx.realm, e),
    }
}

/// An admin API request refused: before its body (a wrong or throttled credential, a declared
/// length over the limit) or after.
pub(crate) fn admin_refused(
    audit: &AuditContext,
    head: &RequestHead,
    realm: &str,
    e: AdminError,
) -> Step<'static> {
    let response = e.to_response(realm);
    let reason = Some(Reason::from(&e));
    let outcome = match e {
        AdminError::Throttled { .. } => Outcome::Throttled,
        _ => Outcome::AdminRefused,
    };
    let refused = root_entry(head, Who::default(), outcome, reason, response.status);
    Step::answer(audit, &refused, response, Diagnostic::behind(e.source()))
}
