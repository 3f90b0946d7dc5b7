//! JWS (RFC 7515) in compact form, as clients sign their assertions with it: the header and
//! payload parsed, public JWKs (RFC 7517) parsed into typed keys, and the [`JwsVerifier`]
//! capability through which the runtime checks a signature with one of the algorithms
//! Isogate accepts ([`JwsAlg`]: RFC 8037 EdDSA, RFC 7518 §3.4 ES256 and §3.3 RS256).
//!
//! The runtime verifies (Web Crypto on Workers; [`PortableJws`], portable Rust, on Spin and in
//! the tests), like it signs with [`crate::keys::Ed25519`]: the core only decides which key
//! and algorithm may check which bytes. A key admits exactly one algorithm (its `kty`/`crv`
//! says which), so an `alg` header can never make a key be used another way (RFC 8725 §3.1).

use crate::capability::LocalFuture;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// The signature algorithms client assertions may use (RFC 7518 §3.1 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwsAlg {
    /// Ed25519 (RFC 8037 §3.1).
    EdDSA,
    /// ECDSA with P-256 and SHA-256 (RFC 7518 §3.4); the signature is `r || s`, 64 bytes.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    RS256,
}

impl JwsAlg {
    /// Every algorithm, as the metadata advertises them.
    pub const ALL: [JwsAlg; 3] = [JwsAlg::EdDSA, JwsAlg::ES256, JwsAlg::RS256];

    /// Exact, case-sensitive (RFC 7515 §4.1.1); `none` and every other name are no algorithm.
    /// `Ed25519` is RFC 9864's fully-specified name of EdDSA with Ed25519 (the only EdDSA
    /// curve accepted here), which openid-client v6 sends.
    pub fn parse(name: &str) -> Option<JwsAlg> {
        match name {
            "EdDSA" | "Ed25519" => Some(JwsAlg::EdDSA),
            "ES256" => Some(JwsAlg::ES256),
            "RS256" => Some(JwsAlg::RS256),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlg::EdDSA => "EdDSA",
            JwsAlg::ES256 => "ES256",
            JwsAlg::RS256 => "RS256",
        }
    }
}

/// The smallest and largest RSA modulus accepted, in bits: RFC 7518 §3.3 requires 2048 or
/// more; 4096 bounds the work one signature check costs.
pub const RSA_MIN_BITS: usize = 2048;
pub const RSA_MAX_BITS: usize = 4096;

/// A public key, typed by what it is.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// OKP / Ed25519 (RFC 8037 §2): the 32-byte public key.
    Ed25519([u8; 32]),
    /// EC / P-256 (RFC 7518 §6.2.1): the affine coordinates, 32 bytes each.
    P256 { x: [u8; 32], y: [u8; 32] },
    /// RSA (RFC 7518 §6.3.1): modulus and exponent, big-endian, no leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// A public JWK: its key, and the `kid` and `alg` it was registered with.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicJwk {
    pub kid: Option<String>,
    pub key: PublicKey,
}

impl fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicJwk {{ kid: {:?}, alg: {} }}",
            self.kid,
            self.algorithm().as_str()
        )
    }
}

/// Why a JWK or JWK set was refused (said to the operator who registers it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JwkError(pub &'static str);

impl fmt::Display for JwkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for JwkError {}

/// A JWK or a JWK set as sent (RFC 7517 §4, §5), or any JSON object read the same way (a JWS
/// header, a discovery document): its string members by name (a member of another type is
/// kept empty), and `keys` for a set. One small visitor rather than a derived struct of a
/// dozen optional fields, and no generic JSON value: the worker's size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawJwk {
    pub members: Vec<(String, String)>,
    /// Present: a JWK set.
    pub keys: Option<Vec<RawJwk>>,
}

impl RawJwk {
    /// A string member's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A member's value if it is a string; any other value is read and skipped.
pub struct StringOrSkip(pub Option<String>);

impl<'de> Deserialize<'de> for StringOrSkip {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StringOrSkip;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(Some(v.to_owned())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(None))
            }
            fn visit_unit<E>(self) -> Result<StringOrSkip, E> {
                Ok(StringOrSkip(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<StringOrSkip, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(StringOrSkip(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<StringOrSkip, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(StringOrSkip(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawJwk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawJwk;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JWK or a JWK set")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<RawJwk, A::Error> {
                let mut jwk = RawJwk::default();
                while let Some(name) = a.next_key::<String>()? {
                    if name == "keys" {
                        jwk.keys = Some(a.next_value()?);
                    } else {
                        // A member of another type is kept by name, empty: so that its
                        // presence (`d`, `crit`) is still seen.
                        let StringOrSkip(value) = a.next_value()?;
                        jwk.members.push((name, value.unwrap_or_default()));
                    }
                }
                Ok(jwk)
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for RawJwk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        if let Some(keys) = &self.keys {
            map.serialize_entry("keys", keys)?;
        }
        for (name, value) in &self.members {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

fn b64_member(jwk: &RawJwk, name: &str) -> Result<Vec<u8>, JwkError> {
    let value = jwk
        .get(name)
        .ok_or(JwkError("a JWK member is missing or not a string"))?;
    B64URL
        .decode(value)
        .map_err(|_| JwkError("a JWK member is not base64url"))
}

fn fixed32(bytes: Vec<u8>) -> Result<[u8; 32], JwkError> {
    bytes
        .try_into()
        .map_err(|_| JwkError("a key coordinate must be 32 bytes"))
}

/// Strips the leading zero bytes of a big-endian integer.
fn minimal(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

impl PublicJwk {
    /// Parses one public JWK. Refused: private members (`d`, `p`, ...: a private key must
    /// never be registered), symmetric keys, other curves, RSA keys outside
    /// [`RSA_MIN_BITS`]..=[`RSA_MAX_BITS`] or with an even or huge exponent, a `use` other
    /// than `sig`, an `alg` other than the one the key admits.
    pub fn parse(jwk: &RawJwk) -> Result<PublicJwk, JwkError> {
        // RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2: private members.
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| jwk.get(m).is_some())
        {
            return Err(JwkError(
                "the JWK holds private key material: register the public key only",
            ));
        }
        let key = match (jwk.get("kty"), jwk.get("crv")) {
            (Some("OKP"), Some("Ed25519")) => PublicKey::Ed25519(fixed32(b64_member(jwk, "x")?)?),
            (Some("EC"), Some("P-256")) => PublicKey::P256 {
                x: fixed32(b64_member(jwk, "x")?)?,
                y: fixed32(b64_member(jwk, "y")?)?,
            },
            (Some("RSA"), _) => {
                let n = minimal(b64_member(jwk, "n")?);
                let e = minimal(b64_member(jwk, "e")?);
                let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
                if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
                    return Err(JwkError("RSA keys must have 2048 to 4096 bits"));
                }
                if e.is_empty() || e.len() > 4 || e[e.len() - 1] & 1 == 0 || e == [1] {
                    return Err(JwkError(
                        "the RSA exponent must be odd, above 1, at most 32 bits",
                    ));
                }
                PublicKey::Rsa { n, e }
            }
            _ => {
                return Err(JwkError(
                    "unsupported key type: use OKP/Ed25519, EC/P-256 or RSA",
                ))
            }
        };
        let parsed = PublicJwk {
            kid: jwk.get("kid").map(str::to_owned),
            key,
        };
        if jwk.get("use").is_some_and(|u| u != "sig") {
            return Err(JwkError("the JWK's use must be sig"));
        }
        if let Some(alg) = jwk.get("alg") {
            if JwsAlg::parse(alg) != Some(parsed.algorithm()) {
                return Err(JwkError(
                    "the JWK's alg does not fit its key (EdDSA, ES256 or RS256)",
                ));
            }
        }
        Ok(parsed)
    }

    /// The one algorithm this key may verify.
    pub fn algorithm(&self) -> JwsAlg {
        match self.key {
            PublicKey::Ed25519(_) => JwsAlg::EdDSA,
            PublicKey::P256 { .. } => JwsAlg::ES256,
            PublicKey::Rsa { .. } => JwsAlg::RS256,
        }
    }

    /// The key's required members (RFC 7638 §3.2), in lexicographic order: its thumbprint's
    /// input, and all a verifier needs to import it.
    pub fn required_members(&self) -> String {
        // Written out rather than built as a JSON value: base64url needs no escaping.
        match &self.key {
            PublicKey::Ed25519(x) => {
                format!(
                    r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                    B64URL.encode(x)
                )
            }
            PublicKey::P256 { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                B64URL.encode(x),
                B64URL.encode(y)
            ),
            PublicKey::Rsa { n, e } => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                B64URL.encode(e),
                B64URL.encode(n)
            ),
        }
    }

    /// The RFC 7638 thumbprint (SHA-256, base64url). serde_json keeps object keys sorted,
    /// which is the order §3.2 asks for, and writes no whitespace.
    pub fn thumbprint(&self) -> String {
        let canonical = self.required_members();
        B64URL.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The public JWK as stored and shown: the required members, and its `kid` and `alg`.
    pub fn to_json(&self) -> String {
        let mut jwk = self.required_members();
        jwk.pop(); // the closing brace
        if let Some(kid) = &self.kid {
            let kid = serde_json::to_string(kid).expect("a string serializes");
            jwk.push_str(&format!(r#","kid":{kid}"#));
        }
        jwk.push_str(&format!(r#","alg":"{}"}}"#, self.algorithm().as_str()));
        jwk
    }
}

/// The keys a client may sign with: one JWK, or a JWK set (RFC 7517 §5) of a few.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JwkSet {
    pub keys: Vec<PublicJwk>,
}

/// Most keys a registered set may hold (a rotation needs two).
pub const MAX_REGISTERED_KEYS: usize = 8;

impl JwkSet {
    /// A JWK or a JWK set, as JSON text. Every key must parse; kids must be unique.
    pub fn parse(text: &str) -> Result<JwkSet, JwkError> {
        let raw: RawJwk =
            serde_json::from_str(text).map_err(|_| JwkError("the key is not a JWK or JWK set"))?;
        JwkSet::from_raw(&raw)
    }

    /// A JWK or a JWK set, as sent. Every key must parse; kids must be unique.
    pub fn from_raw(raw: &RawJwk) -> Result<JwkSet, JwkError> {
        let keys = match &raw.keys {
            Some(keys) => keys.iter().map(PublicJwk::parse).collect(),
            None => PublicJwk::parse(raw).map(|k| vec![k]),
        }?;
        if keys.is_empty() || keys.len() > MAX_REGISTERED_KEYS {
            return Err(JwkError("register between 1 and 8 keys"));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.kid.is_some() && o.kid == k.kid) {
                return Err(JwkError("two keys have the same kid"));
            }
        }
        Ok(JwkSet { keys })
    }

    /// The set as stored: `{"keys":[...]}` of public members only.
    pub fn to_json(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(PublicJwk::to_json).collect();
        format!(r#"{{"keys":[{}]}}"#, keys.join(","))
    }

    /// The key that may check a signature with `alg` and (if the header names one) `kid`:
    /// with a kid, the key of that kid; without, the only key of that algorithm (RFC 7515
    /// §4.1.4: without a kid, the key must be clear from context).
    pub fn select(&self, alg: JwsAlg, kid: Option<&str>) -> Option<&PublicJwk> {
        let mut fitting = self.keys.iter().filter(|k| k.algorithm() == alg);
        match kid {
            Some(kid) => fitting.find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let first = fitting.next()?;
                fitting.next().is_none().then_some(first)
            }
        }
    }
}

/// Signature verification with a [`JwsAlg`], passed in like [`crate::keys::Ed25519`]: Web
/// Crypto on Workers, [`PortableJws`] elsewhere. Implementations check the signature of
/// `signing_input` exactly as RFC 7515 §5.2 asks, with `key` (whose algorithm is `alg`:
/// the caller has checked), and answer `false` for anything they cannot check.
pub trait JwsVerifier {
    fn verify<'a>(
        &'a self,
        alg: JwsAlg,
        key: &'a PublicJwk,
        signing_input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalFuture<'a, bool>;
}

/// EdDSA, ES256 and RS256 in portable Rust (`ed25519-compact`, `p256`, `rsa`; feature
/// `portable-jws`).
#[cfg(feature = "portable-jws")]
#[derive(Clone, Copy, Debug, Default)]
pub struct PortableJws;

#[cfg(feature = "portable-jws")]
impl PortableJws {
    /// The check itself, synchronous.
    pub fn verify_now(key: &PublicJwk, signing_input: &[u8], signature: &[u8]) -> bool {
        match &key.key {
            PublicKey::Ed25519(x) => {
                let (Ok(public), Ok(signature)) = (
                    ed25519_compact::PublicKey::from_slice(x),
                    ed25519_compact::Signature::from_slice(signature),
                ) else {
                    return false;
                };
                public.verify(signing_input, &signature).is_ok()
            }
            PublicKey::P256 { x, y } => {
                use p256::ecdsa::signature::Verifier as _;
                let point = p256::EncodedPoint::from_affine_coordinates(x.into(), y.into(), false);
                let (Ok(public), Ok(signature)) = (
                    p256::ecdsa::VerifyingKey::from_encoded_point(&point),
                    p256::ecdsa::Signature::from_slice(signature),
                ) else {
                    return false;
                };
                public.verify(signing_input, &signature).is_ok()
            }
            PublicKey::Rsa { n, e } => {
                let public = rsa::RsaPublicKey::new(
                    rsa::BigUint::from_bytes_be(n),
                    rsa::BigUint::from_bytes_be(e),
                );
                let Ok(public) = public else { return false };
                let digest = Sha256::digest(signing_input);
                public
                    .verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest, signature)
                    .is_ok()
            }
        }
    }
}

#[cfg(feature = "portable-jws")]
impl JwsVerifier for PortableJws {
    fn verify<'a>(
        &'a self,
        alg: JwsAlg,
        key: &'a PublicJwk,
        signing_input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalFuture<'a, bool> {
        let genuine = alg == key.algorithm() && Self::verify_now(key, signing_input, signature);
        Box::pin(std::future::ready(genuine))
    }
}

/// Why a compact JWS could not be read (before any key is looked at).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JwsError(pub &'static str);

/// A compact JWS, split and decoded, not yet verified.
#[derive(Debug)]
pub struct CompactJws<'a> {
    /// `alg`, parsed: an algorithm outside [`JwsAlg`] (`none`, HS256, ...) is refused here.
    pub alg: JwsAlg,
    pub kid: Option<String>,
    pub typ: Option<String>,
    /// The header's JSON as sent, for members a caller reads itself (such as `jwk`) into a
    /// struct of its own.
    pub header_json: Vec<u8>,
    /// The payload's bytes (JSON for a JWT), for the caller's own typed claims.
    pub payload: Vec<u8>,
    /// `BASE64URL(header) . BASE64URL(payload)`: what the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

/// Longest compact JWS read: a client assertion is well under 2 KB (a JWT-SVID or an OIDC
/// token from a cloud issuer, with an RS256 signature, under 4 KB).
pub const MAX_JWS_BYTES: usize = 6 * 1024;

/// Splits and decodes a compact JWS (RFC 7515 §7.1): three base64url parts, a JSON object
/// header whose `alg` is one of [`JwsAlg`] and which names no `crit` extension (§4.1.11: none
/// is understood here); the payload is left to the caller.
pub fn parse_compact(token: &str) -> Result<CompactJws<'_>, JwsError> {
    if token.len() > MAX_JWS_BYTES {
        return Err(JwsError("the JWT is too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError("the JWT is not three base64url parts"));
    };
    let decode = |part: &str| {
        B64URL
            .decode(part)
            .map_err(|_| JwsError("a JWT part is not base64url"))
    };
    let header_json = decode(h)?;
    let payload = decode(p)?;
    let signature = decode(s)?;
    // The header's string members (the set reader skips every other value; `crit`, whatever
    // its value, is refused below).
    let header: RawJwk = serde_json::from_slice(&header_json)
        .map_err(|_| JwsError("the JWT header is not a JSON object"))?;
    if header.get("crit").is_some() {
        return Err(JwsError("the JWT names critical extensions"));
    }
    let alg = header
        .get("alg")
        .and_then(JwsAlg::parse)
        .ok_or(JwsError("the JWT's alg must be EdDSA, ES256 or RS256"))?;
    Ok(CompactJws {
        alg,
        kid: header.get("kid").map(str::to_owned),
        typ: header.get("typ").map(str::to_owned),
        header_json,
        payload,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature,
    })
}

#[cfg(test)]
mod tests;
