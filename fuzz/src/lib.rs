//! Shared inputs of the fuzz targets (`fuzz_targets/*.rs`, driven by libFuzzer through
//! `scripts/fuzz.sh`): request heads shaped like the ones runtimes hand the core, biased
//! towards the header names and values that matter (credentials, identity, framing, hosts),
//! and the invariants every wire answer must keep.
//!
//! The targets assert invariants, not just "no panic": every refusal is a 4xx with an error
//! body of the documented shape, never a 5xx (nothing here can fail storage); see each target.

use arbitrary::Arbitrary;
use isogate_core::error::ErrorBody;
use isogate_core::http::{Method, RequestHead, Response};

/// The values a target can put where a credential goes.
pub struct Secrets<'a> {
    pub domain: &'a str,
    /// A valid access token, or "" when the target has none.
    pub token: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub admin_token: &'a str,
}

#[derive(Arbitrary, Debug, Clone)]
pub enum FuzzMethod {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Connect,
    Trace,
    Other(String),
}

impl FuzzMethod {
    fn method(&self) -> Method {
        match self {
            FuzzMethod::Get => Method::Get,
            FuzzMethod::Head => Method::Head,
            FuzzMethod::Post => Method::Post,
            FuzzMethod::Put => Method::Put,
            FuzzMethod::Delete => Method::Delete,
            FuzzMethod::Options => Method::Options,
            FuzzMethod::Patch => Method::Patch,
            FuzzMethod::Connect => Method::Connect,
            FuzzMethod::Trace => Method::Trace,
            FuzzMethod::Other(m) => Method::parse(m),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum FuzzHost {
    Root,
    /// `<label>.<domain>`, the label as given.
    Service(String),
    MyApi,
    /// Anything at all.
    Raw(String),
}

/// A header name: the interesting ones by name, `_` spellings included, or any string.
#[derive(Arbitrary, Debug, Clone)]
pub enum FuzzName {
    Authorization,
    XOcteliumAuth,
    ContentType,
    ContentLength,
    TransferEncoding,
    Connection,
    Host,
    Expect,
    Upgrade,
    ProxyAuthorization,
    /// `x-isogate-<suffix>`, or with `_` for the first `-` when `underscore`.
    Isogate {
        suffix: String,
        underscore: bool,
    },
    /// `x-forwarded-<suffix>`.
    Forwarded(String),
    /// `<prefix><suffix>` with a prefix of a family the core strips, in mixed spellings.
    Family {
        prefix: u8,
        suffix: String,
    },
    /// `x-app-<suffix>`: an application header, which must reach the origin.
    App(String),
    Other(String),
}

impl FuzzName {
    fn name(&self) -> String {
        match self {
            FuzzName::Authorization => "authorization".into(),
            FuzzName::XOcteliumAuth => "x-octelium-auth".into(),
            FuzzName::ContentType => "content-type".into(),
            FuzzName::ContentLength => "content-length".into(),
            FuzzName::TransferEncoding => "transfer-encoding".into(),
            FuzzName::Connection => "connection".into(),
            FuzzName::Host => "host".into(),
            FuzzName::Expect => "expect".into(),
            FuzzName::Upgrade => "upgrade".into(),
            FuzzName::ProxyAuthorization => "proxy-authorization".into(),
            FuzzName::Isogate { suffix, underscore } => {
                format!("x{}isogate-{suffix}", if *underscore { "_" } else { "-" })
            }
            FuzzName::Forwarded(suffix) => format!("x-forwarded-{suffix}"),
            FuzzName::Family { prefix, suffix } => {
                const P: [&str; 10] = [
                    "CF-",
                    "cf_",
                    "Proxy_",
                    "X_Forwarded_",
                    "x-Isogate_",
                    "Forwarded",
                    "X-Real_IP",
                    "True_Client-Ip",
                    "Content_Length",
                    "Transfer_encoding",
                ];
                format!("{}{suffix}", P[*prefix as usize % P.len()])
            }
            FuzzName::App(suffix) => format!("x-app-{suffix}"),
            FuzzName::Other(name) => name.to_ascii_lowercase(),
        }
    }
}

/// A header value: the target's genuine credentials (whole or damaged), or any string.
#[derive(Arbitrary, Debug, Clone)]
pub enum FuzzValue {
    Raw(String),
    /// `<scheme> <the valid token>` with one byte of the token replaced when `flip` is set.
    Bearer {
        scheme: String,
        flip: Option<(u16, u8)>,
    },
    ValidBearer,
    /// `Basic base64(id:secret)` of the genuine client.
    ValidBasic,
    AdminBearer,
}

impl FuzzValue {
    fn value(&self, s: &Secrets<'_>) -> String {
        match self {
            FuzzValue::Raw(v) => v.clone(),
            FuzzValue::Bearer { scheme, flip } => {
                let mut token = s.token.as_bytes().to_vec();
                if let Some((at, byte)) = flip {
                    if !token.is_empty() {
                        let i = *at as usize % token.len();
                        token[i] = *byte;
                    }
                }
                format!("{scheme} {}", String::from_utf8_lossy(&token))
            }
            FuzzValue::ValidBearer => format!("Bearer {}", s.token),
            FuzzValue::ValidBasic => isogate_core::testing::basic(s.client_id, s.client_secret),
            FuzzValue::AdminBearer => format!("Bearer {}", s.admin_token),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub struct FuzzHead {
    pub method: FuzzMethod,
    pub host: FuzzHost,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(FuzzName, FuzzValue)>,
    pub client_ip: Option<String>,
    pub https: bool,
}

impl FuzzHead {
    /// The head as a runtime hands it over: header names lower-case, the path starting with `/`.
    pub fn head(&self, s: &Secrets<'_>) -> RequestHead {
        let host = match &self.host {
            FuzzHost::Root => s.domain.to_owned(),
            FuzzHost::Service(label) => format!("{label}.{}", s.domain),
            FuzzHost::MyApi => format!("my-api.{}", s.domain),
            FuzzHost::Raw(h) => h.clone(),
        };
        let path = if self.path.starts_with('/') {
            self.path.clone()
        } else {
            format!("/{}", self.path)
        };
        RequestHead {
            method: self.method.method(),
            scheme: if self.https { "https" } else { "http" }.into(),
            host,
            path,
            query: self.query.clone(),
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.name(), v.value(s)))
                .collect(),
            client_ip: self.client_ip.clone(),
        }
    }
}

/// The wire error codes a refusal may carry (RFC 6749 §5.2, RFC 6750 §3, the gateway's own).
const ERROR_CODES: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_token",
    "invalid_dpop_proof",
    "insufficient_scope",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "already_exists",
    // 429s: throttled guessing at the admin API, a service's rate limit (RFC 6585 §4).
    "too_many_requests",
    "rate_limited",
];

/// A refusal with nothing failing behind it: a 4xx, JSON of the documented shape, a known
/// code, never a secret.
pub fn assert_clean_refusal(r: &Response, what: &str, secrets: &[&str]) {
    assert!(
        (400..500).contains(&r.status),
        "{what}: status {} (a refusal of bad input is a 4xx): {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    let body: ErrorBody = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{what}: error body is not the documented JSON ({e})"));
    assert!(
        ERROR_CODES.contains(&body.error.as_str()),
        "{what}: unknown error code {:?}",
        body.error
    );
    assert_no_secret(r, what, secrets);
}

/// No secret (of at least 8 bytes) in a response's body or header values.
pub fn assert_no_secret(r: &Response, what: &str, secrets: &[&str]) {
    let body = String::from_utf8_lossy(&r.body);
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(!body.contains(secret), "{what}: a secret in the body");
        assert!(
            !r.headers.iter().any(|(_, v)| v.contains(secret)),
            "{what}: a secret in a header"
        );
    }
}

/// A header name as CGI-style origins read it (Rack, Django `META`, PHP): lower-case, `_` as
/// `-`. Every rule below compares names this way (issue #10 Build item 2).
pub fn folded(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// Client headers that must never reach an origin, whatever the spelling: hop-by-hop ones,
/// the credential, framing (the plan sets its own), what only the gateway asserts, and the
/// forwarding and client-address claims frameworks trust. (An independent, shorter list than
/// the core's: the oracle must not be the implementation.)
fn never_from_the_client(folded: &str) -> bool {
    const EXACT: &[&str] = &[
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "host",
        "content-length",
        "authorization",
        "x-octelium-auth",
        "forwarded",
        "x-real-ip",
        "true-client-ip",
        "x-original-url",
        "x-rewrite-url",
    ];
    EXACT.contains(&folded)
        || ["proxy-", "x-isogate-", "x-forwarded-", "cf-"]
            .iter()
            .any(|p| folded.starts_with(p))
}

/// The identity a forward must carry, and only that: what the gateway verified.
pub struct Expected<'a> {
    /// The upstream as stored (canonical).
    pub upstream: &'a str,
    pub service: &'a str,
    pub user: &'a str,
    pub client_id: &'a str,
    pub credential: &'a str,
    pub scope: &'a str,
    pub token_id: &'a str,
}

/// The forward plan's invariants: the URL is the upstream plus the path and query as sent; no
/// client header that carries a credential, an identity, framing or forwarding data, or is
/// hop-by-hop (by name or listed in `Connection`), gets through under any spelling; the
/// identity and forwarding headers are the gateway's, once each; the body goes exactly when
/// the client sent one, and a `Content-Length` only with its body; the client's own
/// application headers (`x-app-*` here) are kept as sent; nothing else is invented.
pub fn check_plan(head: &RequestHead, plan: &isogate_core::forward::ForwardPlan, e: &Expected<'_>) {
    let mut url = format!(
        "{}{}",
        e.upstream,
        if head.path.is_empty() {
            "/"
        } else {
            &head.path
        }
    );
    if let Some(q) = &head.query {
        url.push('?');
        url.push_str(q);
    }
    assert_eq!(
        plan.url, url,
        "the URL is the upstream, the path and the query as sent"
    );
    assert!(plan.url.ends_with(plan.path_and_query()));
    assert_eq!(plan.method, head.method);
    let listed: Vec<String> = head
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|t| folded(t.trim())))
        .filter(|t| !t.is_empty())
        .collect();
    let values = |name: &str| -> Vec<&str> {
        plan.headers
            .iter()
            .filter(|(n, _)| folded(n) == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    for (name, value) in [
        ("x-isogate-user", e.user),
        ("x-isogate-service", e.service),
        ("x-isogate-credential", e.credential),
        ("x-isogate-client-id", e.client_id),
        ("x-isogate-scope", e.scope),
        ("x-isogate-token-id", e.token_id),
        ("x-forwarded-proto", head.scheme.as_str()),
        ("x-forwarded-host", head.host.as_str()),
    ] {
        assert_eq!(values(name), [value], "{name}: the gateway's value, once");
    }
    assert_eq!(
        values("forwarded").len(),
        1,
        "Forwarded: the gateway's, once"
    );
    let ip = head
        .client_ip
        .as_deref()
        .map(str::trim)
        .filter(|t| t.parse::<std::net::IpAddr>().is_ok());
    assert_eq!(
        values("x-forwarded-for"),
        ip.into_iter().collect::<Vec<_>>()
    );
    // Framing (RFC 9112 §6.3): the body goes exactly when the client sent one.
    let chunked = head
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
    let length = head
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim());
    let sent_content = chunked || length.is_some_and(|l| l.bytes().any(|b| b != b'0'));
    assert_eq!(
        plan.has_body, sent_content,
        "a body goes exactly when the client sent one"
    );
    match values("content-length").as_slice() {
        [] => {}
        [forwarded] => {
            assert!(!chunked, "a Content-Length beside a chunked body");
            assert_eq!(Some(*forwarded), length, "the client's length, as sent");
            assert!(plan.has_body || forwarded.bytes().all(|b| b == b'0'));
        }
        more => panic!("Content-Length {more:?}"),
    }
    if plan.has_body && !chunked {
        assert_eq!(
            values("content-length").len(),
            1,
            "a body without its length"
        );
    }
    // What is left is what the client sent, minus every forbidden spelling.
    let gateway_set = [
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "forwarded",
        "content-length",
        // The request id (isogate_core::audit): the client's when acceptable, else the
        // gateway's; once, whatever the client sent (checked below).
        "x-request-id",
    ];
    assert!(
        values("x-request-id").len() <= 1,
        "X-Request-Id more than once"
    );
    // A WebSocket handshake's (isogate_core::forward::websocket): `Upgrade: websocket` is the
    // gateway's, once; the protocols are the client's offers without any token's; the
    // per-connection fields stay on the client's leg. Any request: no token subprotocol.
    let is_bearer = |p: &str| p.trim().to_ascii_lowercase().starts_with("isogate.bearer.");
    let offered: Vec<&str> = head
        .headers
        .iter()
        .filter(|(n, _)| folded(n) == "sec-websocket-protocol")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .collect();
    for value in values("sec-websocket-protocol") {
        for p in value.split(',') {
            assert!(!is_bearer(p), "a token subprotocol reached the origin");
            assert!(
                offered.contains(&p.trim()),
                "{p:?} was not offered by the client"
            );
        }
    }
    if plan.websocket.is_some() {
        assert_eq!(
            values("upgrade"),
            ["websocket"],
            "Upgrade: the gateway's, once"
        );
        for per_connection in [
            "sec-websocket-key",
            "sec-websocket-version",
            "sec-websocket-extensions",
        ] {
            assert!(
                values(per_connection).is_empty(),
                "{per_connection} crossed"
            );
        }
    }
    for (name, value) in &plan.headers {
        let f = folded(name);
        if f.starts_with("x-isogate-")
            || gateway_set.contains(&f.as_str())
            || f == "sec-websocket-protocol"
            || (f == "upgrade" && plan.websocket.is_some())
        {
            continue;
        }
        assert!(
            !never_from_the_client(&f),
            "client header {name:?} reached the origin"
        );
        assert!(!listed.contains(&f), "{name:?} is listed in Connection");
        assert!(
            head.headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value),
            "{name:?} was not sent by the client"
        );
    }
    for (name, value) in &head.headers {
        let f = folded(name);
        if f.starts_with("x-app-") && !listed.contains(&f) {
            assert!(
                plan.headers
                    .iter()
                    .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value),
                "the client's {name:?} was dropped"
            );
        }
    }
}
