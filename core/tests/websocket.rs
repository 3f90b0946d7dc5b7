//! WebSockets in the core with a fixed clock: a handshake is authorized like any request and
//! planned as one (its token may come as a subprotocol); an open connection's session is
//! checked again through the isolate's caches and closed with 1008 when its token expires
//! (at `exp`), is revoked or its credential deleted (within the cache TTL on another
//! isolate, at the next check on the one that took the change); Spin's client gets 501.

use isogate_core::audit::Reason;
use isogate_core::capability::{Capabilities, InstanceMemory, NoOriginSecrets};
use isogate_core::forward::websocket::CLOSE_POLICY;
use isogate_core::forward::OutboundClient;
use isogate_core::gateway::Gateway;
use isogate_core::keys::PortableEd25519;
use isogate_core::service::session::{ConnectionCheck, Session};
use isogate_core::testing::*;
use isogate_core::{Forward, Step};

const TTL_MS: u64 = 5_000;

fn handshake(
    h: &Harness,
    gw: &Gateway,
    extra: &[(&str, &str)],
) -> Result<Forward, isogate_core::http::Response> {
    let mut headers = vec![
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ];
    headers.extend_from_slice(extra);
    h.service_on(gw, &head("GET", SERVICE_HOST, "/ws", None, &headers))
}

fn check(h: &Harness, gw: &Gateway, session: &Session) -> ConnectionCheck {
    let random = SeededRandom::new(7);
    let caps = Capabilities {
        db: &h.db,
        ed25519: &PortableEd25519,
        random: &random,
        memory: InstanceMemory::Kept,
        secrets: &NoOriginSecrets,
        jws: &isogate_core::jws::PortableJws,
    };
    block_on(gw.check_connection(caps, session, h.clock()))
}

fn closed(reason: &'static str) -> ConnectionCheck {
    ConnectionCheck::Close {
        code: CLOSE_POLICY,
        reason,
    }
}

fn session_of(forward: Forward) -> Session {
    let session = *forward.session.expect("a handshake has a session");
    // What a runtime keeps in foreign code comes back as it was.
    assert_eq!(Session::uncarry(&session.carry()), Some(session.clone()));
    session
}

#[test]
fn a_handshake_is_authorized_like_any_request_and_carries_a_session() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let auth = format!("Bearer {token}");
    let forward = authorized(handshake(&h, &h.gw, &[("authorization", &auth)]));
    assert!(forward.plan.websocket.is_some());
    assert!(!forward.plan.headers.iter().any(|(_, v)| v.contains(&token)));
    session_of(forward);
    // The same token as a subprotocol.
    let protocol = format!("isogate.bearer.{token}, chat");
    let forward = authorized(handshake(
        &h,
        &h.gw,
        &[("sec-websocket-protocol", &protocol)],
    ));
    assert_eq!(
        forward.plan.websocket.as_ref().unwrap().protocols,
        vec!["chat".to_owned()]
    );
    // Without a token: the 401 of any request, before anything is planned.
    assert_eq!(refused(handshake(&h, &h.gw, &[])).status, 401);
    // A plain request has no session.
    assert!(authorized(h.call(&token)).session.is_none());
}

#[test]
fn an_open_connection_is_checked_every_cache_lifetime_and_closed_at_its_tokens_exp() {
    let (h, client) = Harness::seeded_with(&[("ISOGATE_TOKEN_TTL", Some("12s"))]);
    let token = h.token_for(&client, None);
    let auth = format!("Bearer {token}");
    let session = session_of(authorized(handshake(
        &h,
        &h.gw,
        &[("authorization", &auth)],
    )));
    assert_eq!(
        check(&h, &h.gw, &session),
        ConnectionCheck::Open {
            recheck_in_ms: TTL_MS
        }
    );
    h.advance_ms(10_000);
    // 2 s left: the next check is the expiry, not a cache lifetime later.
    assert_eq!(
        check(&h, &h.gw, &session),
        ConnectionCheck::Open {
            recheck_in_ms: 2_000
        }
    );
    h.advance_ms(1_999);
    assert!(matches!(
        check(&h, &h.gw, &session),
        ConnectionCheck::Open { .. }
    ));
    h.advance_ms(1);
    // At exp, without the 30 s leeway a handshake gets: the gateway's own clock issued it.
    assert_eq!(check(&h, &h.gw, &session), closed("token expired"));
}

#[test]
fn a_revoked_token_closes_its_connection_at_once_here_and_within_the_cache_ttl_elsewhere() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let other = h.isolate();
    let auth = format!("Bearer {token}");
    let here = session_of(authorized(handshake(
        &h,
        &h.gw,
        &[("authorization", &auth)],
    )));
    let there = session_of(authorized(handshake(
        &h,
        &other,
        &[("authorization", &auth)],
    )));
    assert!(matches!(
        check(&h, &other, &there),
        ConnectionCheck::Open { .. }
    ));
    h.advance_ms(1_000);
    let form = format!("{}&token={token}", post_form(&client, None));
    let r = h.root(
        &head(
            "POST",
            DOMAIN,
            "/oauth2/revoke",
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
        ),
        form.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(check(&h, &h.gw, &here), closed("token revoked"));
    // The other isolate's "not revoked" lives out its cache lifetime, then is read again.
    h.advance_ms(TTL_MS - 1_001);
    assert!(matches!(
        check(&h, &other, &there),
        ConnectionCheck::Open { .. }
    ));
    h.advance_ms(2);
    assert_eq!(check(&h, &other, &there), closed("token revoked"));
}

#[test]
fn a_deleted_credential_or_service_closes_the_connection() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let auth = format!("Bearer {token}");
    let session = session_of(authorized(handshake(
        &h,
        &h.gw,
        &[("authorization", &auth)],
    )));
    let r = h.admin("DELETE", &format!("/admin/v1/services/{SERVICE}"), None);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(check(&h, &h.gw, &session), closed("access revoked"));
    let r = h.admin("DELETE", "/admin/v1/credentials/root-cred", None);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(check(&h, &h.gw, &session), closed("credential revoked"));
}

#[test]
fn wasi_http_answers_a_handshake_501_after_the_token_checks_and_audits_it() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let auth = format!("Bearer {token}");
    // What a wasi:http host leaves of a handshake: no Upgrade, no Connection.
    let head = head(
        "GET",
        SERVICE_HOST,
        "/ws",
        None,
        &[
            ("authorization", &auth),
            ("sec-websocket-key", "k"),
            ("sec-websocket-version", "13"),
        ],
    );
    let forward = authorized(h.service_on(&h.gw, &head));
    let Step::Respond {
        response, audit, ..
    } = forward.sendable_by(OutboundClient::WasiHttp)
    else {
        panic!("a WebSocket is never forwarded on wasi:http");
    };
    assert_eq!(response.status, 501);
    assert_eq!(json_body(&response)["error"], "websocket_unsupported");
    let line = audit.finish(h.clock()).expect("audited").to_string();
    assert!(
        line.contains(&format!(
            "\"reason\":\"{}\"",
            Reason::WebSocketUnsupported.as_str()
        )),
        "{line}"
    );
    assert!(line.contains("\"status\":501"), "{line}");
}
