//! [`Harness`]: one deployment driven through `Gateway::start` as a runtime adapter drives it,
//! with a clock that only moves when a test moves it, and the wire assertions the tests share.

use super::{block_on, head, json_body, post_form, text, MemDb, SeededRandom};
use crate::audit::AuditLine;
use crate::capability::{
    Capabilities, InstanceMemory, NoOriginSecrets, Now, OriginSecrets, RandomSource,
};
use crate::gateway::Gateway;
use crate::http::{RequestHead, Response};
use crate::keys::{Ed25519, PortableEd25519};
use crate::step::{Body, Diagnostic, Forward, Step};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::cell::Cell;
use std::collections::HashMap;

pub const DOMAIN: &str = "example.com";
pub const ISSUER: &str = "https://example.com";
/// At least 32 bytes and no placeholder, as `config::check_admin_token` requires.
pub const ADMIN_TOKEN: &str = "core-tests-bearer-4f7c1a9e0b3d6258";
/// The fixed Ed25519 seed of `ISOGATE_SIGNING_KEY`.
pub const SIGNING_SEED: [u8; 32] = [7; 32];
/// The clock's start: 2023-11-14T22:13:20Z, a whole second.
pub const T0_MS: u64 = 1_700_000_000_000;
pub const UPSTREAM: &str = "http://127.0.0.1:9000";
pub const SERVICE: &str = "my-api";
pub const SERVICE_HOST: &str = "my-api.example.com";

/// Settings that turn throttled guessing off, for tests that send many wrong credentials on
/// purpose to pin how each one is refused (the throttle has tests of its own).
pub const NO_THROTTLE: [(&str, Option<&str>); 3] = [
    ("ISOGATE_AUTH_FAILURES_PER_MINUTE", Some("0")),
    ("ISOGATE_AUTH_FAILURES_PER_MINUTE_PER_ADDRESS", Some("0")),
    ("ISOGATE_AUTH_FAILURES_PER_MINUTE_PER_CLIENT", Some("0")),
];

/// An oauth2 credential as the creation response showed it.
#[derive(Clone, Debug)]
pub struct Client {
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
}

/// How a request ended: forwarded, or answered (with what the runtime would log, and the
/// audit line it would print, finished at the harness clock).
pub struct Outcome {
    pub result: Result<Forward, Response>,
    pub diagnostic: Option<Diagnostic>,
    pub audit: Option<AuditLine>,
}

pub fn default_settings() -> HashMap<String, String> {
    HashMap::from([
        ("ISOGATE_DOMAIN".to_owned(), DOMAIN.to_owned()),
        (
            "ISOGATE_SIGNING_KEY".to_owned(),
            URL_SAFE_NO_PAD.encode(SIGNING_SEED),
        ),
        ("ISOGATE_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned()),
    ])
}

/// A gateway built exactly as a runtime builds one: from named settings.
pub fn gateway(settings: &HashMap<String, String>) -> Gateway {
    Gateway::from_settings(|name| settings.get(name).cloned())
        .expect("test settings make a gateway")
}

/// One deployment: a database, the gateway of "this" isolate, a hand-driven clock and a
/// seeded random source. More isolates sharing the database come from [`Harness::isolate`].
pub struct Harness {
    pub db: MemDb,
    pub gw: Gateway,
    pub settings: HashMap<String, String>,
    now_ms: Cell<u64>,
    random: Box<dyn RandomSource>,
    /// What the "runtime" says of its instance memory: where rate counts live (default: kept,
    /// as on Workers).
    pub memory: InstanceMemory,
    /// The runtime's secret store and token fetches (default: none).
    secrets: Box<dyn OriginSecrets>,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
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
        let gw = gateway(&settings);
        Harness {
            db: MemDb::migrated(),
            gw,
            settings,
            now_ms: Cell::new(T0_MS),
            random: Box::new(SeededRandom::new(42)),
            memory: InstanceMemory::Kept,
            secrets: Box::new(NoOriginSecrets),
        }
    }

    /// The runtime's secrets and token endpoint (upstream credentials).
    pub fn with_secrets(mut self, secrets: impl OriginSecrets + 'static) -> Harness {
        self.secrets = Box::new(secrets);
        self
    }

    /// The same deployment on another database (e.g. one made by an older release's schema).
    pub fn with_db(mut self, db: MemDb) -> Harness {
        self.db = db;
        self
    }

    pub fn with_rng(mut self, random: impl RandomSource + 'static) -> Harness {
        self.random = Box::new(random);
        self
    }

    /// A runtime whose instances live for one request (Spin): rate counts in the database.
    pub fn with_memory(mut self, memory: InstanceMemory) -> Harness {
        self.memory = memory;
        self
    }

    /// Another isolate of the same deployment: same settings and database, its own caches.
    pub fn isolate(&self) -> Gateway {
        gateway(&self.settings)
    }

    // -- clock

    pub fn clock(&self) -> Now {
        Now::from_unix_ms(self.now_ms.get())
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }

    /// Unix seconds, as the core derives them from the clock.
    pub fn now_secs(&self) -> i64 {
        self.clock().unix_secs()
    }

    pub fn advance_ms(&self, ms: u64) {
        self.now_ms.set(self.now_ms.get() + ms);
    }

    pub fn set_ms(&self, ms: u64) {
        self.now_ms.set(ms);
    }

    // -- driving requests

    /// One request through `gw` as an adapter runs it: `start`, then, if the body is asked
    /// for, at most `limit + 1` bytes of it (`None`: the body could not be read).
    pub fn exchange_with<E: Ed25519>(
        &self,
        gw: &Gateway,
        ed25519: &E,
        head: RequestHead,
        body: Option<&[u8]>,
    ) -> Outcome {
        let caps = Capabilities {
            db: &self.db,
            ed25519,
            random: self.random.as_ref(),
            memory: self.memory,
            secrets: self.secrets.as_ref(),
            jws: &crate::jws::PortableJws,
        };
        let mut step = block_on(gw.start(caps, head, self.clock()));
        loop {
            step = match step {
                Step::Respond {
                    response,
                    diagnostic,
                    audit,
                } => {
                    return Outcome {
                        result: Err(response),
                        diagnostic,
                        audit: audit.finish(self.clock()),
                    }
                }
                // The forward's line comes with the relay (`ForwardRecord::relay`).
                Step::Forward(forward) => {
                    return Outcome {
                        result: Ok(forward),
                        diagnostic: None,
                        audit: None,
                    }
                }
                Step::NeedBody { limit, resume } => {
                    let body = match body {
                        Some(bytes) => Body::Complete(bytes[..bytes.len().min(limit + 1)].to_vec()),
                        None => Body::Unreadable,
                    };
                    block_on(resume.finish(caps, body))
                }
            };
        }
    }

    pub fn exchange(&self, gw: &Gateway, head: &RequestHead, body: Option<&[u8]>) -> Outcome {
        self.exchange_with(gw, &PortableEd25519, head.clone(), body)
    }

    /// Any root-domain request, on this isolate.
    pub fn root(&self, head: &RequestHead, body: &[u8]) -> Response {
        self.root_on(&self.gw, head, body)
    }

    pub fn root_on(&self, gw: &Gateway, head: &RequestHead, body: &[u8]) -> Response {
        match self.exchange(gw, head, Some(body)).result {
            Err(response) => response,
            Ok(forward) => panic!("{} was forwarded to {}", head.host, forward.plan.url),
        }
    }

    /// An admin API call with the admin credential; `body` is sent as JSON when given.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        let bytes = body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        self.admin_raw(method, path, Some(&format!("Bearer {ADMIN_TOKEN}")), &bytes)
    }

    /// An admin API call with any `Authorization` (or none) and raw body bytes.
    pub fn admin_raw(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Response {
        // A request id of its own, so that the random source's draws (client ids, secrets)
        // are the same as before request ids existed (core/tests/storage.rs pins a secret).
        let mut headers = vec![
            ("content-type", "application/json"),
            ("x-request-id", "harness-admin"),
        ];
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
        self.root_on(
            gw,
            &head("POST", DOMAIN, "/oauth2/token", None, &all),
            form.as_bytes(),
        )
    }

    /// `GET /` on a service host, on this isolate.
    pub fn service(&self, host: &str, headers: &[(&str, &str)]) -> Result<Forward, Response> {
        self.service_on(&self.gw, &head("GET", host, "/", None, headers))
    }

    /// Any request on any isolate; its body is never read.
    pub fn service_on(&self, gw: &Gateway, head: &RequestHead) -> Result<Forward, Response> {
        self.exchange(gw, head, None).result
    }

    /// `GET /` on `my-api` with `Authorization: Bearer <token>`, on `gw`.
    pub fn call_with(&self, gw: &Gateway, token: &str) -> Result<Forward, Response> {
        let auth = format!("Bearer {token}");
        self.service_on(
            gw,
            &head("GET", SERVICE_HOST, "/", None, &[("authorization", &auth)]),
        )
    }

    /// `GET /` on `my-api` with `Authorization: Bearer <token>`, on this isolate.
    pub fn call(&self, token: &str) -> Result<Forward, Response> {
        self.call_with(&self.gw, token)
    }

    // -- seeding through the admin API

    pub fn create_user(&self, name: &str) {
        let r = self.admin("POST", "/admin/v1/users", Some(json!({ "name": name })));
        assert_eq!(r.status, 201, "create user {name}: {}", text(&r));
    }

    pub fn create_service(&self, name: &str, upstream: &str, allowed_users: &[&str]) {
        let body = json!({ "name": name, "upstream": upstream, "allowed_users": allowed_users });
        let r = self.admin("POST", "/admin/v1/services", Some(body));
        assert_eq!(r.status, 201, "create service {name}: {}", text(&r));
    }

    /// A service admitting every user, with a rate limit (`5/s`).
    pub fn create_limited_service(&self, name: &str, rate_limit: &str) {
        let body = json!({ "name": name, "upstream": UPSTREAM, "rate_limit": rate_limit });
        let r = self.admin("POST", "/admin/v1/services", Some(body));
        assert_eq!(r.status, 201, "create service {name}: {}", text(&r));
    }

    /// Creates an oauth2 credential and returns what the creation response showed once.
    pub fn create_client(&self, name: &str, user: &str, scopes: &[&str]) -> Client {
        let body = json!({ "name": name, "user": user, "type": "oauth2", "scopes": scopes });
        self.create_client_from(name, body)
    }

    /// An oauth2 credential of root with the right to introspect other clients' tokens
    /// (`can_introspect`), as a resource server outside the edge has.
    pub fn create_resource_server(&self, name: &str) -> Client {
        let body =
            json!({ "name": name, "user": "root", "type": "oauth2", "can_introspect": true });
        self.create_client_from(name, body)
    }

    fn create_client_from(&self, name: &str, body: Value) -> Client {
        let r = self.admin("POST", "/admin/v1/credentials", Some(body));
        assert_eq!(r.status, 201, "create credential {name}: {}", text(&r));
        let body = json_body(&r);
        Client {
            name: name.to_owned(),
            client_id: body["client_id"].as_str().expect("client_id").to_owned(),
            client_secret: body["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        }
    }

    /// The usual start: service `my-api` in front of `127.0.0.1:9000`, an oauth2 credential
    /// for `root` with no scope ceiling.
    pub fn seeded() -> (Harness, Client) {
        Harness::seeded_with(&[])
    }

    /// [`Harness::seeded`] with some settings changed (see [`Harness::with_settings`]).
    pub fn seeded_with(changes: &[(&str, Option<&str>)]) -> (Harness, Client) {
        let h = Harness::with_settings(changes);
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
        json_body(&r)["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// The three lists of the admin API, for before/after comparisons.
    pub fn snapshot(&self) -> (Value, Value, Value) {
        let get = |p: &str| {
            let r = self.admin("GET", p, None);
            assert_eq!(r.status, 200, "{p}: {}", text(&r));
            json_body(&r)
        };
        (
            get("/admin/v1/users"),
            get("/admin/v1/services"),
            get("/admin/v1/credentials"),
        )
    }
}
