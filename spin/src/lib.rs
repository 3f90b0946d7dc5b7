//! # isogate-spin
//!
//! Isogate on Spin (spin-sdk 5.2, `#[http_component]`, wasi:http 0.2, `wasm32-wasip2`).
//! **Glue only**, like the Workers adapter: every decision (routing, OAuth2, policy, what to
//! forward, what a client gets when an origin fails) is isogate-core's. This crate supplies what
//! the core asks for and performs the IO between its steps:
//!
//! - [`SqlDb`](isogate_core::capability::SqlDb) over Spin SQLite (`sqlite::SpinDb`, which
//!   also applies the schema on first use);
//! - Ed25519: the core's portable implementation ([`PortableEd25519`]; Spin has no native one);
//! - upstream credentials' secrets (Spin variables, by the lower-cased name) and origins' token
//!   requests (wasi:http), as [`OriginSecrets`](isogate_core::capability::OriginSecrets)
//!   (`origin::SpinSecrets`);
//! - the clock (wasi:clocks) and random bytes (wasi:random, through the core's [`OsRandom`]);
//! - reading a request body, bounded, as [`Body::Complete`], or [`Body::Unreadable`] when the
//!   client's stream fails (a body cut off mid-way is never handed to the core as if complete);
//!   and releasing a body the answer did not need as the core's [`leftover_body`] says;
//! - forwarding (`forward`): the outbound wasi:http request per the core's `ForwardPlan`,
//!   both bodies streamed (never buffered), relayed as `isogate_core::forward::relay` decides.
//!
//! ## The loop
//!
//! The whole request, as `handle` and `run` below do it:
//!
//! ```text
//! let body = RequestBody::take(&req);                     // once; restores Transfer-Encoding
//! match CELL.with(|cell| cell.gateway(setting)) {          // Spin variables, once per instance
//!     Ok(gateway) => run(gateway.start(caps, head, now).await, caps, body, out).await,
//!     Err(misconfigured) => run(*misconfigured, caps, body, out).await,  // 503, logged
//! }
//! // run:
//! loop {
//!     log(step.diagnostic());
//!     step = match step {
//!         Step::Respond { response, audit, .. } => { print_audit(audit.finish(now())); return respond(out, response).await }
//!         Step::NeedBody { limit, resume } => resume.finish(caps, read_body(&body, limit).await).await,
//!         Step::Forward(f) => return forward::forward(body, out, f).await,  // send, stream, relay, print its line
//!     };
//! }
//! ```
//!
//! The manifest (`spin.toml`, at the repository root) serves every path of every host with
//! this one component (`route = "/..."`); the core routes on the `Host` header. Settings are
//! Spin variables, the lower-case forms of the core's setting names (`ISOGATE_DOMAIN` is
//! `isogate_domain`).
//!
//! The gateway is kept in a [`GatewayCell`] for as long as the instance lives (Spin gives a
//! wasi:http 0.2 component a fresh instance per request, other hosts may reuse one; nothing
//! per-request is kept in globals).

mod body;
mod forward;
mod origin;
mod sqlite;
mod wasi_io;

use body::RequestBody;
use isogate_core::audit::AuditLine;
use isogate_core::capability::{InstanceMemory, OsRandom, PortableEd25519};
use isogate_core::forward::OutboundClient;
use isogate_core::http::{split_url, Method, RequestHead, Response};
use isogate_core::step::{leftover_body, Leftover, DRAIN_LIMIT_BYTES};
use isogate_core::{Body, Capabilities, Diagnostic, GatewayCell, Now, Step};
use spin_sdk::http::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam, Scheme,
};
use spin_sdk::http_component;
use sqlite::SpinDb;

thread_local! {
    static CELL: GatewayCell = const { GatewayCell::new() };
}

type Caps<'a> = Capabilities<'a, SpinDb, PortableEd25519>;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let db = sqlite::open();
    let caps = Capabilities {
        db: &db,
        ed25519: &PortableEd25519,
        random: &OsRandom,
        // A wasi:http 0.2 component gets a fresh instance per request: rate counts go to SQLite.
        memory: InstanceMemory::PerRequest,
        // Upstream credentials: Spin variables by name, token requests over wasi:http.
        secrets: &origin::SpinSecrets,
        // ES256/RS256/EdDSA client assertions in portable Rust.
        jws: &isogate_core::jws::PortableJws,
    };
    let setting = |name: &str| spin_sdk::variables::get(&name.to_ascii_lowercase()).ok();
    let body = RequestBody::take(&req);
    match CELL.with(|cell| cell.gateway(setting)) {
        Ok(gateway) => {
            let step = gateway.start(caps, request_head(&req, &body), now()).await;
            run(step, caps, body, out).await
        }
        Err(misconfigured) => run(*misconfigured, caps, body, out).await,
    }
}

/// Does what each step says until the request is answered or forwarded.
async fn run(mut step: Step<'_>, caps: Caps<'_>, body: RequestBody, out: ResponseOutparam) {
    let mut read = false;
    loop {
        log(step.diagnostic());
        step = match step {
            Step::Respond {
                response, audit, ..
            } => {
                print_audit(audit.finish(now()));
                if !read {
                    release_unread_body(&body).await;
                }
                return respond(out, response).await;
            }
            Step::NeedBody { limit, resume } => {
                read = true;
                resume.finish(caps, read_body(&body, limit).await).await
            }
            // hyper (under wasi:http) cannot send chunked content with GET or HEAD: the core
            // says what to answer instead.
            Step::Forward(f) => match f.sendable_by(OutboundClient::WasiHttp) {
                Step::Forward(f) => return forward::forward(body, out, f).await,
                refused => refused,
            },
        };
    }
}

/// Before an answer that did not need the body: what the core says to do with it
/// ([`leftover_body`]). Spin's HTTP server (hyper, like the test host's) closes a connection
/// whose request body was left unread, and a close with unread bytes resets it; a small body
/// drained here keeps the connection.
async fn release_unread_body(body: &RequestBody) {
    if !body.has_content() {
        return;
    }
    if let Leftover::Drain { at_most } = leftover_body(body.declared_length()) {
        body.drain(at_most).await;
    }
}

/// Prints the core's audit line as it is, one per line on stdout (Spin keeps a component's
/// stdout in its log, `.spin/logs/` under `spin up`; SpinKube hands it to the pod's log).
/// Written on wasi:cli's stdout stream directly: `println!` would bring std's buffered stdout
/// into the component for nothing (each line is written whole, then flushed).
pub(crate) fn print_audit(line: Option<AuditLine>) {
    let Some(line) = line else { return };
    let stdout = wasi::cli::stdout::get_stdout();
    // wasi:io takes at most 4096 bytes per blocking write.
    for chunk in line.as_str().as_bytes().chunks(4096).chain([&b"\n"[..]]) {
        if stdout.blocking_write_and_flush(chunk).is_err() {
            return;
        }
    }
}

/// Logs what the core reports, for every step of the loop and for an origin answer the core
/// replaced (`forward`); besides it, only failures while streaming a body are logged. Never a
/// secret: the core's `Diagnostic` names settings rather than showing them, and SQLite's and
/// wasi:http's errors carry no bound values. Spin writes a component's stderr to its log.
pub(crate) fn log(diagnostic: Option<&Diagnostic>) {
    if let Some(diagnostic) = diagnostic {
        eprintln!("{diagnostic}");
    }
}

/// Headers Spin adds to every request it hands a component (routing details and the peer
/// address). They describe the runtime, not the client's request, so they neither reach the
/// core nor are forwarded to origins; the peer address becomes `client_ip`.
fn is_spin_header(name: &str) -> bool {
    matches!(
        name,
        "spin-full-url"
            | "spin-path-info"
            | "spin-matched-route"
            | "spin-raw-component-route"
            | "spin-component-route"
            | "spin-base-path"
            | "spin-client-addr"
    ) || name.starts_with("spin-path-match-")
}

fn request_head(req: &IncomingRequest, body: &RequestBody) -> RequestHead {
    let mut headers = Vec::new();
    let mut client_addr = None;
    for (name, value) in req.headers().entries() {
        let name = name.to_ascii_lowercase();
        // Header values are bytes on the wire; the rare non-UTF-8 one is read lossily.
        let value = String::from_utf8_lossy(&value).into_owned();
        if name == "spin-client-addr" {
            client_addr = Some(value);
        } else if !is_spin_header(&name) {
            headers.push((name, value));
        }
    }
    // The host removed `Transfer-Encoding` (see the body module): say again that the client
    // sent a chunked body, so that the core forwards it.
    let has_length = headers.iter().any(|(n, _)| n == "content-length");
    if body.chunked(has_length) {
        headers.push(("transfer-encoding".to_owned(), "chunked".to_owned()));
    }
    let scheme = match req.scheme() {
        Some(Scheme::Https) => "https".to_owned(),
        Some(Scheme::Other(s)) => s.to_ascii_lowercase(),
        Some(Scheme::Http) | None => "http".to_owned(),
    };
    let host = headers
        .iter()
        .find(|(n, _)| n == "host")
        .map(|(_, v)| v.clone())
        .or_else(|| req.authority())
        .unwrap_or_default();
    // wasi:http hands over scheme, authority and path-with-query separately; the core splits
    // the absolute URL they make (a path-with-query alone could hold "://" in its query).
    let target = req.path_with_query().unwrap_or_default();
    let url = if target.starts_with('/') {
        let authority = req.authority().unwrap_or_else(|| host.clone());
        format!("{scheme}://{authority}{target}")
    } else {
        target
    };
    let parts = split_url(&url);
    RequestHead {
        method: Method::parse(&req.method().to_string()),
        scheme,
        host,
        path: parts.path.to_owned(),
        query: parts.query.map(str::to_owned),
        headers,
        client_ip: client_addr.as_deref().and_then(client_ip),
    }
}

/// `spin-client-addr` is the peer's socket address (`203.0.113.7:51234`, `[2001:db8::1]:443`);
/// the core wants the address alone.
fn client_ip(addr: &str) -> Option<String> {
    let addr = addr.trim();
    if let Ok(socket) = addr.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_string());
    }
    addr.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// At most `limit + 1` bytes of the body (the core tells "too large" from the extra byte); of
/// the rest, at most [`DRAIN_LIMIT_BYTES`] are read and thrown away. A stream error (the client
/// went away, or sent fewer bytes than its `Content-Length`) makes the body
/// [`Body::Unreadable`]: what arrived is not the body.
async fn read_body(request_body: &RequestBody, limit: usize) -> Body {
    if !request_body.is_readable() {
        return Body::Unreadable;
    }
    let mut body = Vec::new();
    while body.len() <= limit {
        match request_body.read_chunk().await {
            Ok(Some(chunk)) => {
                let room = limit + 1 - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(_) => return Body::Unreadable,
        }
    }
    if body.len() > limit {
        request_body.drain(DRAIN_LIMIT_BYTES).await;
    }
    Body::Complete(body)
}

/// Sends a response the core produced (it is complete, so its length is known).
pub(crate) async fn respond(out: ResponseOutparam, resp: Response) {
    let headers = Fields::new();
    for (name, value) in &resp.headers {
        let _ = headers.append(name, &value.clone().into_bytes());
    }
    if resp.header("content-length").is_none() {
        let _ = headers.append("content-length", &resp.body.len().to_string().into_bytes());
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(resp.status);
    let Ok(body) = response.body() else {
        return out.set(response);
    };
    out.set(response);
    let written = match body.write() {
        Ok(sink) => {
            let written =
                resp.body.is_empty() || wasi_io::write_all(&sink, &resp.body).await.is_ok();
            drop(sink);
            written
        }
        Err(()) => false,
    };
    if written {
        let _ = OutgoingBody::finish(body, None);
    }
}

/// The wall clock (wasi:clocks), for the core's `now` and the audit line's duration.
pub(crate) fn now() -> Now {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    Now::from_unix_ms(since_epoch.map_or(0, |d| d.as_millis() as u64))
}
