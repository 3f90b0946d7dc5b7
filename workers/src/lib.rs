//! # isogate-workers
//!
//! Isogate on Cloudflare Workers. Glue only: it converts a `worker::Request` to the core's
//! [`RequestHead`], implements [`SqlDb`] over D1, supplies the clock and `getrandom`, and
//! performs what the core decides: send a response, or fetch the origin per a `ForwardPlan`
//! with both bodies streamed (never buffered).
//!
//! One [`Gateway`] is built per isolate from the Worker's vars and secrets and kept for its
//! life (keys are parsed once; the hot-path cache lives in it).

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use isogate_core::error::{StoreError, UpstreamError};
use isogate_core::forward::{filter_response_headers, is_relayable_status};
use isogate_core::gateway::{gateway_from_settings, misconfigured_response};
use isogate_core::http::{split_url, RequestHead, Response as CoreResponse};
use isogate_core::store::{SqlDb, SqlValue};
use isogate_core::{Gateway, RandomSource, Route};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::*;

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

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let Some(gw) = gateway(&env) else { return to_worker_response(misconfigured_response()) };
    let head = request_head(&req)?;
    let now_ms = Date::now().as_millis();
    let db = D1Db(env.d1("DB")?);
    match gw.route(&head) {
        Route::Service(name) => match gw.authorize_service(&db, &head, &name, now_ms).await {
            Ok(authorized) => forward(&gw, req, authorized.plan).await,
            Err(refusal) => to_worker_response(refusal),
        },
        Route::Root { body_limit } => {
            let mut req = req;
            let body = read_bounded(&mut req, body_limit).await?;
            to_worker_response(gw.handle_root(&db, &head, &body, now_ms, &mut OsRandom).await)
        }
        Route::UnknownHost => to_worker_response(CoreResponse::json(
            404,
            &serde_json::json!({ "error": "not_found", "error_description": "unknown host" }),
        )),
    }
}

fn request_head(req: &Request) -> Result<RequestHead> {
    let url = req.inner().url();
    let parts = split_url(&url);
    let headers: Vec<(String, String)> = req.headers().entries().collect();
    let host = req.headers().get("host")?.unwrap_or_else(|| parts.authority.to_owned());
    Ok(RequestHead {
        method: req.inner().method(),
        scheme: parts.scheme.to_owned(),
        host,
        path: parts.path.to_owned(),
        query: parts.query.map(str::to_owned),
        client_ip: req.headers().get("cf-connecting-ip")?,
        headers,
    })
}

/// Reads at most `limit + 1` bytes: enough for the core to tell "too large" without the
/// isolate ever holding an unbounded body.
async fn read_bounded(req: &mut Request, limit: usize) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    if req.inner().body().is_none() {
        return Ok(body);
    }
    let mut stream = req.stream()?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = limit + 1 - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() > limit {
            break;
        }
    }
    Ok(body)
}

/// Fetches the origin with the incoming body stream and relays its response stream.
async fn forward(gw: &Gateway, req: Request, plan: isogate_core::forward::ForwardPlan) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in &plan.headers {
        // A header value the runtime refuses (it already accepted it inbound, so this is rare)
        // is dropped rather than failing the request.
        let _ = headers.append(name, value);
    }
    // web_sys directly: the worker crate's `Method` maps unknown methods (PROPFIND, PURGE...)
    // to GET, and a proxy must pass the method through as sent.
    let init = web_sys::RequestInit::new();
    init.set_method(&plan.method);
    init.set_headers(&headers.0);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if plan.has_body {
        if let Some(body) = req.inner().body() {
            init.set_body(&body);
        }
    }
    let outbound = match web_sys::Request::new_with_str_and_init(&plan.url, &init) {
        Ok(r) => Request::from(r),
        // A method the runtime refuses to send (CONNECT, TRACE) or an unusable URL.
        Err(_) => return to_worker_response(UpstreamError::Unreachable.to_response()),
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(outbound);
    let sending = fetch.send_with_signal(&signal);
    let timeout = Delay::from(Duration::from_millis(gw.config.upstream_timeout_ms));
    let upstream = match select(Box::pin(sending), Box::pin(timeout)).await {
        Either::Left((Ok(resp), _)) => resp,
        Either::Left((Err(e), _)) => {
            console_warn!("isogate: upstream fetch failed: {e}");
            return to_worker_response(UpstreamError::Unreachable.to_response());
        }
        Either::Right(_) => {
            controller.abort();
            return to_worker_response(UpstreamError::Timeout.to_response());
        }
    };
    let status = upstream.status_code();
    if !is_relayable_status(status) {
        return to_worker_response(UpstreamError::Unreachable.to_response());
    }
    let upstream_headers: Vec<(String, String)> = upstream.headers().entries().collect();
    let out_headers = Headers::new();
    for (name, value) in filter_response_headers(&upstream_headers) {
        let _ = out_headers.append(&name, &value);
    }
    let (_, body) = upstream.into_parts();
    let builder = ResponseBuilder::new().with_status(status).with_headers(out_headers);
    Ok(builder.body(body))
}

fn to_worker_response(resp: CoreResponse) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in &resp.headers {
        headers.append(name, value)?;
    }
    let builder = ResponseBuilder::new().with_status(resp.status).with_headers(headers);
    Ok(if resp.body.is_empty() { builder.empty() } else { builder.fixed(resp.body) })
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
