//! Whole requests through the core as a runtime drives them (`Gateway::start`, the body step,
//! `testing::Harness`: real migrations on in-memory SQLite, a seeded deployment with service
//! `my-api` and a client), with heads that may carry the client's genuine credentials.
//!
//! Invariants: no answer is a 5xx and none comes with a diagnostic (nothing fails here); every
//! refusal is a clean 4xx of the documented shape; no answer carries the client's secret or the
//! admin token; a forward goes only to `my-api`, only with a token, and its plan keeps the
//! forward invariants (`isogate_fuzz::check_plan`).
#![no_main]

use arbitrary::Arbitrary;
use isogate_core::testing::{Client, Harness, ADMIN_TOKEN, SERVICE, UPSTREAM};
use isogate_fuzz::{
    assert_clean_refusal, assert_no_secret, check_plan, Expected, FuzzHead, Secrets,
};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    h: Harness,
    client: Client,
    token: String,
}

thread_local! {
    static F: Fixture = {
        let (h, client) = Harness::seeded();
        let token = h.token_for(&client, None);
        Fixture { h, client, token }
    };
}

#[derive(Arbitrary, Debug)]
struct Input {
    head: FuzzHead,
    /// `None`: the body could not be read.
    body: Option<Vec<u8>>,
}

fuzz_target!(|input: Input| F.with(|f| {
    let secrets = Secrets {
        domain: "example.com",
        token: &f.token,
        client_id: &f.client.client_id,
        client_secret: &f.client.client_secret,
        admin_token: ADMIN_TOKEN,
    };
    let head = input.head.head(&secrets);
    let outcome = f.h.exchange(&f.h.gw, &head, input.body.as_deref());
    assert_eq!(outcome.diagnostic, None, "nothing fails here");
    // A secret may come back only where the request put it where answers quote from (the
    // path, the query, the body: a name, say); never from a credential header.
    let body = String::from_utf8_lossy(input.body.as_deref().unwrap_or_default());
    let quotable = |s: &str| {
        head.path.contains(s) || head.query.as_deref().unwrap_or("").contains(s) || body.contains(s)
    };
    let keep_secret: Vec<&str> = [f.client.client_secret.as_str(), ADMIN_TOKEN]
        .into_iter()
        .filter(|s| !quotable(s))
        .collect();
    match outcome.result {
        Err(r) if r.status >= 400 => assert_clean_refusal(&r, "request", &keep_secret),
        Err(r) => assert_no_secret(&r, "request", &keep_secret),
        Ok(forward) => {
            let claims = isogate_core::testing::jwt_part(&f.token, 1);
            let s = |k: &str| claims[k].as_str().unwrap().to_owned();
            check_plan(
                &head,
                &forward.plan,
                &Expected {
                    upstream: UPSTREAM,
                    service: SERVICE,
                    user: "root",
                    client_id: &f.client.client_id,
                    credential: &f.client.name,
                    scope: &s("scope"),
                    token_id: &s("jti"),
                },
            );
        }
    }
}));
