//! Keys: the Ed25519 signing key (RFC 8032) loaded from its seed, the public keys tokens are
//! checked against ([`KeySet`], published as the JWKS, RFC 7517), each named by its RFC 7638
//! thumbprint, and the [`Ed25519`] capability through which the runtime signs and verifies.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::fmt;

/// An Ed25519 signing key with its public half and key id.
pub struct SigningKey {
    key_pair: ed25519_compact::KeyPair,
    verifying: VerifyingKey,
}

/// A public key tokens may be signed with.
#[derive(Clone)]
pub struct VerifyingKey {
    /// The RFC 7638 JWK thumbprint: the `kid` of tokens and of the JWKS entry.
    pub kid: String,
    public: ed25519_compact::PublicKey,
}

/// Why a key could not be loaded. Never includes the key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyError(pub &'static str);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for KeyError {}

impl SigningKey {
    /// From a 32-byte Ed25519 seed, base64url (padding optional), as kept in the runtime's
    /// secret store (`ISOGATE_SIGNING_KEY`).
    pub fn from_base64_seed(encoded: &str) -> Result<SigningKey, KeyError> {
        let trimmed = encoded.trim().trim_end_matches('=');
        let seed = B64URL
            .decode(trimmed)
            .map_err(|_| KeyError("signing key is not base64url"))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| KeyError("signing key must be a 32-byte Ed25519 seed"))?;
        Ok(SigningKey::from_seed(seed))
    }

    pub fn from_seed(seed: [u8; 32]) -> SigningKey {
        let key_pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
        let verifying = VerifyingKey::from_public(key_pair.pk);
        SigningKey {
            key_pair,
            verifying,
        }
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    /// The private key as an RFC 8410 PKCS #8 document, for handing to a native Ed25519
    /// implementation ([`Ed25519`]); the same secret as the seed it was made from.
    pub fn pkcs8_der(&self) -> Vec<u8> {
        // SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut der = PREFIX.to_vec();
        der.extend_from_slice(self.key_pair.sk.seed().as_ref());
        der
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey {{ kid: {:?}, seed: [redacted] }}",
            self.verifying.kid
        )
    }
}

/// Ed25519 signing and verification, passed in like storage and randomness: a runtime with a
/// native implementation (Web Crypto in workerd) is several times faster than the portable
/// one compiled to wasm, [`PortableEd25519`], which every runtime can use. Implementations
/// must compute RFC 8032 Ed25519 exactly (signatures are deterministic, so both give the same
/// bytes).
#[allow(async_fn_in_trait)] // the runtimes are single-threaded wasm; no Send bound is wanted
pub trait Ed25519 {
    async fn sign(&self, key: &SigningKey, message: &[u8]) -> [u8; 64];
    async fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool;
}

/// Ed25519 in portable Rust (`ed25519-compact`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PortableEd25519;

impl Ed25519 for PortableEd25519 {
    async fn sign(&self, key: &SigningKey, message: &[u8]) -> [u8; 64] {
        *key.key_pair.sk.sign(message, None)
    }

    async fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
        key.public
            .verify(message, &ed25519_compact::Signature::new(*signature))
            .is_ok()
    }
}

impl VerifyingKey {
    fn from_public(public: ed25519_compact::PublicKey) -> VerifyingKey {
        VerifyingKey {
            kid: jwk_thumbprint(&public),
            public,
        }
    }

    /// From the `x` of an OKP/Ed25519 JWK (base64url of the 32-byte public key).
    pub fn from_jwk_x(x: &str) -> Result<VerifyingKey, KeyError> {
        let raw = B64URL
            .decode(x.trim())
            .map_err(|_| KeyError("public key is not base64url"))?;
        let public = ed25519_compact::PublicKey::from_slice(&raw)
            .map_err(|_| KeyError("public key must be 32 bytes"))?;
        Ok(VerifyingKey::from_public(public))
    }

    /// The raw 32-byte public key (RFC 8032 encoding).
    pub fn raw(&self) -> [u8; 32] {
        *self.public
    }

    /// The public key as a JWK (RFC 8037 §2).
    pub fn to_jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": B64URL.encode(self.public.as_ref()),
            "kid": self.kid, "use": "sig", "alg": "EdDSA",
        })
    }
}

/// RFC 7638 thumbprint of an Ed25519 JWK (RFC 8037 §2: members `crv`, `kty`, `x`, in order).
fn jwk_thumbprint(public: &ed25519_compact::PublicKey) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        B64URL.encode(public.as_ref())
    );
    B64URL.encode(Sha256::digest(canonical.as_bytes()))
}

/// The keys tokens are checked against: the current signing key's public half and any others
/// published during a rotation (the next key, and retired ones until their tokens expire).
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl KeySet {
    pub fn new(keys: Vec<VerifyingKey>) -> KeySet {
        KeySet { keys }
    }

    pub fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The JWKS document (RFC 7517 §5).
    pub fn to_jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.keys.iter().map(VerifyingKey::to_jwk).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> [u8; 32] {
        let bytes: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    #[test]
    fn rfc8410_10_3_pkcs8_encoding_of_the_signing_key() {
        // RFC 8410 §10.3's example private key and its seed.
        let seed: [u8; 32] =
            hex32("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842");
        let expected = base64::engine::general_purpose::STANDARD
            .decode("MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC")
            .unwrap();
        assert_eq!(SigningKey::from_seed(seed).pkcs8_der(), expected);
    }

    #[test]
    fn rfc7638_kid_is_the_jwk_thumbprint() {
        // RFC 8037 Appendix A.3: the thumbprint of its example Ed25519 key.
        let k = VerifyingKey::from_jwk_x("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        assert_eq!(k.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn seed_must_be_32_bytes_of_base64url_and_is_never_printed() {
        assert!(SigningKey::from_base64_seed(&B64URL.encode([1u8; 32])).is_ok());
        assert!(SigningKey::from_base64_seed("short").is_err());
        assert!(SigningKey::from_base64_seed("***").is_err());
        assert!(!format!("{:?}", SigningKey::from_seed([1; 32])).contains("[1,"));
    }

    #[test]
    fn jwks_publishes_the_public_key_only() {
        let k = SigningKey::from_seed([1; 32]);
        let jwks = KeySet::new(vec![k.verifying_key().clone()]).to_jwks();
        assert_eq!(jwks["keys"][0]["kid"], k.verifying_key().kid.as_str());
        assert!(jwks["keys"][0].get("d").is_none());
    }
}
