//! Unit tests of access token encoding (RFC 9068 §2) and the time checks (RFC 7519 §4.1).

use super::*;

fn part(token: &str, i: usize) -> serde_json::Value {
    serde_json::from_slice(&B64URL.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
}

fn unsigned(key: &SigningKey) -> UnsignedToken {
    let scopes = ScopeSet::parse("service:a").unwrap();
    let grant = TokenGrant {
        issuer: "https://i",
        audience: "https://i".into(),
        subject: "root",
        client_id: "abcd-efgh",
        scopes: &scopes,
        issued_at: 1000,
        expires_at: 4600,
        jkt: None,
    };
    unsigned_access_token(key, &grant, &[9; TOKEN_ID_BYTES])
}

#[test]
fn rfc9068_2_header_and_claims() {
    let key = SigningKey::from_seed([1; 32]);
    let t = unsigned(&key).finish([0; 64]);
    let h = part(&t.access_token, 0);
    assert_eq!(
        (h["typ"].as_str(), h["alg"].as_str()),
        (Some("at+jwt"), Some("EdDSA"))
    );
    assert_eq!(h["kid"], key.verifying_key().kid.as_str());
    let c = part(&t.access_token, 1);
    for claim in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "jti",
        "client_id",
        "scope",
    ] {
        assert!(c.get(claim).is_some(), "missing {claim}");
    }
    assert_eq!(c["scope"], "service:a");
    assert!(
        !format!("{t:?}").contains(&t.access_token),
        "Debug prints the bearer token"
    );
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let ks = KeySet::new(vec![SigningKey::from_seed([1; 32]).verifying_key().clone()]);
    for t in [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b.c.d",
        "!!.??.**",
        &"a".repeat(MAX_TOKEN_BYTES + 1),
        "eyJhbGciOiJFZERTQSJ9.e30.AAAA",
    ] {
        assert!(parse_access_token(t, &ks).is_err(), "{t}");
    }
}

#[test]
fn rfc7519_time_claims_honour_the_leeway() {
    let claims = |iat, exp| AccessTokenClaims {
        iss: String::new(),
        sub: String::new(),
        aud: "".into(),
        exp,
        iat,
        nbf: None,
        jti: String::new(),
        client_id: String::new(),
        scope: String::new(),
        cnf: None,
    };
    let at = |secs: i64| Now::from_unix_ms(secs as u64 * 1000);
    assert_eq!(
        check_token_time(&claims(1000, 2000), at(2000 + CLOCK_LEEWAY_SECS - 1)),
        Ok(())
    );
    assert_eq!(
        check_token_time(&claims(1000, 2000), at(2000 + CLOCK_LEEWAY_SECS)),
        Err(TokenInvalid::Expired)
    );
    assert_eq!(
        check_token_time(&claims(5000, 9000), at(5000 - CLOCK_LEEWAY_SECS - 1)),
        Err(TokenInvalid::NotYetValid)
    );
}
