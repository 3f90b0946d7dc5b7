//! Unit tests of routing, the first step of each route, and the per-isolate cell.

use super::*;
use crate::error::TokenError;
use crate::step::Body;
use crate::testing::{
    block_on, default_settings, head, sans_request_id, FixedRandom, MemDb, ADMIN_TOKEN, DOMAIN,
};
use std::cell::Cell;
use std::collections::HashMap;

fn gateway() -> Gateway {
    let settings = default_settings();
    Gateway::from_settings(|n| settings.get(n).cloned()).unwrap()
}

fn start<'g>(gw: &'g Gateway, db: &MemDb, method: &str, host: &str, path: &str) -> Step<'g> {
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let headers: &[(&str, &str)] = if path.starts_with("/admin/") {
        &[("authorization", &admin)]
    } else {
        &[]
    };
    start_with(gw, db, head(method, host, path, None, headers))
}

fn start_with<'g>(gw: &'g Gateway, db: &MemDb, head: RequestHead) -> Step<'g> {
    let caps = Capabilities {
        db,
        ed25519: &crate::keys::PortableEd25519,
        random: &FixedRandom(1),
        memory: crate::capability::InstanceMemory::Kept,
        secrets: &crate::capability::NoOriginSecrets,
        jws: &crate::jws::PortableJws,
    };
    block_on(gw.start(caps, head, Now::from_unix_ms(0)))
}

const BODY_ROUTES: [&str; 4] = [
    "/oauth2/token",
    "/oauth2/revoke",
    "/oauth2/introspect",
    "/admin/v1/users",
];

/// A POST to `path` with the admin credential (for admin routes) and `extra` headers.
fn body_request(path: &str, extra: &[(&str, &str)]) -> RequestHead {
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if path.starts_with("/admin/") {
        headers.push(("authorization", &admin));
    }
    headers.extend_from_slice(extra);
    head("POST", DOMAIN, path, None, &headers)
}

fn too_large() -> Response {
    TokenError::PayloadTooLarge.to_response("isogate")
}

#[test]
fn a_body_declared_over_the_limit_is_refused_413_before_a_byte_is_read() {
    let (gw, db) = (gateway(), MemDb::migrated());
    let migrated = db.statements.get();
    for path in BODY_ROUTES {
        for declared in ["20480", "2000000", "99999999999999999999999"] {
            let step = start_with(
                &gw,
                &db,
                body_request(path, &[("content-length", declared)]),
            );
            let Step::Respond { response, .. } = step else {
                panic!("{path} with Content-Length {declared} asked for its body")
            };
            assert_eq!(sans_request_id(response), too_large(), "{path} {declared}");
        }
        // At the limit, the body is read.
        let limit = if path.starts_with("/admin/") {
            "16384"
        } else {
            "8192"
        };
        let step = start_with(&gw, &db, body_request(path, &[("content-length", limit)]));
        assert!(matches!(step, Step::NeedBody { .. }), "{path} at its limit");
    }
    // Nothing was read from storage but, for each of the 4 admin requests, the admin
    // credential's check (throttled guessing: one read of the address's lockouts).
    assert_eq!(db.statements.get() - migrated, 4, "storage reads");
}

#[test]
fn a_chunked_body_over_the_limit_gets_the_same_413_as_a_declared_one() {
    let (gw, db) = (gateway(), MemDb::migrated());
    for path in BODY_ROUTES {
        // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, so the length is unknown.
        let chunked = &[("transfer-encoding", "chunked"), ("content-length", "5")];
        let Step::NeedBody { limit, resume } = start_with(&gw, &db, body_request(path, chunked))
        else {
            panic!("{path}: a chunked body is read")
        };
        let caps = Capabilities {
            db: &db,
            ed25519: &crate::keys::PortableEd25519,
            random: &FixedRandom(1),
            memory: crate::capability::InstanceMemory::Kept,
            secrets: &crate::capability::NoOriginSecrets,
            jws: &crate::jws::PortableJws,
        };
        let read = Body::Complete(vec![b'a'; limit + 1]);
        let Step::Respond { response, .. } = block_on(resume.finish(caps, read)) else {
            panic!()
        };
        assert_eq!(sans_request_id(response), too_large(), "{path}");
    }
}

#[test]
fn rfc6749_3_2_oauth_endpoints_refuse_other_methods_before_reading_the_body() {
    let (gw, db) = (gateway(), MemDb::migrated());
    for path in ["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"] {
        for method in ["GET", "PUT", "DELETE", "PATCH"] {
            let head = head(method, DOMAIN, path, None, &[("content-length", "2000000")]);
            let Step::Respond { response, .. } = start_with(&gw, &db, head) else {
                panic!("{method} {path} asked for its body")
            };
            assert_eq!(
                (response.status, response.header("allow")),
                (405, Some("POST")),
                "{method} {path}"
            );
        }
    }
}

#[test]
fn an_admin_request_without_the_admin_credential_is_refused_before_its_body_is_read() {
    let (gw, db) = (gateway(), MemDb::migrated());
    for auth in [None, Some("Bearer wrong"), Some("Basic dGVzdA==")] {
        let mut headers = vec![("content-length", "2000000")];
        headers.extend(auth.map(|a| ("authorization", a)));
        let head = head("POST", DOMAIN, "/admin/v1/users", None, &headers);
        let Step::Respond { response, .. } = start_with(&gw, &db, head) else {
            panic!("{auth:?}: the body was asked for")
        };
        assert_eq!(response.status, 401, "{auth:?}");
        assert!(response.header("www-authenticate").is_some());
    }
}

fn status(step: &Step<'_>) -> u16 {
    match step {
        Step::Respond { response, .. } => response.status,
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[test]
fn unreadable_body_is_400_invalid_request_on_every_body_route() {
    let (gw, db) = (gateway(), MemDb::migrated());
    let migrated = db.statements.get();
    for path in BODY_ROUTES {
        let Step::NeedBody { limit, resume } = start(&gw, &db, "POST", DOMAIN, path) else {
            panic!("{path} did not ask for its body")
        };
        assert_eq!(
            limit,
            if path.starts_with("/admin/") {
                16 * 1024
            } else {
                8 * 1024
            },
            "{path}"
        );
        let caps = Capabilities {
            db: &db,
            ed25519: &crate::keys::PortableEd25519,
            random: &FixedRandom(1),
            memory: crate::capability::InstanceMemory::Kept,
            secrets: &crate::capability::NoOriginSecrets,
            jws: &crate::jws::PortableJws,
        };
        let Step::Respond {
            response,
            diagnostic,
            ..
        } = block_on(resume.finish(caps, Body::Unreadable))
        else {
            panic!()
        };
        assert_eq!(
            sans_request_id(response),
            GatewayError::UnreadableBody.to_response(),
            "{path}"
        );
        assert_eq!(diagnostic, None);
    }
    // Nothing was read from storage but the admin credential's check (one read).
    assert_eq!(db.statements.get() - migrated, 1, "storage reads");
}

#[test]
fn discovery_and_health_answer_at_once_and_only_to_get_and_head() {
    let (gw, db) = (gateway(), MemDb::migrated());
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/oauth2/jwks",
        "/.well-known/jwks.json",
        "/healthz",
    ] {
        assert_eq!(status(&start(&gw, &db, "GET", DOMAIN, path)), 200, "{path}");
        assert_eq!(
            status(&start(&gw, &db, "HEAD", DOMAIN, path)),
            200,
            "{path}"
        );
        let Step::Respond { response, .. } = start(&gw, &db, "POST", DOMAIN, path) else {
            panic!()
        };
        assert_eq!(
            (response.status, response.header("allow")),
            (405, Some("GET, HEAD")),
            "{path}"
        );
    }
}

#[test]
fn unknown_hosts_and_paths_are_404() {
    let (gw, db) = (gateway(), MemDb::migrated());
    let Step::Respond { response, .. } = start(&gw, &db, "GET", "example.org", "/") else {
        panic!()
    };
    assert_eq!(
        sans_request_id(response),
        GatewayError::UnknownHost.to_response()
    );
    let Step::Respond { response, .. } = start(&gw, &db, "GET", DOMAIN, "/nope") else {
        panic!()
    };
    assert_eq!(
        sans_request_id(response),
        GatewayError::NoSuchEndpoint.to_response()
    );
}

#[test]
fn hosts_route_to_the_root_or_one_service_label_on_default_ports() {
    let gw = gateway();
    let route = |host: &str| gw.route(&head("GET", host, "/", None, &[]));
    for host in [
        "example.com",
        "EXAMPLE.com.",
        "example.com:443",
        "example.com:80",
    ] {
        assert_eq!(route(host), Route::Root, "{host}");
    }
    for host in [
        "my-api.example.com",
        "MY-API.Example.COM",
        "my-api.example.com.",
        "my-api.example.com:443",
    ] {
        assert_eq!(route(host), Route::Service("my-api".into()), "{host}");
    }
    for host in [
        "my-api.example.com:8443",
        "a.my-api.example.com",
        "my-api.example.org",
        "my_api.example.com",
        "example.com.evil.test",
    ] {
        assert_eq!(route(host), Route::UnknownHost, "{host}");
    }
}

#[test]
fn the_cell_builds_the_gateway_once_and_retries_after_a_settings_error() {
    let cell = GatewayCell::new();
    let lookups = Cell::new(0);
    let mut settings: HashMap<String, String> = default_settings();
    settings.remove("ISOGATE_SIGNING_KEY");
    let lookup = |s: &HashMap<String, String>| {
        let s = s.clone();
        let lookups = &lookups;
        move |name: &str| {
            lookups.set(lookups.get() + 1);
            s.get(name).cloned()
        }
    };
    let Err(misconfigured) = cell.gateway(lookup(&settings)) else {
        panic!("built without a key")
    };
    let Step::Respond {
        response,
        diagnostic,
        ..
    } = *misconfigured
    else {
        panic!("answered")
    };
    assert_eq!(response, GatewayError::Misconfigured.to_response());
    let diagnostic = diagnostic.expect("a settings error is logged");
    assert_eq!(
        diagnostic.to_string(),
        "isogate: configuration error: ISOGATE_SIGNING_KEY is not set"
    );

    let settings = default_settings();
    let first = cell.gateway(lookup(&settings)).expect("retried and built");
    let after_build = lookups.get();
    let second = cell.gateway(lookup(&settings)).unwrap();
    assert!(Rc::ptr_eq(&first, &second));
    assert_eq!(
        lookups.get(),
        after_build,
        "a built gateway reads no settings"
    );
}

#[test]
fn a_weak_admin_token_keeps_the_gateway_down_with_503_and_a_log_naming_the_setting() {
    for token in ["change-me", "change-me-change-me-change-me-change-me"] {
        let mut settings = default_settings();
        settings.insert("ISOGATE_ADMIN_TOKEN".into(), token.into());
        let Err(misconfigured) = GatewayCell::new().gateway(|name| settings.get(name).cloned())
        else {
            panic!("built with the admin token {token:?}")
        };
        let Step::Respond {
            response,
            diagnostic,
            ..
        } = *misconfigured
        else {
            panic!("answered")
        };
        assert_eq!(response.status, 503);
        assert_eq!(response, GatewayError::Misconfigured.to_response());
        let log = diagnostic.expect("logged").to_string();
        assert!(
            log.starts_with("isogate: configuration error: ISOGATE_ADMIN_TOKEN "),
            "{log}"
        );
        assert!(!log.contains(token), "{log}");
    }
}
