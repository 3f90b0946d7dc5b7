//! The token request: RFC 6749 §3.2 form body and §2.3.1 Basic header, as
//! `token_request::parse_token_request` (and `parse_client_request`, which the revocation and
//! introspection endpoints share) read them.
//!
//! Invariants: a refusal is a clean 4xx (never a 5xx, never a secret echoed); an accepted
//! request was a POST with no query, at most 8 KiB, authenticated by exactly one method that
//! was really in the request; a client id and secret encoded per §2.3.1 (or in the form)
//! always come back exactly as they were.
#![no_main]

use arbitrary::Arbitrary;
use isogate_core::http::Method;
use isogate_core::testing::form_encode;
use isogate_core::token_request::{
    parse_client_request, parse_form, parse_token_request, ClientAuth, MAX_TOKEN_REQUEST_BYTES,
};
use isogate_fuzz::{assert_clean_refusal, FuzzHead, Secrets};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any head and body.
    Raw { head: FuzzHead, body: Vec<u8> },
    /// A form body of these parameters, each form-encoded; names unique, values non-empty.
    Form { params: Vec<(String, String)> },
    /// `Authorization: Basic` of this id and secret, encoded per §2.3.1.
    Basic {
        id: String,
        secret: String,
        scheme: u8,
        pad: bool,
    },
}

const SECRETS: Secrets<'static> = Secrets {
    domain: "example.com",
    token: "",
    client_id: "abcd-efgh",
    client_secret: "s3cr3t-s3cr3t-s3cr3t",
    admin_token: "",
};

fuzz_target!(|input: Input| match input {
    Input::Raw { head, body } => {
        let head = head.head(&SECRETS);
        let parsed = parse_token_request(&head, &body);
        let shared = parse_client_request(&head, &body);
        match parsed {
            // (Secrets are checked in the Basic case: here a refusal may rightly echo a
            // parameter *name*, which the input may have made equal to anything.)
            Err(e) => assert_clean_refusal(&e.to_response("isogate"), "token request", &[]),
            Ok(request) => {
                assert!(
                    shared.is_ok(),
                    "the shared part refused what the token endpoint took"
                );
                assert_eq!(head.method, Method::Post);
                assert!(body.len() <= MAX_TOKEN_REQUEST_BYTES);
                assert!(head.query.as_deref().is_none_or(str::is_empty));
                assert!(!request.client.client_id().is_empty());
                if let Some(secret) = request.client.client_secret() {
                    assert!(!secret.expose().is_empty());
                }
                let basic_sent = head
                    .header_values("authorization")
                    .any(|v| v.trim().len() > 5 && v.trim()[..5].eq_ignore_ascii_case("basic"));
                match &request.client {
                    ClientAuth::Basic { .. } => assert!(basic_sent, "Basic without the header"),
                    ClientAuth::Post { .. } => assert!(!basic_sent, "two methods at once"),
                    ClientAuth::Assertion { .. } => assert!(!basic_sent, "two methods at once"),
                }
            }
        }
    }
    Input::Form { params } => {
        let mut seen = std::collections::HashSet::new();
        let params: Vec<_> = params
            .into_iter()
            .filter(|(n, v)| !v.is_empty() && seen.insert(n.clone()))
            .collect();
        let body: Vec<String> = params
            .iter()
            .map(|(n, v)| format!("{}={}", form_encode(n), form_encode(v)))
            .collect();
        let parsed = parse_form(&body.join("&")).expect("a well-encoded form parses");
        for (name, value) in &params {
            assert_eq!(
                parsed.get(name),
                Some(value.as_str()),
                "{name:?} round-trips"
            );
        }
    }
    Input::Basic {
        id,
        secret,
        scheme,
        pad,
    } => {
        use base64::Engine as _;
        let joined = format!("{}:{}", form_encode(&id), form_encode(&secret));
        let engine = if pad {
            base64::engine::general_purpose::STANDARD
        } else {
            base64::engine::general_purpose::STANDARD_NO_PAD
        };
        let scheme =
            ["Basic", "basic", "BASIC", "bAsIc", "Bearer", "Digest", ""][scheme as usize % 7];
        let value = format!("{scheme} {}", engine.encode(joined));
        let request = |value: &str| {
            let head = isogate_core::testing::head(
                "POST",
                "example.com",
                "/oauth2/token",
                None,
                &[
                    ("authorization", value),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
            );
            parse_client_request(&head, b"grant_type=client_credentials")
        };
        let result = request(&value);
        let basic_scheme = scheme.eq_ignore_ascii_case("basic");
        // What a refusal says does not depend on the secret (so it cannot be leaking it): the
        // same request with another secret of the same length is refused in the same words.
        if let (Err(e), false) = (&result, secret.is_empty()) {
            let other = "y".repeat(secret.chars().count());
            let joined = format!("{}:{}", form_encode(&id), form_encode(&other));
            let again = request(&format!("{scheme} {}", engine.encode(joined)));
            let words = |r: &Result<_, isogate_core::error::TokenError>| {
                r.as_ref().err().map(|e| e.to_response("isogate"))
            };
            assert_eq!(
                Some(e.to_response("isogate")),
                words(&again),
                "the refusal depends on the secret"
            );
        }
        match result {
            Ok(request) => {
                assert!(basic_scheme, "accepted the scheme {scheme:?}");
                assert_eq!(request.client.client_id(), id, "the client id round-trips");
                assert_eq!(
                    request.client.client_secret().unwrap().expose(),
                    secret,
                    "the secret round-trips"
                );
            }
            Err(e) => {
                // Only an empty id or secret, or another scheme, is refused.
                assert!(
                    !basic_scheme || id.is_empty() || secret.is_empty(),
                    "refused a well-encoded Basic header: {e}"
                );
                assert_clean_refusal(&e.to_response("isogate"), "basic", &[]);
            }
        }
    }
});
