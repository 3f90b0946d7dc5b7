//! Performing a [`ForwardPlan`]: the outbound wasi:http request to the origin, with the
//! incoming body streamed up and the origin's body streamed back, neither ever buffered.
//!
//! The outbound side uses the `wasi` crate's wasi:http 0.2.0 bindings (the ones spin-sdk is
//! built on) because `spin_sdk::http::send` takes no `request-options`, which is where the
//! timeouts go. The incoming request and the response stay spin-sdk types; both sides share
//! wasi:io's stream types.
//!
//! What the client gets is the core's decision ([`relay`]): this module only turns the host's
//! answer (a response head, a wasi:http `ErrorCode`, its own deadline) into an
//! [`UpstreamOutcome`] and streams the body the decision lets through.

use crate::body::RequestBody;
use crate::wasi_io::{read_chunk, until_instant, until_ready, write_all};
use futures::future::{select, Either};
use isogate_core::audit::ForwardRecord;
use isogate_core::error::ForwardError;
use isogate_core::forward::{ForwardPlan, Relay, UpstreamFailure, UpstreamOutcome};
use isogate_core::http::Method;
use isogate_core::upstream::Scheme;
use isogate_core::{Diagnostic, Forward};
use spin_sdk::http::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};
use std::pin::pin;
use wasi::clocks::monotonic_clock;
use wasi::http::outgoing_handler;
use wasi::http::types as wasi_http;
use wasi::io::streams::{InputStream, OutputStream};

/// What the origin gave: its response head, or the outcome that stands in for one.
type Fetched = Result<wasi_http::IncomingResponse, UpstreamOutcome<'static>>;

/// Sends `plan` to the origin and relays its answer on `out`. `timeout_ms` bounds the wait for
/// the origin's response head (connect included).
pub async fn forward(
    body: RequestBody,
    out: ResponseOutparam,
    Forward {
        plan,
        timeout_ms,
        record,
        ..
    }: Forward,
) {
    let outgoing = match outgoing_request(&plan) {
        Ok(outgoing) => outgoing,
        Err(why) => {
            return answer(
                out,
                record,
                Err(UpstreamOutcome::Failed(UpstreamFailure::Unsendable(why))),
            )
            .await
        }
    };
    // The body goes exactly when the core says so (the client sent one); otherwise none is
    // taken, and the host sends the request without content. It must be taken before the
    // request is handed over, and written after.
    let upload_body = if plan.has_body {
        outgoing.body().ok()
    } else {
        None
    };
    let deadline = monotonic_clock::now().saturating_add(timeout_ms.saturating_mul(1_000_000));
    let pending = match outgoing_handler::handle(outgoing, Some(request_options(timeout_ms))) {
        Ok(pending) => pending,
        Err(code) => return answer(out, record, Err(not_answered(&code))).await,
    };

    let upload = pin!(async move {
        match upload_body {
            Some(sink) => upload(body, sink).await,
            None => drop(body),
        }
    });
    let exchange = pin!(async {
        let fetched = response_head(&pending, deadline).await;
        answer(out, record, fetched).await
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
pub(crate) fn request_options(timeout_ms: u64) -> wasi_http::RequestOptions {
    let options = wasi_http::RequestOptions::new();
    let nanos = timeout_ms.saturating_mul(1_000_000);
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    options
}

/// The outbound request, from the plan's parts as the core parsed them (never by splitting
/// its URL again), or why the host will not take it (the core plans only from upstreams its
/// parser accepts, so this is not expected).
fn outgoing_request(plan: &ForwardPlan) -> Result<wasi_http::OutgoingRequest, String> {
    let scheme = match plan.scheme() {
        Scheme::Http => wasi_http::Scheme::Http,
        Scheme::Https => wasi_http::Scheme::Https,
    };
    let headers = wasi_http::Fields::new();
    for (name, value) in &plan.headers {
        // A header the host refuses (it accepted it inbound, so this is rare) is dropped
        // rather than failing the request, as on Workers. The plan carries no `host`: the host
        // sets it from the authority, and refuses a request whose Host differs from it.
        let _ = headers.append(name, &value.clone().into_bytes());
    }
    let request = wasi_http::OutgoingRequest::new(headers);
    let refused = |what: &str| format!("the host refused the {what}");
    request
        .set_method(&wasi_method(&plan.method))
        .map_err(|()| refused("method"))?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| refused("scheme"))?;
    request
        .set_authority(Some(plan.authority()))
        .map_err(|()| refused("authority"))?;
    request
        .set_path_with_query(Some(plan.path_and_query()))
        .map_err(|()| refused("path"))?;
    Ok(request)
}

fn wasi_method(method: &Method) -> wasi_http::Method {
    match method {
        Method::Get => wasi_http::Method::Get,
        Method::Head => wasi_http::Method::Head,
        Method::Post => wasi_http::Method::Post,
        Method::Put => wasi_http::Method::Put,
        Method::Delete => wasi_http::Method::Delete,
        Method::Options => wasi_http::Method::Options,
        Method::Patch => wasi_http::Method::Patch,
        Method::Connect => wasi_http::Method::Connect,
        Method::Trace => wasi_http::Method::Trace,
        Method::Other(other) => wasi_http::Method::Other(other.clone()),
    }
}

/// The host's error for a request that got no response head, as the core's outcome: its
/// connect and first-byte timeouts are timeouts, anything else (refused, DNS, TLS, a host
/// outside `allowed_outbound_hosts`, an invalid response) a failure in the host's words.
fn not_answered(code: &wasi_http::ErrorCode) -> UpstreamOutcome<'static> {
    use wasi_http::ErrorCode;
    match code {
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout => {
            UpstreamOutcome::TimedOut
        }
        _ => UpstreamOutcome::Failed(UpstreamFailure::Unreachable(format!("{code:?}"))),
    }
}

/// Waits for the origin's response head until `deadline` (monotonic clock, nanoseconds): the
/// guest-side bound, for a host that ignores the request options.
pub(crate) async fn response_head(
    pending: &wasi_http::FutureIncomingResponse,
    deadline: u64,
) -> Fetched {
    loop {
        if let Some(result) = pending.get() {
            return match result {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(code)) => Err(not_answered(&code)),
                // Already taken: cannot happen, each future is read once.
                Err(()) => Err(UpstreamOutcome::Failed(UpstreamFailure::Unreachable(
                    "response already taken".into(),
                ))),
            };
        }
        if monotonic_clock::now() >= deadline {
            return Err(UpstreamOutcome::TimedOut);
        }
        let arrived = pin!(until_ready(|| pending.subscribe()));
        let expired = pin!(until_instant(deadline));
        select(arrived, expired).await;
    }
}

/// Streams the incoming request body into the outbound request body.
async fn upload(source: RequestBody, body: wasi_http::OutgoingBody) {
    let Ok(sink) = body.write() else { return };
    let complete = loop {
        match source.read_chunk().await {
            Ok(None) => break true,
            Ok(Some(chunk)) => {
                if write_all(&sink, &chunk).await.is_err() {
                    break false;
                }
            }
            Err(e) => {
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

/// Sends the client what the core decides for `fetched` (`record.relay`): the origin's
/// status, filtered headers and body stream, or the core's 502/504 (its reason logged); prints
/// the audit line as the answer's head goes out.
async fn answer(out: ResponseOutparam, record: ForwardRecord, fetched: Fetched) {
    let (decision, upstream) = match fetched {
        Ok(upstream) => {
            let headers: Vec<(String, String)> = upstream
                .headers()
                .entries()
                .into_iter()
                .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
                .collect();
            let outcome = UpstreamOutcome::Responded {
                status: upstream.status(),
                headers: &headers,
            };
            (record.relay(outcome, crate::now()), Some(upstream))
        }
        Err(outcome) => (record.relay(outcome, crate::now()), None),
    };
    let (decision, line) = decision;
    crate::print_audit(line);
    let (status, headers, with_body) = match decision {
        Relay::Pass {
            status,
            headers,
            with_body,
        } => (status, headers, with_body),
        Relay::Replace {
            response,
            diagnostic,
        } => {
            crate::log(Some(&Diagnostic::from(diagnostic)));
            return crate::respond(out, response).await;
        }
        // Never reached: the core refuses a WebSocket before it is forwarded here
        // (ForwardPlan::unsendable_by(WasiHttp)); were one relayed, it could not be carried.
        Relay::Upgrade { .. } => {
            let refused = ForwardError::WebSocketUnsupported.to_response();
            return crate::respond(out, refused).await;
        }
    };
    let fields = Fields::new();
    for (name, value) in headers {
        let _ = fields.append(&name, &value.into_bytes());
    }
    let response = OutgoingResponse::new(fields);
    let _ = response.set_status_code(status);
    // Without a body (HEAD, 204, 304) the body is left untaken, so the host sends none. (A taken
    // body must match a relayed Content-Length, which for HEAD and 304 describes another
    // representation.) The origin's response is dropped only after the answer is set: dropping
    // it cancels the outbound request.
    let upstream = match upstream {
        Some(upstream) if with_body => upstream,
        _ => return out.set(response),
    };
    let Ok(body) = response.body() else {
        return out.set(response);
    };
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
