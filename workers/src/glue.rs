//! The Rust side of `glue.js`, which marshals workerd's objects (Fetch, Web Crypto, D1) in
//! one call per step: every binding in one place, beside the file it binds, for the request
//! loop (`lib.rs`), D1 (`d1.rs`) and Web Crypto (`web_crypto.rs`).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestHead)]
    pub fn js_request_head(request: &web_sys::Request) -> String;
    #[wasm_bindgen(js_name = forward)]
    pub fn js_forward(
        request: &web_sys::Request,
        url: &str,
        method: &str,
        headers: &str,
        with_body: bool,
        timeout_ms: f64,
        record: &str,
        session: &str,
        env: &JsValue,
        relay: &js_sys::Function,
    ) -> JsValue;
    #[wasm_bindgen(js_name = tokenFetch)]
    pub fn js_token_fetch(
        url: &str,
        headers: &str,
        body: &str,
        timeout_ms: f64,
        max_bytes: f64,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_name = upgrade)]
    pub fn js_upgrade(
        upstream: &web_sys::Response,
        headers: &str,
        env: &JsValue,
        session: &str,
        check: &js_sys::Function,
    ) -> web_sys::Response;
    #[wasm_bindgen(js_name = relayOrigin)]
    pub fn js_relay_origin(
        upstream: &web_sys::Response,
        status: u16,
        with_body: bool,
        headers: &str,
    ) -> web_sys::Response;
    #[wasm_bindgen(js_name = respond)]
    pub fn js_respond(status: u16, headers: &str, body: &JsValue) -> web_sys::Response;
    #[wasm_bindgen(js_name = readBounded)]
    pub fn js_read_bounded(
        request: &web_sys::Request,
        limit: f64,
        drain_limit: f64,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_name = respondAfterDrain)]
    pub fn js_respond_after_drain(
        request: &web_sys::Request,
        at_most: f64,
        status: u16,
        headers: &str,
        body: &JsValue,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_name = d1Query)]
    pub fn js_d1_query(db: &JsValue, sql: &str, params: &js_sys::Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = d1Execute)]
    pub fn js_d1_execute(db: &JsValue, sql: &str, params: &js_sys::Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = d1Batch)]
    pub fn js_d1_batch(db: &JsValue, statements: &js_sys::Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = importSigningKey)]
    pub fn js_import_signing_key(pkcs8: &[u8]) -> js_sys::Promise;
    #[wasm_bindgen(js_name = importVerifyingKey)]
    pub fn js_import_verifying_key(raw: &[u8]) -> js_sys::Promise;
    #[wasm_bindgen(js_name = ed25519Sign)]
    pub fn js_ed25519_sign(key: &JsValue, message: &[u8]) -> js_sys::Promise;
    #[wasm_bindgen(js_name = documentFetch)]
    pub fn js_document_fetch(url: &str, timeout_ms: f64, max_bytes: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = jwsVerify)]
    pub fn js_jws_verify(alg: &str, jwk: &str, signature: &[u8], message: &[u8])
        -> js_sys::Promise;
    #[wasm_bindgen(js_name = ed25519Verify)]
    pub fn js_ed25519_verify(key: &JsValue, signature: &[u8], message: &[u8]) -> js_sys::Promise;
}
