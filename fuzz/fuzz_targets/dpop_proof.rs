//! DPoP proofs (RFC 9449 §4.3) as a service receives them: `dpop::check_proof`.
//!
//! Invariants: the only proofs accepted are signed by the token's key, with `typ` `dpop+jwt`,
//! `alg` `EdDSA`, a public `jwk`, `htm` and `htu` of the request, `iat` within 60 s and the
//! token's `ath`; a damaged genuine proof, a proof by another key, or any other string is
//! refused, and the refusal is a clean 401 `invalid_dpop_proof`.
#![no_main]

use arbitrary::Arbitrary;
use isogate_core::capability::Now;
use isogate_core::dpop::{check_proof, ProofTarget};
use isogate_core::error::BearerError;
use isogate_core::jws::PortableJws;
use isogate_core::keys::PortableEd25519;
use isogate_core::testing::{block_on, DpopKey};
use isogate_fuzz::assert_clean_refusal;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const NOW_SECS: i64 = 1_700_000_000;
const URL: &str = "https://my-api.example.com/a";
const TOKEN: &str = "the.access.token";

#[derive(Arbitrary, Debug)]
enum Input {
    Raw(String),
    /// The genuine proof with bytes replaced, cut or added.
    Damaged {
        edits: Vec<(u16, u8)>,
        cut: Option<u16>,
        append: String,
    },
    /// A proof signed by the token's key (`foreign`: another key) from these parts.
    Signed {
        foreign: bool,
        typ: String,
        alg: String,
        with_d: bool,
        htm: String,
        htu: String,
        iat: i32,
        ath: Option<String>,
        jti: String,
    },
}

fuzz_target!(|input: Input| {
    let key = DpopKey::new(1);
    let genuine = key.sign(
        &key.header(),
        &json!({ "jti": "j", "htm": "GET", "htu": URL, "iat": NOW_SECS,
                 "ath": isogate_core::dpop::token_hash(TOKEN) }),
    );
    let (proof, parts) = match input {
        Input::Raw(s) => (s, None),
        Input::Damaged { edits, cut, append } => {
            let mut bytes = genuine.clone().into_bytes();
            for (i, b) in edits {
                let i = i as usize % bytes.len();
                bytes[i] = b;
            }
            if let Some(n) = cut {
                bytes.truncate(n as usize);
            }
            bytes.extend_from_slice(append.as_bytes());
            (String::from_utf8_lossy(&bytes).into_owned(), None)
        }
        Input::Signed {
            foreign,
            typ,
            alg,
            with_d,
            htm,
            htu,
            iat,
            ath,
            jti,
        } => {
            let signer = if foreign {
                DpopKey::new(2)
            } else {
                DpopKey::new(1)
            };
            let jwk = if with_d {
                signer.private_jwk()
            } else {
                signer.jwk()
            };
            let header = json!({ "typ": typ, "alg": alg, "jwk": jwk });
            let mut claims =
                json!({ "jti": jti, "htm": htm, "htu": htu, "iat": NOW_SECS + iat as i64 });
            if let Some(ath) = &ath {
                claims["ath"] = ath.clone().into();
            }
            (
                signer.sign(&header, &claims),
                Some((foreign, with_d, header, claims)),
            )
        }
    };
    let jkt = key.thumbprint();
    let target = ProofTarget {
        method: "GET",
        url: URL,
        access_token: Some(TOKEN),
        bound_to: Some(&jkt),
    };
    let now = Now::from_unix_ms(NOW_SECS as u64 * 1000);
    match block_on(check_proof(
        &PortableEd25519,
        &PortableJws,
        &proof,
        &target,
        now,
    )) {
        Ok(checked) => {
            assert_eq!(checked.jkt, jkt);
            match parts {
                None => assert_eq!(
                    proof.trim(),
                    genuine,
                    "accepted a proof that is not the genuine one"
                ),
                Some((foreign, with_d, header, claims)) => {
                    assert!(!foreign && !with_d, "accepted another key or a private jwk");
                    assert!(header["typ"]
                        .as_str()
                        .unwrap()
                        .eq_ignore_ascii_case("dpop+jwt"));
                    assert_eq!(header["alg"], "EdDSA");
                    assert_eq!(claims["htm"], "GET");
                    assert!((claims["iat"].as_i64().unwrap() - NOW_SECS).abs() <= 60);
                    assert_eq!(
                        claims["ath"],
                        isogate_core::dpop::token_hash(TOKEN).as_str()
                    );
                }
            }
        }
        Err(e) => {
            let r = BearerError::InvalidDpopProof(e)
                .to_response(&isogate_core::error::Challenge::realm("isogate"));
            assert_eq!(r.status, 401);
            assert_clean_refusal(&r, "dpop_proof", &[]);
        }
    }
});
