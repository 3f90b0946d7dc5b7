//! Unit tests of the forward plan (RFC 9110 §7.6.1) and the response filter.

use super::*;

fn head(headers: &[(&str, &str)]) -> RequestHead {
    crate::testing::head(
        "POST",
        "my-api.example.com",
        "/anything/a%20b",
        Some("x=1&y=2"),
        headers,
    )
}

fn service() -> Service {
    Service {
        name: "my-api".into(),
        upstream: "http://127.0.0.1:9000/base".into(),
        allowed_users: vec![],
        created_at: 0,
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

fn get<'a>(plan: &'a ForwardPlan, name: &str) -> Vec<&'a str> {
    plan.headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn path_and_query_are_kept_verbatim_under_the_upstream_base() {
    let plan = plan_forward(&head(&[]), &service(), &principal());
    assert_eq!(
        plan.url,
        "http://127.0.0.1:9000/base/anything/a%20b?x=1&y=2"
    );
    assert_eq!(plan.method, Method::Post);
    assert!(plan.has_body);
}

#[test]
fn inbound_credential_never_reaches_the_origin() {
    let plan = plan_forward(
        &head(&[("Authorization", "Bearer t"), ("X-Octelium-Auth", "t")]),
        &service(),
        &principal(),
    );
    assert!(get(&plan, "authorization").is_empty());
    assert!(get(&plan, "x-octelium-auth").is_empty());
    assert!(!plan
        .headers
        .iter()
        .any(|(_, v)| v == "Bearer t" || v == "t"));
}

#[test]
fn client_sent_identity_headers_are_replaced_by_verified_ones() {
    let plan = plan_forward(
        &head(&[("X-Isogate-User", "admin"), ("x-isogate-anything", "x")]),
        &service(),
        &principal(),
    );
    assert_eq!(get(&plan, "x-isogate-user"), vec!["root"]);
    assert_eq!(get(&plan, "x-isogate-service"), vec!["my-api"]);
    assert!(get(&plan, "x-isogate-anything").is_empty());
}

#[test]
fn hop_by_hop_and_connection_listed_headers_are_stripped() {
    let plan = plan_forward(
        &head(&[
            ("Connection", "close, X-Custom"),
            ("X-Custom", "1"),
            ("Keep-Alive", "5"),
            ("TE", "trailers"),
            ("Expect", "100-continue"),
            ("Host", "h"),
            ("Upgrade", "websocket"),
            ("Proxy-Foo", "1"),
            ("Accept", "*/*"),
        ]),
        &service(),
        &principal(),
    );
    for gone in [
        "connection",
        "x-custom",
        "keep-alive",
        "te",
        "expect",
        "host",
        "upgrade",
        "proxy-foo",
    ] {
        assert!(get(&plan, gone).is_empty(), "{gone} was forwarded");
    }
    assert_eq!(get(&plan, "accept"), vec!["*/*"]);
}

#[test]
fn forwarding_headers_are_set_by_the_edge_not_the_client() {
    let plan = plan_forward(
        &head(&[("X-Forwarded-For", "1.2.3.4"), ("Forwarded", "for=1.2.3.4")]),
        &service(),
        &principal(),
    );
    assert_eq!(get(&plan, "x-forwarded-for"), vec!["203.0.113.7"]);
    assert_eq!(get(&plan, "x-forwarded-proto"), vec!["https"]);
    assert_eq!(get(&plan, "x-forwarded-host"), vec!["my-api.example.com"]);
    assert!(get(&plan, "forwarded").is_empty());
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn rfc9110_7_6_1_response_hop_by_hop_headers_are_stripped() {
    let headers = pairs(&[
        ("Transfer-Encoding", "chunked"),
        ("Content-Type", "text/plain"),
        ("Connection", "keep-alive"),
    ]);
    let out = relay(
        UpstreamOutcome::Responded {
            status: 200,
            headers: &headers,
        },
        &Method::Get,
    );
    assert_eq!(
        out,
        Relay::Pass {
            status: 200,
            headers: pairs(&[("content-type", "text/plain")]),
            with_body: true
        }
    );
}

#[test]
fn rfc9110_6_4_1_no_body_is_relayed_for_head_204_and_304() {
    for (method, status) in [(Method::Head, 200), (Method::Get, 204), (Method::Get, 304)] {
        let out = relay(
            UpstreamOutcome::Responded {
                status,
                headers: &[],
            },
            &method,
        );
        assert!(
            matches!(
                out,
                Relay::Pass {
                    with_body: false,
                    ..
                }
            ),
            "{method} {status}"
        );
    }
}

#[test]
fn informational_statuses_timeouts_and_failures_are_replaced() {
    for status in [100, 101, 600] {
        let Relay::Replace {
            response,
            diagnostic,
        } = relay(
            UpstreamOutcome::Responded {
                status,
                headers: &[],
            },
            &Method::Get,
        )
        else {
            panic!("{status} was relayed")
        };
        assert_eq!(
            (response.status, diagnostic),
            (502, UpstreamFailure::UnrelayableStatus(status))
        );
    }
    let Relay::Replace { response, .. } = relay(UpstreamOutcome::TimedOut, &Method::Get) else {
        panic!()
    };
    assert_eq!(response.status, 504);
    let failure = UpstreamFailure::Unreachable("connection refused".into());
    let Relay::Replace {
        response,
        diagnostic,
    } = relay(UpstreamOutcome::Failed(failure.clone()), &Method::Get)
    else {
        panic!()
    };
    assert_eq!((response.status, diagnostic), (502, failure));
}
