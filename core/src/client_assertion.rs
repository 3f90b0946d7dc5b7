//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, RFC 7521 §4.2): the client
//! proves it holds a private key by signing a short-lived JWT about itself.
//!
//! ```text
//! parse_compact (alg EdDSA | ES256 | RS256) ─► the registered key of that alg (and kid)
//!   ─► JwsVerifier::verify (the runtime's crypto) ─► check_claims (iss = sub = client id,
//!   aud, exp ≤ now + 5 min, nbf, iat) ─► the jti spent (storage insert, unique key)
//! ```
//!
//! The keys are registered with the credential (`--public-key`), or published by the client at
//! a `jwks_uri` (`--jwks-uri`, RFC 7591 §2's client metadata of that name): fetched and cached
//! per isolate like a federated issuer's ([`crate::federation::FederatedKeys`]: `Cache-Control`
//! honoured, bounded, refreshed for an unknown `kid` at most once per interval), so a client
//! rotates its key without the admin API.
//!
//! The signature is checked before anything is written, so that only the key's holder can
//! spend a `jti`. Every refusal is `invalid_client` (RFC 7521 §4.2.1, RFC 6749 §5.2) and is
//! counted by the throttle like a wrong secret.

use crate::jws::{parse_compact, CompactJws, JwkSet, JwsVerifier, PublicJwk, RawJwk};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The latest `exp` accepted: five minutes from now. A longer-lived assertion would be a
/// bearer credential in all but name; a short one bounds how long its `jti` must be kept.
pub const MAX_LIFETIME_SECS: i64 = 300;

/// Clock skew allowed between the client and the gateway, for `nbf` and `iat` in the future,
/// and for an `exp` just past.
pub const LEEWAY_SECS: i64 = 30;

/// Longest `jti` kept (RFC 7519 §4.1.7 sets no bound; the table must have one).
pub const MAX_JTI_BYTES: usize = 256;

/// Why an assertion was refused: typed for the audit log, one `invalid_client` to the
/// client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssertionFailure {
    /// Not a compact JWS with a known `alg`, or claims of the wrong type.
    Malformed,
    /// No registered key of that algorithm (and kid).
    UnknownKey,
    /// The signature is not the key's.
    BadSignature,
    /// `iss` or `sub` is not the client id (RFC 7523 §3 items 1, 2).
    WrongSubject,
    /// `aud` names neither the issuer nor the token endpoint (RFC 7523 §3 item 3).
    WrongAudience,
    /// No `exp`, or `exp` has passed (RFC 7523 §3 item 4).
    Expired,
    /// `exp` further ahead than [`MAX_LIFETIME_SECS`].
    TooLongLived,
    /// `nbf` or `iat` in the future (RFC 7523 §3 items 5, 6).
    NotYetValid,
    /// No `jti`, or one longer than [`MAX_JTI_BYTES`].
    NoJti,
    /// The `jti` was used before within its lifetime (RFC 7523 §3 item 7).
    Replayed,
}

impl AssertionFailure {
    /// The audit word.
    pub fn as_str(self) -> &'static str {
        match self {
            AssertionFailure::Malformed => "malformed",
            AssertionFailure::UnknownKey => "unknown_key",
            AssertionFailure::BadSignature => "bad_signature",
            AssertionFailure::WrongSubject => "wrong_subject",
            AssertionFailure::WrongAudience => "wrong_audience",
            AssertionFailure::Expired => "expired",
            AssertionFailure::TooLongLived => "too_long_lived",
            AssertionFailure::NotYetValid => "not_yet_valid",
            AssertionFailure::NoJti => "no_jti",
            AssertionFailure::Replayed => "replayed",
        }
    }
}

/// What an assertion must say: who (`client_id`) and to whom (RFC 7523 §3 item 3: Isogate's
/// `issuer`, its token endpoint URL, or the URL of the `endpoint` asked, a path such as
/// `/oauth2/revoke`).
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    pub client_id: &'a str,
    pub issuer: &'a str,
    pub endpoint: &'a str,
}

impl Expected<'_> {
    /// Whether `aud` identifies this server (compared without building the URLs).
    fn is_ours(&self, aud: &str) -> bool {
        aud.strip_prefix(self.issuer)
            .is_some_and(|rest| rest.is_empty() || rest == "/oauth2/token" || rest == self.endpoint)
    }
}

/// A verified assertion: what is kept to refuse its replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub jti: String,
    /// Unix seconds; the `jti` must be refused until then.
    pub exp: i64,
}

/// The client id an assertion claims to be for (its `sub`, RFC 7523 §3 item 2), read without
/// verifying anything: to find the credential whose keys then verify it. `None` for anything
/// that is not a JWT with a string `sub`.
pub fn claimed_client_id(assertion: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Sub {
        sub: String,
    }
    let jws = parse_compact(assertion).ok()?;
    serde_json::from_slice::<Sub>(&jws.payload)
        .ok()
        .map(|c| c.sub)
}

/// The registered claims (RFC 7519 §4.1) an assertion is judged by. Read with one small
/// visitor (the worker's size); a claim of another type than its own counts as absent, which
/// every check then refuses.
#[derive(Debug, Default)]
pub struct Claims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<Audience>,
    pub exp: Option<NumericDate>,
    pub nbf: Option<NumericDate>,
    pub iat: Option<NumericDate>,
    pub jti: Option<String>,
}

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Claims;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JWT claims set")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Claims, A::Error> {
                let mut c = Claims::default();
                while let Some(name) = a.next_key::<String>()? {
                    match name.as_str() {
                        "iss" => c.iss = a.next_value::<crate::jws::StringOrSkip>()?.0,
                        "sub" => c.sub = a.next_value::<crate::jws::StringOrSkip>()?.0,
                        "jti" => c.jti = a.next_value::<crate::jws::StringOrSkip>()?.0,
                        "aud" => c.aud = Some(a.next_value()?),
                        "exp" => c.exp = Some(a.next_value()?),
                        "nbf" => c.nbf = Some(a.next_value()?),
                        "iat" => c.iat = Some(a.next_value()?),
                        _ => drop(a.next_value::<de::IgnoredAny>()?),
                    }
                }
                Ok(c)
            }
        }
        d.deserialize_map(V)
    }
}

/// `aud`: one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Audience(pub Vec<String>);

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut all = Vec::new();
                while let Some(a) = seq.next_element::<String>()? {
                    all.push(a);
                }
                Ok(Audience(all))
            }
        }
        d.deserialize_any(V)
    }
}

/// A NumericDate (RFC 7519 §2): seconds, an integer or a number with a fraction (dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumericDate(pub i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                i64::try_from(v)
                    .map(NumericDate)
                    .map_err(|_| E::custom("out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() && v.abs() < 1e15 {
                    Ok(NumericDate(v as i64))
                } else {
                    Err(E::custom("out of range"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl Claims {
    /// The claims of a JWT's payload bytes.
    pub fn parse(payload: &[u8]) -> Result<Claims, AssertionFailure> {
        serde_json::from_slice(payload).map_err(|_| AssertionFailure::Malformed)
    }
}

/// Where a `private_key_jwt` credential's keys are, as stored with it
/// (`isogate_credential_keys.spec`): registered (a JWK set), or published by the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientKeys {
    Registered(JwkSet),
    /// `{"jwks_uri": "..."}`: an https URL (or http to loopback), checked at registration.
    Published {
        jwks_uri: String,
    },
}

impl ClientKeys {
    pub fn to_json(&self) -> String {
        match self {
            ClientKeys::Registered(keys) => keys.to_json(),
            ClientKeys::Published { jwks_uri } => {
                serde_json::json!({ "jwks_uri": jwks_uri }).to_string()
            }
        }
    }

    /// The stored spec; `None` for one that does not parse (it matches no key).
    pub fn from_json(text: &str) -> Option<ClientKeys> {
        let raw: RawJwk = serde_json::from_str(text).ok()?;
        match raw.get("jwks_uri") {
            Some(uri) => Some(ClientKeys::Published {
                jwks_uri: uri.to_owned(),
            }),
            None => JwkSet::from_raw(&raw).ok().map(ClientKeys::Registered),
        }
    }
}

/// Checks an assertion's signature with the credential's `keys`, then its claims at `now`
/// (Unix seconds). The `jti` is the caller's to spend.
pub async fn verify_client_assertion(
    jws: &dyn JwsVerifier,
    assertion: &str,
    keys: &JwkSet,
    expected: Expected<'_>,
    now: i64,
) -> Result<VerifiedAssertion, AssertionFailure> {
    let parsed = parse_compact(assertion).map_err(|_| AssertionFailure::Malformed)?;
    let key = keys
        .select(parsed.alg, parsed.kid.as_deref())
        .ok_or(AssertionFailure::UnknownKey)?;
    verify_signed(jws, &parsed, key, expected, now).await
}

/// Checks a parsed assertion's signature with `key` (of its `alg`, found by the caller), then
/// its claims at `now` (Unix seconds).
pub async fn verify_signed(
    jws: &dyn JwsVerifier,
    parsed: &CompactJws<'_>,
    key: &PublicJwk,
    expected: Expected<'_>,
    now: i64,
) -> Result<VerifiedAssertion, AssertionFailure> {
    let genuine = jws
        .verify(
            parsed.alg,
            key,
            parsed.signing_input.as_bytes(),
            &parsed.signature,
        )
        .await;
    if !genuine {
        return Err(AssertionFailure::BadSignature);
    }
    check_claims(&Claims::parse(&parsed.payload)?, expected, now)
}

/// RFC 7523 §3: the claims of a signature-checked assertion, at `now` (Unix seconds).
pub fn check_claims(
    claims: &Claims,
    expected: Expected<'_>,
    now: i64,
) -> Result<VerifiedAssertion, AssertionFailure> {
    // Items 1 and 2 (RFC 7523 §2.2: for client authentication, both are the client id).
    if claims.iss.as_deref() != Some(expected.client_id)
        || claims.sub.as_deref() != Some(expected.client_id)
    {
        return Err(AssertionFailure::WrongSubject);
    }
    // Item 3: a string or an array of strings, one of which identifies this server.
    let aud_ok = claims
        .aud
        .as_ref()
        .is_some_and(|aud| aud.0.iter().any(|a| expected.is_ours(a)));
    if !aud_ok {
        return Err(AssertionFailure::WrongAudience);
    }
    // Item 4: exp is required, and (here) at most five minutes ahead.
    let exp = claims.exp.ok_or(AssertionFailure::Expired)?.0;
    if now >= exp + LEEWAY_SECS {
        return Err(AssertionFailure::Expired);
    }
    if exp > now + MAX_LIFETIME_SECS + LEEWAY_SECS {
        return Err(AssertionFailure::TooLongLived);
    }
    // Items 5 and 6: not before nbf, and not issued in the future.
    if [claims.nbf, claims.iat]
        .iter()
        .flatten()
        .any(|t| t.0 > now + LEEWAY_SECS)
    {
        return Err(AssertionFailure::NotYetValid);
    }
    // Item 7: the jti, spent by the caller.
    let jti = claims
        .jti
        .as_deref()
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_BYTES)
        .ok_or(AssertionFailure::NoJti)?;
    Ok(VerifiedAssertion {
        jti: jti.to_owned(),
        exp: exp + LEEWAY_SECS,
    })
}
