//! # isogate-workers
//!
//! Isogate on Cloudflare Workers. **Glue only**: every decision (routing, OAuth2, policy, what
//! to forward, what a client gets when an origin fails) is isogate-core's. This crate supplies
//! what the core asks for and performs the IO between its steps:
//!
//! - [`SqlDb`](isogate_core::capability::SqlDb) over D1 (`d1::D1Db`);
//! - [`Ed25519`](isogate_core::capability::Ed25519) over Web Crypto
//!   (`web_crypto::WebCryptoEd25519`; Web Crypto only, no portable fallback in the worker);
//! - upstream credentials' secrets (the Worker's secrets and vars, by name) and origins' token
//!   requests (`fetch`), as [`OriginSecrets`](isogate_core::capability::OriginSecrets)
//!   (`origin::WorkerSecrets`);
//! - the clock (`Date.now()`) and random bytes (`crypto.getRandomValues`, through the core's
//!   [`OsRandom`]);
//! - reading a request body, bounded, as [`Body::Complete`], or [`Body::Unreadable`] when the
//!   client's stream fails; and releasing a body the answer did not need as the core's
//!   [`leftover_body`] says (drained when small, never started on when declared large);
//! - forwarding: fetching the origin per the core's `ForwardPlan` with both bodies streamed
//!   (never buffered), and relaying what [`isogate_core::forward::relay`] decides.
//!
//! ## The loop
//!
//! The whole request, as `handle` and `run` below do it:
//!
//! ```text
//! match CELL.with(|cell| cell.gateway(settings)) {         // vars and secrets, once per isolate
//!     Ok(gateway) => run(gateway.start(caps, head, now).await, caps, &req).await,
//!     Err(misconfigured) => run(*misconfigured, caps, &req).await,       // 503, logged
//! }
//! // run:
//! loop {
//!     log(step.diagnostic());
//!     step = match step {
//!         Step::Respond { response, audit, .. } => { print_audit(audit.finish(now())); return respond(response) }
//!         Step::NeedBody { limit, resume } => resume.finish(caps, read_body(req, limit).await).await,
//!         Step::Forward(forward) => return forward_to_origin(req, forward),  // glue.js -> relay
//!         // (or the core's 400 when Fetch cannot send the plan: content with GET or HEAD)
//!     };
//! }
//! // relay: record.relay(outcome, now()) -> the answer and its audit line (console.log)
// a WebSocket (Relay::Upgrade): glue.js relays both ways; check_connection -> close with 1008
//! ```
//!
//! ## Why it is shaped this way
//!
//! The Fetch objects are handled in `glue.js`, which marshals them in one call per step (a
//! request head, a forward, a relay, a D1 statement) instead of one per header or string: the
//! per-request cost of crossing the wasm boundary is most of what a gateway adds on Workers
//! (see bench/). With warm caches nothing before the forward waits, so the handler completes
//! on its first poll and returns without a Rust executor ([`fetch`]).
//!
//! One gateway is built per isolate from the Worker's vars and secrets ([`GatewayCell`]) and
//! kept for its life: keys are parsed once, and the hot-path caches live in it.

mod d1;
mod entry;
mod glue;
mod origin;
mod web_crypto;

use d1::D1Db;
use entry::{console_error, Env};
use glue::{
    js_forward, js_read_bounded, js_relay_origin, js_request_head, js_respond,
    js_respond_after_drain, js_upgrade,
};
use isogate_core::audit::{AuditLine, ForwardRecord};
use isogate_core::capability::{InstanceMemory, OsRandom};
use isogate_core::forward::websocket::CLOSE_UNAVAILABLE;
use isogate_core::forward::{OutboundClient, Relay, UpstreamFailure, UpstreamOutcome};
use isogate_core::http::{split_url, Method, RequestHead, Response};
use isogate_core::service::session::{ConnectionCheck, Session};
use isogate_core::step::{leftover_body, Leftover, DRAIN_LIMIT_BYTES};
use isogate_core::{Body, Capabilities, Diagnostic, Forward, Gateway, GatewayCell, Now, Step};
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_crypto::WebCryptoEd25519;

thread_local! {
    /// The isolate's gateway (wasm here has one thread, so this is a per-isolate static).
    // workerd cancels a request that awaits another request's storage read: no shared loads.
    static CELL: GatewayCell = const { GatewayCell::for_isolated_requests() };
}

type Caps<'a> = Capabilities<'a, D1Db<'a>, WebCryptoEd25519>;

/// The Worker's `fetch` handler, called by `entry.js` (the module's default export). Written against
/// `web_sys` rather than through `#[event(fetch)]`, whose request conversion parses the URL
/// and reads `request.cf` on every request for nothing the gateway uses.
///
/// Returns a Response, or a Promise of one. With warm caches nothing on the way to the
/// forward waits, so the handler is polled once here and, when it completes (the common case),
/// its answer is returned directly: no Rust executor, no microtask hops. Only when it waits on
/// D1, Web Crypto or a body is it handed to `wasm-bindgen-futures` to finish.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, _ctx: JsValue) -> JsValue {
    let mut handling = Box::pin(handle(req, env));
    match handling
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(answer) => answer,
        // The pending futures (D1, body reads) keep the waker of their latest poll, so the
        // executor's polls from here on are the ones woken.
        Poll::Pending => {
            wasm_bindgen_futures::future_to_promise(async move { Ok(handling.await) }).into()
        }
    }
}

/// Answers one request: a Response, or for a forward the Promise of the relayed one.
async fn handle(req: web_sys::Request, env: Env) -> JsValue {
    let db = D1Db::new(&env);
    let ed25519 = web_crypto::ed25519();
    let secrets = origin::WorkerSecrets { env: &env };
    let caps = Capabilities {
        db: &db,
        ed25519: &*ed25519,
        random: &OsRandom,
        // An isolate serves many requests: rate counts stay in its memory.
        memory: InstanceMemory::Kept,
        // Upstream credentials: the Worker's secrets by name, token requests by fetch.
        secrets: &secrets,
        // Client assertions' signatures: Web Crypto.
        jws: &web_crypto::WebCryptoJws,
    };
    match isolate_gateway(&env) {
        Ok(gateway) => {
            let step = gateway.start(caps, request_head(&req), now()).await;
            run(step, caps, &req, &env).await
        }
        Err(misconfigured) => run(*misconfigured, caps, &req, &env).await,
    }
}

/// Does what each step says until the request is answered or forwarded.
async fn run(mut step: Step<'_>, caps: Caps<'_>, req: &web_sys::Request, env: &Env) -> JsValue {
    loop {
        log(step.diagnostic());
        step = match step {
            Step::Respond {
                response, audit, ..
            } => {
                print_audit(audit.finish(now()));
                return respond_releasing(req, response);
            }
            Step::NeedBody { limit, resume } => {
                resume.finish(caps, read_body(req, limit).await).await
            }
            // Fetch cannot send content with GET or HEAD: the core says what to answer instead.
            Step::Forward(forward) => match forward.sendable_by(OutboundClient::Fetch) {
                Step::Forward(forward) => return forward_to_origin(req, forward, env),
                refused => refused,
            },
        };
    }
}

/// The wall clock: `Date.now()`, which in Workers advances across IO (a fetch, a D1 query),
/// which is what a request's duration is made of.
fn now() -> Now {
    Now::from_unix_ms(js_sys::Date::now() as u64)
}

/// Prints the core's audit line as it is: one JSON string per `console.log`, which Workers
/// Logs, Logpush and `wrangler tail` carry.
fn print_audit(line: Option<AuditLine>) {
    if let Some(line) = line {
        web_sys::console::log_1(&JsValue::from_str(line.as_str()));
    }
}

/// Logs what the core reports, for every step of the loop and for an origin answer the core
/// replaced ([`relay`]); besides it, only a fall-back from Web Crypto is logged (once per
/// isolate). Never a secret: the core's `Diagnostic` names settings rather than showing them,
/// and D1's messages carry SQL text, not bound values.
fn log(diagnostic: Option<&Diagnostic>) {
    if let Some(diagnostic) = diagnostic {
        console_error(&diagnostic.to_string());
    }
}

/// The isolate's gateway, built from `env` on first use (one instantiation of the settings
/// reader for the request loop and the WebSocket checks alike).
fn isolate_gateway(env: &Env) -> Result<Rc<Gateway>, Box<Step<'static>>> {
    CELL.with(|cell| cell.gateway(|name| setting(env, name)))
}

/// A setting: the Worker's secret or var by that name (both are string properties of `env`).
fn setting(env: &Env, name: &str) -> Option<String> {
    env.string(name)
}

/// At most `limit + 1` bytes of the body (the core tells "too large" from the extra byte; the
/// rest is drained up to the core's bound, see `glue.js`). A request without a body needs no
/// read, and no Promise.
async fn read_body(req: &web_sys::Request, limit: usize) -> Body {
    if req.body().is_none() {
        return Body::Complete(Vec::new());
    }
    let read = js_read_bounded(req, limit as f64, DRAIN_LIMIT_BYTES as f64);
    match JsFuture::from(read).await {
        Ok(bytes) => Body::Complete(js_sys::Uint8Array::from(bytes).to_vec()),
        // The stream failed: the client went away or its body does not match its framing.
        // What arrived is not the body and is never judged as if it were.
        Err(_) => Body::Unreadable,
    }
}

/// An answer that did not need the request body, given once the body is released as the core
/// says ([`leftover_body`]): a Promise of the Response when a small body is drained first (in
/// `glue.js`), the Response itself otherwise. A request without a body, or whose body was read,
/// needs nothing.
fn respond_releasing(req: &web_sys::Request, resp: Response) -> JsValue {
    if req.body().is_some() && !req.body_used() {
        let declared = req.headers().get("content-length").ok().flatten();
        if let Leftover::Drain { at_most } = leftover_body(declared.as_deref()) {
            let (status, headers, body) = response_parts(resp);
            return js_respond_after_drain(req, at_most as f64, status, &headers, &body).into();
        }
    }
    respond(resp).into()
}

/// Splits a `glue.js` header blob into pairs.
fn header_pairs(blob: &str) -> Vec<(String, String)> {
    let mut parts = blob.split('\0');
    let mut pairs = Vec::new();
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        pairs.push((name.to_owned(), value.to_owned()));
    }
    pairs
}

/// Joins header pairs into a `glue.js` header blob.
fn header_blob(headers: &[(String, String)]) -> String {
    let mut blob = String::with_capacity(headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (name, value) in headers {
        blob.push_str(name);
        blob.push('\0');
        blob.push_str(value);
        blob.push('\0');
    }
    blob
}

fn request_head(req: &web_sys::Request) -> RequestHead {
    let raw = js_request_head(req);
    let mut fields = raw.splitn(3, '\0');
    let method = Method::parse(fields.next().unwrap_or_default());
    let url = fields.next().unwrap_or_default();
    let headers = header_pairs(fields.next().unwrap_or_default());
    let parts = split_url(url);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    RequestHead {
        host: header("host").unwrap_or_else(|| parts.authority.to_owned()),
        client_ip: header("cf-connecting-ip"),
        method,
        scheme: parts.scheme.to_owned(),
        path: parts.path.to_owned(),
        query: parts.query.map(str::to_owned),
        headers,
    }
}

/// Fetches the origin per the plan, the incoming body streamed through; resolves the response
/// [`relay`] makes of the outcome. The forward's record travels through `glue.js` as the
/// string the core makes of it, and comes back to [`relay`].
/// A WebSocket's session (`session`, else empty) and `env` come back to [`relay`] with it, for
/// the connection's checks ([`check_connection`]).
fn forward_to_origin(
    req: &web_sys::Request,
    Forward {
        plan,
        timeout_ms,
        record,
        session,
    }: Forward,
    env: &Env,
) -> JsValue {
    let session = session.map(|s| s.carry()).unwrap_or_default();
    RELAY.with(|relay| {
        js_forward(
            req,
            &plan.url,
            plan.method.as_str(),
            &header_blob(&plan.headers),
            plan.has_body,
            timeout_ms as f64,
            &record.carry(),
            &session,
            env.as_ref(),
            relay.as_ref().unchecked_ref(),
        )
    })
}

// What became of the fetch, as `glue.js`'s `forward` reports it to `relay` (its constants of
// the same names): the typed `UpstreamOutcome` at the edge of this crate.
// Any other value is UNREACHABLE (2).
const RESPONDED: u32 = 0;
const TIMED_OUT: u32 = 1;
const UNSENDABLE: u32 = 3;

/// [`relay`]'s signature: record, outcome, the origin's Response or the runtime's words,
/// session, env, and with a Response its status and header blob.
type RelayFn = dyn Fn(String, u32, JsValue, String, JsValue, u16, String) -> web_sys::Response;

thread_local! {
    /// [`relay`] as a JS function, made once per isolate rather than once per request.
    static RELAY: Closure<RelayFn> = Closure::new(relay);
    /// [`check_connection`] as a JS function, for `glue.js`'s WebSocket relay.
    static CHECK: Closure<dyn Fn(JsValue, String) -> js_sys::Promise> = Closure::new(check_connection);
}

/// The client's response for the origin's answer, as the core decides it. `record` is the
/// forward's carried record; `upstream` is the origin's Response (`RESPONDED`, with its
/// `status` and header blob `origin_headers`, read by `glue.js` in the same call) or the
/// runtime's words for the failure.
fn relay(
    record: String,
    outcome: u32,
    upstream: JsValue,
    session: String,
    env: JsValue,
    status: u16,
    origin_headers: String,
) -> web_sys::Response {
    let headers;
    let outcome = match outcome {
        RESPONDED => {
            headers = header_pairs(&origin_headers);
            UpstreamOutcome::Responded {
                status,
                headers: &headers,
            }
        }
        TIMED_OUT => UpstreamOutcome::TimedOut,
        UNSENDABLE => UpstreamOutcome::Failed(UpstreamFailure::Unsendable(words(&upstream))),
        _ => UpstreamOutcome::Failed(UpstreamFailure::Unreachable(words(&upstream))),
    };
    let (decision, line) = ForwardRecord::uncarry(&record).relay(outcome, now());
    print_audit(line);
    match decision {
        // The origin's body is taken from its Response in `glue.js`, in the same call.
        Relay::Pass {
            status,
            headers,
            with_body,
        } => js_relay_origin(
            upstream.unchecked_ref(),
            status,
            with_body,
            &header_blob(&headers),
        ),
        // The origin's WebSocket, relayed to the client's by `glue.js`, which checks the
        // session through the core while it is open.
        Relay::Upgrade { headers } => CHECK.with(|check| {
            js_upgrade(
                upstream.unchecked_ref(),
                &header_blob(&headers),
                &env,
                &session,
                check.as_ref().unchecked_ref(),
            )
        }),
        Relay::Replace {
            response,
            diagnostic,
        } => {
            log(Some(&Diagnostic::from(diagnostic)));
            respond(response)
        }
    }
}

/// One check of an open WebSocket ([`isogate_core::Gateway::check_connection`]): resolves the milliseconds
/// until the next check, or `[code, reason]` to close both sides with.
fn check_connection(env: JsValue, session: String) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        let env: Env = env.unchecked_into();
        let close = |code: u16, reason: &str| {
            let pair = js_sys::Array::of2(&JsValue::from(code), &JsValue::from_str(reason));
            Ok(pair.into())
        };
        let Some(session) = Session::uncarry(&session) else {
            return close(CLOSE_UNAVAILABLE, "");
        };
        let Ok(gateway) = isolate_gateway(&env) else {
            return close(CLOSE_UNAVAILABLE, "");
        };
        let db = D1Db::new(&env);
        let ed25519 = web_crypto::ed25519();
        let secrets = origin::WorkerSecrets { env: &env };
        let caps = Capabilities {
            db: &db,
            ed25519: &*ed25519,
            random: &OsRandom,
            memory: InstanceMemory::Kept,
            secrets: &secrets,
            jws: &web_crypto::WebCryptoJws,
        };
        match gateway.check_connection(caps, &session, now()).await {
            ConnectionCheck::Open { recheck_in_ms } => Ok(JsValue::from_f64(recheck_in_ms as f64)),
            ConnectionCheck::Close { code, reason } => close(code, reason),
        }
    })
}

fn words(failure: &JsValue) -> String {
    failure.as_string().unwrap_or_default()
}

fn respond(resp: Response) -> web_sys::Response {
    let (status, headers, body) = response_parts(resp);
    js_respond(status, &headers, &body)
}

/// A core response as `glue.js` takes it: status, header blob, body (or null).
fn response_parts(resp: Response) -> (u16, String, JsValue) {
    let body = if resp.body.is_empty() {
        JsValue::NULL
    } else {
        js_sys::Uint8Array::from(&resp.body[..]).into()
    };
    (resp.status, header_blob(&resp.headers), body)
}
