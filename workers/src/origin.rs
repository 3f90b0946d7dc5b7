//! Upstream credentials on Workers ([`OriginSecrets`]): secrets are the Worker's own secrets
//! and vars (`wrangler secret put PAYROLL_TOKEN`), read from `env` by name; an origin's token
//! request is one `fetch` (in `glue.js`, like every Fetch object). The core decides what to
//! read and send; nothing here looks at a value.

use crate::glue::js_token_fetch;
use isogate_core::capability::{LocalFuture, OriginSecrets};
use isogate_core::upstream_auth::origin_token::MAX_REPLY_BYTES;
use isogate_core::upstream_auth::{TokenFetch, TokenReply};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

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
}

fn words(e: &JsValue) -> String {
    e.as_string().unwrap_or_else(|| "fetch failed".into())
}
