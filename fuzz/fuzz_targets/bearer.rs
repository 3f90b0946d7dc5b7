//! Bearer extraction on service hosts (RFC 6750 §2): `service::extract_bearer`.
//!
//! Invariants: a token is taken only from exactly one `Authorization: Bearer` or
//! `X-Octelium-Auth` header, trimmed, non-empty, and exactly as it appears in that header; never
//! when the query carries an `access_token` (§2.3 is refused); every refusal is a clean 400 or
//! 401 with a challenge.
#![no_main]

use isogate_core::service::extract_bearer;
use isogate_core::token_request::form_urldecode;
use isogate_fuzz::{assert_clean_refusal, FuzzHead, Secrets};
use libfuzzer_sys::fuzz_target;

const SECRETS: Secrets<'static> = Secrets {
    domain: "example.com",
    token: "eyJhbGciOiJFZERTQSJ9.e30.c2ln",
    client_id: "abcd-efgh",
    client_secret: "s3cr3t-s3cr3t-s3cr3t",
    admin_token: "admin-admin-admin-admin",
};

fuzz_target!(|head: FuzzHead| {
    let head = head.head(&SECRETS);
    match extract_bearer(&head) {
        Ok(token) => {
            assert!(!token.is_empty());
            assert_eq!(token, token.trim(), "the token is trimmed");
            let in_query = head.query.as_deref().is_some_and(|q| {
                q.split('&').any(|p| {
                    let name = p.split('=').next().unwrap_or("");
                    form_urldecode(name).as_deref().unwrap_or(name) == "access_token"
                })
            });
            assert!(!in_query, "a token was accepted beside one in the query");
            let carriers: Vec<&str> = head
                .headers
                .iter()
                .filter(|(n, _)| n == "authorization" || n == "x-octelium-auth")
                .map(|(_, v)| v.as_str())
                .collect();
            assert!(
                carriers.iter().any(|v| v.contains(token)),
                "the token is not in any credential header"
            );
            assert!(
                head.header_values("authorization").count() <= 1
                    && head.header_values("x-octelium-auth").count() <= 1,
                "a repeated credential header was accepted"
            );
        }
        Err(e) => {
            let r = e.to_response(&isogate_core::error::Challenge::realm("isogate"));
            assert_clean_refusal(&r, "bearer", &[]);
            assert!(matches!(r.status, 400 | 401), "status {}", r.status);
            assert!(
                r.header("www-authenticate").is_some(),
                "RFC 6750 §3: a challenge"
            );
        }
    }
});
