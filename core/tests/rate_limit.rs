//! Per-credential rate limits on services, through the whole service flow on a fixed clock, in
//! both places the counts can live: the isolate's memory (Workers: `InstanceMemory::Kept`) and
//! the database (Spin: `InstanceMemory::PerRequest`, one UPSERT per request).

use isogate_core::cache::IsolateCounts;
use isogate_core::capability::InstanceMemory;
use isogate_core::http::{RequestHead, Response};
use isogate_core::rate_limit::RateLimit;
use isogate_core::store::{split_sql, SqlValue, Store, MIGRATIONS};
use isogate_core::testing::*;
use isogate_core::{Diagnostic, Gateway, RandomSource};
use serde_json::json;

const BOTH: [InstanceMemory; 2] = [InstanceMemory::Kept, InstanceMemory::PerRequest];

/// `my-api` limited to `limit`, and two oauth2 credentials of root.
fn limited(memory: InstanceMemory, limit: &str) -> (Harness, Client, Client) {
    let h = Harness::new().with_memory(memory);
    h.create_limited_service(SERVICE, limit);
    let a = h.create_client("cred-a", "root", &[]);
    let b = h.create_client("cred-b", "root", &[]);
    (h, a, b)
}

/// How many of `n` calls with `token` on `gw` were forwarded; the refusals, in order.
fn burst(h: &Harness, gw: &Gateway, token: &str, n: usize) -> (usize, Vec<Response>) {
    let mut forwarded = 0;
    let mut refusals = Vec::new();
    for _ in 0..n {
        match h.call_with(gw, token) {
            Ok(_) => forwarded += 1,
            Err(r) => refusals.push(r),
        }
    }
    (forwarded, refusals)
}

/// `GET /` on `host` with `token` as the bearer.
fn get(host: &str, token: &str) -> RequestHead {
    head(
        "GET",
        host,
        "/",
        None,
        &[("authorization", &format!("Bearer {token}"))],
    )
}

#[track_caller]
fn assert_rate_limited(r: &Response, policy: &str, retry_after: u64) {
    assert_eq!(r.status, 429, "{}", text(r));
    let body = json_body(r);
    assert_eq!(body["error"], "rate_limited");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("Retry-After"));
    assert_eq!(
        r.header("retry-after"),
        Some(retry_after.to_string().as_str())
    );
    assert_eq!(r.header("ratelimit-policy"), Some(policy));
    assert_eq!(
        r.header("ratelimit"),
        Some(format!("\"default\";r=0;t={retry_after}").as_str())
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    // The token is fine: no challenge (RFC 6750 §3 challenges a bad or missing credential).
    assert_eq!(r.header("www-authenticate"), None);
}

#[test]
fn rate_limit_5_per_s_burst_of_20_gets_429s_with_the_draft_fields_and_spares_other_credentials() {
    for memory in BOTH {
        let (h, a, b) = limited(memory, "5/s");
        let (token_a, token_b) = (h.token_for(&a, None), h.token_for(&b, None));
        let (forwarded, refusals) = burst(&h, &h.gw, &token_a, 20);
        assert_eq!((forwarded, refusals.len()), (5, 15), "{memory:?}");
        for r in &refusals {
            assert_rate_limited(r, "\"default\";q=5;w=1", 1);
        }
        // Another credential on the same service, in the same instant: its own full quota.
        let (forwarded, refusals) = burst(&h, &h.gw, &token_b, 5);
        assert_eq!((forwarded, refusals.len()), (5, 0), "{memory:?}");
        // After Retry-After the first credential works again, for a full window.
        h.advance_ms(1000);
        let (forwarded, _) = burst(&h, &h.gw, &token_a, 6);
        assert_eq!(forwarded, 5, "{memory:?}");
    }
}

#[test]
fn each_service_counts_a_credential_apart() {
    for memory in BOTH {
        let (h, a, _) = limited(memory, "5/s");
        h.create_limited_service("other", "5/s");
        let token = h.token_for(&a, None);
        assert_eq!(burst(&h, &h.gw, &token, 8).0, 5);
        let other = get("other.example.com", &token);
        let forwarded = (0..8)
            .filter(|_| h.service_on(&h.gw, &other).is_ok())
            .count();
        assert_eq!(
            forwarded, 5,
            "{memory:?}: the other service's quota is untouched"
        );
        // A service without a limit is not limited at all.
        h.create_service("free", UPSTREAM, &[]);
        let free = get("free.example.com", &token);
        assert!((0..50).all(|_| h.service_on(&h.gw, &free).is_ok()));
    }
}

#[test]
fn refused_tokens_and_out_of_scope_requests_spend_no_quota() {
    for memory in BOTH {
        let (h, a, _) = limited(memory, "5/m");
        // Requests that fail authentication, scope or policy are refused before the count:
        // an expired token of the credential, and a token of it scoped to another service.
        let expired = h.token_for(&a, None);
        h.advance_ms(3_700_000);
        let other_scope = h.token_for(&a, Some("service:other"));
        for _ in 0..10 {
            assert_eq!(refused(h.call(&expired)).status, 401);
            assert_eq!(refused(h.call(&other_scope)).status, 403);
        }
        let fresh = h.token_for(&a, None);
        assert_eq!(
            burst(&h, &h.gw, &fresh, 6).0,
            5,
            "{memory:?}: full quota left"
        );
    }
}

#[test]
fn isolates_count_apart_in_memory_and_together_through_the_database() {
    // The README's guarantee: in memory, each isolate admits N per window (K isolates: up to
    // K×N); through a shared database, the deployment admits N.
    for (memory, second_isolate_admits) in
        [(InstanceMemory::Kept, 5), (InstanceMemory::PerRequest, 0)]
    {
        let (h, a, _) = limited(memory, "5/s");
        let token = h.token_for(&a, None);
        let other = h.isolate();
        assert_eq!(burst(&h, &h.gw, &token, 5).0, 5);
        let (admitted, refusals) = burst(&h, &other, &token, 6);
        assert_eq!(admitted, second_isolate_admits, "{memory:?}");
        assert_rate_limited(&refusals[0], "\"default\";q=5;w=1", 1);
    }
}

#[test]
fn counting_costs_no_statement_in_memory_and_one_upsert_per_request_through_the_database() {
    for (memory, per_request) in [(InstanceMemory::Kept, 0), (InstanceMemory::PerRequest, 1)] {
        let (h, a, _) = limited(memory, "5/s");
        h.create_service("free", UPSTREAM, &[]);
        let token = h.token_for(&a, None);
        authorized(h.call(&token)); // warm the caches
        let free = get("free.example.com", &token);
        authorized(h.service_on(&h.gw, &free));
        let before = h.db.statements.get();
        for _ in 0..10 {
            let _ = h.call(&token); // admitted or 429: counted alike
        }
        assert_eq!(
            h.db.statements.get() - before,
            10 * per_request,
            "{memory:?}"
        );
        let before = h.db.statements.get();
        for _ in 0..10 {
            authorized(h.service_on(&h.gw, &free));
        }
        assert_eq!(
            h.db.statements.get(),
            before,
            "{memory:?}: no limit, no cost"
        );
    }
}

#[test]
fn a_database_outage_during_the_count_is_503_not_a_free_pass() {
    let (h, a, _) = limited(InstanceMemory::PerRequest, "5/s");
    let token = h.token_for(&a, None);
    authorized(h.call(&token));
    h.db.down.set(true);
    let outcome = h.exchange(&h.gw, &get(SERVICE_HOST, &token), None);
    let r = outcome.result.expect_err("not forwarded uncounted");
    assert_eq!(r.status, 503, "{}", text(&r));
    assert_eq!(json_body(&r)["error"], "temporarily_unavailable");
    assert!(matches!(outcome.diagnostic, Some(Diagnostic::Storage(_))));
}

#[test]
fn the_database_counts_exactly_what_the_isolate_counts() {
    // `store::sql::COUNT_REQUEST` is `RateLimit::count` in SQL: the same counts for the same
    // requests, through window ends, changed limits and a clock that goes back.
    let db = MemDb::migrated();
    let store = Store::new(&db);
    let memory = IsolateCounts::new();
    let random = SeededRandom::new(11);
    let limits = [
        RateLimit::parse("5/s").unwrap(),
        RateLimit::parse("3/m").unwrap(),
    ];
    let mut now = T0_MS;
    for step in 0..3000 {
        let mut r = [0u8; 4];
        random.fill(&mut r);
        now = match r[0] % 8 {
            0 => now.saturating_sub(u64::from(r[1]) * 40), // back by up to 10 s
            1 => now + u64::from(r[1]) * 500,              // on by up to 2 minutes
            _ => now + u64::from(r[1] % 64),
        };
        let client = ["ky9f-mmt2", "aaaa-aaaa", "q7rt-2zz9"][usize::from(r[2] % 3)];
        let service = ["my-api", "other"][usize::from(r[3] % 2)];
        let limit = limits[usize::from(r[3] / 128)];
        let in_memory = memory.hit(limit, service, client, now);
        let in_sql = block_on(store.count_request(service, client, limit, now)).unwrap();
        assert_eq!(
            in_sql, in_memory,
            "step {step}: {client} {service} {limit} at {now}"
        );
    }
}

#[test]
fn the_rate_limit_migration_replays_cleanly() {
    // `spin up --sqlite @infra/migrations/...` runs every file again on each start.
    let (h, _) = Harness::seeded();
    h.create_limited_service("limited", "7/m");
    let before = h.snapshot();
    let migration = MIGRATIONS
        .iter()
        .find(|m| m.name == "0005_service_rate_limit")
        .unwrap();
    for statement in split_sql(migration.sql) {
        h.db.raw(&statement);
    }
    assert_eq!(h.snapshot(), before);
}

#[test]
fn admin_api_stores_shows_and_validates_rate_limits() {
    let h = Harness::new();
    let r = h.admin(
        "POST",
        "/admin/v1/services",
        Some(json!({ "name": "lim", "upstream": UPSTREAM, "rate_limit": "100/s" })),
    );
    assert_eq!(r.status, 201, "{}", text(&r));
    assert_eq!(json_body(&r)["service"]["rate_limit"], "100/s");
    h.create_service("free", UPSTREAM, &[]);
    let one = json_body(&h.admin("GET", "/admin/v1/services/lim", None));
    assert_eq!(one["service"]["rate_limit"], "100/s");
    let list = json_body(&h.admin("GET", "/admin/v1/services", None));
    let limits: Vec<_> = list["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].clone(), s["rate_limit"].clone()))
        .collect();
    assert_eq!(
        limits,
        [(json!("free"), json!(null)), (json!("lim"), json!("100/s"))]
    );
    for bad in [
        json!("0/s"),
        json!("100/d"),
        json!("100/second"),
        json!("100"),
        json!(100),
        json!({"requests": 5}),
    ] {
        let r = h.admin(
            "POST",
            "/admin/v1/services",
            Some(json!({ "name": "bad", "upstream": UPSTREAM, "rate_limit": bad })),
        );
        assert_admin_error(&r, 400, "invalid_request");
    }
    assert_eq!(h.admin("GET", "/admin/v1/services/bad", None).status, 404);
    // Deleting a service clears its limit: the name re-created without one has none.
    assert_eq!(
        h.admin("DELETE", "/admin/v1/services/lim", None).status,
        200
    );
    h.create_service("lim", UPSTREAM, &[]);
    let one = json_body(&h.admin("GET", "/admin/v1/services/lim", None));
    assert_eq!(one["service"]["rate_limit"], json!(null));
    assert_eq!(
        h.db.raw("SELECT rate_limit FROM isogate_service_rate_limits WHERE service = 'lim'"),
        [[SqlValue::Null]]
    );
}
