//! # isogate-workers
//!
//! Isogate on Cloudflare Workers. Glue only: it converts a `worker::Request` to the core's
//! [`RequestHead`], implements [`SqlDb`] over D1, supplies the clock and `getrandom`, and
//! performs what the core decides: send a response, or fetch the origin per a `ForwardPlan`
//! with both bodies streamed (never buffered).
//!
//! One [`Gateway`] is built per isolate from the Worker's vars and secrets and kept for its
//! life (keys are parsed once; the hot-path cache lives in it).

use isogate_core::error::{StoreError, UpstreamError};
use isogate_core::forward::{filter_response_headers, is_relayable_status};
use isogate_core::gateway::{gateway_from_settings, misconfigured_response};
use isogate_core::http::{split_url, RequestHead, Response as CoreResponse};
use isogate_core::store::{SqlDb, SqlValue};
use isogate_core::{Gateway, RandomSource, Route};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{console_error, console_warn, D1Database, D1PreparedStatement, Date, Env};

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
    fn js_forward(request: &web_sys::Request, url: &str, method: &str, headers: &str, with_body: bool, timeout_ms: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = respond)]
    fn js_respond(status: u16, headers: &str, body: &JsValue) -> web_sys::Response;
    #[wasm_bindgen(js_name = readBounded)]
    fn js_read_bounded(request: &web_sys::Request, limit: f64) -> js_sys::Promise;
}

/// The Worker's `fetch` handler (called by worker-build's entrypoint shim). Written against
/// `web_sys` rather than through `#[event(fetch)]`, whose request conversion parses the URL
/// and reads `request.cf` on every request for nothing the gateway uses.
#[wasm_bindgen]
pub async fn fetch(req: web_sys::Request, env: Env, _ctx: JsValue) -> std::result::Result<web_sys::Response, JsValue> {
    Ok(handle(req, env).await)
}

async fn handle(req: web_sys::Request, env: Env) -> web_sys::Response {
    let Some(gw) = gateway(&env) else { return respond(misconfigured_response()) };
    let head = request_head(&req);
    let now_ms = Date::now().as_millis();
    let Ok(db) = env.d1("DB") else {
        console_error!("isogate: the D1 binding DB is missing");
        return respond(misconfigured_response());
    };
    let db = D1Db(db);
    match gw.route(&head) {
        Route::Service(name) => match gw.authorize_service(&db, &head, &name, now_ms).await {
            Ok(authorized) => forward(&gw, &req, authorized.plan).await,
            Err(refusal) => respond(refusal),
        },
        Route::Root { body_limit } => {
            let body = match JsFuture::from(js_read_bounded(&req, body_limit as f64)).await {
                Ok(bytes) => js_sys::Uint8Array::from(bytes).to_vec(),
                // The client went away or sent a broken body; nothing to answer it with.
                Err(_) => return respond(CoreResponse::json(400, &serde_json::json!({ "error": "invalid_request", "error_description": "the request body could not be read" }))),
            };
            respond(gw.handle_root(&db, &head, &body, now_ms, &mut OsRandom).await)
        }
        Route::UnknownHost => respond(CoreResponse::json(
            404,
            &serde_json::json!({ "error": "not_found", "error_description": "unknown host" }),
        )),
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

/// Fetches the origin with the incoming body stream and relays its response stream.
async fn forward(gw: &Gateway, req: &web_sys::Request, plan: isogate_core::forward::ForwardPlan) -> web_sys::Response {
    let sent = js_forward(req, &plan.url, &plan.method, &header_blob(&plan.headers), plan.has_body, gw.config.upstream_timeout_ms as f64);
    let outcome = JsFuture::from(sent).await.unwrap_or_else(|e| e);
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

struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // Web Crypto's getRandomValues; failure here means the runtime is broken, and issuing a
        // predictable secret would be worse than stopping.
        getrandom::fill(buf).expect("crypto.getRandomValues is available in workerd");
    }
}

/// D1 behind the core's [`SqlDb`].
struct D1Db(D1Database);

fn bind(values: &[SqlValue]) -> Vec<JsValue> {
    values
        .iter()
        .map(|v| match v {
            SqlValue::Null => JsValue::NULL,
            SqlValue::Integer(i) => JsValue::from_f64(*i as f64),
            SqlValue::Text(s) => JsValue::from_str(s),
        })
        .collect()
}

fn store_error(e: worker::Error) -> StoreError {
    StoreError(format!("d1: {e}"))
}

fn from_json(v: serde_json::Value) -> SqlValue {
    match v {
        serde_json::Value::Null => SqlValue::Null,
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            // JavaScript numbers arrive as floats; integral ones are integers.
            None => SqlValue::Integer(n.as_f64().unwrap_or_default() as i64),
        },
        serde_json::Value::String(s) => SqlValue::Text(s),
        other => SqlValue::Text(other.to_string()),
    }
}

impl D1Db {
    fn statement(&self, sql: &str, params: &[SqlValue]) -> std::result::Result<D1PreparedStatement, StoreError> {
        self.0.prepare(sql).bind(&bind(params)).map_err(store_error)
    }
}

impl SqlDb for D1Db {
    async fn query(&self, sql: &str, params: &[SqlValue]) -> std::result::Result<Vec<Vec<SqlValue>>, StoreError> {
        let rows = self.statement(sql, params)?.raw::<serde_json::Value>().await.map_err(store_error)?;
        Ok(rows.into_iter().map(|row| row.into_iter().map(from_json).collect()).collect())
    }

    async fn execute(&self, sql: &str, params: &[SqlValue]) -> std::result::Result<u64, StoreError> {
        let result = self.statement(sql, params)?.run().await.map_err(store_error)?;
        let changes = result.meta().map_err(store_error)?.and_then(|m| m.changes).unwrap_or(0);
        Ok(changes as u64)
    }

    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> std::result::Result<(), StoreError> {
        let prepared = statements.iter().map(|(sql, params)| self.statement(sql, params)).collect::<std::result::Result<Vec<_>, _>>()?;
        self.0.batch(prepared).await.map_err(store_error)?;
        Ok(())
    }
}
