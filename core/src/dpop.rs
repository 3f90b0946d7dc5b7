//! DPoP (RFC 9449): sender-constrained access tokens. A client proves possession of a key
//! pair with a `DPoP` proof, a JWT it signs per request (`typ: dpop+jwt`, its public key in
//! the `jwk` header); a token issued with a proof is bound to that key (`cnf.jkt`, the RFC
//! 7638 thumbprint: §6), and a service accepts it only with a fresh proof by the same key for
//! that very request (`htm`, `htu`, `iat`, `ath`: §4.3, §7.1).
//!
//! ```text
//! token endpoint:  client authenticated ─► check_proof (no ath) ─► first use of its jti ─► cnf.jkt
//! service:         token verified ─► bound? ─► check_proof (ath, jkt = cnf.jkt) ─► first use of its jti
//! ```
//!
//! The proof is checked only after the client (or the token) was: nobody without a credential
//! can spend a signature check or a slot of the replay set.
//!
//! **Replays** (§11.1): a proof is accepted for [`IAT_WINDOW_SECS`] on either side of its
//! `iat`, and its `jti` (with its key's thumbprint) is remembered for as long: where the
//! runtime keeps instance memory (Workers), in the isolate ([`SeenProofs`], bounded, least
//! recently used out), so the guarantee is per isolate; where each request gets a fresh
//! instance (Spin), in the database, one insert per proof, so it holds across every instance
//! sharing the database. No server nonces (`DPoP-Nonce`, §8): see the README.
//!
//! Algorithms are a typed list ([`DpopAlg`]): EdDSA over Ed25519 (named `EdDSA`, RFC 8037, or
//! `Ed25519`, RFC 9864) through the runtime's [`Ed25519`] capability, and ES256 (ECDSA P-256,
//! RFC 7518 §3.4: openid-client v6's default key) through its [`JwsVerifier`] (Web Crypto on
//! Workers, portable Rust on Spin).

use crate::cache::Lru;
use crate::capability::{InstanceMemory, Now, SqlDb};
use crate::error::StoreError;
use crate::http::RequestHead;
use crate::jws::{JwsAlg, JwsVerifier, PublicJwk, PublicKey, RawJwk};
use crate::keys::{Ed25519, VerifyingKey};
#[cfg(feature = "instance-per-request")]
use crate::store::Store;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::fmt;

/// The request header a proof travels in (RFC 9449 §4.1), lower-case as the core compares.
pub const DPOP_HEADER: &str = "dpop";
/// The `typ` of a proof (§4.2).
pub const PROOF_TYP: &str = "dpop+jwt";
/// How far a proof's `iat` may be from the gateway's clock, either way (§4.3 step 11, §11.1).
pub const IAT_WINDOW_SECS: i64 = 60;
/// Proofs longer than this are refused before any decoding (an Ed25519 proof is ~400 bytes, an ES256 one ~500).
pub const MAX_PROOF_BYTES: usize = 2048;
/// A `jti` longer than this is refused (§4.2 asks for 96 bits of randomness; 128 characters
/// leave room for any encoding of it).
const MAX_JTI_BYTES: usize = 128;
/// Proofs remembered per isolate; past it, the least recently used goes.
const MAX_SEEN_PROOFS: usize = 10_000;

/// A JWS algorithm proofs may be signed with (§5.1 `dpop_signing_alg_values_supported`).
/// One variant per algorithm the runtimes verify; adding one is adding a variant, its name and
/// its key type in [`ProofKey`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DpopAlg {
    /// EdDSA over Ed25519 (RFC 8037), through the runtime's [`Ed25519`].
    EdDSA,
    /// The same signature under its fully-specified name (RFC 9864 §2.2), which current
    /// clients send for an Ed25519 key (openid-client v6 / oauth4webapi do).
    Ed25519,
    /// ECDSA over P-256 with SHA-256 (RFC 7518 §3.4), through the runtime's [`JwsVerifier`]:
    /// the key `randomDPoPKeyPair()` of openid-client v6 makes by default.
    ES256,
}

impl DpopAlg {
    /// Every algorithm accepted, as advertised in the metadata and the `algs` of challenges.
    pub const SUPPORTED: &'static [DpopAlg] = &[DpopAlg::EdDSA, DpopAlg::Ed25519, DpopAlg::ES256];

    pub fn as_str(self) -> &'static str {
        match self {
            DpopAlg::EdDSA => "EdDSA",
            DpopAlg::Ed25519 => "Ed25519",
            DpopAlg::ES256 => "ES256",
        }
    }

    /// The algorithm named by a JWS `alg`, if it is one accepted (`none` and MAC algorithms
    /// never are: §4.3 step 5).
    pub fn parse(alg: &str) -> Option<DpopAlg> {
        DpopAlg::SUPPORTED
            .iter()
            .copied()
            .find(|a| a.as_str() == alg)
    }

    /// The `algs` parameter of a `DPoP` challenge (§7.1): the names, space-separated.
    pub fn challenge_list() -> String {
        let names: Vec<&str> = DpopAlg::SUPPORTED.iter().map(|a| a.as_str()).collect();
        names.join(" ")
    }
}

/// The public key of a proof, by algorithm.
#[derive(Clone)]
pub enum ProofKey {
    Ed25519(VerifyingKey),
    /// EC / P-256 (RFC 7518 §6.2.1), with its RFC 7638 thumbprint (members `crv`, `kty`, `x`,
    /// `y`: [`PublicJwk::thumbprint`]).
    P256 {
        jwk: PublicJwk,
        jkt: String,
    },
}

impl ProofKey {
    /// The RFC 7638 thumbprint of the JWK: what `cnf.jkt` holds (§6.1).
    pub fn thumbprint(&self) -> &str {
        match self {
            // Its `kid` is the thumbprint of its JWK (`keys::jwk_thumbprint`).
            ProofKey::Ed25519(key) => &key.kid,
            ProofKey::P256 { jkt, .. } => jkt,
        }
    }
}

/// Why a proof is refused: `invalid_dpop_proof` (§7.1 and §12.2; 400 at the token endpoint,
/// 401 with a `DPoP` challenge at services), each variant its own audit word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DpopInvalid {
    /// No `DPoP` header where one is needed (a bound token, `Authorization: DPoP`, a
    /// credential created with `--require-dpop`).
    Missing,
    /// More than one `DPoP` header (§4.3 step 1).
    Repeated,
    /// Not a JWS of JSON, too long, or a required claim missing (§4.3 steps 2-3).
    Malformed,
    /// `typ` is not `dpop+jwt` (step 4).
    WrongType,
    /// `alg` is none of [`DpopAlg::SUPPORTED`] (step 5).
    UnsupportedAlg,
    /// `jwk` is no public key of the algorithm's type.
    BadKey,
    /// `jwk` holds a private key (step 7).
    PrivateKey,
    /// The signature is not by `jwk` (step 6).
    BadSignature,
    /// `htm` is not the request's method (step 8).
    WrongMethod,
    /// `htu` is not the URL the request was sent to (step 9).
    WrongUrl,
    /// `iat` is more than [`IAT_WINDOW_SECS`] away (step 11).
    Stale,
    /// `ath` is missing or not the hash of the token presented (step 12).
    WrongTokenHash,
    /// The proof's key is not the one the token is bound to (§7.1).
    WrongKey,
    /// This proof (its `jti`) was used before (§11.1).
    Replayed,
}

impl DpopInvalid {
    /// The `error_description`: what is wrong, never what was expected.
    pub fn description(self) -> &'static str {
        match self {
            DpopInvalid::Missing => "a DPoP proof is required",
            DpopInvalid::Repeated => "send one DPoP header",
            DpopInvalid::Malformed => "the DPoP proof is malformed",
            DpopInvalid::WrongType => "the DPoP proof's typ is not dpop+jwt",
            DpopInvalid::UnsupportedAlg => "the DPoP proof's alg is not supported",
            DpopInvalid::BadKey => "the DPoP proof's jwk is not a supported public key",
            DpopInvalid::PrivateKey => "the DPoP proof's jwk contains a private key",
            DpopInvalid::BadSignature => "the DPoP proof's signature is invalid",
            DpopInvalid::WrongMethod => "the DPoP proof is for another method (htm)",
            DpopInvalid::WrongUrl => "the DPoP proof is for another URL (htu)",
            DpopInvalid::Stale => "the DPoP proof's iat is too far from now",
            DpopInvalid::WrongTokenHash => "the DPoP proof's ath does not match the access token",
            DpopInvalid::WrongKey => "the DPoP proof is not signed by the token's key",
            DpopInvalid::Replayed => "the DPoP proof was used before",
        }
    }
}

impl fmt::Display for DpopInvalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// The request a proof must be for.
#[derive(Clone, Copy, Debug)]
pub struct ProofTarget<'a> {
    /// The request's method (`htm`).
    pub method: &'a str,
    /// The URL the client used, without query and fragment (`htu`): [`request_url`].
    pub url: &'a str,
    /// At a service: the access token presented, whose hash `ath` must be (§4.2).
    pub access_token: Option<&'a str>,
    /// At a service: the token's `cnf.jkt`, which the proof's key must have (§7.1).
    pub bound_to: Option<&'a str>,
}

/// A proof that passed every check but the replay check ([`SeenProofs::first_use`] or the
/// database's): its key's thumbprint, and what the replay check keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedProof {
    /// The RFC 7638 thumbprint of the proof's key (`cnf.jkt` of a token bound to it).
    pub jkt: String,
    /// SHA-256 of the thumbprint and the `jti`: a proof is told apart by both, so one
    /// client's `jti` can never block another's.
    pub replay_key: [u8; 32],
    /// Until when (Unix seconds) the proof would be accepted, and so must be remembered.
    pub remember_until: i64,
}

/// The JOSE header of a proof (§4.2).
#[derive(Deserialize)]
struct ProofHeader {
    typ: String,
    alg: String,
    /// Its string members (any other value kept empty, so that a `d` of any type is seen).
    jwk: RawJwk,
}

/// The claims of a proof (§4.2). Others (`nonce`, ...) are ignored.
#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
}

/// The URL a request was sent to, as `htu` must name it: `scheme://host/path`, without query
/// and fragment (§4.3 step 9).
pub fn request_url(scheme: &str, host: &str, path: &str) -> String {
    format!("{scheme}://{host}{path}")
}

/// `base64url(SHA-256(token))`: the `ath` of a proof sent with `token` (§4.2).
pub fn token_hash(token: &str) -> String {
    B64URL.encode(Sha256::digest(token.as_bytes()))
}

/// Checks a proof for `target` at `now` (§4.3), its signature with the runtime's `ed25519`
/// (EdDSA) or `jws` (ES256): everything but the replay check, which the caller makes once
/// this passed (it stores). The cheap checks come first: a proof for the wrong request costs
/// no signature check.
pub async fn check_proof(
    ed25519: &impl Ed25519,
    jws: &dyn JwsVerifier,
    proof: &str,
    target: &ProofTarget<'_>,
    now: Now,
) -> Result<CheckedProof, DpopInvalid> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(DpopInvalid::Malformed);
    }
    let mut parts = proof.trim().split('.');
    let (Some(h64), Some(c64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DpopInvalid::Malformed);
    };
    let header: ProofHeader = decode_json(h64)?;
    let claims: ProofClaims = decode_json(c64)?;
    if !header.typ.eq_ignore_ascii_case(PROOF_TYP) {
        return Err(DpopInvalid::WrongType);
    }
    let alg = DpopAlg::parse(&header.alg).ok_or(DpopInvalid::UnsupportedAlg)?;
    // For OKP and EC keys the private part is `d` (RFC 8037 §2, RFC 7518 §6.2.2.1).
    if header.jwk.get("d").is_some() {
        return Err(DpopInvalid::PrivateKey);
    }
    let key = proof_key(alg, &header.jwk)?;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_BYTES {
        return Err(DpopInvalid::Malformed);
    }
    if claims.htm != target.method {
        return Err(DpopInvalid::WrongMethod);
    }
    if !same_url(&claims.htu, target.url) {
        return Err(DpopInvalid::WrongUrl);
    }
    if (claims.iat - now.unix_secs()).abs() > IAT_WINDOW_SECS {
        return Err(DpopInvalid::Stale);
    }
    if let Some(token) = target.access_token {
        let genuine = claims
            .ath
            .as_deref()
            .is_some_and(|ath| ath == token_hash(token));
        if !genuine {
            return Err(DpopInvalid::WrongTokenHash);
        }
    }
    if target.bound_to.is_some_and(|jkt| jkt != key.thumbprint()) {
        return Err(DpopInvalid::WrongKey);
    }
    let signature = B64URL.decode(s64).map_err(|_| DpopInvalid::Malformed)?;
    let signed = &proof.trim()[..h64.len() + 1 + c64.len()];
    let genuine = match &key {
        ProofKey::Ed25519(public) => {
            let signature: [u8; 64] = signature
                .try_into()
                .map_err(|_| DpopInvalid::BadSignature)?;
            ed25519.verify(public, signed.as_bytes(), &signature).await
        }
        // JWS's form of an ECDSA signature: `r || s`, 32 bytes each (RFC 7518 §3.4).
        ProofKey::P256 { jwk, .. } if signature.len() == 64 => {
            jws.verify(JwsAlg::ES256, jwk, signed.as_bytes(), &signature)
                .await
        }
        ProofKey::P256 { .. } => false,
    };
    if !genuine {
        return Err(DpopInvalid::BadSignature);
    }
    let jkt = key.thumbprint().to_owned();
    let mut hasher = Sha256::new();
    hasher.update(jkt.as_bytes());
    hasher.update(b".");
    hasher.update(claims.jti.as_bytes());
    Ok(CheckedProof {
        jkt,
        replay_key: hasher.finalize().into(),
        remember_until: claims.iat + IAT_WINDOW_SECS,
    })
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, DpopInvalid> {
    let json = B64URL.decode(part).map_err(|_| DpopInvalid::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| DpopInvalid::Malformed)
}

/// The key of `jwk` for `alg`: its type must be the algorithm's (RFC 8037 §2 for EdDSA, RFC
/// 7518 §6.2.1 for ES256).
fn proof_key(alg: DpopAlg, jwk: &RawJwk) -> Result<ProofKey, DpopInvalid> {
    match alg {
        DpopAlg::EdDSA | DpopAlg::Ed25519 => {
            if jwk.get("kty") != Some("OKP") || jwk.get("crv") != Some("Ed25519") {
                return Err(DpopInvalid::BadKey);
            }
            let x = jwk.get("x").ok_or(DpopInvalid::BadKey)?;
            let key = VerifyingKey::from_jwk_x(x).map_err(|_| DpopInvalid::BadKey)?;
            Ok(ProofKey::Ed25519(key))
        }
        DpopAlg::ES256 => {
            // The registered-key parser: EC/P-256 with 32-byte x and y, no private member, a
            // `use`/`alg` (if any) that fits.
            let public = PublicJwk::parse(jwk).map_err(|_| DpopInvalid::BadKey)?;
            if !matches!(public.key, PublicKey::P256 { .. }) {
                return Err(DpopInvalid::BadKey);
            }
            let jkt = public.thumbprint();
            Ok(ProofKey::P256 { jwk: public, jkt })
        }
    }
}

/// Whether `htu` names `url` (§4.3 step 9): query and fragment ignored, scheme and host
/// compared without case and a default port (RFC 3986 §6.2.2-6.2.3), the path exactly (an
/// empty one is `/`).
fn same_url(htu: &str, url: &str) -> bool {
    match (url_parts(htu), url_parts(url)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn url_parts(url: &str) -> Option<(String, String, &str)> {
    let url = url.split(['?', '#']).next().unwrap_or("");
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let mut host = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    if let Some(stripped) = host.strip_suffix(default_port) {
        host = stripped.to_owned();
    }
    Some((scheme, host, path))
}

/// The proofs this isolate accepted, by [`CheckedProof::replay_key`], until each would be
/// stale: a second use within its window is refused (§11.1). Bounded: when full, the least
/// recently used goes, so a proof is certainly refused a second time on this isolate while
/// fewer than [`MAX_SEEN_PROOFS`] others were accepted since.
pub struct SeenProofs {
    entries: RefCell<Lru<[u8; 32], i64>>,
}

impl Default for SeenProofs {
    fn default() -> Self {
        SeenProofs {
            entries: RefCell::new(Lru::new(MAX_SEEN_PROOFS)),
        }
    }
}

impl SeenProofs {
    /// Records `proof` at `now`; `false` if this isolate accepted it before and it is still
    /// within its window.
    pub fn first_use(&self, proof: &CheckedProof, now: Now) -> bool {
        let mut entries = self.entries.borrow_mut();
        if entries
            .get(&proof.replay_key)
            .is_some_and(|until| *until >= now.unix_secs())
        {
            return false;
        }
        entries.insert(proof.replay_key, proof.remember_until);
        true
    }
}

/// Why a request's proof did not pass: refused, or the replay check could not be made.
#[derive(Debug)]
pub enum ProofFailure {
    Invalid(DpopInvalid),
    Unavailable(StoreError),
}

impl From<DpopInvalid> for ProofFailure {
    fn from(why: DpopInvalid) -> Self {
        ProofFailure::Invalid(why)
    }
}

/// The request's one `DPoP` header, if it has one (§4.3 step 1: never two).
pub fn proof_header(head: &RequestHead) -> Result<Option<&str>, DpopInvalid> {
    head.single_header(DPOP_HEADER)
        .map_err(|_| DpopInvalid::Repeated)
}

/// A request's proof, all checked ([`check_proof`]) and then spent: the replay check of
/// §11.1, in the isolate's `seen` set where the instance outlives the request, else in the
/// database (one prune and one insert).
// The runtime's parts, the proof, what it is for and the clock: each is used.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(feature = "instance-per-request"), allow(unused_variables))]
pub async fn accept_proof<D: SqlDb, E: Ed25519>(
    seen: &SeenProofs,
    db: &D,
    memory: InstanceMemory,
    (ed25519, jws): (&E, &dyn JwsVerifier),
    proof: &str,
    target: &ProofTarget<'_>,
    now: Now,
) -> Result<CheckedProof, ProofFailure> {
    let checked = check_proof(ed25519, jws, proof, target, now).await?;
    let first = match memory {
        InstanceMemory::Kept => seen.first_use(&checked, now),
        #[cfg(feature = "instance-per-request")]
        InstanceMemory::PerRequest => Store::new(db)
            .first_use_of_proof(&checked.replay_key, checked.remember_until, now.unix_secs())
            .await
            .map_err(ProofFailure::Unavailable)?,
    };
    if !first {
        return Err(ProofFailure::Invalid(DpopInvalid::Replayed));
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_ignores_query_fragment_case_and_default_ports() {
        let url = "https://my-api.example.com/a/b";
        for same in [
            "https://my-api.example.com/a/b",
            "HTTPS://My-Api.Example.com/a/b?x=1",
            "https://my-api.example.com:443/a/b#f",
        ] {
            assert!(same_url(same, url), "{same}");
        }
        for other in [
            "https://my-api.example.com/a/c",
            "http://my-api.example.com/a/b",
            "https://other.example.com/a/b",
            "https://my-api.example.com:8443/a/b",
            "https://user@my-api.example.com/a/b",
            "/a/b",
        ] {
            assert!(!same_url(other, url), "{other}");
        }
        assert!(same_url("http://h:8787", "http://h:8787/"));
    }

    #[test]
    fn rfc9449_4_2_ath_is_the_base64url_sha256_of_the_token() {
        // RFC 9449 §7.1's example: the token "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" and
        // its ath.
        assert_eq!(
            token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn the_algorithms_are_a_typed_list() {
        assert_eq!(DpopAlg::parse("EdDSA"), Some(DpopAlg::EdDSA));
        assert_eq!(DpopAlg::parse("Ed25519"), Some(DpopAlg::Ed25519));
        assert_eq!(DpopAlg::parse("ES256"), Some(DpopAlg::ES256));
        for refused in ["none", "HS256", "eddsa", "es256", "RS256", "ES384", ""] {
            assert_eq!(DpopAlg::parse(refused), None, "{refused}");
        }
        assert_eq!(DpopAlg::challenge_list(), "EdDSA Ed25519 ES256");
    }
}
