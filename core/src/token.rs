//! Access tokens on the wire: JWTs per RFC 9068 (`typ: at+jwt`), signed with Ed25519
//! (RFC 8037 `EdDSA`) under a `kid` that is the key's RFC 7638 thumbprint.
//!
//! Only encoding and decoding live here, and pure checks: `mint::Minter` is the one way to
//! sign a token and `verify::Verifier` the one way to accept one.

use crate::capability::Now;
use crate::keys::{KeySet, SigningKey, VerifyingKey};
use crate::scope::ScopeSet;
use crate::secret::TOKEN_ID_BYTES;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Clock skew tolerated on `exp`, `nbf` and `iat` (seconds).
pub const CLOCK_LEEWAY_SECS: i64 = 30;
/// Tokens longer than this are refused before any decoding work.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// RFC 9068 §2.2 claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The user the token acts for.
    pub sub: String,
    /// The issuer (every service the scope allows), or the services' URLs of a token issued
    /// with RFC 8707 `resource` parameters ([`crate::resource`]).
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    /// The credential's client id; the service check looks it up to honour revocation.
    pub client_id: String,
    /// Space-delimited granted scopes.
    pub scope: String,
    /// The key the token is bound to (RFC 9449 §6: DPoP); absent: a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 §3.1 confirmation claim, with the one member DPoP uses (RFC 9449 §6.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 thumbprint of the client's DPoP key.
    pub jkt: String,
}

/// The `aud` claim (RFC 7519 §4.1.3): a string when it holds one value, as every token this
/// gateway signed before RFC 8707 had, else an array. Read in either form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    pub fn new(values: Vec<String>) -> Audience {
        Audience(values)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The value, when there is exactly one.
    pub fn single(&self) -> Option<&str> {
        match self.0.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

impl From<&str> for Audience {
    fn from(value: &str) -> Audience {
        Audience(vec![value.to_owned()])
    }
}

impl Serialize for Audience {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.single() {
            Some(one) => s.serialize_str(one),
            None => self.0.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Audience, D::Error> {
        struct Values;
        impl<'de> serde::de::Visitor<'de> for Values {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience::from(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Audience, A::Error> {
                let mut values = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    values.push(v);
                }
                Ok(Audience(values))
            }
        }
        d.deserialize_any(Values)
    }
}

/// A JWS header (RFC 7515 §4): what every token this gateway signs carries.
#[derive(Serialize, Deserialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// `typ` of access tokens (RFC 9068 §2.1); the media type form is accepted on input.
const ACCESS_TOKEN_TYPES: &[&str] = &["at+jwt", "application/at+jwt"];

/// The JWS signing input (RFC 7515 §5.1): `base64url(header).base64url(claims)`, for
/// `key` to sign with EdDSA as `typ`.
pub(crate) fn jws_signing_input(key: &SigningKey, typ: &str, claims: &impl Serialize) -> String {
    let header = Header {
        alg: "EdDSA",
        typ,
        kid: &key.verifying_key().kid,
    };
    let mut token = String::with_capacity(600);
    token.push_str(&B64URL.encode(serde_json::to_vec(&header).expect("header serializes")));
    token.push('.');
    token.push_str(&B64URL.encode(serde_json::to_vec(claims).expect("claims serialize")));
    token
}

/// Completes a JWS: the signing input, `.`, the signature in base64url.
pub(crate) fn with_signature(mut signing_input: String, signature: [u8; 64]) -> String {
    signing_input.push('.');
    signing_input.push_str(&B64URL.encode(signature));
    signing_input
}

/// What to put in a new token.
#[derive(Clone, Debug)]
pub struct TokenGrant<'a> {
    pub issuer: &'a str,
    pub audience: Audience,
    pub subject: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a ScopeSet,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The thumbprint of the DPoP key the token is bound to (RFC 9449 §6); `None`: bearer.
    pub jkt: Option<&'a str>,
}

/// An issued token and its claims.
#[derive(Clone)]
pub struct IssuedToken {
    /// The bearer credential itself: never logged.
    pub access_token: String,
    pub claims: AccessTokenClaims,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"[redacted]")
            .field("claims", &self.claims)
            .finish()
    }
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
        IssuedToken {
            access_token: with_signature(self.signing_input, signature),
            claims: self.claims,
        }
    }
}

/// Builds an access token for `key` to sign (see [`UnsignedToken::finish`]). `jti_bytes` must
/// come from a CSPRNG.
pub fn unsigned_access_token(
    key: &SigningKey,
    grant: &TokenGrant<'_>,
    jti_bytes: &[u8; TOKEN_ID_BYTES],
) -> UnsignedToken {
    let claims = AccessTokenClaims {
        iss: grant.issuer.to_owned(),
        sub: grant.subject.to_owned(),
        aud: grant.audience.clone(),
        exp: grant.expires_at,
        iat: grant.issued_at,
        nbf: None,
        jti: B64URL.encode(jti_bytes),
        client_id: grant.client_id.to_owned(),
        scope: grant.scopes.to_string(),
        cnf: grant.jkt.map(|jkt| Confirmation {
            jkt: jkt.to_owned(),
        }),
    };
    UnsignedToken {
        signing_input: jws_signing_input(key, "at+jwt", &claims),
        claims,
    }
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
    /// The `error_description` of the `invalid_token` refusal.
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

impl fmt::Display for TokenInvalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for TokenInvalid {}

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

    /// The claims, once the signature was found `genuine`, checked for the issuer (the
    /// audience is the verifier's to judge: [`crate::resource::TokenAudience::classify`]).
    pub fn claims_if(self, genuine: bool, issuer: &str) -> Result<AccessTokenClaims, TokenInvalid> {
        let claims: AccessTokenClaims = self.payload_if(genuine)?;
        if claims.iss != issuer {
            return Err(TokenInvalid::WrongIssuer);
        }
        Ok(claims)
    }

    /// The payload, decoded, before any signature check: only for
    /// [`crate::verify::Verifier::read_unverified`], whose caller trusts none of it until the
    /// signature is found genuine (or was, under the same key, for the same token string).
    #[cfg(feature = "instance-per-request")]
    pub(crate) fn peek_payload<C: serde::de::DeserializeOwned>(&self) -> Result<C, TokenInvalid> {
        let json = B64URL
            .decode(self.claims_b64)
            .map_err(|_| TokenInvalid::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| TokenInvalid::Malformed)
    }

    /// The payload, decoded, once the signature was found `genuine`.
    pub(crate) fn payload_if<C: serde::de::DeserializeOwned>(
        self,
        genuine: bool,
    ) -> Result<C, TokenInvalid> {
        if !genuine {
            return Err(TokenInvalid::BadSignature);
        }
        // Only now, with the signature checked, is the payload worth decoding.
        let json = B64URL
            .decode(self.claims_b64)
            .map_err(|_| TokenInvalid::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| TokenInvalid::Malformed)
    }
}

/// The first part of validation (RFC 9068 §4): size, form, `alg`/`typ`, known `kid`. Cheap;
/// no signature.
pub fn parse_access_token<'a>(
    token: &'a str,
    keys: &'a KeySet,
) -> Result<SignedToken<'a>, TokenInvalid> {
    parse_jws(token, keys, ACCESS_TOKEN_TYPES)
}

/// Size, form, `alg: EdDSA`, a `typ` among `types` (RFC 8725 §3.11: each kind of JWT is
/// told apart by its type, so one is never accepted as another), known `kid`.
pub(crate) fn parse_jws<'a>(
    token: &'a str,
    keys: &'a KeySet,
    types: &[&str],
) -> Result<SignedToken<'a>, TokenInvalid> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenInvalid::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(c64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenInvalid::Malformed);
    };
    let header_json = B64URL.decode(h64).map_err(|_| TokenInvalid::Malformed)?;
    let header: Header<'_> =
        serde_json::from_slice(&header_json).map_err(|_| TokenInvalid::Malformed)?;
    let typ_ok = types.iter().any(|t| header.typ.eq_ignore_ascii_case(t));
    if header.alg != "EdDSA" || !typ_ok {
        return Err(TokenInvalid::WrongType);
    }
    let key = keys.find(header.kid).ok_or(TokenInvalid::UnknownKey)?;
    let signature = B64URL.decode(s64).map_err(|_| TokenInvalid::Malformed)?;
    let signature: [u8; 64] = signature.try_into().map_err(|_| TokenInvalid::Malformed)?;
    Ok(SignedToken {
        key,
        signature,
        signed: &token[..h64.len() + 1 + c64.len()],
        claims_b64: c64,
    })
}

/// The `exp` below which a token is refused at `now` whatever the leeway: what revocation
/// records need to be kept for (a revoked token is dropped from the set once it expired).
pub fn expiry_cutoff(now: Now) -> i64 {
    now.unix_secs() - CLOCK_LEEWAY_SECS
}

/// `exp`, `nbf` and `iat` against `now` (RFC 7519 §4.1.4, §4.1.5), with [`CLOCK_LEEWAY_SECS`]
/// of skew.
pub fn check_token_time(claims: &AccessTokenClaims, now: Now) -> Result<(), TokenInvalid> {
    let now = now.unix_secs();
    if now >= claims.exp + CLOCK_LEEWAY_SECS {
        return Err(TokenInvalid::Expired);
    }
    if claims.nbf.is_some_and(|nbf| now + CLOCK_LEEWAY_SECS < nbf)
        || now + CLOCK_LEEWAY_SECS < claims.iat
    {
        return Err(TokenInvalid::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
