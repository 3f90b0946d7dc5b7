//! The admin API's wire schema: every request and response body of `/admin/v1/...`, as public
//! serde types, so the gateway and its clients (the `isogate` CLI) share one definition.
//!
//! Fields are declared in key order: that is the order they serialise in, and the order the
//! gateway has always sent (serde_json's maps are sorted).

use crate::model::{Credential, Rule, Service, User};
use crate::scope::credential_ceiling;
use serde::{Deserialize, Serialize};

pub use crate::error::ErrorBody;
pub use groups::*;

mod groups;

/// `POST /admin/v1/users`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Groups to put the user in (they must exist).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    pub name: String,
}

/// `POST /admin/v1/services`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewService {
    /// The service's policy: who may reach it. Empty: every user.
    #[serde(default)]
    pub allowed_users: Vec<String>,
    pub name: String,
    /// Requests admitted per credential: `N/s`, `N/m` or `N/h` (`100/s`); absent or null: no
    /// limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<String>,
    /// Request-level policy, in order, first match wins (`crate::policy`): `allow group=finance`,
    /// `deny paths=/admin/*`. Empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    pub upstream: String,
    /// The origin's own credential, by the NAME of the runtime secret holding it (never a
    /// value): `bearer:NAME`, `basic:NAME`, `header:Header-Name:NAME` or
    /// `oauth2-client-credentials:TOKEN_URL,CLIENT_ID,NAME[,SCOPE]`; absent or null: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_auth: Option<String>,
}

/// `POST /admin/v1/credentials`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCredential {
    /// May introspect (RFC 7662) other clients' tokens, as a resource server does; without
    /// it, introspection answers only about the credential's own tokens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub can_introspect: bool,
    /// A duration such as `30d`, `12h`, `90m`, `3600s` or `3600`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_in: Option<String>,
    /// Token requests it may make (oauth2 only; a one-time bootstrap credential: 1); absent: no
    /// limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<i64>,
    pub name: String,
    /// Refuse token requests without a DPoP proof (RFC 9449): every token of the credential
    /// is bound to the client's key (oauth2 only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_dpop: bool,
    /// `private-key-jwt` only: the client's public key, a JWK or a JWK set (RFC 7517) of
    /// OKP/Ed25519, EC/P-256 or RSA (2048-4096 bits) keys; never a private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<crate::jws::RawJwk>,
    /// `federated` only: the external issuer whose tokens the client presents (its `iss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `federated` only: the `sub` admitted, exact or a glob (`*`: any run of characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `federated` only: the `aud` the tokens must name; absent: Isogate's issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// `federated` only: where the issuer's keys are; absent: its OIDC discovery document's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Scope ceiling; empty = every service the user's policies admit.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `oauth2`, `access-token` or `private-key-jwt`.
    #[serde(rename = "type")]
    pub kind: String,
    pub user: String,
}

/// `POST /admin/v1/credentials/<name>/rotate`: a new secret (or access token), the previous
/// one accepted for `grace` more (a duration; `0`: refused at once; absent: one hour).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateCredential {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace: Option<String>,
}

/// `PATCH /admin/v1/credentials/<name>`: what is given changes, the rest stays.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCredential {
    /// `false`: refused at the token endpoint and on services (within the cache TTL) until
    /// enabled again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// A new lifetime from now (`30d`), or `never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_in: Option<String>,
    /// A new scope ceiling (empty: every service); it narrows tokens already issued too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub created_at: i64,
    pub enabled: bool,
    /// The names of its groups, sorted.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Stable: never given to another user, even one created later under the same name.
    pub id: i64,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceView {
    /// The policy: ids of the users admitted (empty: every user). An id whose user was
    /// deleted stays, and admits nobody.
    pub allowed_user_ids: Vec<i64>,
    /// Their names when they were granted, in the same order (display).
    pub allowed_users: Vec<String>,
    pub created_at: i64,
    pub name: String,
    /// Requests admitted per credential, canonical (`100/s`, `20/m`, `1000/h`); null: no limit.
    #[serde(default)]
    pub rate_limit: Option<String>,
    /// The policy rules, in order, as `--allow`/`--deny` take them, each name with the id it
    /// matches: `allow group=finance#7 methods=GET`.
    #[serde(default)]
    pub rules: Vec<String>,
    pub upstream: String,
    /// The origin's credential: its kind and the secret's name, never its value; null: none.
    #[serde(default)]
    pub upstream_auth: Option<UpstreamAuthView>,
}

/// A service's upstream credential as the admin API shows it: names only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamAuthView {
    /// `bearer`, `basic`, `header` or `oauth2-client-credentials`.
    pub kind: String,
    /// The name of the runtime secret holding the value (or the client secret).
    pub secret: String,
    /// The whole spec, as given to `--upstream-auth` (names only).
    pub spec: String,
}

/// A credential as listed: never its secret or the secret's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialView {
    /// May introspect other clients' tokens (RFC 7662 §4).
    pub can_introspect: bool,
    pub client_id: String,
    pub created_at: i64,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// The end of the last rotation's grace (Unix seconds); null: never rotated.
    #[serde(default)]
    pub grace_until: Option<i64>,
    /// Token requests it may make; null: no limit.
    #[serde(default)]
    pub max_uses: Option<i64>,
    pub name: String,
    /// Token requests must carry a DPoP proof (RFC 9449); absent: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_dpop: bool,
    /// The last rotation (Unix seconds); null: never rotated.
    #[serde(default)]
    pub rotated_at: Option<i64>,
    /// The effective ceiling (`service:*` when unlimited).
    pub scopes: Vec<String>,
    /// `active`, `disabled`, `expired`, `used-up` or `rotating` (the previous secret or token
    /// still in its grace), when the view was made.
    #[serde(default)]
    pub state: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub user: String,
    pub user_id: i64,
    /// Token requests made (counted only with `max_uses`).
    #[serde(default)]
    pub uses: i64,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            created_at: u.created_at,
            enabled: u.enabled,
            groups: u.groups.clone(),
            id: u.id,
            name: u.name.clone(),
        }
    }
}

impl From<&Service> for ServiceView {
    fn from(s: &Service) -> Self {
        ServiceView {
            allowed_user_ids: s.allowed_user_ids.clone(),
            allowed_users: s.allowed_users.clone(),
            created_at: s.created_at,
            name: s.name.clone(),
            rate_limit: s.rate_limit.map(|l| l.to_string()),
            rules: s.rules.iter().map(Rule::to_string).collect(),
            upstream: s.upstream.clone(),
            upstream_auth: s.upstream_auth.as_ref().map(|a| UpstreamAuthView {
                kind: a.kind().to_owned(),
                secret: a.secret_name().to_owned(),
                spec: a.to_string(),
            }),
        }
    }
}

impl CredentialView {
    /// The credential as listed at `now` (Unix seconds: its state depends on it).
    pub fn at(c: &Credential, now: i64) -> Self {
        CredentialView {
            can_introspect: c.can_introspect,
            client_id: c.client_id.clone(),
            created_at: c.created_at,
            enabled: c.enabled,
            expires_at: c.expires_at,
            grace_until: c.lifecycle.grace_until,
            max_uses: c.lifecycle.max_uses,
            name: c.name.clone(),
            require_dpop: c.require_dpop,
            rotated_at: c.lifecycle.rotated_at,
            scopes: credential_ceiling(&c.scopes)
                .iter()
                .map(|s| s.to_string())
                .collect(),
            state: c.state(now).as_str().to_owned(),
            kind: c.kind.as_str().to_owned(),
            user: c.user.clone(),
            user_id: c.user_id,
            uses: c.lifecycle.uses,
        }
    }
}

/// `GET /admin/v1/users`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    pub users: Vec<UserView>,
}

/// `GET /admin/v1/services`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceList {
    pub services: Vec<ServiceView>,
}

/// `GET /admin/v1/credentials`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialList {
    pub credentials: Vec<CredentialView>,
}

/// `GET /admin/v1/users/<name>`, and the creation response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneUser {
    pub user: UserView,
}

/// `GET /admin/v1/services/<name>`, and the creation response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneService {
    pub service: ServiceView,
}

/// `GET /admin/v1/credentials/<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneCredential {
    pub credential: CredentialView,
}

/// The creation response of a credential: the only place its secret (`oauth2`) or its token
/// (`access-token`) is ever shown.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedCredential {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub credential: CredentialView,
}

impl std::fmt::Debug for CreatedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedCredential")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("credential", &self.credential)
            .finish()
    }
}

/// `DELETE /admin/v1/users/<name>`: the user and how many credentials went with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedUser {
    pub credentials_revoked: usize,
    pub user: String,
}

/// `DELETE /admin/v1/services/<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedService {
    pub service: String,
}

/// `DELETE /admin/v1/credentials/<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedCredential {
    pub credential: String,
}

/// Every deletion response: `{"deleted": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted<T> {
    pub deleted: T,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_serialise_with_sorted_keys_as_the_gateway_always_sent_them() {
        let view = CredentialView {
            can_introspect: false,
            client_id: "abcd-efgh".into(),
            created_at: 1,
            enabled: true,
            expires_at: None,
            grace_until: None,
            max_uses: None,
            name: "c".into(),
            require_dpop: false,
            rotated_at: None,
            scopes: vec!["service:*".into()],
            state: "active".into(),
            kind: "oauth2".into(),
            user: "root".into(),
            user_id: 1,
            uses: 0,
        };
        let created = CreatedCredential {
            access_token: None,
            client_id: "abcd-efgh".into(),
            client_secret: Some("s".into()),
            credential: view,
        };
        let expected = r#"{"client_id":"abcd-efgh","client_secret":"s","credential":{"can_introspect":false,"client_id":"abcd-efgh","created_at":1,"enabled":true,"expires_at":null,"grace_until":null,"max_uses":null,"name":"c","rotated_at":null,"scopes":["service:*"],"state":"active","type":"oauth2","user":"root","user_id":1,"uses":0}}"#;
        assert_eq!(serde_json::to_string(&created).unwrap(), expected);
        assert!(!format!("{created:?}").contains("\"s\""));
        let deleted = Deleted {
            deleted: DeletedUser {
                credentials_revoked: 2,
                user: "alice".into(),
            },
        };
        assert_eq!(
            serde_json::to_string(&deleted).unwrap(),
            r#"{"deleted":{"credentials_revoked":2,"user":"alice"}}"#
        );
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        assert!(serde_json::from_str::<NewUser>(r#"{"name":"a","admin":true}"#).is_err());
        let c: NewCredential =
            serde_json::from_str(r#"{"name":"c","user":"u","type":"oauth2"}"#).unwrap();
        assert_eq!(
            (c.expire_in, c.scopes.len(), c.can_introspect),
            (None, 0, false)
        );
    }
}
