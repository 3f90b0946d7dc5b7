//! # isogate-workers
//!
//! Isogate on Cloudflare Workers. Glue only: it turns the incoming `Request` into the core's
//! [`RequestHead`], implements [`SqlDb`] over D1 and [`Ed25519`] over Web Crypto, supplies the
//! clock and `getrandom`, and performs what the core decides: send a response, or fetch the
//! origin per a `ForwardPlan` with both bodies streamed (never buffered).
//!
//! The Fetch objects are handled in `glue.js`, which marshals them in one call per step (a
//! request head, a forward, a relay, a D1 statement) instead of one per header or string: the
//! per-request cost of crossing the wasm boundary is most of what a gateway adds on Workers
//! (see bench/).
//!
//! One [`Gateway`] is built per isolate from the Worker's vars and secrets and kept for its
//! life (keys are parsed once; the hot-path caches live in it).

use isogate_core::error::{StoreError, UpstreamError};
use isogate_core::forward::{filter_response_headers, is_relayable_status};
use isogate_core::gateway::{gateway_from_settings, misconfigured_response, unknown_host_response, unreadable_body_response};
use isogate_core::http::{split_url, RequestHead, Response as CoreResponse};
use isogate_core::store::{SqlDb, SqlValue};
use isogate_core::token::{Ed25519, PortableEd25519, SigningKey, VerifyingKey};
use isogate_core::{Gateway, RandomSource, Route};
use std::cell::{Cell, OnceCell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{console_error, console_warn, Env};

thread_local! {
    static GATEWAY: RefCell<Option<Rc<Gateway>>> = const { RefCell::new(None) };
}

/// The isolate's gateway, built on first use. A settings error is logged (by name, never by
/// value) and retried on the next request.
fn gateway(env: &Env) -> Option<Rc<Gateway>> {
    if let Some(gw) = GATEWAY.with(|g| g.borrow().clone()) {
        return Some(gw);
    }
    let setting = |name: &str| env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok();
    match gateway_from_settings(setting) {
        Ok(gw) => {
            let gw = Rc::new(gw);
            GATEWAY.with(|g| *g.borrow_mut() = Some(gw.clone()));
            Some(gw)
        }
        Err(e) => {
            console_error!("isogate: configuration error: {e}");
            None
        }
    }
}

/// Bindings to `glue.js`: workerd's Fetch objects marshalled in one call per step.
#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestHead)]
    fn js_request_head(request: &web_sys::Request) -> String;
    #[wasm_bindgen(js_name = headerBlob)]
    fn js_header_blob(headers: &web_sys::Headers) -> String;
    #[wasm_bindgen(js_name = forward)]
    fn js_forward(request: &web_sys::Request, url: &str, method: &str, headers: &str, with_body: bool, timeout_ms: f64, relay: &js_sys::Function) -> JsValue;
    #[wasm_bindgen(js_name = respond)]
    fn js_respond(status: u16, headers: &str, body: &JsValue) -> web_sys::Response;
    #[wasm_bindgen(js_name = readBounded)]
    fn js_read_bounded(request: &web_sys::Request, limit: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = importSigningKey)]
    fn js_import_signing_key(pkcs8: &[u8]) -> js_sys::Promise;
    #[wasm_bindgen(js_name = importVerifyingKey)]
    fn js_import_verifying_key(raw: &[u8]) -> js_sys::Promise;
    #[wasm_bindgen(js_name = ed25519Sign)]
    fn js_ed25519_sign(key: &JsValue, message: &[u8]) -> js_sys::Promise;
    #[wasm_bindgen(js_name = d1Query)]
    fn js_d1_query(db: &JsValue, sql: &str, params: &js_sys::Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = d1Execute)]
    fn js_d1_execute(db: &JsValue, sql: &str, params: &js_sys::Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = d1Batch)]
    fn js_d1_batch(db: &JsValue, statements: &js_sys::Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = ed25519Verify)]
    fn js_ed25519_verify(key: &JsValue, signature: &[u8], message: &[u8]) -> js_sys::Promise;
}

/// The Worker's `fetch` handler (called by worker-build's entrypoint shim). Written against
/// `web_sys` rather than through `#[event(fetch)]`, whose request conversion parses the URL
/// and reads `request.cf` on every request for nothing the gateway uses.
///
/// Returns a Response, or a Promise of one. With warm caches nothing on the way to the
/// forward waits, so the handler is polled once here and, when it completes (the common case),
/// its answer is returned directly: no Rust executor, no microtask hops. Only when it waits on
/// D1 or a body is it handed to `wasm-bindgen-futures` to finish.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, _ctx: JsValue) -> JsValue {
    let mut handling = Box::pin(handle(req, env));
    match handling.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(answer) => answer,
        // The pending futures (D1, body reads) keep the waker of their latest poll, so the
        // executor's polls from here on are the ones woken.
        Poll::Pending => wasm_bindgen_futures::future_to_promise(async move { Ok(handling.await) }).into(),
    }
}

/// Answers one request: a Response, or for a forward the Promise of the relayed one.
async fn handle(req: web_sys::Request, env: Env) -> JsValue {
    let Some(gw) = gateway(&env) else { return respond(misconfigured_response()).into() };
    let head = request_head(&req);
    let now_ms = js_sys::Date::now() as u64;
    let db = D1Db { env: &env, binding: OnceCell::new() };
    match gw.route(&head) {
        Route::Service(name) => match gw.authorize_service(&db, &*ed25519(), &head, &name, now_ms).await {
            Ok(authorized) => forward(&gw, &req, authorized.plan),
            Err(refusal) => respond(refusal).into(),
        },
        Route::Root { body_limit } => {
            let body = if req.body().is_none() {
                Vec::new()
            } else {
                match JsFuture::from(js_read_bounded(&req, body_limit as f64)).await {
                    Ok(bytes) => js_sys::Uint8Array::from(bytes).to_vec(),
                    // The client went away or sent a broken body; nothing to answer it with.
                    Err(_) => return respond(unreadable_body_response()).into(),
                }
            };
            respond(gw.handle_root(&db, &*ed25519(), &head, &body, now_ms, &mut OsRandom).await).into()
        }
        Route::UnknownHost => respond(unknown_host_response()).into(),
    }
}

/// Splits a `glue.js` header blob into pairs.
fn header_pairs(blob: &str) -> Vec<(String, String)> {
    let mut parts = blob.split('\0');
    let mut pairs = Vec::new();
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        pairs.push((name.to_owned(), value.to_owned()));
    }
    pairs
}

/// Joins header pairs into a `glue.js` header blob.
fn header_blob(headers: &[(String, String)]) -> String {
    let mut blob = String::with_capacity(headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (name, value) in headers {
        blob.push_str(name);
        blob.push('\0');
        blob.push_str(value);
        blob.push('\0');
    }
    blob
}

fn request_head(req: &web_sys::Request) -> RequestHead {
    let raw = js_request_head(req);
    let mut fields = raw.splitn(3, '\0');
    let method = fields.next().unwrap_or_default().to_owned();
    let url = fields.next().unwrap_or_default();
    let headers = header_pairs(fields.next().unwrap_or_default());
    let parts = split_url(url);
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    RequestHead {
        host: header("host").unwrap_or_else(|| parts.authority.to_owned()),
        client_ip: header("cf-connecting-ip"),
        method,
        scheme: parts.scheme.to_owned(),
        path: parts.path.to_owned(),
        query: parts.query.map(str::to_owned),
        headers,
    }
}

/// Fetches the origin per the plan, the incoming body streamed through; resolves the relayed
/// response (see [`relay`]).
fn forward(gw: &Gateway, req: &web_sys::Request, plan: isogate_core::forward::ForwardPlan) -> JsValue {
    RELAY.with(|relay| {
        js_forward(req, &plan.url, &plan.method, &header_blob(&plan.headers), plan.has_body, gw.config.upstream_timeout_ms as f64, relay.as_ref().unchecked_ref())
    })
}

thread_local! {
    /// [`relay`] as a JS function, made once per isolate rather than once per request.
    static RELAY: Closure<dyn Fn(JsValue) -> web_sys::Response> = Closure::new(relay);
}

/// What the client gets for the origin's answer (`glue.js` `forward` calls it): the origin's
/// status and body stream with hop-by-hop headers dropped, or 504/502 when the origin timed out,
/// failed, or answered with a status that cannot be relayed.
fn relay(outcome: JsValue) -> web_sys::Response {
    let upstream = match outcome.dyn_into::<web_sys::Response>() {
        Ok(upstream) => upstream,
        Err(failure) => {
            let failure = failure.as_string().unwrap_or_default();
            if failure == "timeout" {
                return respond(UpstreamError::Timeout.to_response());
            }
            console_warn!("isogate: upstream fetch failed: {failure}");
            return respond(UpstreamError::Unreachable.to_response());
        }
    };
    let status = upstream.status();
    if !is_relayable_status(status) {
        return respond(UpstreamError::Unreachable.to_response());
    }
    let relayed = filter_response_headers(&header_pairs(&js_header_blob(&upstream.headers())));
    let body = upstream.body().map(JsValue::from).unwrap_or(JsValue::NULL);
    js_respond(status, &header_blob(&relayed), &body)
}

fn respond(resp: CoreResponse) -> web_sys::Response {
    let body = if resp.body.is_empty() { JsValue::NULL } else { js_sys::Uint8Array::from(&resp.body[..]).into() };
    js_respond(resp.status, &header_blob(&resp.headers), &body)
}

/// Ed25519 through Web Crypto: native code in workerd, several times faster than the portable
/// implementation compiled to wasm (see bench/). Keys are imported once per isolate. Should
/// Web Crypto fail (a runtime without Ed25519), the portable implementation answers instead,
/// and from then on for the isolate's life: both compute the same RFC 8032 Ed25519.
#[derive(Default)]
struct WebCryptoEd25519 {
    signing_key: RefCell<Option<JsValue>>,
    /// By kid; a handful at most (the signing key's and those of a rotation).
    verifying_keys: RefCell<Vec<(String, JsValue)>>,
    unavailable: Cell<bool>,
}

thread_local! {
    static ED25519: Rc<WebCryptoEd25519> = Rc::new(WebCryptoEd25519::default());
}

fn ed25519() -> Rc<WebCryptoEd25519> {
    ED25519.with(Rc::clone)
}

impl WebCryptoEd25519 {
    fn give_up(&self, what: &str, e: JsValue) {
        if !self.unavailable.replace(true) {
            console_warn!("isogate: Web Crypto Ed25519 {what} failed ({e:?}); using the portable implementation");
        }
    }

    async fn try_sign(&self, key: &SigningKey, message: &[u8]) -> std::result::Result<[u8; 64], JsValue> {
        // (Bound first: a borrow in the match scrutinee would live across the await.)
        let cached = self.signing_key.borrow().clone();
        let crypto_key = match cached {
            Some(k) => k,
            None => {
                let k = JsFuture::from(js_import_signing_key(&key.pkcs8_der())).await?;
                *self.signing_key.borrow_mut() = Some(k.clone());
                k
            }
        };
        let signature = js_sys::Uint8Array::from(JsFuture::from(js_ed25519_sign(&crypto_key, message)).await?).to_vec();
        signature.try_into().map_err(|_| JsValue::from_str("signature is not 64 bytes"))
    }

    async fn try_verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> std::result::Result<bool, JsValue> {
        let cached = self.verifying_keys.borrow().iter().find(|(kid, _)| *kid == key.kid).map(|(_, k)| k.clone());
        let crypto_key = match cached {
            Some(k) => k,
            None => {
                let k = JsFuture::from(js_import_verifying_key(&key.raw())).await?;
                self.verifying_keys.borrow_mut().push((key.kid.clone(), k.clone()));
                k
            }
        };
        Ok(JsFuture::from(js_ed25519_verify(&crypto_key, signature, message)).await?.as_bool() == Some(true))
    }
}

impl Ed25519 for WebCryptoEd25519 {
    async fn sign(&self, key: &SigningKey, message: &[u8]) -> [u8; 64] {
        if !self.unavailable.get() {
            match self.try_sign(key, message).await {
                Ok(signature) => return signature,
                Err(e) => self.give_up("signing", e),
            }
        }
        PortableEd25519.sign(key, message).await
    }

    async fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
        if !self.unavailable.get() {
            match self.try_verify(key, message, signature).await {
                Ok(genuine) => return genuine,
                Err(e) => self.give_up("verification", e),
            }
        }
        PortableEd25519.verify(key, message, signature).await
    }
}

struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // Web Crypto's getRandomValues; failure here means the runtime is broken, and issuing a
        // predictable secret would be worse than stopping.
        getrandom::fill(buf).expect("crypto.getRandomValues is available in workerd");
    }
}

/// D1 behind the core's [`SqlDb`], through `glue.js` (D1's own client API, no conversion
/// layer in between). The `DB` binding is looked up on first use: with warm caches a request
/// never touches it.
struct D1Db<'a> {
    env: &'a Env,
    binding: OnceCell<JsValue>,
}

fn bind(values: &[SqlValue]) -> js_sys::Array {
    values
        .iter()
        .map(|v| match v {
            SqlValue::Null => JsValue::NULL,
            SqlValue::Integer(i) => JsValue::from_f64(*i as f64),
            SqlValue::Text(s) => JsValue::from_str(s),
        })
        .collect()
}

/// Logged here because the core only maps storage failures to a 503 (D1's messages carry SQL
/// text, never bound values, so no secret reaches the log).
fn store_error(e: JsValue) -> StoreError {
    let message = js_sys::Reflect::get(&e, &JsValue::from_str("message")).ok().and_then(|m| m.as_string()).or_else(|| e.as_string()).unwrap_or_default();
    console_error!("isogate: D1: {message}");
    StoreError(format!("d1: {message}"))
}

/// A D1 column value: integers arrive as JavaScript numbers.
fn sql_value(v: JsValue) -> SqlValue {
    if v.is_null() || v.is_undefined() {
        SqlValue::Null
    } else if let Some(n) = v.as_f64() {
        SqlValue::Integer(n as i64)
    } else {
        SqlValue::Text(v.as_string().unwrap_or_else(|| String::from(js_sys::JsString::from(v))))
    }
}

impl D1Db<'_> {
    fn database(&self) -> std::result::Result<&JsValue, StoreError> {
        if let Some(db) = self.binding.get() {
            return Ok(db);
        }
        let db = js_sys::Reflect::get(self.env, &JsValue::from_str("DB")).ok().filter(|db| db.is_object()).ok_or_else(|| {
            console_error!("isogate: the D1 binding DB is missing");
            StoreError("the D1 binding DB is missing".into())
        })?;
        Ok(self.binding.get_or_init(|| db))
    }
}

impl SqlDb for D1Db<'_> {
    async fn query(&self, sql: &str, params: &[SqlValue]) -> std::result::Result<Vec<Vec<SqlValue>>, StoreError> {
        let rows = JsFuture::from(js_d1_query(self.database()?, sql, &bind(params))).await.map_err(store_error)?;
        let rows: js_sys::Array = rows.unchecked_into();
        Ok(rows.iter().map(|row| row.unchecked_into::<js_sys::Array>().iter().map(sql_value).collect()).collect())
    }

    async fn execute(&self, sql: &str, params: &[SqlValue]) -> std::result::Result<u64, StoreError> {
        let changes = JsFuture::from(js_d1_execute(self.database()?, sql, &bind(params))).await.map_err(store_error)?;
        Ok(changes.as_f64().unwrap_or(0.0) as u64)
    }

    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> std::result::Result<(), StoreError> {
        let batch: js_sys::Array = statements.iter().map(|(sql, params)| JsValue::from(js_sys::Array::of2(&JsValue::from_str(sql), &bind(params)))).collect();
        JsFuture::from(js_d1_batch(self.database()?, &batch)).await.map_err(store_error)?;
        Ok(())
    }
}
