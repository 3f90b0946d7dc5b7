//! The forward plan: `forward::plan_forward` for any request head (the head of an authorized
//! request can hold anything the client sent).
//!
//! Invariants (`isogate_fuzz::check_plan`): the URL is the upstream plus path and query as
//! sent; no credential, identity, framing, forwarding or hop-by-hop header the client sent
//! reaches the origin, under any spelling (names folded as CGI-style origins read them, `_` as
//! `-`); the identity and forwarding headers are the gateway's, once each; the body goes exactly
//! when the client sent one, with its own `Content-Length`; application headers are kept. A
//! refused plan is a clean 400 (a path that could leave the base path, a broken length).
#![no_main]

use arbitrary::Arbitrary;
use isogate_core::forward::{plan_forward, Principal};
use isogate_core::model::Service;
use isogate_fuzz::{assert_clean_refusal, check_plan, Expected, FuzzHead, Secrets};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    head: FuzzHead,
    upstream: u8,
    user: String,
    client_id: String,
    credential: String,
    scope: String,
    token_id: String,
}

const UPSTREAMS: [&str; 3] = [
    "http://127.0.0.1:9000",
    "https://origin.example/base",
    "http://[::1]:8080/a/b",
];

fuzz_target!(|input: Input| {
    let secrets = Secrets {
        domain: "example.com",
        token: "eyJhbGciOiJFZERTQSJ9.e30.c2ln",
        client_id: "abcd-efgh",
        client_secret: "s3cr3t",
        admin_token: "admin",
    };
    let head = input.head.head(&secrets);
    let service = Service {
        name: "my-api".into(),
        upstream: UPSTREAMS[input.upstream as usize % UPSTREAMS.len()].into(),
        allowed_user_ids: vec![],
        allowed_users: vec![],
        created_at: 0,
        rate_limit: None,
        upstream_auth: None,
        rules: vec![],
    };
    let principal = Principal {
        user: input.user,
        client_id: input.client_id,
        credential: input.credential,
        scope: input.scope,
        token_id: input.token_id,
    };
    let plan = match plan_forward(&head, &service, &principal) {
        Ok(plan) => plan,
        Err(e) => {
            let r = e.to_response();
            assert_eq!(r.status, 400, "a valid upstream is never the reason: {e:?}");
            return assert_clean_refusal(&r, "forward", &[]);
        }
    };
    check_plan(
        &head,
        &plan,
        &Expected {
            upstream: &service.upstream,
            service: &service.name,
            user: &principal.user,
            client_id: &principal.client_id,
            credential: &principal.credential,
            scope: &principal.scope,
            token_id: &principal.token_id,
        },
    );
});
