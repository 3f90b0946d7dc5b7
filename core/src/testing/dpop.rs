//! [`DpopKey`]: a client's DPoP key pair (RFC 9449), making proofs as a client library does,
//! and proofs a client library never would (for the refusals).

use crate::dpop::token_hash;
use crate::jws::{JwsAlg, PublicJwk, RawJwk};
use crate::testing::ClientKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::{json, Value};
use std::cell::Cell;

/// A key pair of a client (Ed25519, or P-256 for ES256), and a counter for its proofs' `jti`.
pub struct DpopKey {
    key: ClientKey,
    seed: u8,
    proofs: Cell<u64>,
}

impl DpopKey {
    /// The Ed25519 key of the 32-byte seed `[seed; 32]`.
    pub fn new(seed: u8) -> DpopKey {
        DpopKey::of(JwsAlg::EdDSA, seed)
    }

    /// The P-256 key of `seed` (ES256: openid-client v6's default DPoP key).
    pub fn es256(seed: u8) -> DpopKey {
        DpopKey::of(JwsAlg::ES256, seed)
    }

    fn of(alg: JwsAlg, seed: u8) -> DpopKey {
        DpopKey {
            key: ClientKey::new(alg, seed, ""),
            seed,
            proofs: Cell::new(0),
        }
    }

    /// The public key as the proof's `jwk` header (RFC 8037 §2, RFC 7518 §6.2.1): its
    /// required members only.
    pub fn jwk(&self) -> Value {
        let mut jwk = self.key.public_jwk();
        let members = jwk.as_object_mut().expect("a JWK is an object");
        for registered in ["kid", "alg", "use"] {
            members.remove(registered);
        }
        jwk
    }

    /// The same JWK with a private part `d`: what a proof must never carry.
    pub fn private_jwk(&self) -> Value {
        let mut jwk = self.jwk();
        jwk["d"] = B64URL.encode([self.seed; 32]).into();
        jwk
    }

    /// The RFC 7638 thumbprint of [`DpopKey::jwk`]: `cnf.jkt` of tokens bound to it.
    pub fn thumbprint(&self) -> String {
        let raw: RawJwk = serde_json::from_value(self.jwk()).expect("a JWK");
        PublicJwk::parse(&raw).expect("a valid key").thumbprint()
    }

    /// The claims of a fresh proof for `htm` `htu` at `iat`, with `ath` for `token`, if any:
    /// a new `jti` each time.
    pub fn claims(&self, htm: &str, htu: &str, iat: i64, token: Option<&str>) -> Value {
        let n = self.proofs.get() + 1;
        self.proofs.set(n);
        let mut claims = json!({ "jti": format!("proof-{n}"), "htm": htm, "htu": htu, "iat": iat });
        if let Some(token) = token {
            claims["ath"] = token_hash(token).into();
        }
        claims
    }

    /// A proof as a client library makes it (`typ: dpop+jwt`, `alg: EdDSA` or `ES256`, the
    /// public JWK).
    pub fn proof(&self, htm: &str, htu: &str, iat: i64, token: Option<&str>) -> String {
        self.sign(&self.header(), &self.claims(htm, htu, iat, token))
    }

    /// The header of [`DpopKey::proof`].
    pub fn header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": self.key.alg.as_str(), "jwk": self.jwk() })
    }

    /// Any header and claims, signed with this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let signature = self.key.sign_bytes(input.as_bytes());
        format!("{input}.{}", B64URL.encode(signature))
    }
}
