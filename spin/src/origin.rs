//! Upstream credentials on Spin ([`OriginSecrets`]): secrets are Spin variables, read by the
//! lower-cased name (`PAYROLL_TOKEN` is variable `payroll_token`, which the application must
//! declare in `spin.toml` and map into the component: Spin exposes no other); an origin's
//! token request is one outbound wasi:http request, made with the forward's own parts
//! (`forward`), whose host must be in `allowed_outbound_hosts`. The core decides what to read
//! and send.

use crate::forward::{request_options, response_head};
use crate::wasi_io::{read_chunk, write_all};
use isogate_core::capability::{DocumentReply, LocalFuture, OriginSecrets};
use isogate_core::federation::MAX_DOCUMENT_BYTES;
use isogate_core::forward::{UpstreamFailure, UpstreamOutcome};
use isogate_core::http::split_url;
use isogate_core::upstream_auth::origin_token::MAX_REPLY_BYTES;
use isogate_core::upstream_auth::{TokenFetch, TokenReply};
use wasi::clocks::monotonic_clock;
use wasi::http::outgoing_handler;
use wasi::http::types as wasi_http;

pub struct SpinSecrets;

impl OriginSecrets for SpinSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        spin_sdk::variables::get(&name.to_ascii_lowercase()).ok()
    }

    fn fetch_token(&self, request: TokenFetch) -> LocalFuture<'_, Result<TokenReply, String>> {
        Box::pin(fetch(request))
    }

    fn fetch_document(
        &self,
        url: &str,
        timeout_ms: u64,
    ) -> LocalFuture<'_, Result<DocumentReply, String>> {
        Box::pin(get_document(url.to_owned(), timeout_ms))
    }
}

/// POSTs the core's token request and reads at most [`MAX_REPLY_BYTES`] + 1 bytes of the
/// answer, within its timeout (head and body).
async fn fetch(request: TokenFetch) -> Result<TokenReply, String> {
    let headers = wasi_http::Fields::new();
    for (name, value) in &request.headers {
        let _ = headers.append(name, &value.clone().into_bytes());
    }
    let outbound = Outbound {
        method: wasi_http::Method::Post,
        url: &request.url,
        headers,
        body: request.body.as_bytes(),
        timeout_ms: request.timeout_ms,
    };
    let response = outbound.send().await?;
    let status = response.status();
    let body = read_bounded(response, MAX_REPLY_BYTES, "the token answer").await?;
    Ok(TokenReply { status, body })
}

/// GETs a federated credential's issuer document (discovery, JWKS) or a client's published
/// keys: no body, no credential, at most [`MAX_DOCUMENT_BYTES`] + 1 bytes read, within
/// `timeout_ms` (head and body). The host must be in `allowed_outbound_hosts`
/// (`isogate_federation_issuers` in spin.toml).
pub async fn get_document(url: String, timeout_ms: u64) -> Result<DocumentReply, String> {
    let outbound = Outbound {
        method: wasi_http::Method::Get,
        url: &url,
        headers: wasi_http::Fields::new(),
        body: &[],
        timeout_ms,
    };
    let response = outbound.send().await?;
    let status = response.status();
    let cache_control = response
        .headers()
        .get(&"cache-control".to_owned())
        .into_iter()
        .next()
        .and_then(|v| String::from_utf8(v).ok());
    let body = read_bounded(response, MAX_DOCUMENT_BYTES, "the document").await?;
    Ok(DocumentReply {
        status,
        body,
        cache_control,
    })
}

/// One request the core makes itself (an origin's token, an issuer's document), not a
/// forward: to a URL the core parsed (scheme://authority[/path], no query).
struct Outbound<'a> {
    method: wasi_http::Method,
    url: &'a str,
    headers: wasi_http::Fields,
    body: &'a [u8],
    timeout_ms: u64,
}

impl Outbound<'_> {
    /// Sends the request and waits for the answer's head, within the timeout.
    async fn send(self) -> Result<wasi_http::IncomingResponse, String> {
        let url = split_url(self.url);
        let outgoing = wasi_http::OutgoingRequest::new(self.headers);
        let scheme = match url.scheme {
            "https" => wasi_http::Scheme::Https,
            _ => wasi_http::Scheme::Http,
        };
        let refused = |_| "the host refused the request".to_owned();
        outgoing.set_method(&self.method).map_err(refused)?;
        outgoing.set_scheme(Some(&scheme)).map_err(refused)?;
        outgoing
            .set_authority(Some(url.authority))
            .map_err(refused)?;
        let path = if url.path.is_empty() { "/" } else { url.path };
        outgoing.set_path_with_query(Some(path)).map_err(refused)?;
        let body = outgoing.body().map_err(refused)?;
        let deadline =
            monotonic_clock::now().saturating_add(self.timeout_ms.saturating_mul(1_000_000));
        let pending = outgoing_handler::handle(outgoing, Some(request_options(self.timeout_ms)))
            .map_err(|code| format!("{code:?}"))?;
        if !self.body.is_empty() {
            let sink = body.write().map_err(refused)?;
            write_all(&sink, self.body)
                .await
                .map_err(|e| format!("sending the request: {e:?}"))?;
        }
        wasi_http::OutgoingBody::finish(body, None).map_err(|code| format!("{code:?}"))?;
        response_head(&pending, deadline)
            .await
            .map_err(|outcome| match outcome {
                UpstreamOutcome::Failed(UpstreamFailure::Unreachable(why)) => why,
                _ => "timed out".to_owned(),
            })
    }
}

/// At most `limit` + 1 bytes of `response`'s body: one more than the core accepts, so that it
/// can tell an oversized answer from one that fits.
async fn read_bounded(
    response: wasi_http::IncomingResponse,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, String> {
    let refused = |_| format!("the host refused to read {what}");
    let incoming = response.consume().map_err(refused)?;
    let stream = incoming.stream().map_err(refused)?;
    let mut bytes = Vec::new();
    while bytes.len() <= limit {
        match read_chunk(&stream).await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(format!("reading {what}: {e:?}")),
        }
    }
    bytes.truncate(limit + 1);
    Ok(bytes)
}
