//! Unit tests of token request parsing (RFC 6749 §2.3.1, §3.1, §3.2, §4.4.2).

use super::*;
use crate::testing::head;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn parse(
    method: &str,
    headers: &[(&str, &str)],
    query: Option<&str>,
    body: &[u8],
) -> Result<TokenRequest, TokenError> {
    parse_token_request(
        &head(method, "example.com", "/oauth2/token", query, headers),
        body,
    )
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn auth(r: &TokenRequest) -> (bool, &str, &str) {
    (
        r.client.is_basic(),
        r.client.client_id(),
        r.client.client_secret().unwrap().expose(),
    )
}

#[test]
fn rfc6749_2_3_1_client_secret_post_is_parsed() {
    let r = parse(
        "POST",
        &[FORM],
        None,
        b"grant_type=client_credentials&client_id=abc&client_secret=s%2Bx",
    )
    .unwrap();
    assert_eq!(auth(&r), (false, "abc", "s+x"));
    assert_eq!(r.grant_type, GrantType::ClientCredentials);
    assert_eq!(r.scope, None);
}

#[test]
fn rfc6749_2_3_1_basic_credentials_are_form_urldecoded_and_split_on_first_colon() {
    let basic = basic("my%3Aid", "se%3Acret:more+x");
    let r = parse(
        "POST",
        &[FORM, ("authorization", &basic)],
        None,
        b"grant_type=client_credentials",
    )
    .unwrap();
    assert_eq!(auth(&r), (true, "my:id", "se:cret:more x"));
}

#[test]
fn basic_scheme_is_case_insensitive() {
    let basic = basic("id", "secret").replace("Basic", "bAsIc");
    assert!(parse(
        "POST",
        &[FORM, ("authorization", &basic)],
        None,
        b"grant_type=client_credentials"
    )
    .is_ok());
}

#[test]
fn rfc6749_2_3_exactly_one_authentication_method() {
    let basic = basic("id", "secret");
    let two = b"grant_type=client_credentials&client_id=id&client_secret=secret";
    assert!(matches!(
        parse("POST", &[FORM, ("authorization", &basic)], None, two),
        Err(TokenError::InvalidRequest(_))
    ));
    let other_id = b"grant_type=client_credentials&client_id=other";
    assert!(matches!(
        parse("POST", &[FORM, ("authorization", &basic)], None, other_id),
        Err(TokenError::InvalidRequest(_))
    ));
}

#[test]
fn rfc6749_3_2_repeated_parameters_are_refused() {
    let e = parse(
        "POST",
        &[FORM],
        None,
        b"grant_type=client_credentials&client_id=a&client_id=a&client_secret=s",
    );
    assert_eq!(
        e.unwrap_err(),
        TokenError::invalid_request("parameter client_id is repeated")
    );
}

#[test]
fn rfc6749_3_1_empty_parameters_count_as_omitted() {
    let e = parse(
        "POST",
        &[FORM],
        None,
        b"grant_type=&client_id=a&client_secret=s",
    )
    .unwrap_err();
    assert_eq!(e, TokenError::invalid_request("grant_type is required"));
}

#[test]
fn rfc6749_3_2_credentials_in_the_query_string_are_refused() {
    let e = parse(
        "POST",
        &[FORM],
        Some("client_secret=s"),
        b"grant_type=client_credentials&client_id=a&client_secret=s",
    );
    assert!(matches!(e, Err(TokenError::InvalidRequest(_))));
}

#[test]
fn rfc6749_3_2_only_post_is_allowed() {
    assert_eq!(
        parse("GET", &[FORM], None, b"").unwrap_err(),
        TokenError::MethodNotAllowed
    );
    assert_eq!(
        parse("PUT", &[FORM], None, b"").unwrap_err(),
        TokenError::MethodNotAllowed
    );
    assert_eq!(
        parse("post", &[FORM], None, b"").unwrap_err(),
        TokenError::MethodNotAllowed
    );
}

#[test]
fn only_form_content_type_is_accepted() {
    for ct in ["application/json", "text/plain", "multipart/form-data", ""] {
        let e = parse(
            "POST",
            &[("content-type", ct)],
            None,
            b"grant_type=client_credentials",
        );
        assert!(matches!(e, Err(TokenError::InvalidRequest(_))), "{ct}");
    }
    let ct = (
        "content-type",
        "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
    );
    assert!(parse(
        "POST",
        &[ct],
        None,
        b"grant_type=client_credentials&client_id=a&client_secret=b"
    )
    .is_ok());
}

#[test]
fn oversized_body_is_refused() {
    let body = vec![b'a'; MAX_TOKEN_REQUEST_BYTES + 1];
    assert_eq!(
        parse("POST", &[FORM], None, &body).unwrap_err(),
        TokenError::PayloadTooLarge
    );
}

#[test]
fn malformed_input_is_a_client_error_never_a_panic() {
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Headers, &[u8])] = &[
        (&[FORM], b"grant_type=%zz"),
        (&[FORM], b"grant_type=%"),
        (&[FORM], b"grant_type=%4"),
        (
            &[FORM],
            b"client_id=%ff%fe&client_secret=x&grant_type=client_credentials",
        ),
        (&[FORM], b"\xff\xfe"),
        (
            &[FORM, ("authorization", "Basic !!!not-base64")],
            b"grant_type=client_credentials",
        ),
        (
            &[FORM, ("authorization", "Basic bm9jb2xvbg==")],
            b"grant_type=client_credentials",
        ), // "nocolon"
        (
            &[FORM, ("authorization", "Basic")],
            b"grant_type=client_credentials",
        ),
        (
            &[FORM, ("authorization", "Bearer abc")],
            b"grant_type=client_credentials",
        ),
        (
            &[FORM, ("authorization", "Basic Og==")],
            b"grant_type=client_credentials",
        ), // ":"
    ];
    for (headers, body) in cases {
        let status = parse("POST", headers, None, body)
            .unwrap_err()
            .to_response("r")
            .status;
        assert!(
            (400..500).contains(&status),
            "{headers:?} {body:?} gave {status}"
        );
    }
}

#[test]
fn rfc6749_5_2_invalid_client_after_basic_carries_a_basic_challenge() {
    let resp = parse(
        "POST",
        &[FORM, ("authorization", "Basic bm9jb2xvbg==")],
        None,
        b"",
    )
    .unwrap_err()
    .to_response("isogate");
    assert_eq!(resp.status, 401);
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic realm=\"isogate\""));
    assert_eq!(resp.header("cache-control"), Some("no-store"));
}

#[test]
fn rfc9110_15_5_2_missing_client_authentication_is_a_401_with_a_basic_challenge() {
    let e = parse("POST", &[FORM], None, b"grant_type=client_credentials").unwrap_err();
    assert!(matches!(
        e,
        TokenError::InvalidClient {
            basic_attempted: false,
            ..
        }
    ));
    assert_eq!(
        e.to_response("r").header("www-authenticate"),
        Some("Basic realm=\"r\", charset=\"UTF-8\"")
    );
}

#[test]
fn rfc6749_3_3_unknown_scope_syntax_is_invalid_scope() {
    let e = parse(
        "POST",
        &[FORM],
        None,
        b"grant_type=client_credentials&client_id=a&client_secret=b&scope=admin",
    );
    assert!(matches!(e, Err(TokenError::InvalidScope(_))));
}

#[test]
fn rfc6749_4_4_2_grant_type_is_compared_exactly() {
    assert_eq!(
        GrantType::parse("client_credentials"),
        GrantType::ClientCredentials
    );
    for other in ["CLIENT_CREDENTIALS", "password", "client_credentials "] {
        assert_eq!(GrantType::parse(other), GrantType::Unsupported, "{other}");
    }
}

#[test]
fn form_decoding_handles_plus_and_percent() {
    assert_eq!(form_urldecode("a+b%20c%2B").as_deref(), Some("a b c+"));
    assert_eq!(form_urldecode("%e2%82%ac").as_deref(), Some("€"));
    assert_eq!(form_urldecode("%"), None);
    assert_eq!(form_urldecode("%g0"), None);
}
