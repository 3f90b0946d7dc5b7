use super::*;
use crate::capability::{DocumentReply, LocalFuture, OriginSecrets};
use crate::jws::PortableJws;
use crate::testing::{block_on, ClientKey};
use crate::upstream_auth::{TokenFetch, TokenReply};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};

const ISSUER: &str = "https://issuer.example";
const T0: u64 = 1_700_000_000_000;

/// An issuer's discovery document and JWKS, counting the fetches.
struct FakeIssuer {
    jwks: RefCell<Value>,
    cache_control: Option<&'static str>,
    fetches: Cell<u32>,
    down: Cell<bool>,
}

impl FakeIssuer {
    fn new(keys: &[&ClientKey]) -> FakeIssuer {
        FakeIssuer {
            jwks: RefCell::new(
                json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()}),
            ),
            cache_control: Some("public, max-age=600"),
            fetches: Cell::new(0),
            down: Cell::new(false),
        }
    }
}

impl OriginSecrets for FakeIssuer {
    fn secret(&self, _: &str) -> Option<String> {
        None
    }
    fn fetch_token(&self, _: TokenFetch) -> LocalFuture<'_, Result<TokenReply, String>> {
        Box::pin(async { Err("no".to_owned()) })
    }
    fn fetch_document(
        &self,
        url: &str,
        _timeout_ms: u64,
    ) -> LocalFuture<'_, Result<DocumentReply, String>> {
        self.fetches.set(self.fetches.get() + 1);
        let reply = if self.down.get() {
            Err("unreachable".to_owned())
        } else if url == "https://issuer.example/.well-known/openid-configuration" {
            Ok(DocumentReply {
                status: 200,
                body: json!({"issuer": ISSUER, "jwks_uri": "https://issuer.example/keys"})
                    .to_string()
                    .into_bytes(),
                cache_control: None,
            })
        } else if url == "https://issuer.example/keys" {
            Ok(DocumentReply {
                status: 200,
                body: self.jwks.borrow().to_string().into_bytes(),
                cache_control: self.cache_control.map(str::to_owned),
            })
        } else {
            Ok(DocumentReply {
                status: 404,
                body: vec![],
                cache_control: None,
            })
        };
        Box::pin(std::future::ready(reply))
    }
}

fn spec(subject: &str) -> FederationSpec {
    FederationSpec::new(ISSUER, subject, None, None).unwrap()
}

fn token(key: &ClientKey, sub: &str, aud: &str, now_ms: u64) -> String {
    let now = (now_ms / 1000) as i64;
    key.sign(
        &json!({"iss": ISSUER, "sub": sub, "aud": aud, "iat": now, "exp": now + 600}),
        &json!({}),
    )
}

fn verify(
    keys: &FederatedKeys,
    issuer: &FakeIssuer,
    token: &str,
    spec: &FederationSpec,
    now_ms: u64,
) -> Result<(), FederationFailure> {
    block_on(verify_federated(
        keys,
        issuer,
        &PortableJws,
        token,
        spec,
        "https://isogate.example",
        now_ms,
    ))
}

#[test]
fn oidc_discovery_4_keys_come_from_the_issuers_jwks_uri_and_are_cached() {
    let rs = ClientKey::new(JwsAlg::RS256, 1, "rs");
    let ed = ClientKey::new(JwsAlg::EdDSA, 1, "ed");
    let issuer = FakeIssuer::new(&[&rs, &ed]);
    let keys = FederatedKeys::default();
    let s = spec("system:serviceaccount:ci:builder");
    for key in [&rs, &ed] {
        let t = token(
            key,
            "system:serviceaccount:ci:builder",
            "https://isogate.example",
            T0,
        );
        assert_eq!(verify(&keys, &issuer, &t, &s, T0), Ok(()));
    }
    assert_eq!(issuer.fetches.get(), 2, "discovery + JWKS once");
    // Past max-age (600 s): fetched again.
    let later = T0 + 601_000;
    let t = token(
        &rs,
        "system:serviceaccount:ci:builder",
        "https://isogate.example",
        later,
    );
    assert_eq!(verify(&keys, &issuer, &t, &s, later), Ok(()));
    assert_eq!(issuer.fetches.get(), 4);
}

#[test]
fn an_unknown_kid_refreshes_at_most_once_per_interval_then_finds_a_rotated_key() {
    let old = ClientKey::new(JwsAlg::RS256, 1, "old");
    let new = ClientKey::new(JwsAlg::EdDSA, 2, "new");
    let issuer = FakeIssuer::new(&[&old]);
    let keys = FederatedKeys::default();
    let s = spec("w");
    assert_eq!(
        verify(
            &keys,
            &issuer,
            &token(&old, "w", "https://isogate.example", T0),
            &s,
            T0
        ),
        Ok(())
    );
    let fetches = issuer.fetches.get();
    // A kid nobody published: one refresh, then refused without fetching for the interval.
    let stranger = ClientKey::new(JwsAlg::EdDSA, 3, "stranger");
    let at = T0 + REFRESH_INTERVAL_MS;
    for i in 0..5 {
        let r = verify(
            &keys,
            &issuer,
            &token(&stranger, "w", "https://isogate.example", at),
            &s,
            at + i,
        );
        assert_eq!(r, Err(FederationFailure::UnknownKey));
    }
    assert_eq!(
        issuer.fetches.get(),
        fetches + 2,
        "one refresh (discovery + JWKS)"
    );
    // The issuer rotates: after the interval, the new kid is fetched and accepted.
    *issuer.jwks.borrow_mut() = json!({"keys": [old.public_jwk(), new.public_jwk()]});
    let later = at + REFRESH_INTERVAL_MS;
    assert_eq!(
        verify(
            &keys,
            &issuer,
            &token(&new, "w", "https://isogate.example", later),
            &s,
            later
        ),
        Ok(())
    );
}

#[test]
fn claims_iss_sub_aud_and_exp_are_checked() {
    let key = ClientKey::new(JwsAlg::ES256, 1, "k");
    let issuer = FakeIssuer::new(&[&key]);
    let keys = FederatedKeys::default();
    let s = spec("repo:acme/api:*");
    let ok = token(
        &key,
        "repo:acme/api:ref:refs/heads/main",
        "https://isogate.example",
        T0,
    );
    assert_eq!(verify(&keys, &issuer, &ok, &s, T0), Ok(()));
    let wrong_sub = token(
        &key,
        "repo:acme/web:ref:refs/heads/main",
        "https://isogate.example",
        T0,
    );
    assert_eq!(
        verify(&keys, &issuer, &wrong_sub, &s, T0),
        Err(FederationFailure::WrongSubject)
    );
    let wrong_aud = token(&key, "repo:acme/api:x", "https://elsewhere.example", T0);
    assert_eq!(
        verify(&keys, &issuer, &wrong_aud, &s, T0),
        Err(FederationFailure::WrongAudience)
    );
    let other_iss = key.sign(&json!({"iss": "https://evil.example", "sub": "repo:acme/api:x", "aud": "https://isogate.example", "exp": T0 / 1000 + 60}), &json!({}));
    assert_eq!(
        verify(&keys, &issuer, &other_iss, &s, T0),
        Err(FederationFailure::WrongIssuer)
    );
    let expired_at = T0 + 700_000;
    assert_eq!(
        verify(&keys, &issuer, &ok, &s, expired_at),
        Err(FederationFailure::Expired)
    );
    let thief = ClientKey::new(JwsAlg::ES256, 9, "k");
    let forged = token(&thief, "repo:acme/api:x", "https://isogate.example", T0);
    assert_eq!(
        verify(&keys, &issuer, &forged, &s, T0),
        Err(FederationFailure::BadSignature)
    );
    // A configured audience replaces Isogate's issuer.
    let own_aud = FederationSpec::new(ISSUER, "repo:acme/api:*", Some("isogate-ci"), None).unwrap();
    let t = token(&key, "repo:acme/api:x", "isogate-ci", T0);
    assert_eq!(verify(&keys, &issuer, &t, &own_aud, T0), Ok(()));
    assert_eq!(
        verify(&keys, &issuer, &ok, &own_aud, T0),
        Err(FederationFailure::WrongAudience)
    );
}

#[test]
fn subject_globs_match_any_run_of_characters_and_nothing_else() {
    let s = spec("repo:acme/*:ref:refs/heads/main");
    assert!(s.admits_subject("repo:acme/api:ref:refs/heads/main"));
    assert!(s.admits_subject("repo:acme/:ref:refs/heads/main"));
    assert!(!s.admits_subject("repo:acme/api:ref:refs/heads/mainx"));
    assert!(!s.admits_subject("repo:acmex/api:ref:refs/heads/main"));
    assert!(spec("exact").admits_subject("exact"));
    assert!(!spec("exact").admits_subject("exactly"));
    assert!(spec("a*b*c").admits_subject("aXbYbZc"));
    assert!(FederationSpec::new(ISSUER, "*", None, None).is_err());
}

#[test]
fn issuer_and_jwks_urls_are_https_or_loopback_http() {
    for ok in [
        "https://token.actions.githubusercontent.com",
        "http://127.0.0.1:8080/oidc",
        "https://k8s.example:6443",
    ] {
        assert!(is_fetchable_url(ok), "{ok}");
    }
    for bad in [
        "http://issuer.example",
        "https://a.example/?x",
        "https://u@a.example",
        "ftp://a",
        "https://",
    ] {
        assert!(!is_fetchable_url(bad), "{bad}");
    }
}

#[test]
fn rfc9111_5_2_2_1_max_age_bounds_the_key_cache() {
    assert_eq!(ttl_ms(None), DEFAULT_TTL_MS);
    assert_eq!(ttl_ms(Some("public, max-age=120")), 120_000);
    assert_eq!(ttl_ms(Some("max-age=1")), MIN_TTL_MS);
    assert_eq!(ttl_ms(Some("max-age=999999")), MAX_TTL_MS);
    assert_eq!(ttl_ms(Some("no-store")), MIN_TTL_MS);
}

#[test]
fn an_unreachable_issuer_is_keys_unavailable_and_not_asked_again_at_once() {
    let key = ClientKey::new(JwsAlg::EdDSA, 1, "k");
    let issuer = FakeIssuer::new(&[&key]);
    issuer.down.set(true);
    let keys = FederatedKeys::default();
    let t = token(&key, "w", "https://isogate.example", T0);
    assert_eq!(
        verify(&keys, &issuer, &t, &spec("w"), T0),
        Err(FederationFailure::KeysUnavailable)
    );
    assert_eq!(
        verify(&keys, &issuer, &t, &spec("w"), T0 + 1),
        Err(FederationFailure::UnknownKey)
    );
    assert_eq!(issuer.fetches.get(), 1);
}
