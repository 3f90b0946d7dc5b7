//! Access-token parsing and validation (RFC 9068 §4, RFC 7515): `verify::Verifier` (cached and
//! uncached) and `token::parse_access_token`.
//!
//! Invariants: the only tokens accepted are the genuine one and tokens really signed with the
//! deployment's key whose header and claims pass every rule (alg `EdDSA`, typ `at+jwt`, the
//! key's kid, issuer, audience, time with 30 s leeway); a damaged genuine token, a token signed
//! with another key, the gateway's own identity assertion (same key, `typ`
//! `isogate-assertion+jwt`), or any other string is refused, and the refusal is a clean 401.
//! The cached path answers exactly as the uncached one.
#![no_main]

use arbitrary::Arbitrary;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use isogate_core::assertion::AssertedRequest;
use isogate_core::capability::Now;
use isogate_core::error::{BearerError, Challenge, TokenRefusal};
use isogate_core::forward::Principal;
use isogate_core::keys::{KeySet, PortableEd25519, SigningKey};
use isogate_core::mint::{Grant, Minter};
use isogate_core::model::{Credential, CredentialKind};
use isogate_core::scope::ScopeSet;
use isogate_core::testing::{block_on, FixedRandom};
use isogate_core::verify::Verifier;
use isogate_fuzz::assert_clean_refusal;
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://example.com";
const SEED: [u8; 32] = [7; 32];
const NOW_SECS: i64 = 1_700_000_000;

struct Fixture {
    verifier: Verifier,
    genuine: String,
    /// An identity assertion signed with the same key: never an access token (RFC 8725 §3.11).
    assertion: String,
    kid: String,
}

thread_local! {
    // One "isolate": its verifier keeps a cache across inputs, as a real one does.
    static FIXTURE: Fixture = fixture();
}

fn fixture() -> Fixture {
    let key = SigningKey::from_seed(SEED);
    let kid = key.verifying_key().kid.clone();
    let verifier = Verifier::new(
        KeySet::new(vec![key.verifying_key().clone()]),
        ISSUER,
        ISSUER,
    );
    let minter = Minter::new(key, ISSUER, ISSUER, "example.com", 3600);
    let credential = Credential {
        client_id: "abcd-efgh".into(),
        name: "c".into(),
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
    let issued = block_on(minter.issue(&PortableEd25519, &FixedRandom(3), grant, now(0)));
    // The identity assertion for a request made with that token: same key, another `typ`.
    let principal = Principal {
        user: "root".into(),
        client_id: "abcd-efgh".into(),
        credential: "c".into(),
        scope: "service:*".into(),
        token_id: issued.claims.jti.clone(),
    };
    let request = AssertedRequest {
        token_digest: &[0; 32],
        token_expires_at: issued.claims.exp,
        service: "my-api",
        principal: &principal,
    };
    let assertion = block_on(minter.sign_assertion(&PortableEd25519, &request, now(0)));
    Fixture {
        verifier,
        genuine: issued.access_token,
        assertion: assertion.assertion.to_string(),
        kid,
    }
}

fn now(offset: i32) -> Now {
    Now::from_unix_ms(((NOW_SECS + offset as i64).max(0) as u64) * 1000)
}

#[derive(Arbitrary, Debug)]
enum Choice<T> {
    Right,
    Other(T),
    Missing,
}

#[derive(Arbitrary, Debug)]
enum Input {
    Raw {
        token: String,
        at: i32,
    },
    /// The identity assertion, whole or damaged like a token.
    Assertion {
        edits: Vec<(u16, u8)>,
        at: i32,
    },
    /// The genuine token with bytes replaced, cut or added.
    Damaged {
        edits: Vec<(u16, u8)>,
        cut: Option<u16>,
        append: String,
        at: i32,
    },
    /// A token signed with the deployment's key (`foreign`: another key) from these parts.
    Signed {
        foreign: bool,
        alg: Choice<String>,
        typ: Choice<String>,
        kid: Choice<String>,
        iss: Choice<String>,
        aud: Choice<String>,
        exp: i32,
        iat: i32,
        nbf: Option<i32>,
        extra: Vec<(String, String)>,
        at: i32,
    },
}

fn field(
    obj: &mut serde_json::Map<String, serde_json::Value>,
    name: &str,
    c: &Choice<String>,
    right: &str,
) {
    match c {
        Choice::Right => obj.insert(name.into(), right.into()),
        Choice::Other(v) => obj.insert(name.into(), v.clone().into()),
        Choice::Missing => None,
    };
}

fn sign(seed: [u8; 32], header: &serde_json::Value, claims: &serde_json::Value) -> String {
    let input = format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    );
    let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
    format!(
        "{input}.{}",
        B64URL.encode(kp.sk.sign(input.as_bytes(), None).as_ref())
    )
}

fuzz_target!(|input: Input| FIXTURE.with(|f| {
    let (token, at, rules) = match input {
        Input::Raw { token, at } => (token, at, None),
        Input::Assertion { edits, at } => {
            let mut bytes = f.assertion.clone().into_bytes();
            for (i, b) in edits {
                let i = i as usize % bytes.len();
                bytes[i] = b;
            }
            (String::from_utf8_lossy(&bytes).into_owned(), at, None)
        }
        Input::Damaged {
            edits,
            cut,
            append,
            at,
        } => {
            let mut bytes = f.genuine.clone().into_bytes();
            for (i, b) in edits {
                let i = i as usize % bytes.len();
                bytes[i] = b;
            }
            if let Some(n) = cut {
                bytes.truncate(n as usize);
            }
            bytes.extend_from_slice(append.as_bytes());
            (String::from_utf8_lossy(&bytes).into_owned(), at, None)
        }
        Input::Signed {
            foreign,
            alg,
            typ,
            kid,
            iss,
            aud,
            exp,
            iat,
            nbf,
            extra,
            at,
        } => {
            let mut h = serde_json::Map::new();
            field(&mut h, "alg", &alg, "EdDSA");
            field(&mut h, "typ", &typ, "at+jwt");
            field(&mut h, "kid", &kid, &f.kid);
            let mut c = serde_json::Map::new();
            for (k, v) in extra {
                c.insert(k, v.into());
            }
            field(&mut c, "iss", &iss, ISSUER);
            field(&mut c, "aud", &aud, ISSUER);
            for (k, v) in [
                ("sub", "root"),
                ("jti", "j"),
                ("client_id", "abcd-efgh"),
                ("scope", "service:*"),
            ] {
                c.insert(k.into(), v.into());
            }
            c.insert("exp".into(), (NOW_SECS + exp as i64).into());
            c.insert("iat".into(), (NOW_SECS + iat as i64).into());
            if let Some(n) = nbf {
                c.insert("nbf".into(), (NOW_SECS + n as i64).into());
            }
            let seed = if foreign { [8; 32] } else { SEED };
            let (h, c) = (serde_json::Value::Object(h), serde_json::Value::Object(c));
            (sign(seed, &h, &c), at, Some((foreign, h, c)))
        }
    };
    let now = now(at);
    let uncached = block_on(f.verifier.validate(&PortableEd25519, &token, now));
    let cached = block_on(f.verifier.verify(&PortableEd25519, &token, now));
    assert_eq!(
        uncached.as_ref().map(|v| v.claims.clone()).map_err(|e| *e),
        cached.as_ref().map(|v| v.claims.clone()).map_err(|e| *e),
        "the cache answers as the full check does"
    );
    match uncached {
        Ok(verified) => match rules {
            None => assert_eq!(
                token, f.genuine,
                "accepted a token that is not the genuine one"
            ),
            Some((foreign, h, c)) => {
                assert!(!foreign, "accepted a token signed with another key");
                let typ = h["typ"].as_str().unwrap_or("").to_ascii_lowercase();
                assert_eq!(h["alg"], "EdDSA");
                assert!(
                    typ == "at+jwt" || typ == "application/at+jwt",
                    "typ {typ:?}"
                );
                assert_eq!(h["kid"], f.kid.as_str());
                assert_eq!(
                    (c["iss"].as_str(), c["aud"].as_str()),
                    (Some(ISSUER), Some(ISSUER))
                );
                let t = now.unix_secs();
                assert!(t < verified.claims.exp + 30, "expired");
                assert!(t + 30 >= verified.claims.iat, "issued in the future");
                assert!(
                    verified.claims.nbf.is_none_or(|n| t + 30 >= n),
                    "not yet valid"
                );
            }
        },
        Err(e) => {
            let r = BearerError::InvalidToken(TokenRefusal::Invalid(e))
                .to_response(&Challenge::realm("isogate"));
            assert_eq!(r.status, 401);
            assert_clean_refusal(&r, "jwt", &[]);
        }
    }
}));
