//! The records the gateway keeps: users, services, credentials, as the store reads and writes
//! them, and the validation of their names (upstream URLs: [`crate::upstream`]).

pub use crate::lifecycle::{CredentialState, Lifecycle};
pub use crate::policy::{GroupId, Rule};
pub use crate::rate_limit::RateLimit;
pub use crate::scope::is_valid_service_name;
use crate::scope::ScopeSet;
use crate::secret::SecretHash;
pub use crate::upstream::InvalidUpstream;
pub use crate::upstream_auth::UpstreamAuth;

/// A user's id: assigned by the database when the user is created and never given to another
/// user (`AUTOINCREMENT`), so that a policy or credential naming it can never come to mean a
/// user re-created under the same name. `0` is no user (see `infra/migrations/0003_*.sql`).
pub type UserId = i64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub enabled: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// The names of its groups, sorted.
    pub groups: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// DNS label: the service answers at `<name>.<DOMAIN>`.
    pub name: String,
    /// Origin base URL (`http[s]://host[:port][/base-path]`).
    pub upstream: String,
    /// Policy: the ids of the users who may reach it. Empty means every enabled user (still
    /// subject to the token's scopes). Ids of deleted users stay and admit nobody: deleting a
    /// user never opens a service, and re-creating the name does not bring its access back.
    pub allowed_user_ids: Vec<UserId>,
    /// The names of those users when they were granted: display only, never consulted.
    pub allowed_users: Vec<String>,
    pub created_at: i64,
    /// Requests per window admitted for each credential ([`crate::rate_limit`]); `None`: no
    /// limit, and no cost.
    pub rate_limit: Option<RateLimit>,
    /// The origin's own credential, by the name of its secret ([`crate::upstream_auth`]);
    /// `None`: the gateway sends none.
    pub upstream_auth: Option<UpstreamAuth>,
    /// Request-level policy ([`crate::policy`]), first match wins; empty: none. Checked after
    /// `allowed_user_ids`, which keeps its meaning.
    pub rules: Vec<Rule>,
}

/// A group of users, named by policy rules (`group=finance`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub created_at: i64,
    /// Its members' names, sorted.
    pub members: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// Client id + secret, exchanged at the token endpoint (RFC 6749 §4.4).
    OAuth2,
    /// A long-lived access token used directly as the bearer.
    AccessToken,
    /// Registered public keys, no secret: the client authenticates at the token endpoint with
    /// a JWT it signs (`private_key_jwt`, RFC 7523 §2.2; [`crate::client_assertion`]).
    PrivateKeyJwt,
    /// No secret and no key of its own: the client presents a token of an external issuer
    /// (workload identity federation, [`crate::federation`]).
    Federated,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::OAuth2 => "oauth2",
            CredentialKind::AccessToken => "access-token",
            CredentialKind::PrivateKeyJwt => "private-key-jwt",
            CredentialKind::Federated => "federated",
        }
    }

    /// Whether it obtains tokens at the token endpoint (a secret or a key; an access-token
    /// credential is its own token).
    pub fn uses_token_endpoint(self) -> bool {
        self != CredentialKind::AccessToken
    }

    pub fn parse(s: &str) -> Option<CredentialKind> {
        match s {
            "oauth2" => Some(CredentialKind::OAuth2),
            "access-token" | "access_token" | "accesstoken" => Some(CredentialKind::AccessToken),
            "private-key-jwt" | "private_key_jwt" => Some(CredentialKind::PrivateKeyJwt),
            "federated" => Some(CredentialKind::Federated),
            _ => None,
        }
    }
}

/// A credential as stored (the secret only as its hash). No `PartialEq`: it holds a secret's
/// hash, which is compared only in constant time.
#[derive(Clone, Debug)]
pub struct Credential {
    pub client_id: String,
    pub name: String,
    /// The user it acts for: its id (what the service policy checks) and its name (the token's
    /// `sub`, and display).
    pub user_id: UserId,
    pub user: String,
    pub kind: CredentialKind,
    pub secret_hash: Option<SecretHash>,
    /// Scope ceiling, parsed when the row is read (stored space-delimited); empty = no limit.
    pub scopes: ScopeSet,
    /// Unix seconds; `None` = never expires.
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub created_at: i64,
    /// May introspect (RFC 7662) other clients' tokens; without it, only its own.
    pub can_introspect: bool,
    /// Refuses token requests without a DPoP proof, and so only ever has DPoP-bound tokens
    /// (RFC 9449; `isogate create cred --require-dpop`, oauth2 only).
    pub require_dpop: bool,
    /// Rotation and use limit ([`crate::lifecycle`]); the default without either.
    pub lifecycle: Lifecycle,
}

/// A credential joined with its user: everything the token endpoint and the service check need
/// to know about whether it may still be used.
#[derive(Clone, Debug)]
pub struct CredentialStatus {
    pub credential: Credential,
    pub user_enabled: bool,
    /// The groups of the credential's user (read in the same statement), for policy rules.
    pub groups: Vec<GroupId>,
}

/// Why a credential that exists may not be used (each an audit reason of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inactive {
    /// `isogate update cred NAME --disable`.
    Disabled,
    /// Past its `expires_at`.
    Expired,
    /// Its user is disabled.
    UserDisabled,
}

impl CredentialStatus {
    /// Why the credential may not be used at `now` (Unix seconds), if it may not: disabled,
    /// expired, or its user disabled.
    pub fn inactive(&self, now: i64) -> Option<Inactive> {
        let c = &self.credential;
        if !c.enabled {
            Some(Inactive::Disabled)
        } else if c.expires_at.is_some_and(|exp| now >= exp) {
            Some(Inactive::Expired)
        } else if !self.user_enabled {
            Some(Inactive::UserDisabled)
        } else {
            None
        }
    }

    /// Whether the credential may be used at `now` (Unix seconds): it and its user enabled and
    /// not expired.
    pub fn is_live(&self, now: i64) -> bool {
        self.inactive(now).is_none()
    }
}

/// User and credential names: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 64.
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_dns_labels() {
        for ok in ["my-api", "a", "api2"] {
            assert!(is_valid_service_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "My-Api", "a.b", "a_b", &"x".repeat(64)] {
            assert!(!is_valid_service_name(bad), "{bad}");
        }
    }

    #[test]
    fn credential_is_dead_once_expired_disabled_or_its_user_disabled() {
        let cred = Credential {
            client_id: "c".into(),
            name: "n".into(),
            user_id: 1,
            user: "u".into(),
            kind: CredentialKind::OAuth2,
            secret_hash: None,
            scopes: ScopeSet::default(),
            expires_at: Some(100),
            enabled: true,
            created_at: 0,
            can_introspect: false,
            require_dpop: false,
            lifecycle: Lifecycle::default(),
        };
        let live = CredentialStatus {
            credential: cred.clone(),
            user_enabled: true,
            groups: vec![],
        };
        assert!(live.is_live(99));
        assert!(!live.is_live(100));
        assert!(!CredentialStatus {
            credential: cred.clone(),
            user_enabled: false,
            groups: vec![],
        }
        .is_live(0));
        assert!(!CredentialStatus {
            credential: Credential {
                enabled: false,
                ..cred
            },
            user_enabled: true,
            groups: vec![],
        }
        .is_live(0));
    }
}
