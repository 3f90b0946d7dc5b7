//! Performing a [`ForwardPlan`]: the outbound wasi:http request to the origin, with the
//! incoming body streamed up and the origin's body streamed back, neither ever buffered.
//!
//! The outbound side uses the `wasi` crate's wasi:http 0.2.0 bindings (the ones spin-sdk is
//! built on) because `spin_sdk::http::send` takes no `request-options`, which is where the
//! timeouts go. The incoming request and the response stay spin-sdk types; both sides share
//! wasi:io's stream types.

use crate::wasi_io::{read_chunk, until_instant, until_ready, write_all};
use futures::future::{select, Either};
use futures::StreamExt;
use isogate_core::error::UpstreamError;
use isogate_core::forward::{filter_response_headers, is_relayable_status, ForwardPlan};
use isogate_core::http::split_url;
use spin_sdk::http::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};
use std::pin::pin;
use wasi::clocks::monotonic_clock;
use wasi::http::outgoing_handler;
use wasi::http::types as wasi_http;
use wasi::io::streams::{InputStream, OutputStream};

/// Sends `plan` to the origin and relays its answer on `out`. `timeout_ms` bounds the wait for
/// the origin's response head (connect included); past it the client gets a 504.
pub async fn forward(req: IncomingRequest, out: ResponseOutparam, plan: ForwardPlan, timeout_ms: u64) {
    let Some(outgoing) = outgoing_request(&plan) else {
        // The core only plans URLs from validated upstreams; this is not expected.
        eprintln!("isogate: cannot build the outbound request for the planned URL");
        return crate::respond(out, UpstreamError::Unreachable.to_response()).await;
    };
    // The body must be taken before the request is handed over, and written after.
    let upload_body = if plan.has_body { outgoing.body().ok() } else { None };
    let deadline = monotonic_clock::now().saturating_add(timeout_ms.saturating_mul(1_000_000));
    let pending = match outgoing_handler::handle(outgoing, Some(request_options(timeout_ms))) {
        Ok(pending) => pending,
        Err(code) => return crate::respond(out, upstream_error(&code).to_response()).await,
    };
    let head_request = plan.method == "HEAD";

    let upload = pin!(async move {
        match upload_body {
            Some(body) => upload(req, body).await,
            None => drop(req),
        }
    });
    let exchange = pin!(async move {
        match response_head(&pending, deadline).await {
            Ok(upstream) => relay(upstream, out, head_request).await,
            Err(e) => crate::respond(out, e.to_response()).await,
        }
    });
    // Both run together: an origin may answer before it has read the whole body. Once the
    // answer has been relayed in full, whatever is left of the upload is abandoned.
    if let Either::Left(((), exchange)) = select(upload, exchange).await {
        exchange.await;
    }
}

/// Connect and first-byte timeouts for the host's HTTP client (Spin and wasmtime honour them
/// and answer `connection-timeout` / `connection-read-timeout`). A host that refuses an option
/// still has the guest-side deadline in [`response_head`].
fn request_options(timeout_ms: u64) -> wasi_http::RequestOptions {
    let options = wasi_http::RequestOptions::new();
    let nanos = timeout_ms.saturating_mul(1_000_000);
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    options
}

fn outgoing_request(plan: &ForwardPlan) -> Option<wasi_http::OutgoingRequest> {
    let url = split_url(&plan.url);
    let scheme = match url.scheme {
        "http" => wasi_http::Scheme::Http,
        "https" => wasi_http::Scheme::Https,
        _ => return None,
    };
    let path_and_query = match url.query {
        Some(query) => format!("{}?{query}", url.path),
        None => url.path.to_owned(),
    };
    let headers = wasi_http::Fields::new();
    for (name, value) in &plan.headers {
        // A header the host refuses (it accepted it inbound, so this is rare) is dropped
        // rather than failing the request, as on Workers. The plan carries no `host`: the host
        // sets it from the authority, and refuses a request whose Host differs from it.
        let _ = headers.append(name, &value.clone().into_bytes());
    }
    let request = wasi_http::OutgoingRequest::new(headers);
    request.set_method(&method(&plan.method)).ok()?;
    request.set_scheme(Some(&scheme)).ok()?;
    request.set_authority(Some(url.authority)).ok()?;
    request.set_path_with_query(Some(&path_and_query)).ok()?;
    Some(request)
}

fn method(name: &str) -> wasi_http::Method {
    use wasi_http::Method;
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

/// Timeouts are 504s; every other failure to get a response head is a 502 (refused, DNS,
/// TLS, a host outside `allowed_outbound_hosts`, an invalid response).
fn upstream_error(code: &wasi_http::ErrorCode) -> UpstreamError {
    use wasi_http::ErrorCode;
    eprintln!("isogate: upstream request failed: {code:?}");
    match code {
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout => UpstreamError::Timeout,
        _ => UpstreamError::Unreachable,
    }
}

/// Waits for the origin's response head until `deadline` (monotonic clock, nanoseconds).
async fn response_head(pending: &wasi_http::FutureIncomingResponse, deadline: u64) -> Result<wasi_http::IncomingResponse, UpstreamError> {
    loop {
        if let Some(result) = pending.get() {
            return match result {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(code)) => Err(upstream_error(&code)),
                // Already taken: cannot happen, each future is read once.
                Err(()) => Err(UpstreamError::Unreachable),
            };
        }
        if monotonic_clock::now() >= deadline {
            eprintln!("isogate: upstream response head timed out");
            return Err(UpstreamError::Timeout);
        }
        let arrived = pin!(until_ready(|| pending.subscribe()));
        let expired = pin!(until_instant(deadline));
        select(arrived, expired).await;
    }
}

/// Streams the incoming request body into the outbound request body.
async fn upload(req: IncomingRequest, body: wasi_http::OutgoingBody) {
    let Ok(sink) = body.write() else { return };
    let mut chunks = pin!(req.into_body_stream());
    let complete = loop {
        match chunks.next().await {
            None => break true,
            Some(Ok(chunk)) => {
                if write_all(&sink, &chunk).await.is_err() {
                    break false;
                }
            }
            Some(Err(e)) => {
                eprintln!("isogate: reading the request body failed: {e:?}");
                break false;
            }
        }
    };
    drop(sink);
    if complete {
        if let Err(code) = wasi_http::OutgoingBody::finish(body, None) {
            eprintln!("isogate: finishing the upstream request body failed: {code:?}");
        }
    }
    // Otherwise the body is dropped unfinished and the host aborts the outbound request
    // instead of sending a truncated body as if it were complete.
}

/// Relays the origin's response: status, filtered headers, and the body as a stream.
async fn relay(upstream: wasi_http::IncomingResponse, out: ResponseOutparam, head_request: bool) {
    let status = upstream.status();
    if !is_relayable_status(status) {
        eprintln!("isogate: upstream answered {status}, which cannot be relayed");
        return crate::respond(out, UpstreamError::Unreachable.to_response()).await;
    }
    let upstream_headers: Vec<(String, String)> =
        upstream.headers().entries().into_iter().map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned())).collect();
    // Hop-by-hop headers out: the host frames the response itself and rejects it otherwise.
    let headers = Fields::new();
    for (name, value) in filter_response_headers(&upstream_headers) {
        let _ = headers.append(&name, &value.into_bytes());
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    // No body for HEAD, 204 and 304: the body is left untaken so the host sends none. (A taken
    // body must match a relayed Content-Length, which for HEAD and 304 describes another
    // representation.)
    if head_request || status == 204 || status == 304 {
        return out.set(response);
    }
    let Ok(body) = response.body() else { return out.set(response) };
    out.set(response);
    let complete = match body.write() {
        Ok(sink) => {
            let complete = match upstream.consume() {
                Ok(incoming) => match incoming.stream() {
                    Ok(source) => copy(&source, &sink).await,
                    Err(()) => false,
                },
                Err(()) => false,
            };
            drop(sink);
            complete
        }
        Err(()) => false,
    };
    if complete {
        if let Err(code) = OutgoingBody::finish(body, None) {
            eprintln!("isogate: finishing the response body failed: {code:?}");
        }
    }
    // Otherwise the body is dropped unfinished: the host cuts the response off, so the client
    // sees an error rather than a truncated body that looks complete.
}

async fn copy(source: &InputStream, sink: &OutputStream) -> bool {
    loop {
        match read_chunk(source).await {
            Ok(Some(chunk)) => {
                if write_all(sink, &chunk).await.is_err() {
                    // The client went away.
                    return false;
                }
            }
            Ok(None) => return true,
            Err(e) => {
                eprintln!("isogate: reading the upstream body failed: {e:?}");
                return false;
            }
        }
    }
}
