//! Access tokens: JWTs per RFC 9068 (`typ: at+jwt`), signed with Ed25519 (RFC 8037 `EdDSA`)
//! under a `kid` that is the key's RFC 7638 thumbprint.
//!
//! Signing and validation are pure: the caller passes `now` and the random `jti` bytes.

use crate::scope::ScopeSet;
use crate::secret::TOKEN_ID_BYTES;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Clock skew tolerated on `exp`, `nbf` and `iat` (seconds).
pub const CLOCK_LEEWAY_SECS: i64 = 30;
/// Tokens longer than this are refused before any decoding work.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// An Ed25519 signing key with its public half and key id.
pub struct SigningKey {
    key_pair: ed25519_compact::KeyPair,
    verifying: VerifyingKey,
}

/// A public key tokens may be signed with.
#[derive(Clone)]
pub struct VerifyingKey {
    pub kid: String,
    public: ed25519_compact::PublicKey,
}

/// Why a signing key could not be loaded. Never includes the key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub &'static str);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl SigningKey {
    /// From a 32-byte Ed25519 seed, base64url (padding optional), as kept in the runtime's
    /// secret store (`ISOGATE_SIGNING_KEY`).
    pub fn from_base64_seed(encoded: &str) -> Result<SigningKey, KeyError> {
        let trimmed = encoded.trim().trim_end_matches('=');
        let seed = B64URL.decode(trimmed).map_err(|_| KeyError("signing key is not base64url"))?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| KeyError("signing key must be a 32-byte Ed25519 seed"))?;
        Ok(SigningKey::from_seed(seed))
    }

    pub fn from_seed(seed: [u8; 32]) -> SigningKey {
        let key_pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
        let verifying = VerifyingKey::from_public(key_pair.pk);
        SigningKey { key_pair, verifying }
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        *self.key_pair.sk.sign(message, None)
    }

    /// The private key as an RFC 8410 PKCS #8 document, for handing to a native Ed25519
    /// implementation ([`Ed25519`]); the same secret as the seed it was made from.
    pub fn pkcs8_der(&self) -> Vec<u8> {
        // SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }
        const PREFIX: [u8; 16] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
        let mut der = PREFIX.to_vec();
        der.extend_from_slice(self.key_pair.sk.seed().as_ref());
        der
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
        key.sign(message)
    }

    async fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
        key.verify(message, signature)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey {{ kid: {:?}, seed: [redacted] }}", self.verifying.kid)
    }
}

impl VerifyingKey {
    fn from_public(public: ed25519_compact::PublicKey) -> VerifyingKey {
        VerifyingKey { kid: jwk_thumbprint(&public), public }
    }

    /// From the `x` of an OKP/Ed25519 JWK (base64url of the 32-byte public key).
    pub fn from_jwk_x(x: &str) -> Result<VerifyingKey, KeyError> {
        let raw = B64URL.decode(x.trim()).map_err(|_| KeyError("public key is not base64url"))?;
        let public = ed25519_compact::PublicKey::from_slice(&raw).map_err(|_| KeyError("public key must be 32 bytes"))?;
        Ok(VerifyingKey::from_public(public))
    }

    /// The raw 32-byte public key (RFC 8032 encoding).
    pub fn raw(&self) -> [u8; 32] {
        *self.public
    }

    fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.public.verify(message, &ed25519_compact::Signature::new(*signature)).is_ok()
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
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, B64URL.encode(public.as_ref()));
    B64URL.encode(Sha256::digest(canonical.as_bytes()))
}

/// The keys tokens are checked against: the current signing key's public half and any older
/// ones still published during a rotation.
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

/// RFC 9068 §2.2 claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The user the token acts for.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    /// The credential's client id; the service check looks it up to honour revocation.
    pub client_id: String,
    /// Space-delimited granted scopes.
    pub scope: String,
}

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// What to put in a new token.
#[derive(Clone, Debug)]
pub struct TokenGrant<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub subject: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a ScopeSet,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// An issued token and its claims.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    pub access_token: String,
    pub claims: AccessTokenClaims,
}

/// Signs an access token with the portable Ed25519. `jti_bytes` must come from a CSPRNG.
pub fn issue_access_token(key: &SigningKey, grant: &TokenGrant<'_>, jti_bytes: &[u8; TOKEN_ID_BYTES]) -> IssuedToken {
    let unsigned = unsigned_access_token(key, grant, jti_bytes);
    let signature = key.sign(unsigned.signing_input());
    unsigned.finish(signature)
}

/// An access token up to its signature: header and claims, encoded.
pub struct UnsignedToken {
    signing_input: String,
    claims: AccessTokenClaims,
}

impl UnsignedToken {
    /// What the signature is over (JWS signing input: `header.claims`).
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    pub fn finish(self, signature: [u8; 64]) -> IssuedToken {
        let mut token = self.signing_input;
        token.push('.');
        token.push_str(&B64URL.encode(signature));
        IssuedToken { access_token: token, claims: self.claims }
    }
}

/// Builds an access token for `key` to sign (see [`UnsignedToken::finish`]).
pub fn unsigned_access_token(key: &SigningKey, grant: &TokenGrant<'_>, jti_bytes: &[u8; TOKEN_ID_BYTES]) -> UnsignedToken {
    let claims = AccessTokenClaims {
        iss: grant.issuer.to_owned(),
        sub: grant.subject.to_owned(),
        aud: grant.audience.to_owned(),
        exp: grant.expires_at,
        iat: grant.issued_at,
        nbf: None,
        jti: B64URL.encode(jti_bytes),
        client_id: grant.client_id.to_owned(),
        scope: grant.scopes.to_string(),
    };
    let header = Header { alg: "EdDSA", typ: "at+jwt", kid: &key.verifying.kid };
    let mut token = String::with_capacity(400);
    token.push_str(&B64URL.encode(serde_json::to_vec(&header).expect("header serializes")));
    token.push('.');
    token.push_str(&B64URL.encode(serde_json::to_vec(&claims).expect("claims serialize")));
    UnsignedToken { signing_input: token, claims }
}

/// Why a token was refused. Each maps to RFC 6750 `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenInvalid {
    /// Not three base64url parts of JSON, or too long.
    Malformed,
    /// `alg` is not `EdDSA`, or `typ` is not `at+jwt` (RFC 9068 §4: reject other types, so an
    /// ID token or other JWT cannot pass as an access token).
    WrongType,
    /// No published key has this `kid`.
    UnknownKey,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    Expired,
    NotYetValid,
}

impl TokenInvalid {
    pub fn description(self) -> &'static str {
        match self {
            TokenInvalid::Malformed => "the access token is malformed",
            TokenInvalid::WrongType => "the token is not an access token (typ at+jwt, alg EdDSA)",
            TokenInvalid::UnknownKey => "the access token was signed with an unknown key",
            TokenInvalid::BadSignature => "the access token signature is invalid",
            TokenInvalid::WrongIssuer => "the access token was issued by another issuer",
            TokenInvalid::WrongAudience => "the access token is for another audience",
            TokenInvalid::Expired => "the access token expired",
            TokenInvalid::NotYetValid => "the access token is not valid yet",
        }
    }
}

/// RFC 9068 §4 validation: type and algorithm, key, signature, issuer, audience, time.
pub fn validate_access_token(
    token: &str,
    keys: &KeySet,
    issuer: &str,
    audience: &str,
    now: i64,
) -> Result<AccessTokenClaims, TokenInvalid> {
    let claims = verify_access_token(token, keys, issuer, audience)?;
    check_token_time(&claims, now)?;
    Ok(claims)
}

/// The time-independent part of validation: type and algorithm, key, signature, issuer,
/// audience. Its result holds for as long as the key set does, so it can be cached per token
/// ([`crate::cache::VerifiedTokens`]); the time checks cannot.
pub fn verify_access_token(token: &str, keys: &KeySet, issuer: &str, audience: &str) -> Result<AccessTokenClaims, TokenInvalid> {
    let signed = parse_access_token(token, keys)?;
    let genuine = signed.key.verify(signed.signing_input(), &signed.signature);
    signed.claims_if(genuine, issuer, audience)
}

/// A token whose form, type and key are checked, up to the signature check.
pub struct SignedToken<'a> {
    pub key: &'a VerifyingKey,
    pub signature: [u8; 64],
    signed: &'a str,
    claims_b64: &'a str,
}

impl SignedToken<'_> {
    pub fn signing_input(&self) -> &[u8] {
        self.signed.as_bytes()
    }

    /// The claims, once the signature was found `genuine`, checked for issuer and audience.
    pub fn claims_if(self, genuine: bool, issuer: &str, audience: &str) -> Result<AccessTokenClaims, TokenInvalid> {
        if !genuine {
            return Err(TokenInvalid::BadSignature);
        }
        // Only now, with the signature checked, is the payload worth decoding.
        let claims_json = B64URL.decode(self.claims_b64).map_err(|_| TokenInvalid::Malformed)?;
        let claims: AccessTokenClaims = serde_json::from_slice(&claims_json).map_err(|_| TokenInvalid::Malformed)?;
        if claims.iss != issuer {
            return Err(TokenInvalid::WrongIssuer);
        }
        if claims.aud != audience {
            return Err(TokenInvalid::WrongAudience);
        }
        Ok(claims)
    }
}

/// The first part of validation: size, form, `alg`/`typ`, known `kid`. Cheap; no signature.
pub fn parse_access_token<'a>(token: &'a str, keys: &'a KeySet) -> Result<SignedToken<'a>, TokenInvalid> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenInvalid::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(c64), Some(s64), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenInvalid::Malformed);
    };
    let header_json = B64URL.decode(h64).map_err(|_| TokenInvalid::Malformed)?;
    let header: Header<'_> = serde_json::from_slice(&header_json).map_err(|_| TokenInvalid::Malformed)?;
    let typ_ok = header.typ.eq_ignore_ascii_case("at+jwt") || header.typ.eq_ignore_ascii_case("application/at+jwt");
    if header.alg != "EdDSA" || !typ_ok {
        return Err(TokenInvalid::WrongType);
    }
    let key = keys.find(header.kid).ok_or(TokenInvalid::UnknownKey)?;
    let signature = B64URL.decode(s64).map_err(|_| TokenInvalid::Malformed)?;
    let signature: [u8; 64] = signature.try_into().map_err(|_| TokenInvalid::Malformed)?;
    Ok(SignedToken { key, signature, signed: &token[..h64.len() + 1 + c64.len()], claims_b64: c64 })
}

/// `exp`, `nbf` and `iat` against `now`, with [`CLOCK_LEEWAY_SECS`] of skew.
pub fn check_token_time(claims: &AccessTokenClaims, now: i64) -> Result<(), TokenInvalid> {
    if now >= claims.exp + CLOCK_LEEWAY_SECS {
        return Err(TokenInvalid::Expired);
    }
    if claims.nbf.is_some_and(|nbf| now + CLOCK_LEEWAY_SECS < nbf) || now + CLOCK_LEEWAY_SECS < claims.iat {
        return Err(TokenInvalid::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://example.com";

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed([n; 32])
    }

    fn issue(k: &SigningKey, iat: i64, exp: i64) -> IssuedToken {
        let scopes = ScopeSet::parse("service:a").unwrap();
        let grant = TokenGrant { issuer: ISS, audience: ISS, subject: "root", client_id: "abcd-efgh", scopes: &scopes, issued_at: iat, expires_at: exp };
        issue_access_token(k, &grant, &[9; TOKEN_ID_BYTES])
    }

    fn keyset(k: &SigningKey) -> KeySet {
        KeySet::new(vec![k.verifying_key().clone()])
    }

    fn part(token: &str, i: usize) -> serde_json::Value {
        serde_json::from_slice(&B64URL.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn rfc9068_header_and_claims() {
        let t = issue(&key(1), 1000, 4600);
        let h = part(&t.access_token, 0);
        assert_eq!(h["typ"], "at+jwt");
        assert_eq!(h["alg"], "EdDSA");
        assert_eq!(h["kid"], key(1).verifying_key().kid.as_str());
        let c = part(&t.access_token, 1);
        for claim in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"] {
            assert!(c.get(claim).is_some(), "missing {claim}");
        }
        assert_eq!(c["scope"], "service:a");
    }

    #[test]
    fn valid_token_round_trips() {
        let k = key(1);
        let t = issue(&k, 1000, 4600);
        assert_eq!(validate_access_token(&t.access_token, &keyset(&k), ISS, ISS, 2000).unwrap(), t.claims);
    }

    #[test]
    fn rfc8410_pkcs8_encoding_of_the_signing_key() {
        // RFC 8410 §10.3's example private key and its seed.
        let seed: [u8; 32] = hex32("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842");
        let expected = base64::engine::general_purpose::STANDARD.decode("MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC").unwrap();
        assert_eq!(SigningKey::from_seed(seed).pkcs8_der(), expected);
    }

    fn hex32(s: &str) -> [u8; 32] {
        let bytes: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
        bytes.try_into().unwrap()
    }

    #[test]
    fn rfc7638_kid_is_the_jwk_thumbprint() {
        // RFC 8037 Appendix A.3: the thumbprint of its example Ed25519 key.
        let k = VerifyingKey::from_jwk_x("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        assert_eq!(k.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn expiry_honours_the_leeway() {
        let k = key(1);
        let t = issue(&k, 1000, 2000);
        assert!(validate_access_token(&t.access_token, &keyset(&k), ISS, ISS, 2000 + CLOCK_LEEWAY_SECS - 1).is_ok());
        assert_eq!(validate_access_token(&t.access_token, &keyset(&k), ISS, ISS, 2000 + CLOCK_LEEWAY_SECS).unwrap_err(), TokenInvalid::Expired);
    }

    #[test]
    fn token_from_the_future_is_not_yet_valid() {
        let k = key(1);
        let t = issue(&k, 5000, 9000);
        assert_eq!(validate_access_token(&t.access_token, &keyset(&k), ISS, ISS, 1000).unwrap_err(), TokenInvalid::NotYetValid);
    }

    #[test]
    fn other_keys_issuers_and_audiences_are_refused() {
        let t = issue(&key(1), 1000, 4600);
        assert_eq!(validate_access_token(&t.access_token, &keyset(&key(2)), ISS, ISS, 2000).unwrap_err(), TokenInvalid::UnknownKey);
        assert_eq!(validate_access_token(&t.access_token, &keyset(&key(1)), "https://other", ISS, 2000).unwrap_err(), TokenInvalid::WrongIssuer);
        assert_eq!(validate_access_token(&t.access_token, &keyset(&key(1)), ISS, "x", 2000).unwrap_err(), TokenInvalid::WrongAudience);
    }

    #[test]
    fn tampered_payload_fails_the_signature() {
        let k = key(1);
        let t = issue(&k, 1000, 4600);
        let mut parts: Vec<String> = t.access_token.split('.').map(str::to_owned).collect();
        let mut claims = part(&t.access_token, 1);
        claims["scope"] = "service:*".into();
        parts[1] = B64URL.encode(serde_json::to_vec(&claims).unwrap());
        assert_eq!(validate_access_token(&parts.join("."), &keyset(&k), ISS, ISS, 2000).unwrap_err(), TokenInvalid::BadSignature);
    }

    #[test]
    fn rfc9068_4_other_jwt_types_and_algorithms_are_refused() {
        let k = key(1);
        let t = issue(&k, 1000, 4600);
        let rest = t.access_token.split_once('.').unwrap().1;
        for header in [r#"{"alg":"EdDSA","typ":"JWT","kid":"x"}"#, r#"{"alg":"none","typ":"at+jwt","kid":"x"}"#, r#"{"alg":"HS256","typ":"at+jwt","kid":"x"}"#] {
            let forged = format!("{}.{rest}", B64URL.encode(header));
            assert_eq!(validate_access_token(&forged, &keyset(&k), ISS, ISS, 2000).unwrap_err(), TokenInvalid::WrongType, "{header}");
        }
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let ks = keyset(&key(1));
        for t in ["", ".", "..", "a.b.c", "a.b.c.d", "!!.??.**", &"a".repeat(MAX_TOKEN_BYTES + 1), "eyJhbGciOiJFZERTQSJ9.e30.AAAA"] {
            assert!(validate_access_token(t, &ks, ISS, ISS, 0).is_err(), "{t}");
        }
    }

    #[test]
    fn seed_must_be_32_bytes_of_base64url() {
        assert!(SigningKey::from_base64_seed(&B64URL.encode([1u8; 32])).is_ok());
        assert!(SigningKey::from_base64_seed("short").is_err());
        assert!(SigningKey::from_base64_seed("***").is_err());
        assert!(!format!("{:?}", key(1)).contains("[1,"));
    }
}
