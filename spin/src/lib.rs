//! # isogate-spin
//!
//! Isogate on Spin (spin-sdk 5.2, `#[http_component]`, wasi:http 0.2, `wasm32-wasip2`). Glue
//! only, like the Workers adapter: it converts the incoming wasi:http request to the core's
//! [`RequestHead`], implements [`SqlDb`](isogate_core::store::SqlDb) over Spin SQLite
//! ([`sqlite::SpinDb`]), supplies the clock and `getrandom`, and performs what the core
//! decides: send a response, or fetch the origin per a `ForwardPlan` with both bodies
//! streamed, never buffered ([`forward`]).
//!
//! The manifest (`spin.toml`, at the repository root) serves every path of every host with
//! this one component (`route = "/..."`); the core routes on the `Host` header. Settings are
//! Spin variables, the lower-case forms of the core's setting names (`ISOGATE_DOMAIN` is
//! `isogate_domain`).
//!
//! One [`Gateway`] is built per instance from the variables and kept while the instance lives
//! (Spin may reuse instances; nothing per-request is kept in globals).

mod forward;
mod sqlite;
mod wasi_io;

use isogate_core::gateway::{gateway_from_settings, misconfigured_response, unknown_host_response};
use isogate_core::http::{split_url, RequestHead, Response as CoreResponse};
use isogate_core::token::PortableEd25519;
use isogate_core::{Gateway, RandomSource, Route};
use spin_sdk::http::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam, Scheme};
use spin_sdk::http_component;
use std::cell::RefCell;
use std::pin::pin;
use std::rc::Rc;

thread_local! {
    static GATEWAY: RefCell<Option<Rc<Gateway>>> = const { RefCell::new(None) };
}

/// The instance's gateway, built on first use. A settings error is logged (by name, never by
/// value) and retried on the next request.
fn gateway() -> Option<Rc<Gateway>> {
    if let Some(gw) = GATEWAY.with(|g| g.borrow().clone()) {
        return Some(gw);
    }
    let setting = |name: &str| spin_sdk::variables::get(&name.to_ascii_lowercase()).ok();
    match gateway_from_settings(setting) {
        Ok(gw) => {
            let gw = Rc::new(gw);
            GATEWAY.with(|g| *g.borrow_mut() = Some(gw.clone()));
            Some(gw)
        }
        Err(e) => {
            eprintln!("isogate: configuration error: {e}");
            None
        }
    }
}

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let Some(gw) = gateway() else { return respond(out, misconfigured_response()).await };
    let head = request_head(&req);
    let now_ms = now_ms();
    let db = sqlite::SpinDb::new();
    match gw.route(&head) {
        Route::Service(name) => match gw.authorize_service(&db, &PortableEd25519, &head, &name, now_ms).await {
            Ok(authorized) => forward::forward(req, out, authorized.plan, gw.config.upstream_timeout_ms).await,
            Err(refusal) => respond(out, refusal).await,
        },
        Route::Root { body_limit } => {
            let body = read_bounded(req, body_limit).await;
            respond(out, gw.handle_root(&db, &PortableEd25519, &head, &body, now_ms, &mut OsRandom).await).await
        }
        Route::UnknownHost => {
            respond(out, unknown_host_response()).await
        }
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

fn request_head(req: &IncomingRequest) -> RequestHead {
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
    let scheme = match req.scheme() {
        Some(Scheme::Https) => "https".to_owned(),
        Some(Scheme::Other(s)) => s.to_ascii_lowercase(),
        Some(Scheme::Http) | None => "http".to_owned(),
    };
    let host = headers.iter().find(|(n, _)| n == "host").map(|(_, v)| v.clone()).or_else(|| req.authority()).unwrap_or_default();
    // wasi:http hands over scheme, authority and path-with-query separately; the core splits
    // the absolute URL they make (a path-with-query alone could hold "://" in its query).
    let target = req.path_with_query().unwrap_or_default();
    let url = if target.starts_with('/') {
        format!("{scheme}://{}{target}", req.authority().unwrap_or_else(|| host.clone()))
    } else {
        target
    };
    let parts = split_url(&url);
    RequestHead {
        method: req.method().to_string(),
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
    addr.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

/// Reads at most `limit + 1` bytes: enough for the core to tell "too large" without the
/// instance ever holding an unbounded body. The rest is never read.
async fn read_bounded(req: IncomingRequest, limit: usize) -> Vec<u8> {
    use futures::StreamExt;
    let mut body = Vec::new();
    let mut chunks = pin!(req.into_body_stream());
    while let Some(chunk) = chunks.next().await {
        let Ok(chunk) = chunk else {
            // A body cut off by the client: the core judges what arrived (a form cut short
            // fails to parse; the client is usually gone anyway).
            break;
        };
        let room = limit + 1 - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() > limit {
            break;
        }
    }
    body
}

/// Sends a response the core produced (it is complete, so its length is known).
pub(crate) async fn respond(out: ResponseOutparam, resp: CoreResponse) {
    let headers = Fields::new();
    for (name, value) in &resp.headers {
        let _ = headers.append(name, &value.clone().into_bytes());
    }
    if resp.header("content-length").is_none() {
        let _ = headers.append("content-length", &resp.body.len().to_string().into_bytes());
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(resp.status);
    let Ok(body) = response.body() else { return out.set(response) };
    out.set(response);
    let written = match body.write() {
        Ok(sink) => {
            let written = resp.body.is_empty() || wasi_io::write_all(&sink, &resp.body).await.is_ok();
            drop(sink);
            written
        }
        Err(()) => false,
    };
    if written {
        let _ = OutgoingBody::finish(body, None);
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // wasi:random. Failure means the host is broken, and issuing a predictable secret would
        // be worse than stopping.
        getrandom::fill(buf).expect("wasi:random is available");
    }
}
