//! The forward plan: `forward::plan_forward` for any request head (the head of an authorized
//! request can hold anything the client sent).
//!
//! Invariants (`isogate_fuzz::check_plan`): the URL is the upstream plus path and query as
//! sent; no credential, identity, forwarding or hop-by-hop header the client sent reaches the
//! origin; the identity and `X-Forwarded-*` headers are the gateway's, once each; every other
//! client header is kept as sent. With `ISOGATE_FUZZ_STRICT=1`, names are compared as CGI-style
//! origins read them (`_` as `-`).
#![no_main]

use arbitrary::Arbitrary;
use isogate_core::forward::{plan_forward, Principal};
use isogate_core::model::Service;
use isogate_fuzz::{check_plan, Expected, FuzzHead, Secrets};
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
        allowed_users: vec![],
        created_at: 0,
    };
    let principal = Principal {
        user: input.user,
        client_id: input.client_id,
        credential: input.credential,
        scope: input.scope,
        token_id: input.token_id,
    };
    let plan = plan_forward(&head, &service, &principal);
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
