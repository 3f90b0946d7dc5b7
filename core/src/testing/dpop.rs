//! [`DpopKey`]: a client's DPoP key pair (RFC 9449), making proofs as a client library does,
//! and proofs a client library never would (for the refusals).

use crate::dpop::token_hash;
use crate::keys::VerifyingKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::{json, Value};
use std::cell::Cell;

/// An Ed25519 key pair of a client, and a counter for its proofs' `jti`.
pub struct DpopKey {
    key_pair: ed25519_compact::KeyPair,
    proofs: Cell<u64>,
}

impl DpopKey {
    /// The key of the 32-byte seed `[seed; 32]`.
    pub fn new(seed: u8) -> DpopKey {
        DpopKey {
            key_pair: ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([seed; 32])),
            proofs: Cell::new(0),
        }
    }

    /// The public key as the proof's `jwk` header (RFC 8037 §2).
    pub fn jwk(&self) -> Value {
        json!({ "kty": "OKP", "crv": "Ed25519", "x": B64URL.encode(self.key_pair.pk.as_ref()) })
    }

    /// The same JWK with its private part `d`: what a proof must never carry.
    pub fn private_jwk(&self) -> Value {
        let mut jwk = self.jwk();
        jwk["d"] = B64URL.encode(self.key_pair.sk.seed().as_ref()).into();
        jwk
    }

    /// The RFC 7638 thumbprint of [`DpopKey::jwk`]: `cnf.jkt` of tokens bound to it.
    pub fn thumbprint(&self) -> String {
        let x = B64URL.encode(self.key_pair.pk.as_ref());
        VerifyingKey::from_jwk_x(&x).expect("a valid key").kid
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

    /// A proof as a client library makes it (`typ: dpop+jwt`, `alg: EdDSA`, the public JWK).
    pub fn proof(&self, htm: &str, htu: &str, iat: i64, token: Option<&str>) -> String {
        self.sign(&self.header(), &self.claims(htm, htu, iat, token))
    }

    /// The header of [`DpopKey::proof`].
    pub fn header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": "EdDSA", "jwk": self.jwk() })
    }

    /// Any header and claims, signed with this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let signature = self.key_pair.sk.sign(input.as_bytes(), None);
        format!("{input}.{}", B64URL.encode(signature.as_ref()))
    }
}
