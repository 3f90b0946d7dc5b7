//! Requests as clients write them and responses as clients read them: form and Basic
//! encoding, JWT parts, and the wire assertions (RFC 6749 §5.2, RFC 6750 §3, the admin API).

use super::Client;
use crate::http::Response;
use crate::step::Forward;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;

/// `application/x-www-form-urlencoded` component encoding (RFC 6749 Appendix B).
pub fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A `client_secret_post` client-credentials body.
pub fn post_form(client: &Client, scope: Option<&str>) -> String {
    let (id, secret) = (
        form_encode(&client.client_id),
        form_encode(&client.client_secret),
    );
    let mut form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    if let Some(s) = scope {
        form.push_str(&format!("&scope={}", form_encode(s)));
    }
    form
}

/// `Authorization: Basic` for `client_secret_basic` (RFC 6749 §2.3.1: each part form-encoded).
pub fn basic(client_id: &str, client_secret: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!(
            "{}:{}",
            form_encode(client_id),
            form_encode(client_secret)
        ))
    )
}

/// The response without its `X-Request-Id` (every decided answer carries one; it must be
/// there, and once), for comparing answers with the error's own wire form.
pub fn sans_request_id(mut r: Response) -> Response {
    let before = r.headers.len();
    r.headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("x-request-id"));
    assert_eq!(before - r.headers.len(), 1, "one x-request-id header");
    r
}

pub fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

pub fn json_body(r: &Response) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", text(r)))
}

/// Part `i` (0 header, 1 claims) of a compact JWS, decoded.
pub fn jwt_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// The refusal of a service request, which must not be a forward.
#[track_caller]
pub fn refused(r: Result<Forward, Response>) -> Response {
    match r {
        Ok(f) => panic!(
            "expected a refusal, the request was forwarded to {}",
            f.plan.url
        ),
        Err(resp) => resp,
    }
}

/// The forward of a service request, which must not be a refusal.
#[track_caller]
pub fn authorized(r: Result<Forward, Response>) -> Forward {
    r.unwrap_or_else(|resp| panic!("expected a forward, got {} {}", resp.status, text(&resp)))
}

/// RFC 6749 §5.2 error: status, `error` code and the no-store pair of §5.1.
#[track_caller]
pub fn assert_token_error(r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", text(r));
    assert_eq!(json_body(r)["error"], code, "{}", text(r));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert_challenge_on_401(r);
}

/// RFC 9110 §15.5.2: a 401 carries `WWW-Authenticate` with at least one challenge.
#[track_caller]
pub fn assert_challenge_on_401(r: &Response) {
    if r.status == 401 {
        let challenge = r.header("www-authenticate").unwrap_or("");
        assert!(
            challenge.starts_with("Basic realm=")
                || challenge.starts_with("Bearer realm=")
                || challenge.starts_with("DPoP "),
            "a 401 without a challenge: {:?} {}",
            challenge,
            text(r)
        );
    }
}

/// RFC 6750 §3 refusal: status, `error` code in the body, and the challenge carrying it.
#[track_caller]
pub fn assert_bearer_error(r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", text(r));
    assert_eq!(json_body(r)["error"], code, "{}", text(r));
    let challenge = r
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("no WWW-Authenticate on {status} {code}"));
    assert!(
        challenge.starts_with("Bearer realm=\"isogate\""),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!("error=\"{code}\"")),
        "{challenge}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

/// An admin API error: status and `error` code.
#[track_caller]
pub fn assert_admin_error(r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", text(r));
    assert_eq!(json_body(r)["error"], code, "{}", text(r));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_challenge_on_401(r);
}

/// A forwarded header's values: what the origin receives.
pub fn forwarded<'a>(f: &'a Forward, name: &str) -> Vec<&'a str> {
    f.plan
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}
