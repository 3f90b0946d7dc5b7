//! Throttled guessing (RFC 6749 §10.10; 429 per RFC 6585 §4) through the gateway, with a real
//! SQLite store and a fixed clock: the attacks as they are sent, from the addresses they come
//! from, and what the real client still gets.

use isogate_core::http::Response;
use isogate_core::testing::*;
use isogate_core::Gateway;

const A: &str = "198.51.100.1";
const B: &str = "198.51.100.2";
/// The default window: one minute.
const WINDOW_MS: u64 = 60_000;

/// A form POST to `path` on `gw` from `ip`.
fn post_from(h: &Harness, gw: &Gateway, ip: &str, path: &str, form: &str) -> Response {
    let mut head = head(
        "POST",
        DOMAIN,
        path,
        None,
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    head.client_ip = Some(ip.to_owned());
    h.root_on(gw, &head, form.as_bytes())
}

fn token_from(h: &Harness, ip: &str, client_id: &str, secret: &str) -> Response {
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        form_encode(client_id),
        form_encode(secret)
    );
    post_from(h, &h.gw, ip, "/oauth2/token", &form)
}

fn admin_from(h: &Harness, ip: &str, token: &str) -> Response {
    let auth = format!("Bearer {token}");
    let mut head = head(
        "GET",
        DOMAIN,
        "/admin/v1/users",
        None,
        &[("authorization", &auth)],
    );
    head.client_ip = Some(ip.to_owned());
    h.root(&head, b"")
}

/// A 429 as RFC 6585 §4 and RFC 6749 §5.2 have it: `Retry-After` in whole seconds, the error
/// JSON, not cached. Returns the seconds.
fn assert_throttled(r: &Response, code: &str) -> u64 {
    assert_eq!(r.status, 429, "{}", text(r));
    let secs: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(secs >= 1, "{secs}");
    let body = json_body(r);
    assert_eq!(body["error"], code);
    assert_eq!(
        body["error_description"],
        format!("too many failed attempts; retry after {secs} s")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    secs
}

#[test]
fn wrong_secrets_for_one_client_id_from_one_address_are_answered_429_with_retry_after() {
    // The attack: 150 wrong secrets in a row for one client id, one second apart.
    let (h, client) = Harness::seeded();
    let mut statuses = vec![];
    let mut retry_after = vec![];
    for i in 0..150 {
        let r = token_from(&h, A, &client.client_id, &format!("guess-{i}"));
        if r.status == 429 {
            retry_after.push(assert_throttled(&r, "invalid_client"));
        } else {
            assert_token_error(&r, 401, "invalid_client");
        }
        statuses.push(r.status);
        h.advance_ms(1_000);
    }
    // 10 guesses (the tenth at 9 s), a minute locked, 10 more (69 s to 78 s), two minutes
    // locked: 20 secrets ever checked.
    let checked: Vec<usize> = (0..150).filter(|&i| statuses[i] == 401).collect();
    let expected: Vec<usize> = (0..10).chain(69..79).collect();
    assert_eq!(checked, expected);
    assert_eq!(retry_after[0], 59, "asked at 10 s, locked until 69 s");
    assert_eq!(*retry_after.last().unwrap(), 78 + 120 - 149);
}

#[test]
fn the_right_secret_from_another_address_gets_a_token_and_after_the_lockout_from_the_first_too() {
    let (h, client) = Harness::seeded();
    for i in 0..150 {
        token_from(&h, A, &client.client_id, &format!("guess-{i}"));
    }
    // From A even the right secret is refused: it is never looked at.
    let secs = assert_throttled(
        &token_from(&h, A, &client.client_id, &client.client_secret),
        "invalid_client",
    );
    assert_eq!(secs, 60);
    // From B, where nothing failed, the real client gets its token.
    let r = token_from(&h, B, &client.client_id, &client.client_secret);
    assert_eq!(r.status, 200, "{}", text(&r));
    // Once Retry-After has passed, from A too.
    h.advance_ms(secs * 1000 - 1);
    assert_eq!(
        token_from(&h, A, &client.client_id, &client.client_secret).status,
        429
    );
    h.advance_ms(1);
    let r = token_from(&h, A, &client.client_id, &client.client_secret);
    assert_eq!(r.status, 200, "{}", text(&r));
}

#[test]
fn a_throttled_attempt_costs_one_read_and_no_hash_and_once_known_no_read_at_all() {
    let (h, client) = Harness::seeded();
    for i in 0..10 {
        token_from(&h, A, &client.client_id, &format!("guess-{i}"));
    }
    // Each isolate (or Spin instance) reads the lockout with the credential, once, and neither
    // hashes nor counts: the right secret and a wrong one get the same answer. Then it knows
    // the lockout, and refuses without touching storage until it ends.
    for gw in [&h.gw, &h.isolate()] {
        for (secret, statements) in [
            (client.client_secret.as_str(), 1),
            ("guess", 0),
            (client.client_secret.as_str(), 0),
        ] {
            let before = h.db.statements.get();
            let form = format!(
                "grant_type=client_credentials&client_id={}&client_secret={secret}",
                client.client_id
            );
            let r = post_from(&h, gw, A, "/oauth2/token", &form);
            assert_throttled(&r, "invalid_client");
            assert_eq!(h.db.statements.get() - before, statements, "{secret}");
        }
    }
    let failures =
        h.db.raw("SELECT failures, strikes FROM isogate_auth_failures WHERE key LIKE 'c|%'");
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0][1],
        1.into(),
        "one lockout, nothing counted since"
    );
}

#[test]
fn failures_from_one_address_across_client_ids_lock_that_address_for_every_id() {
    let (h, client) = Harness::seeded();
    // 100 ids, one wrong secret each: the address has failed 100 times.
    for i in 0..100 {
        let r = token_from(&h, A, &format!("id-{i:03}"), "guess");
        assert_eq!(r.status, 401, "{i}");
    }
    for id in [client.client_id.as_str(), "id-999"] {
        assert_throttled(&token_from(&h, A, id, "guess"), "invalid_client");
    }
    assert_throttled(
        &token_from(&h, A, &client.client_id, &client.client_secret),
        "invalid_client",
    );
    let r = token_from(&h, B, &client.client_id, &client.client_secret);
    assert_eq!(r.status, 200, "{}", text(&r));
}

#[test]
fn a_guess_spread_over_addresses_locks_the_client_id_only_for_addresses_that_failed_for_it() {
    let (h, client) = Harness::seeded();
    // 100 addresses, one wrong secret each, for one client id.
    let address = |i: u32| format!("203.0.113.{}", 100 + i);
    for i in 0..100 {
        let r = token_from(&h, &address(i), &client.client_id, "guess");
        assert_eq!(r.status, 401, "{i}");
    }
    // The addresses that guessed are refused, even with the right secret.
    for i in [0, 57, 99] {
        let r = token_from(&h, &address(i), &client.client_id, &client.client_secret);
        assert_throttled(&r, "invalid_client");
    }
    // The real client, from an address that never failed, keeps working.
    let r = token_from(&h, B, &client.client_id, &client.client_secret);
    assert_eq!(r.status, 200, "{}", text(&r));
    // A fresh address gets its one guess, and is refused after it.
    assert_eq!(
        token_from(&h, "203.0.113.250", &client.client_id, "guess").status,
        401
    );
    let r = token_from(&h, "203.0.113.250", &client.client_id, "guess");
    assert_throttled(&r, "invalid_client");
}

#[test]
fn successes_are_never_counted_and_reset_no_count() {
    let (h, client) = Harness::seeded();
    // Many successes from one address in a minute: never throttled.
    for _ in 0..30 {
        let r = token_from(&h, A, &client.client_id, &client.client_secret);
        assert_eq!(r.status, 200, "{}", text(&r));
    }
    assert!(h.db.raw("SELECT key FROM isogate_auth_failures").is_empty());
    // 99 failures on other ids, then a success: the address's count is not reset by it, so
    // the next failure is the hundredth, and locks the address. (Were it reset, one valid
    // credential would buy an attacker unlimited guesses at every other id.)
    for i in 0..99 {
        token_from(&h, A, &format!("id-{i:03}"), "guess");
    }
    let r = token_from(&h, A, &client.client_id, &client.client_secret);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(token_from(&h, A, "id-100", "guess").status, 401);
    assert_throttled(&token_from(&h, A, "id-101", "guess"), "invalid_client");
    // Nine wrong secrets and a right one for the same id: the tenth wrong one still locks.
    let (h, client) = Harness::seeded();
    for i in 0..9 {
        token_from(&h, B, &client.client_id, &format!("guess-{i}"));
    }
    assert_eq!(
        token_from(&h, B, &client.client_id, &client.client_secret).status,
        200
    );
    assert_eq!(token_from(&h, B, &client.client_id, "guess-9").status, 401);
    assert_throttled(
        &token_from(&h, B, &client.client_id, &client.client_secret),
        "invalid_client",
    );
}

#[test]
fn revocation_and_introspection_are_throttled_and_share_the_token_endpoints_counts() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let form = |secret: &str| {
        format!(
            "client_id={}&client_secret={secret}&token={token}",
            client.client_id
        )
    };
    for i in 0..5 {
        let r = post_from(&h, &h.gw, A, "/oauth2/revoke", &form(&format!("r{i}")));
        assert_token_error(&r, 401, "invalid_client");
        let r = post_from(&h, &h.gw, A, "/oauth2/introspect", &form(&format!("i{i}")));
        assert_token_error(&r, 401, "invalid_client");
    }
    let right = form(&client.client_secret);
    for path in ["/oauth2/revoke", "/oauth2/introspect"] {
        let r = post_from(&h, &h.gw, A, path, &right);
        assert_throttled(&r, "invalid_client");
    }
    let r = post_from(&h, &h.gw, A, "/oauth2/token", &post_form(&client, None));
    assert_throttled(&r, "invalid_client");
    // The token was not revoked by the throttled request, and B may still introspect it.
    let r = post_from(&h, &h.gw, B, "/oauth2/introspect", &right);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json_body(&r)["active"], true);
}

#[test]
fn wrong_admin_credentials_are_throttled_per_address() {
    let h = Harness::new();
    for i in 0..10 {
        let r = admin_from(&h, A, &format!("wrong-{i}"));
        assert_admin_error(&r, 401, "unauthorized");
    }
    let r = admin_from(&h, A, ADMIN_TOKEN);
    assert_eq!(assert_throttled(&r, "too_many_requests"), 60);
    assert!(!text(&r).contains(ADMIN_TOKEN));
    // The operator from another address is not locked out.
    assert_eq!(admin_from(&h, B, ADMIN_TOKEN).status, 200);
    // A request that presents no credential guesses nothing: never counted, never throttled.
    let mut bare = head("GET", DOMAIN, "/admin/v1/users", None, &[]);
    bare.client_ip = Some(B.to_owned());
    for _ in 0..20 {
        assert_admin_error(&h.root(&bare, b""), 401, "unauthorized");
    }
    assert_eq!(admin_from(&h, B, ADMIN_TOKEN).status, 200);
    h.advance_ms(WINDOW_MS);
    assert_eq!(admin_from(&h, A, ADMIN_TOKEN).status, 200);
}

#[test]
fn lockouts_grow_with_each_batch_of_guesses_and_are_forgiven_after_an_hour_of_quiet() {
    let (h, client) = Harness::seeded();
    let guesses = |n: usize| {
        for i in 0..n {
            token_from(&h, A, &client.client_id, &format!("g{i}"));
        }
        assert_throttled(&token_from(&h, A, &client.client_id, "g"), "invalid_client")
    };
    let mut lockouts = vec![];
    for _ in 0..8 {
        let secs = guesses(10);
        lockouts.push(secs);
        h.advance_ms(secs * 1000);
    }
    assert_eq!(lockouts, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
    h.advance_ms(3_600_000);
    assert_eq!(guesses(10), 60);
}

#[test]
fn a_lockout_counted_on_one_isolate_refuses_the_attempt_on_every_other() {
    let (h, client) = Harness::seeded();
    let isolates: Vec<Gateway> = (0..10).map(|_| h.isolate()).collect();
    // One guess on each of ten isolates: the tenth failure is counted in storage, so an
    // attacker spreading guesses over isolates gets no more of them.
    for (i, gw) in isolates.iter().enumerate() {
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret=g{i}",
            client.client_id
        );
        assert_eq!(post_from(&h, gw, A, "/oauth2/token", &form).status, 401);
    }
    let right = post_form(&client, None);
    let r = post_from(&h, &h.isolate(), A, "/oauth2/token", &right);
    assert_throttled(&r, "invalid_client");
}

#[test]
fn a_failure_that_cannot_be_counted_is_refused_503_not_401() {
    let (h, client) = Harness::seeded();
    // Counting fails (the table refuses writes): the guess is answered as storage trouble,
    // never as a plain 401 that would let guesses go uncounted.
    h.db.exec_raw(
        "CREATE TRIGGER no_counting BEFORE INSERT ON isogate_auth_failures \
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    );
    let r = token_from(&h, A, &client.client_id, "guess");
    assert_token_error(&r, 503, "temporarily_unavailable");
    let r = token_from(&h, A, &client.client_id, &client.client_secret);
    assert_eq!(r.status, 200, "{}", text(&r));
}

/// A token request that came through a reverse proxy at `PROXY`, carrying `forwarded` as its
/// `X-Forwarded-For` (what the client sent, with the proxy's own entry appended).
fn token_via_proxy(h: &Harness, forwarded: &str, client_id: &str, secret: &str) -> Response {
    const PROXY: &str = "10.0.0.1";
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        form_encode(client_id),
        form_encode(secret)
    );
    let mut head = head(
        "POST",
        DOMAIN,
        "/oauth2/token",
        None,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-forwarded-for", forwarded),
        ],
    );
    head.client_ip = Some(PROXY.to_owned());
    h.root(&head, form.as_bytes())
}

#[test]
fn behind_a_named_proxy_the_address_it_appends_is_throttled_not_the_proxy_nor_what_the_client_claims(
) {
    let (h, client) =
        Harness::seeded_with(&[("ISOGATE_CLIENT_IP_HEADER", Some("X-Forwarded-For"))]);
    // The attacker at A guesses, claiming other addresses in its own X-Forwarded-For: the
    // proxy appends A, and only that last entry counts.
    for i in 0..10 {
        let claimed = format!("203.0.113.{i}, {A}");
        let r = token_via_proxy(&h, &claimed, &client.client_id, &format!("guess-{i}"));
        assert_token_error(&r, 401, "invalid_client");
    }
    let r = token_via_proxy(
        &h,
        &format!("203.0.113.99, {A}"),
        &client.client_id,
        "again",
    );
    assert_throttled(&r, "invalid_client");
    // The real client, behind the same proxy from B, is not locked out with the attacker.
    let r = token_via_proxy(&h, B, &client.client_id, &client.client_secret);
    assert_eq!(r.status, 200, "{}", text(&r));
    // A last entry that is no address leaves the runtime's own (the proxy's): a client cannot
    // pick a fresh bucket with garbage.
    let r = token_via_proxy(&h, "not-an-ip", &client.client_id, &client.client_secret);
    assert_eq!(r.status, 200, "{}", text(&r));
}

#[test]
fn without_the_setting_a_client_sent_x_forwarded_for_changes_nothing() {
    let (h, client) = Harness::seeded();
    // Every guess names a fresh address: all count against the proxy's (the runtime's) one.
    for i in 0..10 {
        let r = token_via_proxy(&h, &format!("203.0.113.{i}"), &client.client_id, "guess");
        assert_token_error(&r, 401, "invalid_client");
    }
    let r = token_via_proxy(
        &h,
        "203.0.113.200",
        &client.client_id,
        &client.client_secret,
    );
    assert_throttled(&r, "invalid_client");
}
