//! Unit tests of the forward plan: the strip rules in a whole plan (RFC 9110 §7.6.1), the
//! forwarding headers (RFC 7239), framing (RFC 9112 §6.3, RFC 9110 §8.6) and the URL.

use super::*;

fn head_with(method: &str, path: &str, headers: &[(&str, &str)]) -> RequestHead {
    crate::testing::head(method, "my-api.example.com", path, Some("x=1&y=2"), headers)
}

fn head(headers: &[(&str, &str)]) -> RequestHead {
    head_with("POST", "/anything/a%20b", headers)
}

fn service() -> Service {
    Service {
        name: "my-api".into(),
        upstream: "http://127.0.0.1:9000/base".into(),
        allowed_user_ids: vec![],
        allowed_users: vec![],
        created_at: 0,
        rate_limit: None,
        upstream_auth: None,
        rules: vec![],
    }
}

fn principal() -> Principal {
    Principal {
        user: "root".into(),
        client_id: "abcd-efgh".into(),
        credential: "c".into(),
        scope: "service:*".into(),
        token_id: "j".into(),
    }
}

fn plan(head: &RequestHead) -> ForwardPlan {
    plan_forward(head, &service(), &principal()).expect("planned")
}

fn get<'a>(plan: &'a ForwardPlan, name: &str) -> Vec<&'a str> {
    plan.headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn path_and_query_are_kept_verbatim_under_the_upstream_base() {
    let plan = plan(&head(&[]));
    assert_eq!(
        plan.url,
        "http://127.0.0.1:9000/base/anything/a%20b?x=1&y=2"
    );
    assert_eq!(plan.scheme(), Scheme::Http);
    assert_eq!(plan.authority(), "127.0.0.1:9000");
    assert_eq!(plan.path_and_query(), "/base/anything/a%20b?x=1&y=2");
    assert_eq!(plan.method, Method::Post);
}

#[test]
fn odd_but_legal_path_and_query_bytes_are_forwarded_byte_for_byte() {
    for (path, query) in [
        (
            "/odd;x=1/%FF/%00/~!$&'()*+,=:@//double",
            Some("a=%2e%2e/../&b=%ff;c=@:/?"),
        ),
        ("/a%2e/%2ea/.../a%2Fb/%7e%7E", Some("")),
        ("", None),
    ] {
        let mut h = head_with("GET", path, &[]);
        h.query = query.map(str::to_owned);
        let plan = plan(&h);
        let sent = format!(
            "/base{}{}",
            if path.is_empty() { "/" } else { path },
            query.map(|q| format!("?{q}")).unwrap_or_default()
        );
        assert_eq!(plan.path_and_query(), sent, "{path:?} {query:?}");
    }
}

#[test]
fn unsafe_paths_are_refused_before_any_plan() {
    for path in [
        "/../secret",
        "/%2e%2e/secret",
        "/a/%2E./b",
        "/a\\b",
        "/a%5cb",
        "/a%2f..%2fb",
    ] {
        let h = head_with("GET", path, &[]);
        assert!(
            matches!(check_request(&h), Err(ForwardError::UnsafePath(_))),
            "{path}"
        );
        assert!(
            plan_forward(&h, &service(), &principal()).is_err(),
            "{path}"
        );
    }
}

#[test]
fn a_stored_upstream_that_no_longer_parses_is_not_forwarded_to() {
    let bad = Service {
        upstream: "http://my_service:8080".into(),
        ..service()
    };
    let refused = plan_forward(&head(&[]), &bad, &principal());
    assert_eq!(
        refused,
        Err(ForwardError::InvalidUpstream(
            crate::upstream::InvalidUpstream::BadHost
        ))
    );
    assert_eq!(refused.unwrap_err().to_response().status, 502);
}

#[test]
fn inbound_credential_never_reaches_the_origin() {
    let plan = plan(&head(&[
        ("Authorization", "Bearer t"),
        ("X-Octelium-Auth", "t"),
        ("x_octelium_auth", "t"),
    ]));
    assert!(!plan
        .headers
        .iter()
        .any(|(n, v)| n.contains("auth") || v == "Bearer t" || v == "t"));
}

#[test]
fn client_sent_identity_headers_in_any_spelling_are_replaced_by_verified_ones() {
    let plan = plan(&head(&[
        ("X-Isogate-User", "admin"),
        ("X-Isogate_User", "admin"),
        ("x_isogate_user", "admin"),
        ("x-isogate-anything", "x"),
        ("X-Isogate-Assertion", "forged"),
    ]));
    assert_eq!(get(&plan, "x-isogate-user"), vec!["root"]);
    assert_eq!(get(&plan, "x-isogate-service"), vec!["my-api"]);
    assert!(get(&plan, "x-isogate-anything").is_empty());
    assert!(get(&plan, "x-isogate-assertion").is_empty());
    assert!(!plan
        .headers
        .iter()
        .any(|(n, v)| n.contains('_') || v == "admin"));
}

#[test]
fn hop_by_hop_and_connection_listed_headers_are_stripped() {
    let plan = plan(&head(&[
        ("Connection", "close, X-Custom, X_Other"),
        ("X-Custom", "1"),
        ("x-other", "1"),
        ("Keep-Alive", "5"),
        ("TE", "trailers"),
        ("Expect", "100-continue"),
        ("Host", "h"),
        ("Upgrade", "websocket"),
        ("Proxy-Foo", "1"),
        ("Transfer_Encoding", "chunked"),
        ("Accept", "*/*"),
    ]));
    for gone in [
        "connection",
        "x-custom",
        "x-other",
        "keep-alive",
        "te",
        "expect",
        "host",
        "upgrade",
        "proxy-foo",
        "transfer_encoding",
    ] {
        assert!(get(&plan, gone).is_empty(), "{gone} was forwarded");
    }
    assert_eq!(get(&plan, "accept"), vec!["*/*"]);
}

#[test]
fn rfc7239_forwarding_headers_are_set_by_the_edge_not_the_client() {
    let plan = plan(&head(&[
        ("X-Forwarded-For", "1.2.3.4"),
        ("X_Forwarded_For", "1.2.3.4"),
        ("X-Forwarded-Prefix", "/admin"),
        ("X-Forwarded-Port", "443"),
        ("Forwarded", "for=1.2.3.4"),
        ("X-Real-IP", "1.2.3.4"),
        ("True-Client-IP", "1.2.3.4"),
        ("CF-Connecting-IP", "1.2.3.4"),
    ]));
    assert_eq!(get(&plan, "x-forwarded-for"), vec!["203.0.113.7"]);
    assert_eq!(get(&plan, "x-forwarded-proto"), vec!["https"]);
    assert_eq!(get(&plan, "x-forwarded-host"), vec!["my-api.example.com"]);
    assert_eq!(
        get(&plan, "forwarded"),
        vec!["for=203.0.113.7;proto=https;host=my-api.example.com"]
    );
    assert!(!plan
        .headers
        .iter()
        .any(|(_, v)| v.contains("1.2.3.4") || v == "/admin"));
    assert!(get(&plan, "x-forwarded-prefix").is_empty());
}

/// (method, request headers) → (has_body, forwarded Content-Length).
#[test]
fn rfc9112_6_3_the_body_goes_exactly_when_the_client_sent_one() {
    for (method, headers, has_body, length) in [
        ("GET", &[][..], false, None),
        ("GET", &[("Content-Length", "5")][..], true, Some("5")),
        ("HEAD", &[("content-length", "5")][..], true, Some("5")),
        ("GET", &[("Content-Length", "0")][..], false, None),
        ("HEAD", &[("Content-Length", "00")][..], false, None),
        ("POST", &[][..], false, None),
        ("POST", &[("Content-Length", "0")][..], false, Some("0")),
        ("DELETE", &[("Content-Length", "3")][..], true, Some("3")),
        ("GET", &[("Transfer-Encoding", "chunked")][..], true, None),
        (
            "POST",
            &[("Transfer-Encoding", "chunked"), ("Content-Length", "5")][..],
            true,
            None,
        ),
        // A look-alike frames nothing: stripped, and no body.
        ("GET", &[("Content_Length", "5")][..], false, None),
        ("GET", &[("transfer_encoding", "chunked")][..], false, None),
    ] {
        let plan = plan(&head_with(method, "/", headers));
        assert_eq!(
            (plan.has_body, get(&plan, "content-length").first().copied()),
            (has_body, length),
            "{method} {headers:?}"
        );
        assert!(
            !plan
                .headers
                .iter()
                .any(|(n, _)| n.contains('_') || n == "transfer-encoding"),
            "{method} {headers:?}"
        );
    }
}

#[test]
fn rfc9110_8_6_a_content_length_that_is_not_one_number_is_refused() {
    for headers in [
        &[("Content-Length", "5, 5")][..],
        &[("Content-Length", "-1")][..],
        &[("Content-Length", "")][..],
        &[("Content-Length", "0x10")][..],
        &[("Content-Length", "5"), ("content-length", "5")][..],
    ] {
        let h = head_with("POST", "/", headers);
        assert_eq!(
            check_request(&h),
            Err(ForwardError::InvalidContentLength),
            "{headers:?}"
        );
    }
}

#[test]
fn fetch_cannot_send_content_with_get_or_head_so_it_is_refused_not_dropped() {
    for method in ["GET", "HEAD"] {
        let plan = plan(&head_with(method, "/", &[("Content-Length", "5")]));
        let refused = plan.refusal_for(OutboundClient::Fetch).expect("refused");
        assert_eq!(refused.status, 400);
        assert!(String::from_utf8_lossy(&refused.body).contains("invalid_request"));
        assert_eq!(plan.refusal_for(OutboundClient::WasiHttp), None);
    }
    let post = plan(&head_with("POST", "/", &[("Content-Length", "5")]));
    assert_eq!(post.refusal_for(OutboundClient::Fetch), None);
    let get = plan(&head_with("GET", "/", &[]));
    assert_eq!(get.refusal_for(OutboundClient::Fetch), None);
}

#[test]
fn wasi_http_cannot_send_chunked_content_with_get_or_head_so_it_is_refused_not_dropped() {
    for method in ["GET", "HEAD"] {
        let chunked = plan(&head_with(method, "/", &[("Transfer-Encoding", "chunked")]));
        let refused = chunked
            .refusal_for(OutboundClient::WasiHttp)
            .expect("refused");
        assert_eq!(refused.status, 400);
        assert!(String::from_utf8_lossy(&refused.body).contains("content-length"));
        let sized = plan(&head_with(method, "/", &[("Content-Length", "5")]));
        assert_eq!(
            sized.refusal_for(OutboundClient::WasiHttp),
            None,
            "{method}"
        );
    }
    let post = plan(&head_with("POST", "/", &[("Transfer-Encoding", "chunked")]));
    assert_eq!(post.refusal_for(OutboundClient::WasiHttp), None);
}
