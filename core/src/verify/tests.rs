//! Unit tests of token verification (RFC 9068 §4) and of the verified-token cache.

use super::*;
use crate::keys::{PortableEd25519, SigningKey};
use crate::secret::TOKEN_ID_BYTES;
use crate::testing::block_on;
use crate::token::{unsigned_access_token, TokenGrant, CLOCK_LEEWAY_SECS};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;

const ISS: &str = "https://example.com";

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed([n; 32])
}

fn issue(k: &SigningKey, iat: i64, exp: i64) -> String {
    let scopes = ScopeSet::parse("service:a").unwrap();
    let grant = TokenGrant {
        issuer: ISS,
        audience: ISS.into(),
        subject: "root",
        client_id: "abcd-efgh",
        scopes: &scopes,
        issued_at: iat,
        expires_at: exp,
        jkt: None,
    };
    let unsigned = unsigned_access_token(k, &grant, &[9; TOKEN_ID_BYTES]);
    let signature = block_on(PortableEd25519.sign(k, unsigned.signing_input()));
    unsigned.finish(signature).access_token
}

fn verifier(k: &SigningKey, issuer: &str, audience: &str) -> Verifier {
    Verifier::new(
        KeySet::new(vec![k.verifying_key().clone()]),
        issuer,
        audience,
    )
}

fn at(secs: i64) -> Now {
    Now::from_unix_ms(secs as u64 * 1000)
}

fn verify(v: &Verifier, token: &str, now: i64) -> Result<Rc<VerifiedToken>, TokenInvalid> {
    block_on(v.verify(&PortableEd25519, token, at(now)))
}

#[test]
fn a_valid_token_yields_its_claims_and_parsed_scopes() {
    let t = issue(&key(1), 1000, 4600);
    let v = verify(&verifier(&key(1), ISS, ISS), &t, 2000).unwrap();
    assert_eq!((v.claims.sub.as_str(), v.claims.exp), ("root", 4600));
    assert_eq!(v.scopes, Some(ScopeSet::parse("service:a").unwrap()));
}

#[test]
fn rfc9068_4_expiry_honours_the_leeway_on_every_call_cached_or_not() {
    let t = issue(&key(1), 1000, 2000);
    let v = verifier(&key(1), ISS, ISS);
    assert!(verify(&v, &t, 2000 + CLOCK_LEEWAY_SECS - 1).is_ok());
    // The token is cached now; the clock still decides.
    assert_eq!(
        verify(&v, &t, 2000 + CLOCK_LEEWAY_SECS).unwrap_err(),
        TokenInvalid::Expired
    );
    let uncached = block_on(v.validate(&PortableEd25519, &t, at(2000 + CLOCK_LEEWAY_SECS)));
    assert_eq!(uncached.unwrap_err(), TokenInvalid::Expired);
}

#[test]
fn rfc9068_4_a_token_from_the_future_is_not_yet_valid() {
    let t = issue(&key(1), 5000, 9000);
    assert_eq!(
        verify(&verifier(&key(1), ISS, ISS), &t, 1000).unwrap_err(),
        TokenInvalid::NotYetValid
    );
}

#[test]
fn rfc9068_4_other_keys_issuers_and_audiences_are_refused() {
    let t = issue(&key(1), 1000, 4600);
    assert_eq!(
        verify(&verifier(&key(2), ISS, ISS), &t, 2000).unwrap_err(),
        TokenInvalid::UnknownKey
    );
    assert_eq!(
        verify(&verifier(&key(1), "https://other", ISS), &t, 2000).unwrap_err(),
        TokenInvalid::WrongIssuer
    );
    assert_eq!(
        verify(&verifier(&key(1), ISS, "x"), &t, 2000).unwrap_err(),
        TokenInvalid::WrongAudience
    );
}

#[test]
fn a_tampered_scope_claim_fails_the_signature() {
    let t = issue(&key(1), 1000, 4600);
    let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&B64URL.decode(&parts[1]).unwrap()).unwrap();
    claims["scope"] = "service:*".into();
    parts[1] = B64URL.encode(serde_json::to_vec(&claims).unwrap());
    assert_eq!(
        verify(&verifier(&key(1), ISS, ISS), &parts.join("."), 2000).unwrap_err(),
        TokenInvalid::BadSignature
    );
}

#[test]
fn rfc9068_4_other_jwt_types_and_algorithms_are_refused() {
    let t = issue(&key(1), 1000, 4600);
    let rest = t.split_once('.').unwrap().1;
    for header in [
        r#"{"alg":"EdDSA","typ":"JWT","kid":"x"}"#,
        r#"{"alg":"none","typ":"at+jwt","kid":"x"}"#,
        r#"{"alg":"HS256","typ":"at+jwt","kid":"x"}"#,
    ] {
        let forged = format!("{}.{rest}", B64URL.encode(header));
        assert_eq!(
            verify(&verifier(&key(1), ISS, ISS), &forged, 2000).unwrap_err(),
            TokenInvalid::WrongType,
            "{header}"
        );
    }
}

#[test]
fn a_verified_token_is_not_verified_again_but_a_lookalike_is() {
    let t = issue(&key(1), 1000, 4600);
    let v = verifier(&key(1), ISS, ISS);
    let ed = crate::testing::CountingEd25519::default();
    for _ in 0..3 {
        block_on(v.verify(&ed, &t, at(2000))).unwrap();
    }
    assert_eq!(ed.verifications.get(), 1);
    // The same claims under another (well-formed) signature.
    let (signed, signature) = t.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let lookalike = format!("{signed}.{flipped}{}", &signature[1..]);
    assert_eq!(
        block_on(v.verify(&ed, &lookalike, at(2000))).unwrap_err(),
        TokenInvalid::BadSignature
    );
    assert_eq!(
        ed.verifications.get(),
        2,
        "a token differing in one byte is verified in full"
    );
}

#[test]
fn a_full_verified_token_cache_evicts_the_least_recently_used_token_only() {
    let cache = VerifiedTokens::default();
    let token = |exp| {
        let claims = AccessTokenClaims {
            iss: "i".into(),
            sub: "u".into(),
            aud: "i".into(),
            exp,
            iat: 0,
            nbf: None,
            jti: "j".into(),
            client_id: "c".into(),
            scope: String::new(),
            cnf: None,
        };
        Rc::new(VerifiedToken {
            claims,
            scopes: Some(ScopeSet::default()),
            audience: TokenAudience::Gateway,
        })
    };
    let digest = |s: &str| -> [u8; 32] { Sha256::digest(s.as_bytes()).into() };
    for i in 0..MAX_VERIFIED_TOKENS {
        cache.put(digest(&i.to_string()), token(1_000));
    }
    // A token in use (presented again) is the most recent; a burst of new ones evicts others.
    assert!(cache.get(&digest("0")).is_some());
    cache.put(digest("new"), token(1_000));
    assert_eq!(cache.entries.borrow().len(), MAX_VERIFIED_TOKENS);
    assert!(
        cache.get(&digest("0")).is_some(),
        "the token in use is kept"
    );
    assert!(cache.get(&digest("1")).is_none(), "the coldest token went");
    assert!(cache.get(&digest("2")).is_some(), "and nothing else");
    assert!(cache.get(&digest("new")).is_some());
}
