//! Unit tests of WebSocket handshakes through the plan (RFC 6455 §4.1, §11.3.4) and of the
//! relay of the origin's `101`.

use super::*;

use crate::forward::{plan_forward, OutboundClient, Principal};
use crate::model::Service;

fn handshake_head(headers: &[(&str, &str)]) -> RequestHead {
    crate::testing::head("GET", "my-api.example.com", "/ws", None, headers)
}

fn plan(head: &RequestHead) -> crate::forward::ForwardPlan {
    let service = Service {
        name: "my-api".into(),
        upstream: "http://127.0.0.1:9000".into(),
        allowed_user_ids: vec![],
        allowed_users: vec![],
        created_at: 0,
        rate_limit: None,
        upstream_auth: None,
        rules: vec![],
    };
    let principal = Principal {
        user: "root".into(),
        client_id: "abcd-efgh".into(),
        credential: "c".into(),
        scope: "service:*".into(),
        token_id: "j".into(),
    };
    plan_forward(head, &service, &principal).expect("planned")
}

fn names(plan: &crate::forward::ForwardPlan) -> Vec<&str> {
    plan.headers.iter().map(|(n, _)| n.as_str()).collect()
}

const BROWSER: &[(&str, &str)] = &[
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Extensions", "permessage-deflate"),
    ("Sec-WebSocket-Protocol", "isogate.bearer.aaa.bbb.ccc, chat"),
    ("Origin", "https://app.example.com"),
];

#[test]
fn rfc6455_handshake_keeps_upgrade_and_app_protocols_and_drops_per_connection_fields() {
    let plan = plan(&handshake_head(BROWSER));
    let upgrade = plan.websocket.as_ref().expect("a handshake");
    assert_eq!(upgrade.protocols, vec!["chat".to_owned()]);
    assert!(upgrade.upgrade_header);
    let names = names(&plan);
    for gone in [
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
    ] {
        assert!(!names.contains(&gone), "{gone} crossed");
    }
    assert!(plan
        .headers
        .contains(&("upgrade".into(), "websocket".into())));
    assert!(plan
        .headers
        .contains(&("sec-websocket-protocol".into(), "chat".into())));
    assert!(plan
        .headers
        .contains(&("origin".into(), "https://app.example.com".into())));
    assert!(!plan.headers.iter().any(|(_, v)| v.contains("aaa.bbb")));
}

#[test]
fn the_token_subprotocol_is_the_bearer_and_one_of_it_only() {
    assert_eq!(
        bearer_subprotocol(&handshake_head(BROWSER)),
        Ok(Some("aaa.bbb.ccc"))
    );
    let two = handshake_head(&[(
        "Sec-WebSocket-Protocol",
        "isogate.bearer.a, ISOGATE.BEARER.b",
    )]);
    assert!(bearer_subprotocol(&two).is_err());
    let empty = handshake_head(&[("Sec-WebSocket-Protocol", "isogate.bearer.")]);
    assert!(bearer_subprotocol(&empty).is_err());
    // Only a GET is a handshake: a POST's protocol field is no credential.
    let post = crate::testing::head(
        "POST",
        "my-api.example.com",
        "/",
        None,
        &[("Sec-WebSocket-Protocol", "isogate.bearer.x")],
    );
    assert_eq!(bearer_subprotocol(&post), Ok(None));
}

#[test]
fn a_token_subprotocol_never_reaches_the_origin_even_without_a_handshake() {
    let head = crate::testing::head(
        "POST",
        "my-api.example.com",
        "/",
        None,
        &[("sec_websocket_protocol", "isogate.bearer.secret")],
    );
    let plan = plan(&head);
    assert!(plan.websocket.is_none());
    assert!(!plan.headers.iter().any(|(_, v)| v.contains("secret")));
}

#[test]
fn a_plain_get_is_no_handshake_and_other_upgrades_stay_stripped() {
    let plan = plan(&handshake_head(&[
        ("Upgrade", "h2c"),
        ("Connection", "Upgrade"),
    ]));
    assert!(plan.websocket.is_none());
    assert!(!names(&plan).contains(&"upgrade"));
}

#[test]
fn wasi_http_cannot_carry_a_websocket_and_fetch_needs_the_upgrade_header() {
    let full = plan(&handshake_head(BROWSER));
    assert_eq!(full.unsendable_by(OutboundClient::Fetch), None);
    assert_eq!(
        full.unsendable_by(OutboundClient::WasiHttp),
        Some(ForwardError::WebSocketUnsupported)
    );
    assert_eq!(
        full.refusal_for(OutboundClient::WasiHttp).map(|r| r.status),
        Some(501)
    );
    // What a wasi:http host leaves of a handshake: Upgrade and Connection removed.
    let hidden = plan(&handshake_head(&[
        ("Sec-WebSocket-Key", "k"),
        ("Sec-WebSocket-Version", "13"),
    ]));
    assert!(hidden.websocket.is_some());
    assert_eq!(
        hidden.unsendable_by(OutboundClient::WasiHttp),
        Some(ForwardError::WebSocketUnsupported)
    );
    assert_eq!(
        hidden.unsendable_by(OutboundClient::Fetch),
        Some(ForwardError::NotAnUpgrade)
    );
}

#[test]
fn the_origins_101_is_relayed_as_an_upgrade_with_an_offered_protocol_only() {
    let offered = vec!["chat".to_owned()];
    let headers = vec![
        ("Sec-WebSocket-Protocol".to_owned(), "chat".to_owned()),
        ("Sec-WebSocket-Accept".to_owned(), "x".to_owned()),
        ("Upgrade".to_owned(), "websocket".to_owned()),
    ];
    let outcome = UpstreamOutcome::Responded {
        status: 101,
        headers: &headers,
    };
    assert_eq!(
        relay_upgrade(outcome, &offered),
        Relay::Upgrade {
            headers: vec![("sec-websocket-protocol".into(), "chat".into())]
        }
    );
    let other = vec![("sec-websocket-protocol".to_owned(), "other".to_owned())];
    let chose_other = UpstreamOutcome::Responded {
        status: 101,
        headers: &other,
    };
    assert!(matches!(
        relay_upgrade(chose_other, &offered),
        Relay::Replace { ref response, .. } if response.status == 502
    ));
    // An origin that refuses the upgrade is relayed like any answer.
    let refused = UpstreamOutcome::Responded {
        status: 403,
        headers: &[],
    };
    assert!(matches!(
        relay_upgrade(refused, &offered),
        Relay::Pass { status: 403, .. }
    ));
}

#[test]
fn a_101_to_a_request_that_is_no_handshake_is_still_a_502() {
    let outcome = UpstreamOutcome::Responded {
        status: 101,
        headers: &[],
    };
    assert!(matches!(
        crate::forward::relay(outcome, &Method::Get),
        Relay::Replace { .. }
    ));
}
