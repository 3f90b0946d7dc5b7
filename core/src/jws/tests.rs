use super::*;
use crate::testing::ClientKey;
use serde_json::Value;

fn parse_jwk(v: &Value) -> Result<PublicJwk, JwkError> {
    PublicJwk::parse(&serde_json::from_value(v.clone()).unwrap())
}

fn keys() -> Vec<ClientKey> {
    JwsAlg::ALL
        .iter()
        .map(|alg| ClientKey::new(*alg, 7, alg.as_str()))
        .collect()
}

#[test]
fn rfc7515_5_2_each_algorithm_verifies_its_own_signature_and_nothing_else() {
    for key in keys() {
        let jwk = parse_jwk(&key.public_jwk()).unwrap();
        assert_eq!(jwk.algorithm(), key.alg);
        let signature = key.sign_bytes(b"header.payload");
        assert!(
            PortableJws::verify_now(&jwk, b"header.payload", &signature),
            "{:?}",
            key.alg
        );
        assert!(!PortableJws::verify_now(
            &jwk,
            b"header.payloaD",
            &signature
        ));
        let mut flipped = signature.clone();
        flipped[5] ^= 1;
        assert!(!PortableJws::verify_now(&jwk, b"header.payload", &flipped));
        assert!(!PortableJws::verify_now(
            &jwk,
            b"header.payload",
            &signature[1..]
        ));
    }
}

#[test]
fn rfc8725_3_1_a_key_admits_only_its_own_algorithm() {
    let ed = ClientKey::new(JwsAlg::EdDSA, 7, "e");
    let jwk = parse_jwk(&ed.public_jwk()).unwrap();
    let signature = ed.sign_bytes(b"m");
    let verify = |alg| block(PortableJws.verify(alg, &jwk, b"m", &signature));
    assert!(verify(JwsAlg::EdDSA));
    assert!(!verify(JwsAlg::ES256));
    assert!(!verify(JwsAlg::RS256));
    let mut declared = ed.public_jwk();
    declared["alg"] = "ES256".into();
    assert!(parse_jwk(&declared).is_err());
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    crate::testing::block_on(f)
}

#[test]
fn rfc7517_private_or_symmetric_keys_are_never_registered() {
    let mut jwk = ClientKey::new(JwsAlg::ES256, 7, "k").public_jwk();
    jwk["d"] = "AAAA".into();
    assert!(parse_jwk(&jwk).is_err());
    assert!(parse_jwk(&serde_json::json!({"kty": "oct", "k": "AAAA"})).is_err());
    assert!(
        parse_jwk(&serde_json::json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"})).is_err()
    );
    let mut enc = ClientKey::new(JwsAlg::EdDSA, 7, "k").public_jwk();
    enc["use"] = "enc".into();
    assert!(parse_jwk(&enc).is_err());
}

#[test]
fn rfc7518_3_3_rsa_keys_below_2048_bits_are_refused() {
    let mut small = ClientKey::new(JwsAlg::RS256, 7, "r").public_jwk();
    let n = B64URL.decode(small["n"].as_str().unwrap()).unwrap();
    small["n"] = B64URL.encode(&n[..128]).into();
    assert_eq!(
        parse_jwk(&small).unwrap_err(),
        JwkError("RSA keys must have 2048 to 4096 bits")
    );
    let mut even = ClientKey::new(JwsAlg::RS256, 7, "r").public_jwk();
    even["e"] = B64URL.encode([1, 0, 0]).into();
    assert!(parse_jwk(&even).is_err());
}

#[test]
fn rfc7638_thumbprint_of_the_rfc8037_example_key() {
    // RFC 8037 Appendix A.3.
    let jwk = parse_jwk(&serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    }))
    .unwrap();
    assert_eq!(
        jwk.thumbprint(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn rfc7638_3_1_thumbprint_of_the_rfc7638_example_rsa_key() {
    let jwk = parse_jwk(&serde_json::json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
    }))
    .unwrap();
    assert_eq!(
        jwk.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn rfc7515_7_1_compact_serialization_is_three_parts_with_a_known_alg() {
    let key = ClientKey::new(JwsAlg::ES256, 7, "k");
    let token = key.sign(&serde_json::json!({"sub": "x"}), &serde_json::json!({}));
    let jws = parse_compact(&token).unwrap();
    assert_eq!((jws.alg, jws.kid.as_deref()), (JwsAlg::ES256, Some("k")));
    assert_eq!(jws.payload, br#"{"sub":"x"}"#);
    assert!(token.starts_with(jws.signing_input));
    for bad in ["a.b", "a.b.c.d", "", &format!("{token}.")] {
        assert!(parse_compact(bad).is_err(), "{bad}");
    }
    for header in [
        serde_json::json!({"alg": "none"}),
        serde_json::json!({"alg": "HS256"}),
        serde_json::json!({"crit": ["exp"]}),
    ] {
        let forged = key.sign(&serde_json::json!({}), &header);
        assert!(parse_compact(&forged).is_err(), "{header}");
    }
}

#[test]
fn a_jwk_set_selects_by_kid_or_the_only_key_of_the_algorithm() {
    let a = ClientKey::new(JwsAlg::EdDSA, 1, "a");
    let b = ClientKey::new(JwsAlg::EdDSA, 2, "b");
    let set =
        JwkSet::parse(&serde_json::json!({"keys": [a.public_jwk(), b.public_jwk()]}).to_string())
            .unwrap();
    assert_eq!(
        set.select(JwsAlg::EdDSA, Some("b")).unwrap().kid.as_deref(),
        Some("b")
    );
    assert!(
        set.select(JwsAlg::EdDSA, None).is_none(),
        "ambiguous without a kid"
    );
    assert!(set.select(JwsAlg::ES256, Some("a")).is_none());
    let one = JwkSet::parse(&a.public_jwk().to_string()).unwrap();
    assert!(one.select(JwsAlg::EdDSA, None).is_some());
    let twice = serde_json::json!({"keys": [a.public_jwk(), a.public_jwk()]}).to_string();
    assert!(JwkSet::parse(&twice).is_err());
    // What is stored holds no more than the public members.
    let stored = JwkSet::parse(&set.to_json()).unwrap();
    assert_eq!(stored, set);
}

#[test]
fn rfc9864_ed25519_is_the_fully_specified_name_of_eddsa_with_ed25519() {
    assert_eq!(JwsAlg::parse("Ed25519"), Some(JwsAlg::EdDSA));
    let key = ClientKey::new(JwsAlg::EdDSA, 7, "k");
    let token = key.sign(
        &serde_json::json!({}),
        &serde_json::json!({"alg": "Ed25519"}),
    );
    assert_eq!(parse_compact(&token).unwrap().alg, JwsAlg::EdDSA);
    let mut jwk = key.public_jwk();
    jwk["alg"] = "Ed25519".into();
    assert!(parse_jwk(&jwk).is_ok());
}
