//! The deterministic harness the flow tests drive the gateway with, in the manner of
//! quinn-proto's `tests/util.rs`: the real `Gateway`, the real migrations and queries, an
//! in-memory SQLite behind [`SqlDb`], a clock that only moves when a test moves it, and a
//! seeded random source. No sockets, no sleeps, no wall clock.
//!
//! Every test file does `mod support;` and uses the parts it needs.
#![allow(dead_code)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use isogate_core::error::StoreError;
use isogate_core::gateway::{gateway_from_settings, Authorized, Gateway, RandomSource, Route};
use isogate_core::http::{RequestHead, Response};
use isogate_core::store::{SqlDb, SqlValue, Store};
use isogate_core::token::PortableEd25519;
use rusqlite::types::Value as SqliteValue;
use rusqlite::Connection;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

pub const DOMAIN: &str = "example.com";
pub const ISSUER: &str = "https://example.com";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// The fixed Ed25519 seed of `ISOGATE_SIGNING_KEY`.
pub const SIGNING_SEED: [u8; 32] = [7; 32];
/// The clock's start: 2023-11-14T22:13:20Z, a whole second.
pub const T0_MS: u64 = 1_700_000_000_000;
pub const UPSTREAM: &str = "http://127.0.0.1:9000";
pub const SERVICE: &str = "my-api";
pub const SERVICE_HOST: &str = "my-api.example.com";

// ---------------------------------------------------------------------------------------------
// Storage: SqlDb over an in-memory SQLite.

/// [`SqlDb`] over an in-memory `rusqlite::Connection`, with a switch to simulate an outage and
/// a counter of statements run (to pin "the hot path makes no storage read").
pub struct MemDb {
    conn: RefCell<Connection>,
    /// While set, every statement fails as an unavailable database would.
    pub down: Cell<bool>,
    /// Statements run so far (queries, executes and batch members).
    pub statements: Cell<usize>,
}

impl MemDb {
    /// A fresh database with the real migrations applied.
    pub fn migrated() -> MemDb {
        let db = MemDb { conn: RefCell::new(Connection::open_in_memory().expect("sqlite opens")), down: Cell::new(false), statements: Cell::new(0) };
        pollster::block_on(Store::new(&db).apply_migrations()).expect("migrations apply");
        db
    }

    fn begin(&self) -> Result<(), StoreError> {
        if self.down.get() {
            return Err(StoreError("database unavailable (simulated)".into()));
        }
        self.statements.set(self.statements.get() + 1);
        Ok(())
    }

    /// Runs SQL directly, bypassing the gateway: for arranging faults (triggers and the like).
    pub fn exec_raw(&self, sql: &str) {
        self.conn.borrow().execute_batch(sql).expect("raw sql runs");
    }

    /// Raw rows of a statement, bypassing the gateway: for asserting what is stored.
    pub fn raw(&self, sql: &str) -> Vec<Vec<SqlValue>> {
        let conn = self.conn.borrow();
        let mut stmt = conn.prepare(sql).expect("raw sql prepares");
        let n = stmt.column_count();
        stmt.query_map([], |row| (0..n).map(|i| row.get::<_, SqliteValue>(i)).collect::<Result<Vec<_>, _>>())
            .expect("raw sql runs")
            .map(|r| r.expect("row").into_iter().map(|v| from_sqlite(v).expect("known type")).collect())
            .collect()
    }
}

fn to_sqlite(v: &SqlValue) -> SqliteValue {
    match v {
        SqlValue::Null => SqliteValue::Null,
        SqlValue::Integer(i) => SqliteValue::Integer(*i),
        SqlValue::Text(s) => SqliteValue::Text(s.clone()),
    }
}

fn from_sqlite(v: SqliteValue) -> Result<SqlValue, StoreError> {
    match v {
        SqliteValue::Null => Ok(SqlValue::Null),
        SqliteValue::Integer(i) => Ok(SqlValue::Integer(i)),
        SqliteValue::Text(s) => Ok(SqlValue::Text(s)),
        other => Err(StoreError(format!("unsupported column type {other:?}"))),
    }
}

fn sql_err(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

impl SqlDb for MemDb {
    async fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        self.begin()?;
        let conn = self.conn.borrow();
        let mut stmt = conn.prepare(sql).map_err(sql_err)?;
        let n = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params.iter().map(to_sqlite)), |row| {
                (0..n).map(|i| row.get::<_, SqliteValue>(i)).collect::<Result<Vec<_>, _>>()
            })
            .map_err(sql_err)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(sql_err)?.into_iter().map(from_sqlite).collect::<Result<Vec<_>, _>>()?);
        }
        Ok(out)
    }

    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        self.begin()?;
        let conn = self.conn.borrow();
        conn.execute(sql, rusqlite::params_from_iter(params.iter().map(to_sqlite))).map_err(sql_err)?;
        Ok(conn.changes())
    }

    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError> {
        self.begin()?;
        let mut conn = self.conn.borrow_mut();
        // Atomic like a D1 batch: any failure rolls the whole batch back (on drop).
        let tx = conn.transaction().map_err(sql_err)?;
        for (sql, params) in statements {
            tx.execute(sql, rusqlite::params_from_iter(params.iter().map(to_sqlite))).map_err(sql_err)?;
        }
        tx.commit().map_err(sql_err)
    }
}

// ---------------------------------------------------------------------------------------------
// Randomness.

/// SplitMix64: deterministic, and well spread so that client ids do not collide by accident.
pub struct SeededRng(pub u64);

impl RandomSource for SeededRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// A broken random source that always yields zeros: every client id it makes is the same.
pub struct ZeroRng;

impl RandomSource for ZeroRng {
    fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(0);
    }
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// An oauth2 credential as the creation response showed it.
#[derive(Clone, Debug)]
pub struct Client {
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
}

pub fn default_settings() -> HashMap<String, String> {
    HashMap::from([
        ("ISOGATE_DOMAIN".to_owned(), DOMAIN.to_owned()),
        ("ISOGATE_SIGNING_KEY".to_owned(), URL_SAFE_NO_PAD.encode(SIGNING_SEED)),
        ("ISOGATE_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned()),
    ])
}

/// A gateway built exactly as a runtime builds one: from named settings.
pub fn gateway(settings: &HashMap<String, String>) -> Gateway {
    gateway_from_settings(|name| settings.get(name).cloned()).expect("test settings make a gateway")
}

/// One deployment: a database, the gateway of "this" isolate, a hand-driven clock and a
/// seeded random source. More isolates sharing the database come from [`Harness::isolate`].
pub struct Harness {
    pub db: MemDb,
    pub gw: Gateway,
    pub settings: HashMap<String, String>,
    now_ms: Cell<u64>,
    rng: RefCell<Box<dyn RandomSource>>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_settings(&[])
    }

    /// Default settings with some replaced (`Some`) or removed (`None`).
    pub fn with_settings(changes: &[(&str, Option<&str>)]) -> Harness {
        let mut settings = default_settings();
        for (name, value) in changes {
            match value {
                Some(v) => settings.insert(name.to_string(), v.to_string()),
                None => settings.remove(*name),
            };
        }
        Harness { db: MemDb::migrated(), gw: gateway(&settings), settings, now_ms: Cell::new(T0_MS), rng: RefCell::new(Box::new(SeededRng(42))) }
    }

    pub fn with_rng(self, rng: impl RandomSource + 'static) -> Harness {
        *self.rng.borrow_mut() = Box::new(rng);
        self
    }

    /// Another isolate of the same deployment: same settings and database, its own caches.
    pub fn isolate(&self) -> Gateway {
        gateway(&self.settings)
    }

    // -- clock

    pub fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }

    /// Unix seconds, as the core derives them from `now_ms`.
    pub fn now(&self) -> i64 {
        (self.now_ms.get() / 1000) as i64
    }

    pub fn advance_ms(&self, ms: u64) {
        self.now_ms.set(self.now_ms.get() + ms);
    }

    pub fn set_ms(&self, ms: u64) {
        self.now_ms.set(ms);
    }

    // -- root domain

    /// Any request to the root domain, on this isolate.
    pub fn root(&self, head: &RequestHead, body: &[u8]) -> Response {
        self.root_on(&self.gw, head, body)
    }

    pub fn root_on(&self, gw: &Gateway, head: &RequestHead, body: &[u8]) -> Response {
        assert!(matches!(gw.route(head), Route::Root { .. }), "{} is not the root domain", head.host);
        let mut rng = self.rng.borrow_mut();
        pollster::block_on(gw.handle_root(&self.db, &PortableEd25519, head, body, self.now_ms(), rng.as_mut()))
    }

    /// An admin API call with the admin credential; `body` is sent as JSON when given.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        self.admin_raw(method, path, Some(&format!("Bearer {ADMIN_TOKEN}")), &bytes)
    }

    /// An admin API call with any `Authorization` (or none) and raw body bytes.
    pub fn admin_raw(&self, method: &str, path: &str, authorization: Option<&str>, body: &[u8]) -> Response {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = authorization {
            headers.push(("authorization", a));
        }
        self.root(&head(method, DOMAIN, path, None, &headers), body)
    }

    /// A token request: POST of a form body, with the form content type added.
    pub fn token(&self, form: &str, headers: &[(&str, &str)]) -> Response {
        self.token_on(&self.gw, form, headers)
    }

    pub fn token_on(&self, gw: &Gateway, form: &str, headers: &[(&str, &str)]) -> Response {
        let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.root_on(gw, &head("POST", DOMAIN, "/oauth2/token", None, &all), form.as_bytes())
    }

    // -- services

    /// `GET /` on a service host, on this isolate.
    pub fn service(&self, host: &str, headers: &[(&str, &str)]) -> Result<Authorized, Response> {
        self.service_on(&self.gw, &head("GET", host, "/", None, headers))
    }

    /// Any service request on any isolate, routed on its `Host` as a runtime does.
    pub fn service_on(&self, gw: &Gateway, head: &RequestHead) -> Result<Authorized, Response> {
        let Route::Service(name) = gw.route(head) else { panic!("{} is not a service host", head.host) };
        pollster::block_on(gw.authorize_service(&self.db, &PortableEd25519, head, &name, self.now_ms()))
    }

    /// `GET /` on `my-api` with `Authorization: Bearer <token>`, on `gw`.
    pub fn call_with(&self, gw: &Gateway, token: &str) -> Result<Authorized, Response> {
        let auth = format!("Bearer {token}");
        self.service_on(gw, &head("GET", SERVICE_HOST, "/", None, &[("authorization", &auth)]))
    }

    /// `GET /` on `my-api` with `Authorization: Bearer <token>`, on this isolate.
    pub fn call(&self, token: &str) -> Result<Authorized, Response> {
        self.call_with(&self.gw, token)
    }

    // -- seeding through the admin API

    pub fn create_user(&self, name: &str) {
        let r = self.admin("POST", "/admin/v1/users", Some(json!({ "name": name })));
        assert_eq!(r.status, 201, "create user {name}: {}", text(&r));
    }

    pub fn create_service(&self, name: &str, upstream: &str, allowed_users: &[&str]) {
        let r = self.admin("POST", "/admin/v1/services", Some(json!({ "name": name, "upstream": upstream, "allowed_users": allowed_users })));
        assert_eq!(r.status, 201, "create service {name}: {}", text(&r));
    }

    /// Creates an oauth2 credential and returns what the creation response showed once.
    pub fn create_client(&self, name: &str, user: &str, scopes: &[&str]) -> Client {
        let r = self.admin("POST", "/admin/v1/credentials", Some(json!({ "name": name, "user": user, "type": "oauth2", "scopes": scopes })));
        assert_eq!(r.status, 201, "create credential {name}: {}", text(&r));
        let body = json_body(&r);
        Client {
            name: name.to_owned(),
            client_id: body["client_id"].as_str().expect("client_id").to_owned(),
            client_secret: body["client_secret"].as_str().expect("client_secret").to_owned(),
        }
    }

    /// The usual start: service `my-api` in front of `127.0.0.1:9000`, an oauth2 credential
    /// for `root` with no scope ceiling.
    pub fn seeded() -> (Harness, Client) {
        let h = Harness::new();
        h.create_service(SERVICE, UPSTREAM, &[]);
        let c = h.create_client("root-cred", "root", &[]);
        (h, c)
    }

    /// A token for `client` (client_secret_post), optionally with a `scope` parameter.
    pub fn token_for(&self, client: &Client, scope: Option<&str>) -> String {
        self.token_for_on(&self.gw, client, scope)
    }

    pub fn token_for_on(&self, gw: &Gateway, client: &Client, scope: Option<&str>) -> String {
        let r = self.token_on(gw, &post_form(client, scope), &[]);
        assert_eq!(r.status, 200, "token for {}: {}", client.name, text(&r));
        json_body(&r)["access_token"].as_str().expect("access_token").to_owned()
    }

    /// The three lists of the admin API, for before/after comparisons.
    pub fn snapshot(&self) -> (Value, Value, Value) {
        let get = |p: &str| {
            let r = self.admin("GET", p, None);
            assert_eq!(r.status, 200, "{p}: {}", text(&r));
            json_body(&r)
        };
        (get("/admin/v1/users"), get("/admin/v1/services"), get("/admin/v1/credentials"))
    }
}

// ---------------------------------------------------------------------------------------------
// Request and response helpers.

pub fn head(method: &str, host: &str, path: &str, query: Option<&str>, headers: &[(&str, &str)]) -> RequestHead {
    RequestHead {
        method: method.into(),
        scheme: "https".into(),
        host: host.into(),
        path: path.into(),
        query: query.map(str::to_owned),
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        client_ip: Some("203.0.113.7".into()),
    }
}

/// `application/x-www-form-urlencoded` component encoding (RFC 6749 Appendix B).
pub fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A `client_secret_post` client-credentials body.
pub fn post_form(client: &Client, scope: Option<&str>) -> String {
    let mut form = format!("grant_type=client_credentials&client_id={}&client_secret={}", form_encode(&client.client_id), form_encode(&client.client_secret));
    if let Some(s) = scope {
        form.push_str(&format!("&scope={}", form_encode(s)));
    }
    form
}

/// `Authorization: Basic` for `client_secret_basic` (RFC 6749 §2.3.1: each part form-encoded).
pub fn basic(client_id: &str, client_secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{}:{}", form_encode(client_id), form_encode(client_secret))))
}

pub fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

pub fn json_body(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", text(r)))
}

/// Part `i` (0 header, 1 claims) of a compact JWS, decoded.
pub fn jwt_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// The refusal of a service request, which must not be a pass.
pub fn refused(r: Result<Authorized, Response>) -> Response {
    match r {
        Ok(a) => panic!("expected a refusal, the request was authorized for {:?}", a.principal),
        Err(resp) => resp,
    }
}

/// The authorization of a service request, which must not be a refusal.
pub fn authorized(r: Result<Authorized, Response>) -> Authorized {
    r.unwrap_or_else(|resp| panic!("expected authorization, got {} {}", resp.status, text(&resp)))
}

/// RFC 6749 §5.2 error: status, `error` code and the no-store pair of §5.1.
#[track_caller]
pub fn assert_token_error(r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", text(r));
    assert_eq!(json_body(r)["error"], code, "{}", text(r));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
}

/// RFC 6750 §3 refusal: status, `error` code in the body, and the challenge carrying it.
#[track_caller]
pub fn assert_bearer_error(r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", text(r));
    assert_eq!(json_body(r)["error"], code, "{}", text(r));
    let challenge = r.header("www-authenticate").unwrap_or_else(|| panic!("no WWW-Authenticate on {status} {code}"));
    assert!(challenge.starts_with("Bearer realm=\"isogate\""), "{challenge}");
    assert!(challenge.contains(&format!("error=\"{code}\"")), "{challenge}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

/// An admin API error: status and `error` code.
#[track_caller]
pub fn assert_admin_error(r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", text(r));
    assert_eq!(json_body(r)["error"], code, "{}", text(r));
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

/// A forwarded header's values.
pub fn forwarded<'a>(a: &'a Authorized, name: &str) -> Vec<&'a str> {
    a.plan.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}
