//! Scopes (RFC 6749 §3.3): what a token may reach.
//!
//! The syntax is Octelium's: `service:<name>` for one service, `service:*` for all of them.
//! A credential carries a ceiling (its `--scope` list, empty meaning no limit); a token request
//! may only narrow it; a token's scope is what the service check reads (parsed once, when the
//! token is verified, and cached with it: `verify::VerifiedToken`).

use std::fmt;

/// Services are DNS labels: lower-case letters, digits and inner hyphens, at most 63 bytes
/// (RFC 1035 §2.3.1, lower-case only). A service's name is what its scope names.
pub fn is_valid_service_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// One scope value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `service:*`: every service.
    AllServices,
    /// `service:<name>`.
    Service(String),
}

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidScope(pub String);

impl fmt::Display for InvalidScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidScope {}

impl Scope {
    pub fn parse(token: &str) -> Result<Scope, InvalidScope> {
        // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        if token.is_empty()
            || !token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return Err(InvalidScope(
                "scope contains characters outside RFC 6749 §3.3".into(),
            ));
        }
        match token.strip_prefix("service:") {
            Some("*") => Ok(Scope::AllServices),
            Some(name) if is_valid_service_name(name) => Ok(Scope::Service(name.to_owned())),
            _ => Err(InvalidScope(format!(
                "unknown scope {token:?}; use service:<name> or service:*"
            ))),
        }
    }

    /// Whether this scope, held by a token or a credential, covers `other`.
    fn covers(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::AllServices, _) => true,
            (Scope::Service(a), Scope::Service(b)) => a == b,
            (Scope::Service(_), Scope::AllServices) => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::AllServices => f.write_str("service:*"),
            Scope::Service(name) => write!(f, "service:{name}"),
        }
    }
}

/// A set of scopes, kept sorted and without duplicates so that its string form is canonical.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Parses a space-delimited list (RFC 6749 §3.3). Empty input gives the empty set.
    pub fn parse(list: &str) -> Result<ScopeSet, InvalidScope> {
        let mut scopes = list
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(Scope::parse)
            .collect::<Result<Vec<_>, _>>()?;
        scopes.sort();
        scopes.dedup();
        Ok(ScopeSet(scopes))
    }

    pub fn all_services() -> ScopeSet {
        ScopeSet(vec![Scope::AllServices])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Whether a token with these scopes may reach `service` (no allocation: this runs on
    /// every service request; always inlined, so that a second caller, the token endpoint's
    /// resource check, does not make the service path pay a call).
    #[inline(always)]
    pub fn allows_service(&self, service: &str) -> bool {
        // A loop, not `any` with a closure: nothing left for the inliner to keep out of line.
        for scope in &self.0 {
            match scope {
                Scope::AllServices => return true,
                Scope::Service(name) if name == service => return true,
                Scope::Service(_) => {}
            }
        }
        false
    }

    /// Whether every scope of `requested` lies within this set.
    pub fn covers_all(&self, requested: &ScopeSet) -> bool {
        requested
            .0
            .iter()
            .all(|r| self.0.iter().any(|mine| mine.covers(r)))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// What a credential allows: its scopes as a ceiling, the empty set meaning no limit.
pub fn credential_ceiling(scopes: &ScopeSet) -> ScopeSet {
    if scopes.is_empty() {
        return ScopeSet::all_services();
    }
    scopes.clone()
}

/// RFC 6749 §3.3: the granted scope is the request narrowed by the credential's ceiling. An
/// omitted request means "everything the credential may have"; asking beyond it is refused
/// (`invalid_scope`) rather than silently trimmed, so a client never believes it holds a scope
/// it does not.
pub fn grant_scopes(
    ceiling: &ScopeSet,
    requested: Option<&ScopeSet>,
) -> Result<ScopeSet, InvalidScope> {
    match requested {
        None => Ok(ceiling.clone()),
        Some(req) if req.is_empty() => Ok(ceiling.clone()),
        Some(req) if ceiling.covers_all(req) => Ok(req.clone()),
        Some(_) => Err(InvalidScope(
            "the requested scope exceeds what this credential may reach".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_scope_syntax_is_octeliums() {
        assert_eq!(Scope::parse("service:*"), Ok(Scope::AllServices));
        assert_eq!(
            Scope::parse("service:my-api"),
            Ok(Scope::Service("my-api".into()))
        );
        for bad in [
            "service:",
            "service:My_Api",
            "svc:x",
            "openid",
            "service:a b",
            "service:\"x\"",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn scope_list_is_space_delimited_sorted_and_deduplicated() {
        let s = ScopeSet::parse("service:b  service:a service:b").unwrap();
        assert_eq!(s.to_string(), "service:a service:b");
    }

    #[test]
    fn wildcard_allows_every_service_and_named_scope_only_its_own() {
        assert!(ScopeSet::parse("service:*").unwrap().allows_service("x"));
        let one = ScopeSet::parse("service:x").unwrap();
        assert!(one.allows_service("x"));
        assert!(!one.allows_service("y"));
        assert!(!ScopeSet::default().allows_service("x"));
    }

    fn ceiling(stored: &str) -> ScopeSet {
        credential_ceiling(&ScopeSet::parse(stored).unwrap())
    }

    #[test]
    fn rfc6749_3_3_omitted_scope_grants_the_credential_ceiling() {
        assert_eq!(
            grant_scopes(&ceiling("service:a"), None)
                .unwrap()
                .to_string(),
            "service:a"
        );
        assert_eq!(
            grant_scopes(&ceiling(""), None).unwrap().to_string(),
            "service:*"
        );
    }

    #[test]
    fn rfc6749_3_3_requested_scope_only_narrows_the_ceiling() {
        let req = ScopeSet::parse("service:a").unwrap();
        assert_eq!(grant_scopes(&ceiling(""), Some(&req)).unwrap(), req);
        let only_a = ceiling("service:a");
        assert!(grant_scopes(&only_a, Some(&ScopeSet::parse("service:b").unwrap())).is_err());
        assert!(grant_scopes(&only_a, Some(&ScopeSet::parse("service:*").unwrap())).is_err());
    }
}
