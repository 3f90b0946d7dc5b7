//! The benchmark's floor on Spin (bench/spin.mjs): the incoming request sent on to the origin
//! (Spin variable `origin`, an `IP:PORT` authority) and the origin's answer streamed back, as
//! plainly as a spin-sdk 5.2 component can. What a Spin proxy cannot avoid, the same role as
//! `bench/workers/passthrough.mjs` (`fetch(request)`) on Workers.
//!
//! Only what the host requires is changed: `host` is not sent (Spin refuses an outgoing request
//! whose Host differs from its authority) and hop-by-hop response headers are not relayed (the
//! host refuses a response carrying them; RFC 9110 §7.6.1).

use futures::{SinkExt, StreamExt};
use spin_sdk::http::{
    Fields, IncomingRequest, IncomingResponse, OutgoingRequest, OutgoingResponse, ResponseOutparam,
    Scheme,
};
use spin_sdk::http_component;

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

fn kept(entries: Vec<(String, Vec<u8>)>) -> Fields {
    let fields = Fields::new();
    for (name, value) in entries {
        if !HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            let _ = fields.append(&name, &value);
        }
    }
    fields
}

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let origin = spin_sdk::variables::get("origin").unwrap_or_default();
    let has_body = req.headers().has("content-length") || req.headers().has("transfer-encoding");
    let outgoing = OutgoingRequest::new(kept(req.headers().entries()));
    let _ = outgoing.set_method(&req.method());
    let _ = outgoing.set_scheme(Some(&Scheme::Http));
    let _ = outgoing.set_authority(Some(&origin));
    let _ = outgoing.set_path_with_query(req.path_with_query().as_deref());
    // The body sink is taken before the request goes (and only when there is a body: a GET
    // given an empty body would go out chunked).
    let sink = has_body.then(|| outgoing.take_body());
    let upload = async move {
        if let Some(mut sink) = sink {
            let mut source = req.into_body_stream();
            while let Some(Ok(chunk)) = source.next().await {
                if sink.send(chunk).await.is_err() {
                    break;
                }
            }
        }
    };
    let (sent, ()) = futures::join!(
        spin_sdk::http::send::<_, IncomingResponse>(outgoing),
        upload
    );
    let upstream = match sent {
        Ok(upstream) => upstream,
        Err(e) => {
            eprintln!("passthrough: send failed: {e:?}");
            let response = OutgoingResponse::new(Fields::new());
            let _ = response.set_status_code(502);
            return out.set(response);
        }
    };
    let response = OutgoingResponse::new(kept(upstream.headers().entries()));
    let _ = response.set_status_code(upstream.status());
    let mut sink = response.take_body();
    out.set(response);
    let mut source = upstream.take_body_stream();
    while let Some(Ok(chunk)) = source.next().await {
        if sink.send(chunk).await.is_err() {
            return;
        }
    }
}
