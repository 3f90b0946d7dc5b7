//! Upstream credentials on Spin ([`OriginSecrets`]): secrets are Spin variables, read by the
//! lower-cased name (`PAYROLL_TOKEN` is variable `payroll_token`, which the application must
//! declare in `spin.toml` and map into the component: Spin exposes no other); an origin's
//! token request is one outbound wasi:http request (`spin_sdk::http::send`), whose host must
//! be in `allowed_outbound_hosts`. The core decides what to read and send.

use crate::wasi_io::until_instant;
use futures::future::{select, Either};
use isogate_core::capability::{LocalFuture, OriginSecrets};
use isogate_core::upstream_auth::{TokenFetch, TokenReply};
use spin_sdk::http::{Method, Request, Response};
use std::pin::pin;
use wasi::clocks::monotonic_clock;

pub struct SpinSecrets;

impl OriginSecrets for SpinSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        spin_sdk::variables::get(&name.to_ascii_lowercase()).ok()
    }

    fn fetch_token(&self, request: TokenFetch) -> LocalFuture<'_, Result<TokenReply, String>> {
        Box::pin(async move {
            let mut builder = Request::builder();
            builder
                .method(Method::Post)
                .uri(request.url.as_str())
                .body(request.body.into_bytes());
            for (name, value) in &request.headers {
                builder.header(name.as_str(), value.as_str());
            }
            let deadline =
                monotonic_clock::now().saturating_add(request.timeout_ms.saturating_mul(1_000_000));
            let send = pin!(spin_sdk::http::send::<_, Response>(builder.build()));
            let expired = pin!(until_instant(deadline));
            match select(send, expired).await {
                Either::Left((Ok(response), _)) => Ok(TokenReply {
                    status: *response.status(),
                    body: response.into_body(),
                }),
                // The host's words (a refused connection, a host outside allowed_outbound_hosts).
                Either::Left((Err(e), _)) => Err(e.to_string()),
                Either::Right(_) => Err("timed out".into()),
            }
        })
    }
}
