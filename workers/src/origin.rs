//! Upstream credentials on Workers ([`OriginSecrets`]): secrets are the Worker's own secrets
//! and vars (`wrangler secret put PAYROLL_TOKEN`), read from `env` by name; an origin's token
//! request is one `fetch` (in `glue.js`, like every Fetch object). The core decides what to
//! read and send; nothing here looks at a value.

use crate::entry::Env;
use crate::glue::{js_document_fetch, js_token_fetch};
use isogate_core::capability::{DocumentReply, LocalFuture, OriginSecrets};
use isogate_core::federation::MAX_DOCUMENT_BYTES;
use isogate_core::upstream_auth::origin_token::MAX_REPLY_BYTES;
use isogate_core::upstream_auth::{TokenFetch, TokenReply};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub struct WorkerSecrets<'a> {
    pub env: &'a Env,
}

impl OriginSecrets for WorkerSecrets<'_> {
    fn secret(&self, name: &str) -> Option<String> {
        crate::setting(self.env, name)
    }

    fn fetch_token(&self, request: TokenFetch) -> LocalFuture<'_, Result<TokenReply, String>> {
        let promise = js_token_fetch(
            &request.url,
            &crate::header_blob(&request.headers),
            &request.body,
            request.timeout_ms as f64,
            (MAX_REPLY_BYTES + 1) as f64,
        );
        Box::pin(async move {
            let answer = JsFuture::from(promise).await.map_err(|e| words(&e))?;
            let answer: js_sys::Array = answer.unchecked_into();
            let status = answer.get(0).as_f64().unwrap_or(0.0) as u16;
            let body = js_sys::Uint8Array::new(&answer.get(1)).to_vec();
            Ok(TokenReply { status, body })
        })
    }

    fn fetch_document(
        &self,
        url: &str,
        timeout_ms: u64,
    ) -> LocalFuture<'_, Result<DocumentReply, String>> {
        document(url, timeout_ms)
    }
}

/// A federated credential's issuer documents (discovery, JWKS): one `fetch` each.
fn document(url: &str, timeout_ms: u64) -> LocalFuture<'static, Result<DocumentReply, String>> {
    let promise = js_document_fetch(url, timeout_ms as f64, (MAX_DOCUMENT_BYTES + 1) as f64);
    Box::pin(async move {
        let answer = JsFuture::from(promise).await.map_err(|e| words(&e))?;
        let answer: js_sys::Array = answer.unchecked_into();
        Ok(DocumentReply {
            status: answer.get(0).as_f64().unwrap_or(0.0) as u16,
            body: js_sys::Uint8Array::new(&answer.get(1)).to_vec(),
            cache_control: answer.get(2).as_string(),
        })
    })
}

fn words(e: &JsValue) -> String {
    e.as_string().unwrap_or_else(|| "fetch failed".into())
}
