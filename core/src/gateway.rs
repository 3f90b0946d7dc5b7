//! The gateway: one value per isolate owning its state (configuration, the [`Minter`], the
//! [`Verifier`] and the service caches), and the router that starts every request.
//!
//! ```text
//! <DOMAIN>          /oauth2/token, /oauth2/revoke, /oauth2/introspect, /admin/...  NeedBody
//!                   metadata, JWKS, /healthz (GET, HEAD)                           Respond
//! <svc>.<DOMAIN>    /.well-known/oauth-protected-resource (RFC 9728; GET, HEAD)    Respond
//!                   anything else: the service flow (crate::service)               Forward | Respond
//! any other host                                                                   Respond 404
//! ```
//!
//! [`GatewayCell`] holds the isolate's gateway: built from the settings on first use, kept
//! for the isolate's life, and retried on the next request after a settings error.

use crate::admin;
use crate::audit::{AuditContext, AuditRecord, Entry, Outcome, Reason, Who, REQUEST_ID_HEADER};
use crate::capability::{Capabilities, Ed25519, Now, SqlDb};
use crate::config::{gateway_settings, ConfigError, GatewayConfig};
use crate::error::{BearerError, Challenge, GatewayError};
use crate::http::{Method, RequestHead, Response};
use crate::keys::{KeySet, SigningKey, VerifyingKey};
use crate::mint::Minter;
use crate::model::is_valid_service_name;
use crate::oauth;
use crate::resource::{ServiceUrls, METADATA_PATH};
use crate::service::session::Session;
use crate::service::{authorize_service, Seen, ServiceCaches};
use crate::step::{
    admin_context, admin_refused, Diagnostic, Endpoint, Forward, Parts, Resume, Step,
};
use crate::throttle::AuthThrottle;
use crate::verify::Verifier;
use serde::Serialize;
use std::cell::RefCell;
use std::error::Error as _;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// Where a request goes, decided from its `Host` alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The root domain: token endpoint, discovery, admin API.
    Root,
    /// `<name>.<DOMAIN>`: authorize and forward; the body is never read.
    Service(String),
    /// Some other host.
    UnknownHost,
}

/// One isolate's gateway.
pub struct Gateway {
    config: GatewayConfig,
    minter: Minter,
    verifier: Verifier,
    caches: ServiceCaches,
    throttle: AuthThrottle,
    federated: crate::federation::FederatedKeys,
}

impl Gateway {
    /// `extra_keys` are public keys published and accepted besides the signing key's own (key
    /// rotation: the next key, and retired keys whose tokens must keep validating).
    pub fn new(
        config: GatewayConfig,
        signing_key: SigningKey,
        extra_keys: Vec<VerifyingKey>,
    ) -> Gateway {
        let own = signing_key.verifying_key().clone();
        let mut keys = vec![own.clone()];
        keys.extend(extra_keys.into_iter().filter(|k| k.kid != own.kid));
        Gateway {
            verifier: Verifier::new(KeySet::new(keys), &config.issuer, &config.issuer)
                .with_services(ServiceUrls::new(&config.issuer, &config.domain)),
            minter: Minter::new(
                signing_key,
                &config.issuer,
                &config.issuer,
                &config.domain,
                config.token_ttl_secs,
            ),
            caches: ServiceCaches::new(config.cache_ttl_ms, config.shared_loads),
            throttle: AuthThrottle::new(config.throttle),
            federated: crate::federation::FederatedKeys::default(),
            config,
        }
    }

    /// Builds the gateway from named settings (see [`gateway_settings`]).
    pub fn from_settings(setting: impl Fn(&str) -> Option<String>) -> Result<Gateway, ConfigError> {
        let settings = gateway_settings(setting)?;
        Ok(Gateway::new(
            settings.config,
            settings.signing_key,
            settings.extra_keys,
        ))
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    pub fn minter(&self) -> &Minter {
        &self.minter
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    pub fn caches(&self) -> &ServiceCaches {
        &self.caches
    }

    /// Routes on the `Host` header: the root domain, or one DNS label under it.
    pub fn route(&self, head: &RequestHead) -> Route {
        let host = head.host.trim().trim_end_matches('.').to_ascii_lowercase();
        let domain = &self.config.domain;
        // A domain without a port matches a host with one only for the default ports.
        let host = if domain.contains(':') {
            host
        } else {
            host.strip_suffix(":443")
                .or_else(|| host.strip_suffix(":80"))
                .map(str::to_owned)
                .unwrap_or(host)
        };
        if host == *domain {
            return Route::Root;
        }
        match host
            .strip_suffix(domain.as_str())
            .and_then(|h| h.strip_suffix('.'))
        {
            Some(label) if is_valid_service_name(label) => Route::Service(label.to_owned()),
            _ => Route::UnknownHost,
        }
    }

    /// The first step of a request: answered at once, forwarded, or waiting for its body.
    pub async fn start<'g, D: SqlDb, E: Ed25519>(
        &'g self,
        caps: Capabilities<'_, D, E>,
        mut head: RequestHead,
        now: Now,
    ) -> Step<'g> {
        // Behind a proxy the operator names, the client's address is the one it reports.
        if let Some(header) = &self.config.client_ip_header {
            if let Some(address) = head.address_from_proxy(header) {
                head.client_ip = Some(address);
            }
        }
        let audit = AuditContext::new(self.config.audit, &head, caps.random, now);
        let name = match self.route(&head) {
            Route::Root => return self.root(caps, head, now, audit).await,
            Route::Service(name) => name,
            Route::UnknownHost => return refused(&audit, &head, GatewayError::UnknownHost),
        };
        // RFC 9728 §3: the service's metadata is the gateway's to answer, to anyone. Behind a
        // `dyn` future: its cache lookup then adds nothing to what every other request's
        // future holds and runs.
        if head.path == METADATA_PATH {
            let answer: Pin<Box<dyn Future<Output = Step<'static>> + '_>> =
                Box::pin(self.resource_metadata(caps.db, &head, &name, now, &audit));
            return answer.await;
        }
        let mut seen = Seen::default();
        let authorized = authorize_service(
            &self.verifier,
            &self.minter,
            &self.caches,
            caps,
            &head,
            &name,
            now,
            &mut seen,
        )
        .await;
        match authorized {
            Ok(authorized) => {
                let mut plan = authorized.plan;
                plan.headers
                    .push((REQUEST_ID_HEADER.to_owned(), audit.request_id().to_owned()));
                let websocket = plan
                    .websocket
                    .as_ref()
                    .map(|ws| ws.protocols.as_slice().into());
                let session = websocket.is_some().then(|| Session::admitted(&name, &seen));
                let session = session.flatten().map(Box::new);
                Step::Forward(Forward {
                    plan,
                    timeout_ms: self.config.upstream_timeout_ms,
                    record: audit.forward(head, name, seen).websocket(websocket),
                    session,
                })
            }
            Err(e) => self.refuse_service(&audit, &head, &name, &seen, &e),
        }
    }

    /// `GET <service URL>/.well-known/oauth-protected-resource` (RFC 9728 §3): the service's
    /// metadata, from the cached service record; no token needed, nothing forwarded. No such
    /// service: 404, as a request with a token would get.
    async fn resource_metadata<D: SqlDb>(
        &self,
        db: &D,
        head: &RequestHead,
        name: &str,
        now: Now,
        audit: &AuditContext,
    ) -> Step<'static> {
        if !matches!(head.method, Method::Get | Method::Head) {
            return Step::respond(GatewayError::ReadOnly.to_response());
        }
        let refused = match self.caches.service(db, name, now).await {
            Ok(Some(_)) => {
                let urls = self.minter.services();
                return Step::respond(oauth::resource_metadata_response(
                    urls,
                    &self.config.issuer,
                    name,
                ));
            }
            Ok(None) => BearerError::UnknownService,
            Err(e) => BearerError::Unavailable(e),
        };
        self.refuse_service(audit, head, name, &Seen::default(), &refused)
    }

    /// A service request refused, its challenges naming the realm and where the service's
    /// metadata is (RFC 9728 §5.1). Never inlined: refusals stay out of the flow's code.
    #[inline(never)]
    fn refuse_service(
        &self,
        audit: &AuditContext,
        head: &RequestHead,
        service: &str,
        seen: &Seen,
        e: &BearerError,
    ) -> Step<'static> {
        let metadata = self.minter.services().metadata_url(service);
        let challenge = Challenge {
            realm: &self.config.realm,
            resource_metadata: Some(&metadata),
        };
        service_refused(audit, head, service, seen, e, &challenge)
    }

    async fn root<D: SqlDb, E: Ed25519>(
        &self,
        caps: Capabilities<'_, D, E>,
        head: RequestHead,
        now: Now,
        audit: AuditContext,
    ) -> Step<'_> {
        let endpoint = match head.path.as_str() {
            "/oauth2/token" => Endpoint::Token,
            "/oauth2/revoke" => Endpoint::Revoke,
            "/oauth2/introspect" => Endpoint::Introspect,
            p if p.starts_with("/admin/") => Endpoint::Admin,
            "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration" => {
                return read_only(&head, || oauth::metadata_response(&self.config.issuer));
            }
            "/oauth2/jwks" | "/.well-known/jwks.json" => {
                return read_only(&head, || oauth::jwks_response(self.verifier.keys()))
            }
            "/healthz" => {
                return read_only(&head, || Response::json(200, &Health { status: "ok" }))
            }
            _ => return refused(&audit, &head, GatewayError::NoSuchEndpoint),
        };
        let parts = Parts {
            config: &self.config,
            minter: &self.minter,
            verifier: &self.verifier,
            caches: &self.caches,
            throttle: &self.throttle,
            federated: &self.federated,
        };
        // The admin credential first, before any body byte is read: one read of the
        // address's failure counts when one is presented (a wrong one is counted, a throttled
        // one refused unseen), none when it is missing.
        let mut authorized = None;
        if endpoint == Endpoint::Admin {
            match admin::authorize(&admin_context(&parts), caps.db, &head, now).await {
                Ok(proof) => authorized = Some(proof),
                Err(e) => return admin_refused(&audit, &head, &self.config.realm, e),
            }
        }
        // Refused from the head alone: no body is read for a request the endpoint would refuse
        // anyway, nor for one that declares itself over the limit (the runtime then leaves it
        // unread: step::leftover_body).
        if let Some(refusal) = endpoint.refuse_before_body(&head, &parts, &audit) {
            return refusal;
        }
        Step::NeedBody {
            limit: endpoint.limit(),
            resume: Box::new(Resume {
                endpoint,
                head,
                now,
                parts,
                audit,
                authorized,
            }),
        }
    }
}

// The refusals are built outside the generic `start`, which only routes and authorizes.

/// A service request refused, with what the flow had `seen` of its caller.
fn service_refused(
    audit: &AuditContext,
    head: &RequestHead,
    service: &str,
    seen: &Seen,
    e: &BearerError,
    challenge: &Challenge<'_>,
) -> Step<'static> {
    let response = e.to_response(challenge);
    let entry = Entry {
        head,
        service: Some(service),
        who: Who::from(seen),
        admin: None,
        outcome: match e {
            BearerError::RateLimited(_) => Outcome::Throttled,
            _ => Outcome::Denied,
        },
        reason: Some(Reason::from(e)),
        status: response.status,
    };
    Step::answer(audit, &entry, response, Diagnostic::behind(e.source()))
}

/// A request for no host or endpoint of this gateway.
fn refused(audit: &AuditContext, head: &RequestHead, e: GatewayError) -> Step<'static> {
    let response = e.to_response();
    let entry = Entry {
        head,
        service: None,
        who: Who::default(),
        admin: None,
        outcome: Outcome::Denied,
        reason: Some(Reason::from(e)),
        status: response.status,
    };
    Step::answer(audit, &entry, response, None)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// Discovery and health answer GET and HEAD only.
fn read_only(head: &RequestHead, respond: impl FnOnce() -> Response) -> Step<'static> {
    match head.method {
        Method::Get | Method::Head => Step::respond(respond()),
        _ => Step::respond(GatewayError::ReadOnly.to_response()),
    }
}

/// The isolate's gateway: built once from the settings and kept, or, after a settings error,
/// rebuilt on the next request (an operator fixing a variable needs no restart). Meant for a
/// `thread_local!` (`const { GatewayCell::new() }`): the runtimes run one request at a time
/// per isolate.
pub struct GatewayCell {
    gateway: RefCell<Option<Rc<Gateway>>>,
    /// See [`GatewayConfig::shared_loads`].
    shared_loads: bool,
}

impl Default for GatewayCell {
    fn default() -> Self {
        GatewayCell::new()
    }
}

impl GatewayCell {
    pub const fn new() -> GatewayCell {
        GatewayCell {
            gateway: RefCell::new(None),
            shared_loads: true,
        }
    }

    /// For a runtime that cancels a request awaiting another request's I/O (workerd: a
    /// request parked on a storage read made by another request is answered 500 as "hung").
    /// The gateway's caches then never make a request wait on another's read: concurrent
    /// misses for one key each read (bounded by the isolate's concurrency).
    pub const fn for_isolated_requests() -> GatewayCell {
        GatewayCell {
            gateway: RefCell::new(None),
            shared_loads: false,
        }
    }

    /// The gateway, or the step to answer with (503, with the [`Diagnostic::Config`] to log)
    /// when the settings do not make one.
    // The error is a `Step` so the adapter answers it with the same code as every other step;
    // boxed, because a step is large and this one is built only when the settings are broken.
    pub fn gateway(
        &self,
        settings: impl Fn(&str) -> Option<String>,
    ) -> Result<Rc<Gateway>, Box<Step<'static>>> {
        if let Some(gateway) = self.gateway.borrow().as_ref() {
            return Ok(gateway.clone());
        }
        let built = gateway_settings(settings).map(|mut s| {
            s.config.shared_loads = self.shared_loads;
            Gateway::new(s.config, s.signing_key, s.extra_keys)
        });
        match built {
            Ok(gateway) => {
                let gateway = Rc::new(gateway);
                *self.gateway.borrow_mut() = Some(gateway.clone());
                Ok(gateway)
            }
            // No line: without settings there is no audit level.
            Err(e) => Err(Box::new(Step::Respond {
                response: GatewayError::Misconfigured.to_response(),
                diagnostic: Some(Diagnostic::Config(e)),
                audit: AuditRecord::none(),
            })),
        }
    }
}

mod connection;
#[cfg(test)]
mod tests;
