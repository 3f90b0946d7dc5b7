//! Clients' signing keys for tests of `private_key_jwt` (RFC 7523): one key per algorithm
//! Isogate accepts, fixed (the RSA key was made once, by Node's `generateKeyPairSync`), signing
//! the assertions a client library would send.

use crate::jws::JwsAlg;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The client assertion type of RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// A 2048-bit RSA key (base64url, big-endian): test material only.
const RSA_N: &str =
    "soGDwoJ1FlO1eGrZIb-ZvVZ6WAEBwrIhEFPz2mw1T5AKQydyvDVYknraSVTo06T9diC5tpCKfFKZYESF\
    -NUXKu1reL2vrVUDNYBUc5rO7e53rszqi45Fx0ZR1LBYYlml_KdacO50CnRjBqZQhcW1gAyMOA6RUfNR\
    IDu3Vrl_kmcFzMmpAzaA1Dbv-f00XLMoYeYXBSQSWAo0qfY6-bWgdV8kI7jzjqIObCKf3aiY4yDpyMvO\
    td16OBWvfdMq8MWreynNhLxgdmA-Hy044PGlH40PJkK8vfqnx1T-ggLotGv48KhP_3S0Hoz9QKrHuAPG\
    LphBPWL7Q1v51arA950b7Q";
const RSA_E: &str = "AQAB";
const RSA_D: &str =
    "DgVa779G1R8exOZCRy1WimcC1cDBKPrMMA0ivUhR6P2bthSg0CRcivzirRnh7nsqJsor7Clu8emcVHxt\
    YtMnWQmBrzUvBFgGGCthTByfyP6PILLFxXptBARY-cd0Lx1y3-Ur7GzpE8fP3hOC2vm255I_Z_PKTvvj\
    -7p_txcmQb3Qq0Hfh5YbYSVhludrqBJVN_lPZZmcmMYzsmLso0xA-oAcNoqbcQGtqjuAlvvl4Uwl1sQY\
    MLpfJlOsolXmRC8D0Wacs41oOd6S3OzjAog59SZlCT3WsZ1DXCjUKFVimyzfN3596j8KtMLDNEWGU3ea\
    Ff8Jh_WSW7esHspPO8SXPQ";
const RSA_P: &str =
    "8ibQm9q1KPdedCNASHNVYCBflgwpdi2aoMlCly4kyPQGaYuU9nzGz1fTsaeTgtErsLxJAJ6XsCY57aHk\
    S6yZHpsHxZOpQxYnjdm43DISknGSkkGQFRLWPEXc5K2PiL751GX1_aoo10U4NLC_wWYjuIjEDNmZj6g8\
    rEIpWVVbXOc";
const RSA_Q: &str =
    "vLbnfYLvTP36g1nDRp0QATMX90VqXOvqxZAsJ3B65YZubQwjsOaRVDP2VbYERGjz_UazKZ8xgUt0u4rx\
    rUhBLA-r1M9NPrtWzkz-NCoX_ayeQqBbVH7M-iFtvbPy_P-zK_d5LTap_WINYz3Ghn6Jl8WAahVKBrQR\
    vAXdtHK9Mgs";

/// A client's private key.
pub struct ClientKey {
    pub alg: JwsAlg,
    pub kid: String,
    secret: Secret,
}

enum Secret {
    Ed25519(ed25519_compact::KeyPair),
    P256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

fn b64(s: &str) -> rsa::BigUint {
    rsa::BigUint::from_bytes_be(&B64URL.decode(s).expect("a fixed key"))
}

impl ClientKey {
    /// The fixed key of `alg`, derived from `seed` (EdDSA, ES256; the RSA key is one), with
    /// `kid`.
    pub fn new(alg: JwsAlg, seed: u8, kid: &str) -> ClientKey {
        let secret = match alg {
            JwsAlg::EdDSA => Secret::Ed25519(ed25519_compact::KeyPair::from_seed(
                ed25519_compact::Seed::new([seed; 32]),
            )),
            JwsAlg::ES256 => {
                let mut scalar = [seed; 32];
                scalar[0] = 0x01; // below the group order
                Secret::P256(p256::ecdsa::SigningKey::from_slice(&scalar).expect("a valid scalar"))
            }
            JwsAlg::RS256 => Secret::Rsa(Box::new(
                rsa::RsaPrivateKey::from_components(
                    b64(RSA_N),
                    b64(RSA_E),
                    b64(RSA_D),
                    vec![b64(RSA_P), b64(RSA_Q)],
                )
                .expect("a valid RSA key"),
            )),
        };
        ClientKey {
            alg,
            kid: kid.to_owned(),
            secret,
        }
    }

    /// The public JWK, as a client registers it (with `kid`, `alg` and `use`).
    pub fn public_jwk(&self) -> Value {
        let mut jwk = match &self.secret {
            Secret::Ed25519(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": B64URL.encode(pair.pk.as_ref())})
            }
            Secret::P256(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                json!({
                    "kty": "EC", "crv": "P-256",
                    "x": B64URL.encode(point.x().expect("uncompressed")),
                    "y": B64URL.encode(point.y().expect("uncompressed")),
                })
            }
            Secret::Rsa(_) => json!({"kty": "RSA", "n": RSA_N, "e": RSA_E}),
        };
        jwk["kid"] = self.kid.as_str().into();
        jwk["alg"] = self.alg.as_str().into();
        jwk["use"] = "sig".into();
        jwk
    }

    /// A compact JWS of `claims` with header `{"alg", "kid", "typ": "JWT"}` plus `extra`.
    pub fn sign(&self, claims: &Value, extra_header: &Value) -> String {
        let mut header = json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": "JWT"});
        if let Some(extra) = extra_header.as_object() {
            for (k, v) in extra {
                header[k] = v.clone();
            }
        }
        let input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let signature = self.sign_bytes(input.as_bytes());
        format!("{input}.{}", B64URL.encode(signature))
    }

    /// The raw signature of `message` (JWS form: `r || s` for ES256).
    pub fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        match &self.secret {
            Secret::Ed25519(pair) => pair.sk.sign(message, None).to_vec(),
            Secret::P256(key) => {
                use p256::ecdsa::signature::Signer as _;
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            Secret::Rsa(key) => key
                .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message))
                .expect("RSA signs"),
        }
    }
}

/// The claims of a client assertion of `client_id` for audience `aud`, issued at `now` (Unix
/// seconds) for `lifetime` seconds, with `jti`.
pub fn assertion_claims(client_id: &str, aud: &str, now: i64, lifetime: i64, jti: &str) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": now, "exp": now + lifetime, "jti": jti,
    })
}
