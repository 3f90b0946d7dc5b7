//! Secretless upstream credentials: a service may hold the origin's own credential, so that
//! workloads never see it (issue #13.1, Octelium's "secretless access").
//!
//! ```text
//! isogate create service payroll --upstream https://payroll.internal \
//!     --upstream-auth bearer:PAYROLL_TOKEN
//! ```
//!
//! Only the secret's **name** is stored ([`UpstreamAuth`], `infra/migrations/0008_*`); its
//! value comes from the runtime's secret store at request time ([`OriginSecrets::secret`]:
//! a Workers secret or var, a Spin variable). The value is never stored, never in an admin
//! answer, never in a log line or a diagnostic.
//!
//! The header plan ([`inject`]): the client's own `Authorization`, `X-Octelium-Auth` and the
//! rest are stripped by [`crate::forward::plan_forward`]; the injected header is then set
//! after every client header of the same name (compared folded, `_` as `-`, like every strip
//! rule) has been removed, so a client can neither add a second one nor override it.
//!
//! Kinds:
//! - `bearer:NAME`: `Authorization: Bearer <value>`;
//! - `basic:NAME`: `Authorization: Basic base64(<value>)`, the value being `user:password`
//!   (RFC 7617 §2);
//! - `header:Header-Name:NAME`: `Header-Name: <value>`;
//! - `oauth2-client-credentials:TOKEN_URL,CLIENT_ID,NAME[,SCOPE]`: the gateway gets a token
//!   from `TOKEN_URL` itself (RFC 6749 §4.4, `client_secret_basic`; [`origin_token`]) and sends
//!   `Authorization: Bearer <token>`.

pub mod origin_token;
mod token_cache;

use crate::capability::OriginSecrets;
use base64::Engine as _;
use std::fmt;

pub use origin_token::{ClientCredentials, TokenFetch, TokenReply};
pub use token_cache::OriginTokens;

/// How the gateway authenticates to a service's origin: which header, from which secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamAuth {
    Bearer(SecretName),
    Basic(SecretName),
    Header { name: String, secret: SecretName },
    ClientCredentials(ClientCredentials),
}

/// The name of a secret in the runtime's store: a letter, then letters, digits and single
/// `_` (at most 64), never `ISOGATE_*` (the gateway's own settings: its signing key and admin
/// token must never be sent to an origin). Spin reads it lower-cased (Spin variable names are
/// lower-case); on Workers it is the secret's name as `wrangler secret put` wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretName(String);

impl SecretName {
    pub fn parse(name: &str) -> Result<SecretName, InvalidUpstreamAuth> {
        let b = name.as_bytes();
        let well_formed = !b.is_empty()
            && b.len() <= 64
            && b[0].is_ascii_alphabetic()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
            && !name.contains("__")
            && !name.ends_with('_');
        if !well_formed {
            return Err(InvalidUpstreamAuth(
                "a secret name is a letter, then letters, digits and single '_', at most 64",
            ));
        }
        if name.len() >= 8 && name[..8].eq_ignore_ascii_case("isogate_") {
            return Err(InvalidUpstreamAuth(
                "the gateway's own settings (ISOGATE_*) cannot be sent to an origin",
            ));
        }
        Ok(SecretName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why an `--upstream-auth` value is refused (400 at the admin API). Never holds a secret:
/// the value holds names only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUpstreamAuth(pub &'static str);

impl fmt::Display for InvalidUpstreamAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid upstream_auth: {}", self.0)
    }
}

impl std::error::Error for InvalidUpstreamAuth {}

impl UpstreamAuth {
    /// Parses `bearer:NAME`, `basic:NAME`, `header:Header-Name:NAME` or
    /// `oauth2-client-credentials:TOKEN_URL,CLIENT_ID,NAME[,SCOPE]`.
    pub fn parse(spec: &str) -> Result<UpstreamAuth, InvalidUpstreamAuth> {
        let (kind, rest) = spec.split_once(':').ok_or(InvalidUpstreamAuth(
            "expected KIND:..., KIND one of bearer, basic, header, oauth2-client-credentials",
        ))?;
        match kind {
            "bearer" => Ok(UpstreamAuth::Bearer(SecretName::parse(rest)?)),
            "basic" => Ok(UpstreamAuth::Basic(SecretName::parse(rest)?)),
            "header" => {
                let (name, secret) = rest.rsplit_once(':').ok_or(InvalidUpstreamAuth(
                    "expected header:Header-Name:SECRET_NAME",
                ))?;
                check_header_name(name)?;
                Ok(UpstreamAuth::Header {
                    name: name.to_ascii_lowercase(),
                    secret: SecretName::parse(secret)?,
                })
            }
            "oauth2-client-credentials" => {
                ClientCredentials::parse(rest).map(UpstreamAuth::ClientCredentials)
            }
            _ => Err(InvalidUpstreamAuth(
                "the kind is one of bearer, basic, header, oauth2-client-credentials",
            )),
        }
    }

    /// `bearer`, `basic`, `header` or `oauth2-client-credentials`.
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamAuth::Bearer(_) => "bearer",
            UpstreamAuth::Basic(_) => "basic",
            UpstreamAuth::Header { .. } => "header",
            UpstreamAuth::ClientCredentials(_) => "oauth2-client-credentials",
        }
    }

    /// The name of the secret it reads (never its value).
    pub fn secret_name(&self) -> &str {
        match self {
            UpstreamAuth::Bearer(s) | UpstreamAuth::Basic(s) => s.as_str(),
            UpstreamAuth::Header { secret, .. } => secret.as_str(),
            UpstreamAuth::ClientCredentials(c) => c.secret.as_str(),
        }
    }

    /// The header it sets, lower-case.
    pub fn header_name(&self) -> &str {
        match self {
            UpstreamAuth::Header { name, .. } => name,
            _ => "authorization",
        }
    }
}

/// The canonical spec: what is stored, and what the admin API shows (names only).
impl fmt::Display for UpstreamAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamAuth::Bearer(s) => write!(f, "bearer:{}", s.as_str()),
            UpstreamAuth::Basic(s) => write!(f, "basic:{}", s.as_str()),
            UpstreamAuth::Header { name, secret } => {
                write!(f, "header:{name}:{}", secret.as_str())
            }
            UpstreamAuth::ClientCredentials(c) => write!(f, "oauth2-client-credentials:{c}"),
        }
    }
}

/// A header name the gateway may set for an origin: an RFC 9110 §5.1 token, and none of the
/// names the forward plan owns (hop-by-hop, framing, `Host`, `X-Isogate-*`, forwarding and
/// other proxies' identity headers), which would either be stripped again or let the
/// credential pose as the gateway's identity. `Authorization` is allowed (a custom scheme).
fn check_header_name(name: &str) -> Result<(), InvalidUpstreamAuth> {
    let token = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(InvalidUpstreamAuth(
            "the header name must be an HTTP token (letters, digits, '-'), at most 64",
        ));
    }
    if crate::forward::is_gateway_owned(name) {
        return Err(InvalidUpstreamAuth(
            "that header is set or removed by the gateway itself; pick another name",
        ));
    }
    Ok(())
}

/// Why the origin's credential could not be had at request time: answered 502 (the client
/// learns nothing), the service and the secret's name in the diagnostic for the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginCredentialError {
    pub service: String,
    pub why: CredentialFailure,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialFailure {
    /// The runtime's store has no secret by that name.
    MissingSecret(String),
    /// The secret's value cannot go in a header (a control character).
    UnusableSecret(String),
    /// The origin's token endpoint refused or failed, in the adapter's or the core's words
    /// (never the response body: it may echo what was sent).
    TokenEndpoint(String),
}

impl fmt::Display for OriginCredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let service = &self.service;
        match &self.why {
            CredentialFailure::MissingSecret(name) => write!(
                f,
                "service {service}: the upstream credential's secret {name} is not set \
                 (Workers: wrangler secret put {name}; Spin: declare variable {} in spin.toml)",
                name.to_ascii_lowercase()
            ),
            CredentialFailure::UnusableSecret(name) => write!(
                f,
                "service {service}: the secret {name} holds a control character, which no header may carry"
            ),
            CredentialFailure::TokenEndpoint(why) => {
                write!(f, "service {service}: the origin's token endpoint: {why}")
            }
        }
    }
}

impl std::error::Error for OriginCredentialError {}

/// The secret's value, as a header value may carry it: a trailing line break (what `echo |
/// wrangler secret put` adds) dropped; any other control character refused.
pub(crate) fn secret_value(
    secrets: &dyn OriginSecrets,
    name: &SecretName,
) -> Result<String, CredentialFailure> {
    let value = secrets
        .secret(name.as_str())
        .ok_or_else(|| CredentialFailure::MissingSecret(name.as_str().to_owned()))?;
    let trimmed = value.trim_end_matches(['\r', '\n']);
    if trimmed.is_empty() || trimmed.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(CredentialFailure::UnusableSecret(name.as_str().to_owned()));
    }
    Ok(trimmed.to_owned())
}

/// The header value `auth` sends at `now`: the secret's (bearer, basic, header), or the
/// origin's token, cached per isolate (oauth2-client-credentials).
pub(crate) async fn origin_credential(
    tokens: &OriginTokens,
    secrets: &dyn OriginSecrets,
    auth: &UpstreamAuth,
    now: crate::capability::Now,
) -> Result<String, CredentialFailure> {
    match auth {
        UpstreamAuth::Bearer(s) => secret_value(secrets, s).map(|v| format!("Bearer {v}")),
        // RFC 7617 §2: the secret holds `user:password`.
        UpstreamAuth::Basic(s) => secret_value(secrets, s).map(|v| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(v)
            )
        }),
        UpstreamAuth::Header { secret, .. } => secret_value(secrets, secret),
        UpstreamAuth::ClientCredentials(creds) => tokens.header(creds, secrets, now).await,
    }
}

/// Sets `name: value` on the forward, after removing every header of that name the plan
/// still has (compared folded): the client can neither add a second one nor override it.
pub fn inject(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    headers.retain(|(n, _)| !crate::forward::same_header(n, name));
    headers.push((name.to_owned(), value));
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod token_tests;
