//! Unit tests of the response filter (RFC 9110 §6.4.1, §7.6.1; RFC 6265 §5.2.3).

use super::*;

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

#[test]
fn rfc6265_5_3_every_set_cookie_is_relayed_host_only() {
    let headers = pairs(&[
        ("Set-Cookie", "a=b; Domain=example.com; Path=/"),
        ("set-cookie", "c=d; Secure; domain = .example.com"),
        ("Set-Cookie", "e=f; Path=/; HttpOnly"),
        ("X-Domain", "Domain=x"),
    ]);
    let out = relay(
        UpstreamOutcome::Responded {
            status: 200,
            headers: &headers,
        },
        &Method::Get,
    );
    let Relay::Pass { headers, .. } = out else {
        panic!("not relayed")
    };
    assert_eq!(
        headers,
        pairs(&[
            ("set-cookie", "a=b; Path=/"),
            ("set-cookie", "c=d; Secure"),
            ("set-cookie", "e=f; Path=/; HttpOnly"),
            ("x-domain", "Domain=x"),
        ])
    );
}
