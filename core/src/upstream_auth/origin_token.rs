//! `oauth2-client-credentials`: the gateway is an OAuth2 client of the origin's authorization
//! server (RFC 6749 §4.4), and caches the token per isolate.
//!
//! **Sans-IO.** The core builds the token request ([`ClientCredentials::token_request`]) and
//! reads the reply ([`read_token_reply`]); the runtime only sends it, through its
//! [`crate::capability::OriginSecrets::fetch_token`] capability (Workers: `fetch`; Spin: wasi:http outbound), as
//! it sends D1 or SQLite statements through [`crate::capability::SqlDb`]. A capability rather
//! than a new `Step`: the service flow already awaits its capabilities (storage, Web Crypto),
//! and a step would have to suspend the whole flow between the service read and the plan.
//!
//! **Client authentication**: `client_secret_basic` (RFC 6749 §2.3.1, which every
//! authorization server must support): `Authorization: Basic` of the form-urlencoded id and
//! secret; the body is `grant_type=client_credentials` and the scope, if one is configured.
//!
//! **Caching** ([`super::OriginTokens`], module `token_cache`): a token is kept until it expires (`expires_in`; 5 minutes
//! when the server gives none, at most a day) and refreshed from when less than
//! `min(60 s, lifetime / 2)` of it remain. One request refreshes at a time per isolate while
//! the others keep sending the current token, which is still valid; with no valid token at
//! all, concurrent requests share one fetch where the runtime lets a request await another's
//! IO (the single-flight of [`crate::cache`]), and fetch each on Workers, which does not.

use super::{InvalidUpstreamAuth, SecretName};
use crate::capability::Now;
use crate::upstream::parse_upstream;
use base64::Engine as _;
use std::fmt;

/// The longest a token fetch may take before the request is answered 502.
pub const TOKEN_FETCH_TIMEOUT_MS: u64 = 10_000;
/// A token's lifetime when the server does not say (`expires_in` is only RECOMMENDED).
const DEFAULT_LIFETIME_MS: u64 = 300_000;
/// Lifetimes are capped, so that a rotated client secret is used within a day.
const MAX_LIFETIME_MS: u64 = 86_400_000;
/// The most of a token response the core reads.
pub const MAX_REPLY_BYTES: usize = 16 * 1024;

/// The origin's authorization server and the gateway's client registration there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCredentials {
    /// `http[s]://host[:port][/path]`, canonical (as upstreams are).
    pub token_url: String,
    pub client_id: String,
    /// The secret holding the client secret.
    pub secret: SecretName,
    /// Space-delimited scopes to ask for (RFC 6749 §3.3); none: the server's default.
    pub scope: Option<String>,
}

impl ClientCredentials {
    /// `TOKEN_URL,CLIENT_ID,SECRET_NAME[,SCOPE]`.
    pub(super) fn parse(text: &str) -> Result<ClientCredentials, InvalidUpstreamAuth> {
        let mut parts = text.splitn(4, ',');
        let (Some(url), Some(client_id), Some(secret)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidUpstreamAuth(
                "expected oauth2-client-credentials:TOKEN_URL,CLIENT_ID,SECRET_NAME[,SCOPE]",
            ));
        };
        let token_url = parse_upstream(url)
            .map_err(|_| InvalidUpstreamAuth("the token URL is not a valid http(s) URL"))?
            .into_string();
        let visible = |s: &str| s.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if client_id.is_empty() || client_id.len() > 255 || !visible(client_id) {
            return Err(InvalidUpstreamAuth(
                "the client id is 1 to 255 visible ASCII characters",
            ));
        }
        let scope = parts.next().map(str::to_owned);
        // RFC 6749 §3.3: scope-tokens of %x21 / %x23-5B / %x5D-7E, one space between.
        if let Some(s) = &scope {
            let token_ok = |t: &str| !t.is_empty() && visible(t) && !t.contains(['"', '\\']);
            if s.len() > 1024 || !s.split(' ').all(token_ok) {
                return Err(InvalidUpstreamAuth(
                    "the scope is space-delimited RFC 6749 scope tokens",
                ));
            }
        }
        Ok(ClientCredentials {
            token_url,
            client_id: client_id.to_owned(),
            secret: SecretName::parse(secret)?,
            scope,
        })
    }

    /// The RFC 6749 §4.4.2 request, authenticated with `client_secret_basic` (§2.3.1).
    pub fn token_request(&self, client_secret: &str) -> TokenFetch {
        let credentials = format!(
            "{}:{}",
            form_urlencode(&self.client_id),
            form_urlencode(client_secret)
        );
        let basic = base64::engine::general_purpose::STANDARD.encode(credentials);
        let mut body = String::from("grant_type=client_credentials");
        if let Some(scope) = &self.scope {
            body.push_str("&scope=");
            body.push_str(&form_urlencode(scope));
        }
        TokenFetch {
            url: self.token_url.clone(),
            headers: vec![
                ("authorization".into(), format!("Basic {basic}")),
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("accept".into(), "application/json".into()),
            ],
            body,
            timeout_ms: TOKEN_FETCH_TIMEOUT_MS,
        }
    }
}

impl fmt::Display for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{}",
            self.token_url,
            self.client_id,
            self.secret.as_str()
        )?;
        match &self.scope {
            Some(scope) => write!(f, ",{scope}"),
            None => Ok(()),
        }
    }
}

/// `application/x-www-form-urlencoded` (WHATWG URL §5.2): what RFC 6749 §2.3.1 applies to the
/// client id and secret before Basic, and the scope in the body.
fn form_urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
    out
}

/// A POST the runtime sends for the core: the token request. Its `Debug` hides the headers
/// (they hold the client secret).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenFetch {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// How long the runtime waits for the whole answer.
    pub timeout_ms: u64,
}

impl fmt::Debug for TokenFetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFetch")
            .field("url", &self.url)
            .field("headers", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer as the runtime received it: status and at most
/// [`MAX_REPLY_BYTES`] + 1 bytes of its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenReply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A token of the origin's, ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct OriginToken {
    /// `Bearer <access_token>`.
    pub(super) header: String,
    pub(super) refresh_at_ms: u64,
    pub(super) expires_at_ms: u64,
}

impl fmt::Debug for OriginToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OriginToken")
            .field("refresh_at_ms", &self.refresh_at_ms)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// An RFC 6749 §5.1 answer, or a §5.2 error: one type for both, so that one deserializer
/// serves them (code size).
#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    /// Whole seconds (RFC 6749 §5.1: "the lifetime in seconds").
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    error: Option<String>,
}

/// Reads an RFC 6749 §5.1 answer fetched at `now`: a 200 with a bearer `access_token`
/// (`token_type` `bearer`, any case: RFC 6750; another type could not go in `Bearer`). The
/// error names the status or the missing part, never the body (it may echo what was sent).
pub fn read_token_reply(reply: &TokenReply, now: Now) -> Result<OriginToken, String> {
    if reply.body.len() > MAX_REPLY_BYTES {
        return Err(format!("answered {} with more than 16 KiB", reply.status));
    }
    let answer = serde_json::from_slice::<TokenAnswer>(&reply.body).ok();
    if reply.status != 200 {
        // §5.2's error code is safe to log: a short token, never the secret.
        let code = answer
            .and_then(|a| a.error)
            .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_graphic()));
        return Err(match code {
            Some(code) => format!("answered {} {code}", reply.status),
            None => format!("answered {}", reply.status),
        });
    }
    let Some(TokenAnswer {
        access_token: Some(access_token),
        token_type: Some(token_type),
        expires_in,
        ..
    }) = answer
    else {
        return Err("answered 200 without an access_token and token_type".into());
    };
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err("answered a token_type other than bearer".into());
    }
    let usable = |b: u8| (0x21..=0x7e).contains(&b);
    if access_token.is_empty() || !access_token.bytes().all(usable) {
        return Err("answered an access_token that cannot go in a header".into());
    }
    let lifetime_ms = match expires_in {
        Some(0) => return Err("answered an expires_in of 0".into()),
        Some(secs) => secs.saturating_mul(1000).min(MAX_LIFETIME_MS),
        None => DEFAULT_LIFETIME_MS,
    };
    let fetched = now.unix_ms();
    Ok(OriginToken {
        header: format!("Bearer {access_token}"),
        refresh_at_ms: fetched + lifetime_ms - (lifetime_ms / 2).min(60_000),
        expires_at_ms: fetched + lifetime_ms,
    })
}
