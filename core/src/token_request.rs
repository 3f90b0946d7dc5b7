//! Parsing a token request (RFC 6749 §3.2, §4.4, §2.3.1) into a [`TokenRequest`].
//!
//! Everything syntactic is decided here, before any storage is touched: method, content type,
//! size, form encoding, repeated parameters, where the client's credentials came from.

use crate::client_assertion::{claimed_client_id, AssertionFailure, JWT_BEARER};
use crate::error::{ClientAuthFailure, TokenError};
use crate::http::{Method, RequestHead};
use crate::scope::ScopeSet;
use crate::secret::Secret;
use base64::Engine as _;

/// Largest token request body accepted. A legitimate one is a few hundred bytes.
pub const MAX_TOKEN_REQUEST_BYTES: usize = 8 * 1024;

/// How the client authenticated (§2.3.1). Exactly one method per request. No `PartialEq`: it
/// holds the presented secret.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic {
        client_id: String,
        client_secret: Secret,
    },
    /// `client_id` and `client_secret` in the body (`client_secret_post`).
    Post {
        client_id: String,
        client_secret: Secret,
    },
    /// `client_assertion` with `client_assertion_type` jwt-bearer (`private_key_jwt`, RFC
    /// 7523 §2.2): a JWT signed with the client's key. The client id is the body's
    /// `client_id` if sent (RFC 7521 §4.2: optional), else the assertion's `sub`, unverified:
    /// only to find the keys that then verify it.
    Assertion {
        client_id: String,
        assertion: String,
    },
}

impl ClientAuth {
    pub fn client_id(&self) -> &str {
        match self {
            ClientAuth::Basic { client_id, .. }
            | ClientAuth::Post { client_id, .. }
            | ClientAuth::Assertion { client_id, .. } => client_id,
        }
    }

    /// The presented secret (`None` for an assertion, which holds none).
    pub fn client_secret(&self) -> Option<&Secret> {
        match self {
            ClientAuth::Basic { client_secret, .. } | ClientAuth::Post { client_secret, .. } => {
                Some(client_secret)
            }
            ClientAuth::Assertion { .. } => None,
        }
    }

    pub fn is_basic(&self) -> bool {
        matches!(self, ClientAuth::Basic { .. })
    }
}

/// `grant_type` (§4.4.2). Only the client credentials grant exists here; anything else is
/// refused with `unsupported_grant_type`, but only after the client is authenticated (so a
/// stranger learns nothing about grant types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantType {
    ClientCredentials,
    Unsupported,
}

impl GrantType {
    /// Grant types are compared exactly (`CLIENT_CREDENTIALS` is not the client credentials
    /// grant).
    pub fn parse(value: &str) -> GrantType {
        match value {
            "client_credentials" => GrantType::ClientCredentials,
            _ => GrantType::Unsupported,
        }
    }
}

/// A syntactically valid token request. No `PartialEq`: it holds the presented secret.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub client: ClientAuth,
    /// Checked after the client is authenticated.
    pub grant_type: GrantType,
    /// `scope`, if sent (and not empty).
    pub scope: Option<ScopeSet>,
    /// The raw `scope` string as sent, to tell whether the granted scope differs (§5.1).
    pub scope_raw: Option<String>,
    /// RFC 8707 `resource` values, as sent (the one parameter that may repeat). Judged only
    /// once the client is authenticated ([`crate::resource::requested_services`]): a
    /// throttled or unauthenticated request pays nothing for them.
    pub resources: Vec<String>,
}

/// A client-authenticated form request to one of the OAuth2 endpoints (token, revocation,
/// introspection): everything but the endpoint's own parameters.
#[derive(Debug)]
pub struct ClientRequest {
    pub client: ClientAuth,
    pub params: FormParams,
}

/// Parses what the token, revocation (RFC 7009 §2.1) and introspection (RFC 7662 §2.1)
/// endpoints share: POST, a bounded form body, nothing in the query string, exactly one client
/// authentication method. `body` holds at most [`MAX_TOKEN_REQUEST_BYTES`] + 1 bytes (the
/// runtime stops reading there).
pub fn parse_client_request(head: &RequestHead, body: &[u8]) -> Result<ClientRequest, TokenError> {
    if head.method != Method::Post {
        return Err(TokenError::MethodNotAllowed);
    }
    if body.len() > MAX_TOKEN_REQUEST_BYTES {
        return Err(TokenError::PayloadTooLarge);
    }
    // §3.2: parameters go in the body. A credential in the URL would land in logs and caches.
    if head.query.as_deref().is_some_and(|q| !q.is_empty()) {
        return Err(TokenError::invalid_request(
            "parameters must be sent in the request body, not the query string",
        ));
    }
    let content_type = head
        .single_header("content-type")
        .map_err(|_| TokenError::invalid_request("repeated content-type header"))?
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(TokenError::invalid_request(
            "content-type must be application/x-www-form-urlencoded",
        ));
    }
    let body = std::str::from_utf8(body)
        .map_err(|_| TokenError::invalid_request("the body is not valid UTF-8"))?;
    let params = parse_form(body)?;

    let basic = parse_basic_authorization(head)?;
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    let unauthenticated = || TokenError::InvalidClient {
        failure: ClientAuthFailure::Missing,
        basic_attempted: false,
    };
    if let Some(client) = parse_client_assertion(&params, basic.is_some() || body_secret.is_some())?
    {
        return Ok(ClientRequest { client, params });
    }
    let client = match (basic, body_id, body_secret) {
        (Some(_), _, Some(_)) => {
            return Err(TokenError::invalid_request(
                "use exactly one client authentication method (RFC 6749 §2.3)",
            ));
        }
        (Some(ClientAuth::Basic { client_id, .. }), Some(id), None) if id != client_id => {
            return Err(TokenError::invalid_request(
                "client_id in the body differs from the Authorization header",
            ));
        }
        (Some(basic), _, None) => basic,
        (None, Some(id), Some(secret)) => ClientAuth::Post {
            client_id: id.to_owned(),
            client_secret: Secret::new(secret),
        },
        (None, _, _) => return Err(unauthenticated()),
    };
    Ok(ClientRequest { client, params })
}

/// RFC 7521 §4.2 / RFC 7523 §2.2: `client_assertion` and `client_assertion_type` together,
/// and with no other client authentication (RFC 6749 §2.3: exactly one method). `None`
/// when neither is sent.
fn parse_client_assertion(
    params: &FormParams,
    other_method: bool,
) -> Result<Option<ClientAuth>, TokenError> {
    let assertion = params.get("client_assertion");
    let assertion_type = params.get("client_assertion_type");
    let assertion = match (assertion, assertion_type) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) if other_method => {
            return Err(TokenError::invalid_request(
                "use exactly one client authentication method (RFC 6749 §2.3): \
                 a client assertion or a secret, not both",
            ));
        }
        (Some(a), Some(t)) if t == JWT_BEARER => a,
        (Some(_), Some(_)) => {
            return Err(TokenError::InvalidClient {
                failure: ClientAuthFailure::Malformed(
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                basic_attempted: false,
            })
        }
        _ => {
            return Err(TokenError::invalid_request(
                "client_assertion and client_assertion_type go together (RFC 7521 §4.2)",
            ))
        }
    };
    let client_id = match params.get("client_id") {
        Some(id) => id.to_owned(),
        None => claimed_client_id(assertion).ok_or(TokenError::InvalidClient {
            failure: ClientAuthFailure::Assertion(AssertionFailure::Malformed),
            basic_attempted: false,
        })?,
    };
    Ok(Some(ClientAuth::Assertion {
        client_id,
        assertion: assertion.to_owned(),
    }))
}

/// Parses a token request (RFC 6749 §4.4.2).
pub fn parse_token_request(head: &RequestHead, body: &[u8]) -> Result<TokenRequest, TokenError> {
    let ClientRequest { client, params } = parse_client_request(head, body)?;
    let grant_type = GrantType::parse(
        params
            .get("grant_type")
            .ok_or_else(|| TokenError::invalid_request("grant_type is required"))?,
    );
    let scope_raw = params.get("scope").map(str::to_owned);
    let scope = match &scope_raw {
        None => None,
        Some(raw) => Some(ScopeSet::parse(raw).map_err(|e| TokenError::InvalidScope(e.0))?),
    };
    let resources = params.all(RESOURCE).map(str::to_owned).collect();
    Ok(TokenRequest {
        client,
        grant_type,
        scope,
        scope_raw,
        resources,
    })
}

/// RFC 8707 §2: "the resource parameter ... can be used multiple times"; every other
/// parameter at most once (RFC 6749 §3.2).
const RESOURCE: &str = "resource";

/// Form parameters with §3.1's rules: no repeats (but `resource`), empty values count as
/// omitted.
#[derive(Debug, Default)]
pub struct FormParams(Vec<(String, String)>);

impl FormParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order (more than one only for `resource`).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `application/x-www-form-urlencoded` (WHATWG URL §5.1 with strict percent-decoding).
pub fn parse_form(body: &str) -> Result<FormParams, TokenError> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = form_urldecode(name)
            .ok_or_else(|| TokenError::invalid_request("malformed percent-encoding in the body"))?;
        let value = form_urldecode(value)
            .ok_or_else(|| TokenError::invalid_request("malformed percent-encoding in the body"))?;
        if name != RESOURCE && params.iter().any(|(n, _)| *n == name) {
            // §3.2: "Request and response parameters MUST NOT be included more than once."
            return Err(TokenError::invalid_request(format!(
                "parameter {} is repeated",
                printable(&name)
            )));
        }
        params.push((name, value));
    }
    // §3.1: "Parameters sent without a value MUST be treated as if they were omitted."
    params.retain(|(_, v)| !v.is_empty());
    Ok(FormParams(params))
}

/// Decodes one form-urlencoded component: `+` is a space, `%XX` a byte; anything else malformed
/// (a lone `%`, bad hex, bytes that are not UTF-8) is refused rather than guessed at.
pub fn form_urldecode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex_val(*bytes.get(i + 1)?)?;
                let lo = hex_val(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// §2.3.1 `client_secret_basic`: the scheme is case-insensitive; the id and secret are each
/// form-urlencoded, then joined with `:` and base64-encoded. Split on the first colon.
fn parse_basic_authorization(head: &RequestHead) -> Result<Option<ClientAuth>, TokenError> {
    let invalid = |d: &'static str| TokenError::InvalidClient {
        failure: ClientAuthFailure::Malformed(d),
        basic_attempted: true,
    };
    let value = match head.single_header("authorization") {
        Err(_) => return Err(TokenError::invalid_request("repeated authorization header")),
        Ok(None) => return Ok(None),
        Ok(Some(v)) => v.trim(),
    };
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid(
            "the token endpoint accepts Basic client authentication only",
        ));
    }
    let credentials = credentials.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(credentials))
        .map_err(|_| invalid("the Basic credentials are not valid base64"))?;
    let decoded = String::from_utf8(decoded)
        .map_err(|_| invalid("the Basic credentials are not valid UTF-8"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| invalid("the Basic credentials have no colon"))?;
    let id = form_urldecode(id)
        .ok_or_else(|| invalid("malformed percent-encoding in the Basic client id"))?;
    let secret = form_urldecode(secret)
        .ok_or_else(|| invalid("malformed percent-encoding in the Basic client secret"))?;
    if id.is_empty() || secret.is_empty() {
        return Err(invalid(
            "the Basic credentials need a client id and a secret",
        ));
    }
    Ok(Some(ClientAuth::Basic {
        client_id: id,
        client_secret: Secret::new(secret),
    }))
}

/// A parameter name safe to echo in an error: printable ASCII, bounded.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests;
