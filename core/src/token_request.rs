//! Parsing a token request (RFC 6749 §3.2, §4.4, §2.3.1) into a [`TokenRequest`].
//!
//! Everything syntactic is decided here, before any storage is touched: method, content type,
//! size, form encoding, repeated parameters, where the client's credentials came from.

use crate::error::TokenError;
use crate::http::RequestHead;
use crate::scope::ScopeSet;
use crate::secret::Secret;
use base64::Engine as _;

/// Largest token request body accepted. A legitimate one is a few hundred bytes.
pub const MAX_TOKEN_REQUEST_BYTES: usize = 8 * 1024;

/// How the client authenticated (§2.3.1). Exactly one method per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic { client_id: String, client_secret: Secret },
    /// `client_id` and `client_secret` in the body (`client_secret_post`).
    Post { client_id: String, client_secret: Secret },
}

impl ClientAuth {
    pub fn client_id(&self) -> &str {
        match self {
            ClientAuth::Basic { client_id, .. } | ClientAuth::Post { client_id, .. } => client_id,
        }
    }

    pub fn client_secret(&self) -> &Secret {
        match self {
            ClientAuth::Basic { client_secret, .. } | ClientAuth::Post { client_secret, .. } => client_secret,
        }
    }

    pub fn is_basic(&self) -> bool {
        matches!(self, ClientAuth::Basic { .. })
    }
}

/// A syntactically valid token request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    pub client: ClientAuth,
    /// `grant_type` as sent; checked after the client is authenticated.
    pub grant_type: String,
    /// `scope`, if sent (and not empty).
    pub scope: Option<ScopeSet>,
    /// The raw `scope` string as sent, to tell whether the granted scope differs (§5.1).
    pub scope_raw: Option<String>,
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
    if head.method != "POST" {
        return Err(TokenError::MethodNotAllowed);
    }
    if body.len() > MAX_TOKEN_REQUEST_BYTES {
        return Err(TokenError::PayloadTooLarge);
    }
    // §3.2: parameters go in the body. A credential in the URL would land in logs and caches.
    if head.query.as_deref().is_some_and(|q| !q.is_empty()) {
        return Err(TokenError::invalid_request("parameters must be sent in the request body, not the query string"));
    }
    let content_type = head
        .single_header("content-type")
        .map_err(|_| TokenError::invalid_request("repeated content-type header"))?
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(TokenError::invalid_request("content-type must be application/x-www-form-urlencoded"));
    }
    let body = std::str::from_utf8(body).map_err(|_| TokenError::invalid_request("the body is not valid UTF-8"))?;
    let params = parse_form(body)?;

    let basic = parse_basic_authorization(head)?;
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    let unauthenticated = || TokenError::InvalidClient {
        description: "client authentication is required (client_secret_basic or client_secret_post)".into(),
        basic_attempted: false,
    };
    let client = match (basic, body_id, body_secret) {
        (Some(_), _, Some(_)) => {
            return Err(TokenError::invalid_request("use exactly one client authentication method (RFC 6749 §2.3)"));
        }
        (Some(ClientAuth::Basic { client_id, .. }), Some(id), None) if id != client_id => {
            return Err(TokenError::invalid_request("client_id in the body differs from the Authorization header"));
        }
        (Some(basic), _, None) => basic,
        (None, Some(id), Some(secret)) => ClientAuth::Post { client_id: id.to_owned(), client_secret: Secret::new(secret) },
        (None, _, _) => return Err(unauthenticated()),
    };
    Ok(ClientRequest { client, params })
}

/// Parses a token request (RFC 6749 §4.4.2).
pub fn parse_token_request(head: &RequestHead, body: &[u8]) -> Result<TokenRequest, TokenError> {
    let ClientRequest { client, params } = parse_client_request(head, body)?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| TokenError::invalid_request("grant_type is required"))?
        .to_owned();
    let scope_raw = params.get("scope").map(str::to_owned);
    let scope = match &scope_raw {
        None => None,
        Some(raw) => Some(ScopeSet::parse(raw).map_err(|e| TokenError::InvalidScope(e.0))?),
    };
    Ok(TokenRequest { client, grant_type, scope, scope_raw })
}

/// Form parameters with §3.1's rules: no repeats, empty values count as omitted.
#[derive(Debug, Default)]
pub struct FormParams(Vec<(String, String)>);

impl FormParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Parses `application/x-www-form-urlencoded` (WHATWG URL §5.1 with strict percent-decoding).
pub fn parse_form(body: &str) -> Result<FormParams, TokenError> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = form_urldecode(name).ok_or_else(|| TokenError::invalid_request("malformed percent-encoding in the body"))?;
        let value = form_urldecode(value).ok_or_else(|| TokenError::invalid_request("malformed percent-encoding in the body"))?;
        if params.iter().any(|(n, _)| *n == name) {
            // §3.2: "Request and response parameters MUST NOT be included more than once."
            return Err(TokenError::invalid_request(format!("parameter {} is repeated", printable(&name))));
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
    let invalid = |d: &str| TokenError::InvalidClient { description: d.into(), basic_attempted: true };
    let value = match head.single_header("authorization") {
        Err(()) => return Err(TokenError::invalid_request("repeated authorization header")),
        Ok(None) => return Ok(None),
        Ok(Some(v)) => v.trim(),
    };
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::InvalidClient {
            description: "the token endpoint accepts Basic client authentication only".into(),
            basic_attempted: true,
        });
    }
    let credentials = credentials.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(credentials))
        .map_err(|_| invalid("the Basic credentials are not valid base64"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| invalid("the Basic credentials are not valid UTF-8"))?;
    let (id, secret) = decoded.split_once(':').ok_or_else(|| invalid("the Basic credentials have no colon"))?;
    let id = form_urldecode(id).ok_or_else(|| invalid("malformed percent-encoding in the Basic client id"))?;
    let secret = form_urldecode(secret).ok_or_else(|| invalid("malformed percent-encoding in the Basic client secret"))?;
    if id.is_empty() || secret.is_empty() {
        return Err(invalid("the Basic credentials need a client id and a secret"));
    }
    Ok(Some(ClientAuth::Basic { client_id: id, client_secret: Secret::new(secret) }))
}

/// A parameter name safe to echo in an error: printable ASCII, bounded.
fn printable(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_graphic()).take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, headers: &[(&str, &str)], query: Option<&str>) -> RequestHead {
        RequestHead {
            method: method.into(),
            scheme: "https".into(),
            host: "example.com".into(),
            path: "/oauth2/token".into(),
            query: query.map(str::to_owned),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            client_ip: None,
        }
    }

    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn client_secret_post_is_parsed() {
        let r = parse_token_request(&head("POST", &[FORM], None), b"grant_type=client_credentials&client_id=abc&client_secret=s%2Bx").unwrap();
        assert_eq!(r.client, ClientAuth::Post { client_id: "abc".into(), client_secret: Secret::new("s+x") });
        assert_eq!(r.grant_type, "client_credentials");
        assert_eq!(r.scope, None);
    }

    #[test]
    fn rfc6749_2_3_1_basic_credentials_are_form_urldecoded_and_split_on_first_colon() {
        let auth = basic("my%3Aid", "se%3Acret:more+x");
        let r = parse_token_request(&head("POST", &[FORM, ("authorization", &auth)], None), b"grant_type=client_credentials").unwrap();
        assert_eq!(r.client, ClientAuth::Basic { client_id: "my:id".into(), client_secret: Secret::new("se:cret:more x") });
    }

    #[test]
    fn basic_scheme_is_case_insensitive() {
        let auth = basic("id", "secret").replace("Basic", "bAsIc");
        assert!(parse_token_request(&head("POST", &[FORM, ("authorization", &auth)], None), b"grant_type=client_credentials").is_ok());
    }

    #[test]
    fn rfc6749_2_3_exactly_one_authentication_method() {
        let auth = basic("id", "secret");
        let e = parse_token_request(&head("POST", &[FORM, ("authorization", &auth)], None), b"grant_type=client_credentials&client_id=id&client_secret=secret").unwrap_err();
        assert!(matches!(e, TokenError::InvalidRequest(_)));
    }

    #[test]
    fn basic_with_a_different_body_client_id_is_refused() {
        let auth = basic("id", "secret");
        let e = parse_token_request(&head("POST", &[FORM, ("authorization", &auth)], None), b"grant_type=client_credentials&client_id=other").unwrap_err();
        assert!(matches!(e, TokenError::InvalidRequest(_)));
    }

    #[test]
    fn rfc6749_3_2_repeated_parameters_are_refused() {
        let e = parse_token_request(&head("POST", &[FORM], None), b"grant_type=client_credentials&client_id=a&client_id=a&client_secret=s").unwrap_err();
        assert_eq!(e, TokenError::invalid_request("parameter client_id is repeated"));
    }

    #[test]
    fn rfc6749_3_1_empty_parameters_count_as_omitted() {
        let e = parse_token_request(&head("POST", &[FORM], None), b"grant_type=&client_id=a&client_secret=s").unwrap_err();
        assert_eq!(e, TokenError::invalid_request("grant_type is required"));
    }

    #[test]
    fn credentials_in_the_query_string_are_refused() {
        let e = parse_token_request(&head("POST", &[FORM], Some("client_secret=s")), b"grant_type=client_credentials&client_id=a&client_secret=s").unwrap_err();
        assert!(matches!(e, TokenError::InvalidRequest(_)));
    }

    #[test]
    fn only_post_is_allowed() {
        assert_eq!(parse_token_request(&head("GET", &[FORM], None), b"").unwrap_err(), TokenError::MethodNotAllowed);
        assert_eq!(parse_token_request(&head("PUT", &[FORM], None), b"").unwrap_err(), TokenError::MethodNotAllowed);
    }

    #[test]
    fn only_form_content_type_is_accepted() {
        for ct in ["application/json", "text/plain", "multipart/form-data", ""] {
            let h = head("POST", &[("content-type", ct)], None);
            assert!(matches!(parse_token_request(&h, b"grant_type=client_credentials").unwrap_err(), TokenError::InvalidRequest(_)), "{ct}");
        }
        let h = head("POST", &[("content-type", "Application/X-WWW-Form-Urlencoded; charset=UTF-8")], None);
        assert!(parse_token_request(&h, b"grant_type=client_credentials&client_id=a&client_secret=b").is_ok());
    }

    #[test]
    fn oversized_body_is_refused() {
        let body = vec![b'a'; MAX_TOKEN_REQUEST_BYTES + 1];
        assert_eq!(parse_token_request(&head("POST", &[FORM], None), &body).unwrap_err(), TokenError::PayloadTooLarge);
    }

    #[test]
    fn malformed_input_is_a_client_error_never_a_panic() {
        let cases: &[(&[(&str, &str)], &[u8])] = &[
            (&[FORM], b"grant_type=%zz"),
            (&[FORM], b"grant_type=%"),
            (&[FORM], b"grant_type=%4"),
            (&[FORM], b"client_id=%ff%fe&client_secret=x&grant_type=client_credentials"),
            (&[FORM], b"\xff\xfe"),
            (&[FORM, ("authorization", "Basic !!!not-base64")], b"grant_type=client_credentials"),
            (&[FORM, ("authorization", "Basic bm9jb2xvbg==")], b"grant_type=client_credentials"), // "nocolon"
            (&[FORM, ("authorization", "Basic")], b"grant_type=client_credentials"),
            (&[FORM, ("authorization", "Bearer abc")], b"grant_type=client_credentials"),
            (&[FORM, ("authorization", "Basic Og==")], b"grant_type=client_credentials"), // ":"
        ];
        for (headers, body) in cases {
            let e = parse_token_request(&head("POST", headers, None), body).unwrap_err();
            let status = e.to_response("r").status;
            assert!((400..500).contains(&status), "{headers:?} {body:?} gave {status}");
        }
    }

    #[test]
    fn rfc6749_5_2_invalid_client_after_basic_carries_a_basic_challenge() {
        let e = parse_token_request(&head("POST", &[FORM, ("authorization", "Basic bm9jb2xvbg==")], None), b"").unwrap_err();
        let resp = e.to_response("isogate");
        assert_eq!(resp.status, 401);
        assert!(resp.header("www-authenticate").unwrap().starts_with("Basic realm=\"isogate\""));
        assert_eq!(resp.header("cache-control"), Some("no-store"));
    }

    #[test]
    fn missing_client_authentication_is_invalid_client() {
        let e = parse_token_request(&head("POST", &[FORM], None), b"grant_type=client_credentials").unwrap_err();
        assert!(matches!(e, TokenError::InvalidClient { basic_attempted: false, .. }));
        assert_eq!(e.to_response("r").header("www-authenticate"), None);
    }

    #[test]
    fn unknown_scope_syntax_is_invalid_scope() {
        let e = parse_token_request(&head("POST", &[FORM], None), b"grant_type=client_credentials&client_id=a&client_secret=b&scope=admin").unwrap_err();
        assert!(matches!(e, TokenError::InvalidScope(_)));
    }

    #[test]
    fn form_decoding_handles_plus_and_percent() {
        assert_eq!(form_urldecode("a+b%20c%2B").as_deref(), Some("a b c+"));
        assert_eq!(form_urldecode("%e2%82%ac").as_deref(), Some("€"));
        assert_eq!(form_urldecode("%"), None);
        assert_eq!(form_urldecode("%g0"), None);
    }
}
