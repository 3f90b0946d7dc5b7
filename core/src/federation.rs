//! Workload identity federation (issue #12.4): a credential that trusts tokens of an external
//! issuer (a Kubernetes service account, GitHub Actions OIDC, a SPIFFE JWT-SVID) for one
//! subject, presented as the `client_assertion` of a token request (RFC 7521 §4.2, RFC 7523
//! §2.2's assertion type). No secret exists anywhere: the external issuer signs, and Isogate
//! finds its public keys itself.
//!
//! ```text
//! parse_compact ─► FederatedKeys::key (per-isolate cache of the issuer's JWKS; on a miss the
//!   runtime GETs the OIDC discovery document, then its jwks_uri, or the configured jwks_uri)
//!   ─► JwsVerifier::verify ─► check_claims (iss exact, sub exact or glob, aud, exp, nbf, iat)
//! ```
//!
//! The key cache honours the JWKS response's `Cache-Control: max-age` (bounded to
//! [`MIN_TTL_MS`]..=[`MAX_TTL_MS`], [`DEFAULT_TTL_MS`] without one), holds at most
//! [`MAX_ISSUERS`] issuers, and fetches again for a `kid` it does not know (a key rotation) at
//! most once per [`REFRESH_INTERVAL_MS`], so tokens with made-up kids cannot make it fetch on
//! every request.

use crate::cache::lru::Lru;
use crate::capability::{DocumentReply, OriginSecrets};
use crate::client_assertion::{Claims, LEEWAY_SECS};
use crate::jws::{parse_compact, JwsAlg, JwsVerifier, PublicJwk, RawJwk};
use std::cell::RefCell;
use std::rc::Rc;

/// Issuers whose keys one isolate keeps.
pub const MAX_ISSUERS: usize = 32;
/// Keys kept per issuer (a rotation publishes two or three).
pub const MAX_KEYS: usize = 16;
pub const DEFAULT_TTL_MS: u64 = 5 * 60 * 1000;
pub const MIN_TTL_MS: u64 = 30 * 1000;
pub const MAX_TTL_MS: u64 = 60 * 60 * 1000;
/// Least time between two fetches of one issuer's keys for unknown kids.
pub const REFRESH_INTERVAL_MS: u64 = 10 * 1000;
/// Timeout of each outbound GET (discovery document, JWKS).
pub const FETCH_TIMEOUT_MS: u64 = 5_000;
/// Largest discovery document or JWKS read.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// What a federated credential trusts, as registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FederationSpec {
    /// The external issuer, exactly as its tokens' `iss` says (`https://token.actions.githubusercontent.com`).
    pub issuer: String,
    /// The `sub` admitted: exact, or a glob whose `*` stands for any run of characters
    /// (`repo:acme/api:*`).
    pub subject: String,
    /// The `aud` the token must name; `None`: Isogate's issuer.
    pub audience: Option<String>,
    /// Where the issuer's keys are; `None`: its OIDC discovery document's `jwks_uri`.
    pub jwks_uri: Option<String>,
}

/// Why a federation spec was refused (said to the operator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecError(pub &'static str);

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// An issuer or key URL: `https://host[:port][/path]`, or `http://` to a loopback host (local
/// tests and development only), no query, fragment or user info.
pub fn is_fetchable_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once(':').map_or(authority, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() {
            h
        } else {
            authority
        }
    });
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    let scheme_ok = scheme == "https" || (scheme == "http" && loopback);
    scheme_ok
        && !host.is_empty()
        && url.len() <= 512
        && !url.contains(['?', '#', '@', ' ', '\\'])
        && url.bytes().all(|b| b.is_ascii_graphic())
}

impl FederationSpec {
    /// Validates what an operator registers.
    pub fn new(
        issuer: &str,
        subject: &str,
        audience: Option<&str>,
        jwks_uri: Option<&str>,
    ) -> Result<FederationSpec, SpecError> {
        if !is_fetchable_url(issuer) {
            return Err(SpecError(
                "issuer must be an https URL (http only for a loopback host), no query",
            ));
        }
        if subject.is_empty() || subject.len() > 256 || subject.chars().any(char::is_control) {
            return Err(SpecError("subject must be 1-256 characters"));
        }
        if subject.chars().all(|c| c == '*') {
            return Err(SpecError(
                "a subject of only '*' would admit every workload of the issuer: name it",
            ));
        }
        if audience.is_some_and(|a| a.is_empty() || a.len() > 512) {
            return Err(SpecError("audience must be 1-512 characters"));
        }
        if jwks_uri.is_some_and(|u| !is_fetchable_url(u)) {
            return Err(SpecError(
                "jwks_uri must be an https URL (http only for a loopback host), no query",
            ));
        }
        Ok(FederationSpec {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            audience: audience.map(str::to_owned),
            jwks_uri: jwks_uri.map(str::to_owned),
        })
    }

    /// The stored form (`isogate_credential_keys.spec`).
    pub fn to_json(&self) -> String {
        let s = |v: &str| serde_json::to_string(v).expect("a string serializes");
        let mut json = format!(
            r#"{{"issuer":{},"subject":{}"#,
            s(&self.issuer),
            s(&self.subject)
        );
        if let Some(a) = &self.audience {
            json.push_str(&format!(r#","audience":{}"#, s(a)));
        }
        if let Some(u) = &self.jwks_uri {
            json.push_str(&format!(r#","jwks_uri":{}"#, s(u)));
        }
        json.push('}');
        json
    }

    /// The stored form read back (validated again: a spec that does not validate admits
    /// nothing).
    pub fn from_json(text: &str) -> Option<FederationSpec> {
        let v: RawJwk = serde_json::from_str(text).ok()?;
        FederationSpec::new(
            v.get("issuer")?,
            v.get("subject")?,
            v.get("audience"),
            v.get("jwks_uri"),
        )
        .ok()
    }

    /// Whether `sub` is admitted: equal to the subject, or matched by it as a glob (`*`: any
    /// run of characters, possibly none; every other character literal).
    pub fn admits_subject(&self, sub: &str) -> bool {
        glob_match(self.subject.as_bytes(), sub.as_bytes())
    }

    /// Where the keys' URL is found: the configured `jwks_uri`, or the issuer's OIDC
    /// discovery document (OpenID Connect Discovery 1.0 §4).
    fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    /// The cache key: one entry per place keys come from.
    fn source(&self) -> String {
        match &self.jwks_uri {
            Some(u) => format!("jwks {u}"),
            None => format!("issuer {}", self.issuer),
        }
    }
}

/// `*` matches any run of bytes; everything else is literal. Iterative, with one backtrack
/// point: linear in practice, at most quadratic, on inputs of at most 256 and 6 KiB bytes.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

/// Why a federated assertion was refused: typed for the audit log, one `invalid_client` to
/// the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FederationFailure {
    /// Not a compact JWS with a known `alg`.
    Malformed,
    /// The issuer's keys could not be had (its discovery document or JWKS failed).
    KeysUnavailable,
    /// No key of the issuer has this `kid` (and algorithm), even after a refresh.
    UnknownKey,
    BadSignature,
    /// `iss` is not the registered issuer.
    WrongIssuer,
    /// `sub` is not admitted by the registered subject.
    WrongSubject,
    /// `aud` does not name the registered audience.
    WrongAudience,
    /// No `exp`, or it has passed.
    Expired,
    /// `nbf` or `iat` in the future.
    NotYetValid,
}

/// One issuer's keys as this isolate holds them.
struct CachedKeys {
    keys: Rc<Vec<PublicJwk>>,
    /// Unix ms: used until then.
    expires_ms: u64,
    /// Unix ms of the last fetch (successful or not).
    fetched_ms: u64,
}

/// The per-isolate cache of external issuers' keys.
pub struct FederatedKeys {
    cache: RefCell<Lru<String, CachedKeys>>,
}

impl Default for FederatedKeys {
    fn default() -> Self {
        FederatedKeys {
            cache: RefCell::new(Lru::new(MAX_ISSUERS)),
        }
    }
}

/// The TTL a JWKS answer asks for: `max-age` of its `Cache-Control` (`no-store`, `no-cache`:
/// the minimum), bounded; [`DEFAULT_TTL_MS`] without one.
pub fn ttl_ms(cache_control: Option<&str>) -> u64 {
    let Some(cc) = cache_control else {
        return DEFAULT_TTL_MS;
    };
    let mut ttl = None;
    for directive in cc.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if directive == "no-store" || directive == "no-cache" {
            return MIN_TTL_MS;
        }
        if let Some(secs) = directive.strip_prefix("max-age=") {
            ttl = secs.trim_matches('"').parse::<u64>().ok();
        }
    }
    ttl.map_or(DEFAULT_TTL_MS, |s| {
        s.saturating_mul(1000).clamp(MIN_TTL_MS, MAX_TTL_MS)
    })
}

fn json_of(reply: &DocumentReply) -> Option<RawJwk> {
    if reply.status != 200 || reply.body.len() > MAX_DOCUMENT_BYTES {
        return None;
    }
    serde_json::from_slice(&reply.body).ok()
}

/// The keys of a JWK set document that can verify signatures here; the others (encryption
/// keys, other curves, private members) are skipped, not fatal: an issuer publishes what it
/// publishes.
fn usable_keys(jwks: &RawJwk) -> Vec<PublicJwk> {
    jwks.keys
        .iter()
        .flatten()
        .filter_map(|k| PublicJwk::parse(k).ok())
        .take(MAX_KEYS)
        .collect()
}

impl FederatedKeys {
    /// The key that may check a token of `spec`'s issuer with `alg` and `kid`, fetched
    /// through `fetcher` when this isolate has none or an unknown `kid` asks for a refresh.
    pub async fn key(
        &self,
        fetcher: &dyn OriginSecrets,
        spec: &FederationSpec,
        alg: JwsAlg,
        kid: Option<&str>,
        now_ms: u64,
    ) -> Result<PublicJwk, FederationFailure> {
        let source = spec.source();
        let pick = |keys: &[PublicJwk]| -> Option<PublicJwk> {
            let mut fitting = keys.iter().filter(|k| k.algorithm() == alg);
            match kid {
                Some(kid) => fitting.find(|k| k.kid.as_deref() == Some(kid)).cloned(),
                None => {
                    let first = fitting.next()?;
                    fitting.next().is_none().then(|| first.clone())
                }
            }
        };
        let cached = self.cache.borrow_mut().get(&source).map(|c| {
            (
                c.keys.clone(),
                now_ms < c.expires_ms,
                now_ms >= c.fetched_ms + REFRESH_INTERVAL_MS,
            )
        });
        if let Some((keys, fresh, may_refresh)) = &cached {
            if *fresh || !may_refresh {
                if let Some(key) = pick(keys) {
                    return Ok(key);
                }
                if !may_refresh {
                    return Err(FederationFailure::UnknownKey);
                }
            }
        }
        let fetched = fetch_keys(fetcher, spec).await;
        let (keys, ttl) = match fetched {
            Ok(found) => found,
            Err(failure) => {
                // Remember the attempt: a failing issuer is asked again only after the
                // refresh interval (its old keys, if any, serve meanwhile).
                let keys = cached.map(|(k, ..)| k).unwrap_or_default();
                let entry = CachedKeys {
                    keys: keys.clone(),
                    expires_ms: now_ms + REFRESH_INTERVAL_MS,
                    fetched_ms: now_ms,
                };
                self.cache.borrow_mut().insert(source, entry);
                return pick(&keys).ok_or(failure);
            }
        };
        let keys = Rc::new(keys);
        let entry = CachedKeys {
            keys: keys.clone(),
            expires_ms: now_ms + ttl,
            fetched_ms: now_ms,
        };
        self.cache.borrow_mut().insert(source, entry);
        pick(&keys).ok_or(FederationFailure::UnknownKey)
    }
}

/// GETs the issuer's keys: its discovery document's `jwks_uri` (whose `issuer` must be the
/// registered one, OpenID Connect Discovery 1.0 §4.3), or the configured `jwks_uri`; then the
/// JWK set. The keys and their TTL.
async fn fetch_keys(
    fetcher: &dyn OriginSecrets,
    spec: &FederationSpec,
) -> Result<(Vec<PublicJwk>, u64), FederationFailure> {
    let unavailable = FederationFailure::KeysUnavailable;
    let jwks_uri = match &spec.jwks_uri {
        Some(uri) => uri.clone(),
        None => {
            let reply = fetcher
                .fetch_document(&spec.discovery_url(), FETCH_TIMEOUT_MS)
                .await
                .map_err(|_| unavailable)?;
            // (OpenID Connect Discovery 1.0 §3: its string members, read as a JWK's are.)
            let doc: RawJwk = json_of(&reply).ok_or(unavailable)?;
            let uri = doc.get("jwks_uri").filter(|u| is_fetchable_url(u));
            match (doc.get("issuer"), uri) {
                (Some(issuer), Some(uri)) if issuer == spec.issuer => uri.to_owned(),
                _ => return Err(unavailable),
            }
        }
    };
    let reply = fetcher
        .fetch_document(&jwks_uri, FETCH_TIMEOUT_MS)
        .await
        .map_err(|_| unavailable)?;
    let jwks: RawJwk = json_of(&reply).ok_or(unavailable)?;
    Ok((usable_keys(&jwks), ttl_ms(reply.cache_control.as_deref())))
}

/// The claims of a federated token (iss, sub, aud, exp, nbf, iat) at `now` (Unix seconds).
pub fn check_claims(
    claims: &Claims,
    spec: &FederationSpec,
    default_audience: &str,
    now: i64,
) -> Result<(), FederationFailure> {
    if claims.iss.as_deref() != Some(spec.issuer.as_str()) {
        return Err(FederationFailure::WrongIssuer);
    }
    if !claims
        .sub
        .as_deref()
        .is_some_and(|s| spec.admits_subject(s))
    {
        return Err(FederationFailure::WrongSubject);
    }
    let audience = spec.audience.as_deref().unwrap_or(default_audience);
    if !claims
        .aud
        .as_ref()
        .is_some_and(|a| a.0.iter().any(|a| a == audience))
    {
        return Err(FederationFailure::WrongAudience);
    }
    let exp = claims.exp.ok_or(FederationFailure::Expired)?.0;
    if now >= exp + LEEWAY_SECS {
        return Err(FederationFailure::Expired);
    }
    if [claims.nbf, claims.iat]
        .iter()
        .flatten()
        .any(|t| t.0 > now + LEEWAY_SECS)
    {
        return Err(FederationFailure::NotYetValid);
    }
    Ok(())
}

/// Verifies a token of `spec`'s issuer at `now_ms`: its key (cached, or fetched), its
/// signature, its claims.
pub async fn verify_federated(
    keys: &FederatedKeys,
    fetcher: &dyn OriginSecrets,
    jws: &dyn JwsVerifier,
    token: &str,
    spec: &FederationSpec,
    default_audience: &str,
    now_ms: u64,
) -> Result<(), FederationFailure> {
    let parsed = parse_compact(token).map_err(|_| FederationFailure::Malformed)?;
    // The claims first (no fetch for a token of another issuer or subject); they count only
    // once the signature is checked.
    let now = (now_ms / 1000) as i64;
    let claims = Claims::parse(&parsed.payload).map_err(|_| FederationFailure::Malformed)?;
    check_claims(&claims, spec, default_audience, now)?;
    let key = keys
        .key(fetcher, spec, parsed.alg, parsed.kid.as_deref(), now_ms)
        .await?;
    let genuine = jws
        .verify(
            parsed.alg,
            &key,
            parsed.signing_input.as_bytes(),
            &parsed.signature,
        )
        .await;
    if genuine {
        Ok(())
    } else {
        Err(FederationFailure::BadSignature)
    }
}

#[cfg(test)]
mod tests;
