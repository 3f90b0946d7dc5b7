//! Unit tests of identity assertions: their form and claims, their lifetime, the per-isolate
//! reuse and its bound, and that an assertion and an access token never pass for each other
//! (RFC 8725 §3.11, §3.12).

use super::*;
use crate::keys::{PortableEd25519, SigningKey, VerifyingKey};
use crate::mint::{Grant, Minter};
use crate::model::{Credential, CredentialKind};
use crate::scope::ScopeSet;
use crate::testing::{block_on, jwt_part, FixedRandom};
use crate::verify::Verifier;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use std::cell::Cell;

const ISS: &str = "https://example.com";
const AUD: &str = "https://my-api.example.com";
const T0: i64 = 1_700_000_000;
const DIGEST: [u8; 32] = [3; 32];

fn minter() -> Minter {
    Minter::new(
        SigningKey::from_seed([1; 32]),
        ISS,
        ISS,
        "example.com",
        3600,
    )
}

fn keys() -> KeySet {
    KeySet::new(vec![SigningKey::from_seed([1; 32]).verifying_key().clone()])
}

fn at(secs: i64) -> Now {
    Now::from_unix_ms(secs as u64 * 1000)
}

fn principal() -> Principal {
    Principal {
        user: "root".into(),
        client_id: "abcd-efgh".into(),
        credential: "root-cred".into(),
        scope: "service:*".into(),
        token_id: "CQkJCQkJCQkJCQkJCQkJCQ".into(),
    }
}

fn request<'a>(
    digest: &'a [u8; 32],
    service: &'a str,
    token_expires_at: i64,
    principal: &'a Principal,
) -> AssertedRequest<'a> {
    AssertedRequest {
        token_digest: digest,
        token_expires_at,
        service,
        principal,
    }
}

/// Counts the signatures asked of the runtime.
#[derive(Default)]
struct CountingSigner(Cell<u32>);

impl Ed25519 for CountingSigner {
    async fn sign(&self, key: &SigningKey, message: &[u8]) -> [u8; 64] {
        self.0.set(self.0.get() + 1);
        PortableEd25519.sign(key, message).await
    }

    async fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
        PortableEd25519.verify(key, message, signature).await
    }
}

/// The assertion `minter()` signs at T0 for `root` on `my-api`, its token expiring at `token_exp`.
fn sign(token_exp: i64) -> SignedAssertion {
    let p = principal();
    block_on(minter().sign_assertion(
        &PortableEd25519,
        &request(&DIGEST, "my-api", token_exp, &p),
        at(T0),
    ))
}

fn check(assertion: &str, audience: &str, now: i64) -> Result<AssertionClaims, TokenInvalid> {
    block_on(verify_assertion(
        &PortableEd25519,
        assertion,
        &keys(),
        ISS,
        audience,
        at(now),
    ))
}

#[test]
fn an_assertion_is_typed_signed_by_the_published_key_and_states_the_request() {
    let signed = sign(T0 + 3600);
    let header = jwt_part(&signed.assertion, 0);
    assert_eq!(header["typ"], ASSERTION_TYP);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], keys().to_jwks()["keys"][0]["kid"]);
    let expected = AssertionClaims {
        iss: ISS.into(),
        aud: AUD.into(),
        sub: "root".into(),
        client_id: "abcd-efgh".into(),
        credential: "root-cred".into(),
        scope: "service:*".into(),
        jti: "CQkJCQkJCQkJCQkJCQkJCQ".into(),
        iat: T0,
        exp: T0 + ASSERTION_LIFETIME_SECS,
    };
    assert_eq!((signed.issued_at, signed.expires_at), (T0, expected.exp));
    assert_eq!(check(&signed.assertion, AUD, T0), Ok(expected));
    assert!(!format!("{signed:?}").contains(&signed.assertion));
}

#[test]
fn an_assertion_lives_five_minutes_and_never_past_the_access_token() {
    assert_eq!(sign(T0 + 3600).expires_at, T0 + 300);
    assert_eq!(sign(T0 + 100).expires_at, T0 + 100);
}

#[test]
fn one_changed_byte_in_the_payload_or_the_signature_is_refused() {
    let signed = sign(T0 + 3600);
    let (header, rest) = signed.assertion.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&B64URL.decode(payload).unwrap()).unwrap();
    claims["sub"] = "admin".into();
    let other_payload = B64URL.encode(serde_json::to_vec(&claims).unwrap());
    let mut sig = B64URL.decode(signature).unwrap();
    sig[10] ^= 1;
    let other_signature = B64URL.encode(sig);
    for forged in [
        format!("{header}.{other_payload}.{signature}"),
        format!("{header}.{payload}.{other_signature}"),
    ] {
        assert_eq!(check(&forged, AUD, T0), Err(TokenInvalid::BadSignature));
    }
}

#[test]
fn origins_refuse_another_services_or_an_expired_assertion() {
    let signed = sign(T0 + 3600);
    assert_eq!(
        check(&signed.assertion, "https://other.example.com", T0),
        Err(TokenInvalid::WrongAudience)
    );
    let exp = T0 + ASSERTION_LIFETIME_SECS;
    assert!(check(&signed.assertion, AUD, exp + CLOCK_LEEWAY_SECS - 1).is_ok());
    assert_eq!(
        check(&signed.assertion, AUD, exp + CLOCK_LEEWAY_SECS),
        Err(TokenInvalid::Expired)
    );
}

#[test]
fn rfc8725_3_12_an_access_token_is_not_an_assertion() {
    let credential = Credential {
        client_id: "abcd-efgh".into(),
        name: "root-cred".into(),
        user_id: 1,
        user: "root".into(),
        kind: CredentialKind::OAuth2,
        secret_hash: None,
        scopes: ScopeSet::default(),
        expires_at: None,
        enabled: true,
        created_at: 0,
        can_introspect: false,
        require_dpop: false,
        lifecycle: Default::default(),
    };
    let scopes = ScopeSet::all_services();
    let grant = Grant {
        credential: &credential,
        scopes: &scopes,
        lifetime_secs: None,
        jkt: None,
    };
    let token = block_on(minter().issue(&PortableEd25519, &FixedRandom(9), grant, at(T0)));
    // Same key, same issuer, and the token's own audience: only the type tells them apart.
    assert_eq!(
        check(&token.access_token, ISS, T0),
        Err(TokenInvalid::WrongType)
    );
}

#[test]
fn rfc8725_3_12_an_assertion_is_not_an_access_token() {
    let signed = sign(T0 + 3600);
    // A verifier that would take the assertion's own audience still refuses its type.
    let verifier = Verifier::new(keys(), ISS, AUD);
    let r = block_on(verifier.verify(&PortableEd25519, &signed.assertion, at(T0)));
    assert_eq!(r.unwrap_err(), TokenInvalid::WrongType);
}

#[test]
fn a_warm_request_reuses_the_assertion_until_a_minute_before_its_expiry() {
    let (m, signer, p) = (minter(), CountingSigner::default(), principal());
    let req = request(&DIGEST, "my-api", T0 + 3600, &p);
    let get = |now| block_on(m.identity_assertion(&signer, &req, at(now)));
    let first = get(T0);
    let reuse_until = T0 + ASSERTION_LIFETIME_SECS - RESIGN_MARGIN_SECS;
    for now in [T0, T0 + 1, reuse_until - 1] {
        assert_eq!(get(now), first, "at {now}");
    }
    assert_eq!(signer.0.get(), 1, "one signature for the whole window");
    let second = get(reuse_until);
    assert_eq!(
        signer.0.get(),
        2,
        "re-signed with {RESIGN_MARGIN_SECS} s left"
    );
    assert_eq!(jwt_part(&second, 1)["iat"], reuse_until);
    assert_eq!(get(reuse_until + 1), second);
}

#[test]
fn an_assertion_cut_short_by_its_token_is_reused_until_the_token_expires() {
    let (m, signer, p) = (minter(), CountingSigner::default(), principal());
    let token_exp = T0 + 100;
    let req = request(&DIGEST, "my-api", token_exp, &p);
    let first = block_on(m.identity_assertion(&signer, &req, at(T0)));
    for now in [T0 + 50, token_exp, token_exp + CLOCK_LEEWAY_SECS - 1] {
        assert_eq!(
            block_on(m.identity_assertion(&signer, &req, at(now))),
            first
        );
    }
    assert_eq!(signer.0.get(), 1);
}

#[test]
fn assertions_are_kept_per_token_and_per_service() {
    let (m, signer, p) = (minter(), CountingSigner::default(), principal());
    let other_digest = [4; 32];
    let a = block_on(m.identity_assertion(&signer, &request(&DIGEST, "a", T0 + 3600, &p), at(T0)));
    let b = block_on(m.identity_assertion(&signer, &request(&DIGEST, "b", T0 + 3600, &p), at(T0)));
    let a2 = block_on(m.identity_assertion(
        &signer,
        &request(&other_digest, "a", T0 + 3600, &p),
        at(T0),
    ));
    assert_eq!(signer.0.get(), 3);
    assert_eq!(jwt_part(&a, 1)["aud"], "https://a.example.com");
    assert_eq!(jwt_part(&b, 1)["aud"], "https://b.example.com");
    // Another token with the same claims gets its own signature (the same bytes: Ed25519 is
    // deterministic), never a lookup by claims.
    assert_eq!(a, a2);
}

#[test]
fn a_clock_that_went_backwards_re_signs() {
    let (m, signer, p) = (minter(), CountingSigner::default(), principal());
    let req = request(&DIGEST, "my-api", T0 + 3600, &p);
    block_on(m.identity_assertion(&signer, &req, at(T0)));
    block_on(m.identity_assertion(&signer, &req, at(T0 - 1)));
    assert_eq!(signer.0.get(), 2);
}

#[test]
fn the_cache_is_bounded_and_evicts_the_least_recently_used_assertion_only() {
    // Issue #10: a full cache used to empty itself; a burst of new (token, service) pairs now
    // costs only the coldest entries, never the ones in use.
    let cache = SignedAssertions::default();
    let p = principal();
    let fake = SignedAssertion {
        assertion: "x.y.z".into(),
        issued_at: T0,
        expires_at: T0 + 300,
    };
    let digest = |i: usize| {
        let mut d = [0u8; 32];
        d[..8].copy_from_slice(&(i as u64).to_le_bytes());
        d
    };
    for i in 0..MAX_CACHED_ASSERTIONS {
        cache.put(&request(&digest(i), "s", T0 + 3600, &p), &fake);
    }
    assert_eq!(cache.len(), MAX_CACHED_ASSERTIONS);
    let (in_use, coldest) = (digest(0), digest(1));
    let in_use = request(&in_use, "s", T0 + 3600, &p);
    for i in 0..MAX_CACHED_ASSERTIONS {
        assert!(
            cache.get(&in_use, at(T0 + 100)).is_some(),
            "after {i} newcomers"
        );
        cache.put(&request(&digest(10_000 + i), "s", T0 + 3600, &p), &fake);
    }
    assert_eq!(cache.len(), MAX_CACHED_ASSERTIONS);
    assert!(cache
        .get(&request(&coldest, "s", T0 + 3600, &p), at(T0 + 100))
        .is_none());
}

#[test]
fn a_name_longer_than_a_dns_label_is_never_cached() {
    // Service names are DNS labels (validated when a service is created); anything longer
    // would not fit the key, so it is signed each time rather than keyed ambiguously.
    let (m, signer, p) = (minter(), CountingSigner::default(), principal());
    let long = "x".repeat(64);
    let req = request(&DIGEST, &long, T0 + 3600, &p);
    block_on(m.identity_assertion(&signer, &req, at(T0)));
    block_on(m.identity_assertion(&signer, &req, at(T0)));
    assert_eq!(signer.0.get(), 2);
}
