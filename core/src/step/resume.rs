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
use crate::http::{RequestHead, Response};
use crate::mint::Minter;
use crate::oauth;
use crate::service::ServiceCaches;
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
}

/// The parts of the isolate's state a resumed request may use.
#[derive(Clone, Copy)]
pub(crate) struct Parts<'g> {
    pub config: &'g GatewayConfig,
    pub minter: &'g Minter,
    pub verifier: &'g Verifier,
    pub caches: &'g ServiceCaches,
}

/// A root-domain request waiting for its body.
pub struct Resume<'g> {
    pub(crate) endpoint: Endpoint,
    pub(crate) head: RequestHead,
    pub(crate) now: Now,
    pub(crate) parts: Parts<'g>,
    pub(crate) audit: AuditContext,
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
        } = self;
        let realm = &parts.config.realm;
        let body = match body {
            Body::Complete(body) => body,
            Body::Unreadable => return unreadable(&audit, &head, endpoint),
        };
        let mut caller = Caller::default();
        let (answer, answered) = match endpoint {
            Endpoint::Token => (
                oauth::token_endpoint(parts.minter, caps, &head, &body, now, &mut caller).await,
                Outcome::TokenIssued,
            ),
            Endpoint::Revoke => (
                oauth::revocation_endpoint(
                    parts.verifier,
                    parts.caches,
                    parts.config.max_revocations_per_credential,
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
                oauth::introspection_endpoint(parts.verifier, caps, &head, &body, now, &mut caller)
                    .await,
                Outcome::TokenIntrospected,
            ),
            Endpoint::Admin => {
                let ctx = AdminContext {
                    admin_token: parts.config.admin_token.as_deref(),
                    realm,
                    minter: parts.minter,
                    caches: parts.caches,
                };
                let answer = admin::handle(&ctx, caps, &head, &body, now).await;
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
            Outcome::TokenRefused,
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
        Err(e) => {
            let response = e.to_response(ctx.realm);
            let reason = Some(Reason::from(&e));
            let refused = root_entry(
                head,
                Who::default(),
                Outcome::AdminRefused,
                reason,
                response.status,
            );
            Step::answer(audit, &refused, response, Diagnostic::behind(e.source()))
        }
    }
}
