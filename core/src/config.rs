//! Deployment settings: what a runtime reads from its variables and secrets, parsed once per
//! isolate into a [`GatewayConfig`] and the keys. A setting that does not parse is a
//! [`ConfigError`] naming the setting, never its value.

use crate::audit::AuditLevel;
use crate::keys::{KeyError, SigningKey, VerifyingKey};
use crate::throttle::ThrottleConfig;
use auth_settings::throttle_settings;

mod auth_settings;
use std::fmt;

/// Default access token lifetime: one hour.
pub const DEFAULT_TOKEN_TTL_SECS: i64 = 3600;
/// Default lifetime of hot-path cache entries, and so the bound on revocation latency.
pub const DEFAULT_CACHE_TTL_MS: u64 = 5_000;
/// Default wait for an origin's response head.
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 30_000;
/// Default bound on the unexpired revocations (RFC 7009) one credential may hold.
pub const DEFAULT_MAX_REVOCATIONS_PER_CREDENTIAL: u64 = 1_000;
/// Shortest admin token accepted: 32 bytes, what `openssl rand -base64 32` prints 44 of.
pub const MIN_ADMIN_TOKEN_BYTES: usize = 32;

/// Deployment settings, read by the runtime from its variables and secrets.
#[derive(Clone)]
pub struct GatewayConfig {
    /// The root domain, optionally with a port: `example.com`, `localhost:8787`.
    pub domain: String,
    /// `iss` of issued tokens and base of published endpoint URLs: `https://example.com`.
    pub issuer: String,
    pub token_ttl_secs: i64,
    pub cache_ttl_ms: u64,
    /// The admin API's bearer secret; `None` disables the admin API.
    pub admin_token: Option<String>,
    /// `realm` of `WWW-Authenticate` challenges.
    pub realm: String,
    /// How long the runtime waits for an origin's response head before answering 504.
    pub upstream_timeout_ms: u64,
    /// Unexpired revocations one credential may hold (`ISOGATE_MAX_REVOCATIONS_PER_CREDENTIAL`).
    pub max_revocations_per_credential: u64,
    /// Whether a request may await a storage read another request started (single-flight
    /// cache loads). Off where the runtime cancels a request that waits on another request's
    /// I/O: workerd does ("the script will never generate a response"), so on Workers
    /// concurrent misses for one key each read. See [`crate::GatewayCell::for_isolated_requests`].
    pub shared_loads: bool,
    /// Limits on failed client authentications (`ISOGATE_AUTH_*`).
    pub throttle: ThrottleConfig,
    /// Which decisions get an audit line (`ISOGATE_AUDIT`).
    pub audit: AuditLevel,
    /// A header set by a reverse proxy the operator runs in front of the gateway, naming the
    /// client's address (`ISOGATE_CLIENT_IP_HEADER`, lower-case); `None`: the runtime's own.
    pub client_ip_header: Option<String>,
}

impl fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("domain", &self.domain)
            .field("issuer", &self.issuer)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("cache_ttl_ms", &self.cache_ttl_ms)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field("upstream_timeout_ms", &self.upstream_timeout_ms)
            .field(
                "max_revocations_per_credential",
                &self.max_revocations_per_credential,
            )
            .field("throttle", &self.throttle)
            .field("audit", &self.audit)
            .field("client_ip_header", &self.client_ip_header)
            .finish()
    }
}

impl GatewayConfig {
    /// Settings for `domain` with the defaults; the issuer is `https://<domain>` unless the
    /// domain is local (`localhost`, `127.0.0.1`), which is served over plain HTTP.
    pub fn for_domain(domain: &str) -> GatewayConfig {
        let domain = domain.trim().trim_end_matches('/').to_ascii_lowercase();
        let host = domain.split(':').next().unwrap_or("");
        let scheme = if host == "localhost" || host == "127.0.0.1" {
            "http"
        } else {
            "https"
        };
        GatewayConfig {
            issuer: format!("{scheme}://{domain}"),
            domain,
            token_ttl_secs: DEFAULT_TOKEN_TTL_SECS,
            cache_ttl_ms: DEFAULT_CACHE_TTL_MS,
            admin_token: None,
            realm: "isogate".into(),
            upstream_timeout_ms: DEFAULT_UPSTREAM_TIMEOUT_MS,
            max_revocations_per_credential: DEFAULT_MAX_REVOCATIONS_PER_CREDENTIAL,
            shared_loads: true,
            throttle: ThrottleConfig::default(),
            audit: AuditLevel::All,
            client_ip_header: None,
        }
    }
}

/// Why the runtime's settings could not make a gateway. Names the setting, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A required setting is unset or empty.
    Missing(&'static str),
    /// A millisecond setting is not a number.
    NotMilliseconds(&'static str),
    /// A count setting is not a whole number of at least 1.
    NotCount(&'static str),
    /// A setting is none of the words it may be.
    NotOneOf {
        setting: &'static str,
        allowed: &'static str,
    },
    /// The admin token is too short or a known placeholder: anyone could guess it.
    WeakAdminToken(WeakSecret),
    /// A limit setting is not a whole number (0 turns its limit off).
    NotALimit(&'static str),
    /// A duration setting does not parse.
    Duration {
        setting: &'static str,
        source: DurationError,
    },
    /// A key setting does not hold a key.
    Key {
        setting: &'static str,
        source: KeyError,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing(name) => write!(f, "{name} is not set"),
            ConfigError::NotMilliseconds(name) => {
                write!(f, "{name} must be a number of milliseconds")
            }
            ConfigError::NotCount(name) => write!(f, "{name} must be a whole number, at least 1"),
            ConfigError::NotOneOf { setting, allowed } => {
                write!(f, "{setting} must be one of: {allowed}")
            }
            ConfigError::WeakAdminToken(why) => write!(
                f,
                "ISOGATE_ADMIN_TOKEN {why}; generate one with `openssl rand -base64 32` \
                 (or leave it unset to disable the admin API)"
            ),
            ConfigError::NotALimit(name) => write!(f, "{name} must be a whole number (0: off)"),
            ConfigError::Duration { setting, source } => write!(f, "{setting}: {source}"),
            ConfigError::Key { setting, source } => write!(f, "{setting}: {source}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Duration { source, .. } => Some(source),
            ConfigError::Key { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why an admin token was refused. Says nothing of the value beyond that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeakSecret {
    /// Fewer than [`MIN_ADMIN_TOKEN_BYTES`] bytes.
    TooShort,
    /// A word such as `change-me` or `password`, or too few distinct characters to be random.
    Placeholder,
}

impl fmt::Display for WeakSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeakSecret::TooShort => write!(f, "is shorter than {MIN_ADMIN_TOKEN_BYTES} bytes"),
            WeakSecret::Placeholder => write!(f, "is a placeholder, not a random secret"),
        }
    }
}

/// Refuses an admin token that anyone could guess: under [`MIN_ADMIN_TOKEN_BYTES`], holding a
/// placeholder word, or made of fewer than 8 distinct characters (`aaaa...`,
/// `adminadmin...`). Only words of 8 letters or more are looked for inside a token: a random
/// 32-byte token holds a given 8-letter word with odds under 1 in 10^10, where a short word
/// (`test`, `admin`) could turn up by chance and refuse a good secret.
pub fn check_admin_token(token: &str) -> Result<(), WeakSecret> {
    const PLACEHOLDER_WORDS: &[&str] = &[
        "changeme",
        "change-me",
        "change_me",
        "placeholder",
        "password",
        "passw0rd",
        "replaceme",
        "replace-me",
        "your-admin-token",
        "your_admin_token",
        "admin-token",
        "admin_token",
        "secretsecret",
    ];
    if token.len() < MIN_ADMIN_TOKEN_BYTES {
        return Err(WeakSecret::TooShort);
    }
    // Plain loops rather than sorting and `str::contains`: this runs once per isolate, and the
    // worker's size is budgeted.
    let mut seen = [false; 256];
    let mut distinct = 0;
    for b in token.bytes() {
        if !seen[usize::from(b)] {
            seen[usize::from(b)] = true;
            distinct += 1;
        }
    }
    let lower = token.as_bytes().to_ascii_lowercase();
    let holds = |word: &str| lower.windows(word.len()).any(|w| w == word.as_bytes());
    if distinct < 8 || PLACEHOLDER_WORDS.iter().any(|w| holds(w)) {
        return Err(WeakSecret::Placeholder);
    }
    Ok(())
}

/// Everything the settings hold: the configuration and the keys.
pub struct GatewaySettings {
    pub config: GatewayConfig,
    pub signing_key: SigningKey,
    /// Public keys published and accepted besides the signing key's own.
    pub extra_keys: Vec<VerifyingKey>,
}

/// Parses the named settings, looked up by `setting` (Workers vars and secrets, Spin
/// variables: the runtimes differ only in how a name is looked up; Spin variable names are
/// the lower-case forms). Settings:
/// - `ISOGATE_DOMAIN` (required): `example.com`, or `localhost:8787` locally;
/// - `ISOGATE_SIGNING_KEY` (secret, required): base64url 32-byte Ed25519 seed;
/// - `ISOGATE_ADMIN_TOKEN` (secret): the admin API credential, at least 32 bytes and no
///   placeholder ([`check_admin_token`]); unset disables the admin API;
/// - `ISOGATE_ISSUER`: defaults to `https://<domain>` (`http://` for localhost);
/// - `ISOGATE_TOKEN_TTL`: access token lifetime (`3600`, `1h`...), default 1 hour;
/// - `ISOGATE_CACHE_TTL_MS`: hot-path cache lifetime = revocation bound, default 5000;
/// - `ISOGATE_UPSTREAM_TIMEOUT_MS`: default 30000;
/// - `ISOGATE_AUDIT`: `off`, `denials` or `all` (the default): which decisions get an audit
///   line ([`crate::audit`]);
/// - `ISOGATE_MAX_REVOCATIONS_PER_CREDENTIAL`: unexpired revocations one credential may hold,
///   default 1000;
/// - `ISOGATE_AUTH_FAILURES_PER_MINUTE` (per client id and address, default 10),
///   `..._PER_ADDRESS` (default 100), `..._PER_CLIENT` (default 100): failed authentications
///   per window before a lockout (0: that count is off; see `crate::throttle`);
///   `ISOGATE_AUTH_FAILURE_WINDOW` (default 60s), `ISOGATE_AUTH_LOCKOUT_MAX` (default 1h);
/// - `ISOGATE_CLIENT_IP_HEADER`: behind a reverse proxy (a Kubernetes ingress in front of
///   SpinKube), the header it sets to the client's address (`x-forwarded-for`: its last
///   entry; `x-real-ip`): the address throttled guessing counts by
///   ([`crate::http::RequestHead::address_from_proxy`]); unset, the runtime's own;
/// - `ISOGATE_EXTRA_PUBLIC_KEYS`: comma-separated JWK `x` values of other signing keys,
///   published in the JWKS and accepted: the next key before it becomes current (so resource
///   servers caching the JWKS know it in time), and retired keys until their tokens expire.
pub fn gateway_settings(
    setting: impl Fn(&str) -> Option<String>,
) -> Result<GatewaySettings, ConfigError> {
    let get = |name: &str| {
        setting(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let domain = get("ISOGATE_DOMAIN").ok_or(ConfigError::Missing("ISOGATE_DOMAIN"))?;
    let mut config = GatewayConfig::for_domain(&domain);
    if let Some(issuer) = get("ISOGATE_ISSUER") {
        config.issuer = issuer.trim_end_matches('/').to_owned();
    }
    if let Some(ttl) = get("ISOGATE_TOKEN_TTL") {
        config.token_ttl_secs = parse_duration(&ttl).map_err(|source| ConfigError::Duration {
            setting: "ISOGATE_TOKEN_TTL",
            source,
        })?;
    }
    let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
        get(name).map_or(Ok(default), |v| {
            v.parse().map_err(|_| ConfigError::NotMilliseconds(name))
        })
    };
    config.cache_ttl_ms = number("ISOGATE_CACHE_TTL_MS", DEFAULT_CACHE_TTL_MS)?;
    config.upstream_timeout_ms =
        number("ISOGATE_UPSTREAM_TIMEOUT_MS", DEFAULT_UPSTREAM_TIMEOUT_MS)?;
    config.max_revocations_per_credential = match get("ISOGATE_MAX_REVOCATIONS_PER_CREDENTIAL") {
        None => DEFAULT_MAX_REVOCATIONS_PER_CREDENTIAL,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or(ConfigError::NotCount(
                "ISOGATE_MAX_REVOCATIONS_PER_CREDENTIAL",
            ))?,
    };
    config.throttle = throttle_settings(&get)?;
    if let Some(level) = get("ISOGATE_AUDIT") {
        config.audit = AuditLevel::parse(&level).ok_or(ConfigError::NotOneOf {
            setting: "ISOGATE_AUDIT",
            allowed: "off, denials, all",
        })?;
    }
    if let Some(name) = get("ISOGATE_CLIENT_IP_HEADER") {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !token {
            return Err(ConfigError::NotOneOf {
                setting: "ISOGATE_CLIENT_IP_HEADER",
                allowed: "a header name (x-forwarded-for, x-real-ip...)",
            });
        }
        config.client_ip_header = Some(name.to_ascii_lowercase());
    }
    config.admin_token = get("ISOGATE_ADMIN_TOKEN");
    if let Some(token) = &config.admin_token {
        check_admin_token(token).map_err(ConfigError::WeakAdminToken)?;
    }
    let seed = get("ISOGATE_SIGNING_KEY").ok_or(ConfigError::Missing("ISOGATE_SIGNING_KEY"))?;
    let signing_key = SigningKey::from_base64_seed(&seed).map_err(|source| ConfigError::Key {
        setting: "ISOGATE_SIGNING_KEY",
        source,
    })?;
    let extra_keys = get("ISOGATE_EXTRA_PUBLIC_KEYS")
        .unwrap_or_default()
        .split(',')
        .filter(|x| !x.trim().is_empty())
        .map(VerifyingKey::from_jwk_x)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| ConfigError::Key {
            setting: "ISOGATE_EXTRA_PUBLIC_KEYS",
            source,
        })?;
    Ok(GatewaySettings {
        config,
        signing_key,
        extra_keys,
    })
}

/// Why a duration did not parse. Carries the text (durations are not secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Not digits with an optional `s`, `m`, `h`, `d` or `w` unit.
    Invalid(String),
    /// Zero, negative, or over ten years.
    OutOfRange(String),
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Invalid(s) => {
                write!(f, "invalid duration {s:?}; use e.g. 3600s, 90m, 12h, 30d")
            }
            DurationError::OutOfRange(s) => {
                write!(f, "duration {s:?} must be between 1s and 10 years")
            }
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses `30d`, `12h`, `90m`, `45s` or plain seconds into seconds (at most ten years).
pub fn parse_duration(s: &str) -> Result<i64, DurationError> {
    let s = s.trim();
    let bad = || DurationError::Invalid(s.to_owned());
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(mult).ok_or_else(bad)?;
    if secs <= 0 || secs > 10 * 365 * 86400 {
        return Err(DurationError::OutOfRange(s.to_owned()));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests;
