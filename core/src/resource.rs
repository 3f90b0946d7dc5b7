//! The services as OAuth 2.0 protected resources: their identifiers, resource indicators
//! (RFC 8707) at the token endpoint, and the protected resource metadata (RFC 9728) each
//! service publishes.
//!
//! **One identifier per service.** Service `<name>` is the protected resource
//! `<scheme>://<name>.<DOMAIN>` ([`ServiceUrls::of`]): the scheme of the issuer, the domain as
//! `ISOGATE_DOMAIN` names it, no path. The same URL is the `aud` of the identity assertions
//! forwarded to its origin ([`crate::assertion`]), the `resource` of its metadata document, and
//! the value a client sends as `resource` to get a token for it alone.
//!
//! **Audiences.** A token issued without `resource` keeps the audience tokens always had (the
//! issuer): it reaches every service its scope allows ([`TokenAudience::Gateway`]). A token
//! issued with `resource=<service URL>` (repeatable, at most [`MAX_RESOURCES`]) has exactly
//! those URLs as `aud` (RFC 8707 §2, RFC 9068 §3) and is refused with `invalid_token` at any
//! other service, whatever its scope ([`TokenAudience::Services`]).
//!
//! **Resource and scope.** RFC 8707 §2 has the server refuse with `invalid_target` a resource
//! it "does not consider acceptable"; a resource the granted scope does not reach is such a
//! one (a token for it would be refused there anyway), so it is `invalid_target`, not
//! `invalid_scope`: the scope asked for is grantable, the target is not. (Hydra, whose
//! `audience` parameter predates RFC 8707, likewise checks the audience against what the
//! client may have, apart from the scope.) The granted scope is not narrowed to the resources:
//! the `aud` restricts the token, the `scope` says what it may do where it is accepted. The
//! scope check comes first, the existence check second: a client learns whether a service
//! exists only for names its scope reaches, as on the service path.

use crate::scope::{is_valid_service_name, ScopeSet};

/// Where a service publishes its protected resource metadata (RFC 9728 §3.1: the well-known
/// suffix inserted between the host and the resource's path, which is empty here).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The most `resource` parameters one token request may carry (RFC 8707 leaves the bound to
/// the server; each becomes an `aud` value of the token, and each costs a service lookup).
pub const MAX_RESOURCES: usize = 10;

/// The URLs of this deployment's services: `<scheme>://<service>.<domain>`, with the scheme of
/// the issuer (`ISOGATE_ISSUER`, default `https`, `http` for a local domain) and the domain
/// exactly as `ISOGATE_DOMAIN` names it (lower-case, with its port if it has one):
/// `https://my-api.example.com`; locally `http://my-api.localhost:8787`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceUrls {
    /// `https://`
    prefix: String,
    /// `.example.com`
    suffix: String,
}

impl ServiceUrls {
    pub fn new(issuer: &str, domain: &str) -> ServiceUrls {
        let scheme = match issuer.split_once("://") {
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("http") => "http",
            _ => "https",
        };
        ServiceUrls {
            prefix: format!("{scheme}://"),
            suffix: format!(".{domain}"),
        }
    }

    /// The resource identifier of `service`: the `aud` of its assertions and of tokens issued
    /// for it with `resource`, the `resource` of its metadata.
    pub fn of(&self, service: &str) -> String {
        [self.prefix.as_str(), service, self.suffix.as_str()].concat()
    }

    /// The URL of `service`'s protected resource metadata: what a challenge's
    /// `resource_metadata` names (RFC 9728 §5.1).
    pub fn metadata_url(&self, service: &str) -> String {
        [
            self.prefix.as_str(),
            service,
            self.suffix.as_str(),
            METADATA_PATH,
        ]
        .concat()
    }

    /// The service whose identifier `aud` is, exactly as [`ServiceUrls::of`] writes it (the
    /// `aud` of a token this gateway signed), or `None`.
    pub fn service_of<'a>(&self, aud: &'a str) -> Option<&'a str> {
        let name = aud
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        is_valid_service_name(name).then_some(name)
    }

    /// The service a `resource` parameter names (RFC 8707 §2): an absolute URI without a
    /// fragment, here the service's URL with the issuer's scheme and no query, path, user
    /// information or other port. Scheme and host are compared without case, and a path of
    /// `/` is the empty path (`new URL(...).href` adds it), so `https://My-Api.example.com/`
    /// names `my-api`. Anything else is `invalid_target` with the reason.
    pub fn parse_resource(&self, value: &str) -> Result<String, InvalidTarget> {
        // §2: "MUST NOT include a fragment component"; "SHOULD NOT include a query
        // component": a query would be a narrower target this gateway does not enforce.
        if value.contains('#') {
            return Err(InvalidTarget::Fragment);
        }
        if value.contains('?') {
            return Err(InvalidTarget::Query);
        }
        let (scheme, rest) = value.split_once("://").ok_or(InvalidTarget::NotAbsolute)?;
        let ours = self.prefix.trim_end_matches("://");
        if !scheme.eq_ignore_ascii_case(ours) {
            return Err(InvalidTarget::NotOurs);
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if !(path.is_empty() || path == "/") {
            return Err(InvalidTarget::Path);
        }
        let host = authority.to_ascii_lowercase();
        let name = host
            .strip_suffix(self.suffix.as_str())
            .filter(|name| is_valid_service_name(name))
            .ok_or(InvalidTarget::NotOurs)?;
        Ok(name.to_owned())
    }
}

/// Why a `resource` parameter is refused: RFC 8707 §2 `invalid_target`, 400. The description
/// says what is wrong without echoing the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidTarget {
    /// More than [`MAX_RESOURCES`] values.
    TooMany,
    /// Not an absolute URI.
    NotAbsolute,
    Fragment,
    Query,
    /// A path other than `/`: services are whole hosts.
    Path,
    /// Not a service URL of this gateway (another scheme, host, port, or user information).
    NotOurs,
    /// A service the granted scope does not reach.
    OutOfScope,
    /// A service URL of this gateway, but no such service.
    UnknownService,
}

impl InvalidTarget {
    pub fn description(self) -> &'static str {
        match self {
            InvalidTarget::TooMany => "at most 10 resource parameters per token request",
            InvalidTarget::NotAbsolute => "resource must be an absolute URI",
            InvalidTarget::Fragment => "resource must not have a fragment (RFC 8707 section 2)",
            InvalidTarget::Query => "resource must not have a query",
            InvalidTarget::Path => "resource must be a service URL without a path",
            InvalidTarget::NotOurs => "resource is not a service URL of this gateway",
            InvalidTarget::OutOfScope => "resource is outside the granted scope",
            InvalidTarget::UnknownService => "resource names no service",
        }
    }
}

/// What a verified token may reach by its `aud`, worked out once when it is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenAudience {
    /// `aud` is the issuer: every service its scope allows (a token issued without `resource`).
    Gateway,
    /// `aud` names services (RFC 8707): only these (their names, in `aud`'s order).
    Services(Vec<String>),
}

impl TokenAudience {
    /// Classifies a token's `aud` values: each must be the issuer (`gateway_audience`) or a
    /// service URL; any service URL among them restricts the token to those services. `None`:
    /// some value is neither, or there is none (RFC 9068 §4: "MUST validate that the aud
    /// claim contains a resource indicator value corresponding to an identifier the resource
    /// server expects for itself").
    pub fn classify<'a>(
        aud: impl IntoIterator<Item = &'a str>,
        gateway_audience: &str,
        services: &ServiceUrls,
    ) -> Option<TokenAudience> {
        let mut names = Vec::new();
        let mut any = false;
        for value in aud {
            any = true;
            if value == gateway_audience {
                continue;
            }
            names.push(services.service_of(value)?.to_owned());
        }
        match (any, names.is_empty()) {
            (false, _) => None,
            (true, true) => Some(TokenAudience::Gateway),
            (true, false) => Some(TokenAudience::Services(names)),
        }
    }

    /// Whether the token may be presented at `service` (its scope and the service's policy
    /// are checked separately).
    pub fn admits(&self, service: &str) -> bool {
        match self {
            TokenAudience::Gateway => true,
            TokenAudience::Services(names) => names.iter().any(|n| n == service),
        }
    }
}

/// The services `values` (the token request's `resource` parameters) name, as the token's
/// `aud`: their URLs, deduplicated in request order, each within the `granted` scope. The
/// check of each service's existence is the caller's (it needs storage). Empty `values`:
/// empty, the token keeps the issuer as its audience.
pub fn requested_services(
    urls: &ServiceUrls,
    values: &[String],
    granted: &ScopeSet,
) -> Result<Vec<String>, InvalidTarget> {
    if values.len() > MAX_RESOURCES {
        return Err(InvalidTarget::TooMany);
    }
    let mut names: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let name = urls.parse_resource(value)?;
        if !granted.allows_service(&name) {
            return Err(InvalidTarget::OutOfScope);
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// A service's protected resource metadata (RFC 9728 §2), fields in key order as serialised.
#[derive(serde::Serialize)]
pub struct ResourceMetadata<'a> {
    /// §2: the authorization servers whose tokens the service accepts: this gateway's issuer.
    pub authorization_servers: [&'a str; 1],
    /// §2: how the token may be sent. The header only: RFC 6750 §2.2 form bodies are the
    /// origin's, and §2.3 query tokens are refused.
    pub bearer_methods_supported: [&'static str; 1],
    /// §2 (RFC 9449 §5.1): the algorithms a DPoP proof sent here may be signed with.
    pub dpop_signing_alg_values_supported: Vec<&'static str>,
    /// §2 / §3.3: identical to the URL the metadata was requested under, minus the suffix.
    pub resource: String,
    /// §2: the scope that reaches this service (`service:*` reaches it too).
    pub scopes_supported: [String; 1],
}

impl<'a> ResourceMetadata<'a> {
    pub fn of(urls: &ServiceUrls, issuer: &'a str, service: &str) -> ResourceMetadata<'a> {
        ResourceMetadata {
            authorization_servers: [issuer],
            bearer_methods_supported: ["header"],
            dpop_signing_alg_values_supported: crate::dpop::DpopAlg::SUPPORTED
                .iter()
                .map(|a| a.as_str())
                .collect(),
            resource: urls.of(service),
            scopes_supported: [format!("service:{service}")],
        }
    }
}

#[cfg(test)]
mod tests;
