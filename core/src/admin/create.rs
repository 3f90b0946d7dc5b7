//! Creating records through the admin API: validation, the store, the caches, and for
//! credentials the one-time secret or token.

use super::api::*;
use super::groups::{group_ids, resolve_rules};
use super::{parse_body, AdminContext, DEFAULT_ACCESS_TOKEN_CREDENTIAL_SECS};
use crate::capability::{Capabilities, Ed25519, Now, RandomSource, SqlDb};
use crate::client_assertion::ClientKeys;
use crate::config::parse_duration;
use crate::error::AdminError;
use crate::federation::{is_fetchable_url, FederationSpec};
use crate::http::Response;
use crate::jws::JwkSet;
use crate::mint::Grant;
use crate::model::{
    is_valid_name, is_valid_service_name, Credential, CredentialKind, Lifecycle, RateLimit,
    Service, UpstreamAuth,
};
use crate::scope::{credential_ceiling, ScopeSet};
use crate::secret::{Secret, CLIENT_SECRET_BYTES};
use crate::store::{Inserted, Store};
use crate::upstream::parse_upstream;

pub(super) async fn create_user<D: SqlDb>(
    store: &Store<'_, D>,
    body: &[u8],
    now: Now,
) -> Result<(Response, String), AdminError> {
    let req: NewUser = parse_body(body)?;
    if !is_valid_name(&req.name) {
        return Err(AdminError::BadRequest(
            "user names are 1-64 letters, digits, '.', '_' or '-'".into(),
        ));
    }
    let mut groups = req.groups;
    groups.sort();
    groups.dedup();
    let ids = group_ids(store, &groups).await?;
    match store.insert_user(&req.name, true, now.unix_secs()).await? {
        Some(mut user) => {
            // A new user has no credential yet: no cache holds its groups.
            store.add_memberships(user.id, &ids).await?;
            user.groups = groups;
            let view = OneUser {
                user: UserView::from(&user),
            };
            Ok((Response::json(201, &view), user.name))
        }
        None => Err(AdminError::Conflict(format!(
            "user {:?} already exists",
            req.name
        ))),
    }
}

pub(super) async fn create_service<D: SqlDb>(
    ctx: &AdminContext<'_>,
    store: &Store<'_, D>,
    body: &[u8],
    now: Now,
) -> Result<(Response, String), AdminError> {
    let req: NewService = parse_body(body)?;
    if !is_valid_service_name(&req.name) {
        return Err(AdminError::BadRequest(
            "service names are DNS labels: a-z, 0-9 and inner '-', at most 63".into(),
        ));
    }
    let upstream = parse_upstream(&req.upstream)
        .map_err(|e| AdminError::BadRequest(e.to_string()))?
        .into_string();
    let rate_limit = req
        .rate_limit
        .as_deref()
        .map(RateLimit::parse)
        .transpose()
        .map_err(|e| AdminError::BadRequest(e.to_string()))?;
    let upstream_auth = req
        .upstream_auth
        .as_deref()
        .map(UpstreamAuth::parse)
        .transpose()
        .map_err(|e| AdminError::BadRequest(e.to_string()))?;
    let mut allowed_users = req.allowed_users;
    allowed_users.sort();
    allowed_users.dedup();
    // The policy holds the users' ids: a user deleted later, and another created under the
    // same name, are not the same user.
    let mut allowed_user_ids = Vec::with_capacity(allowed_users.len());
    for u in &allowed_users {
        let user = store
            .user(u)
            .await?
            .ok_or_else(|| AdminError::BadRequest(format!("user {u:?} does not exist")))?;
        allowed_user_ids.push(user.id);
    }
    let rules = resolve_rules(store, &req.rules).await?;
    let service = Service {
        name: req.name,
        upstream,
        allowed_user_ids,
        allowed_users,
        created_at: now.unix_secs(),
        rate_limit,
        upstream_auth,
        rules,
    };
    match store.insert_service(&service).await? {
        Inserted::Created => {
            // A cached "no such service" must not outlive the creation.
            ctx.caches.service_changed(&service.name);
            let response = Response::json(
                201,
                &OneService {
                    service: ServiceView::from(&service),
                },
            );
            Ok((response, service.name))
        }
        Inserted::AlreadyExists => Err(AdminError::Conflict(format!(
            "service {:?} already exists",
            service.name
        ))),
    }
}

pub(super) async fn create_credential<D: SqlDb, E: Ed25519>(
    ctx: &AdminContext<'_>,
    caps: Capabilities<'_, D, E>,
    store: &Store<'_, D>,
    body: &[u8],
    now: Now,
) -> Result<(Response, String), AdminError> {
    let req: NewCredential = parse_body(body)?;
    if !is_valid_name(&req.name) {
        return Err(AdminError::BadRequest(
            "credential names are 1-64 letters, digits, '.', '_' or '-'".into(),
        ));
    }
    let kind = CredentialKind::parse(&req.kind).ok_or_else(|| {
        AdminError::BadRequest(
            "type must be oauth2, access-token, private-key-jwt or federated".into(),
        )
    })?;
    let federation = match (kind, req.issuer.as_deref(), req.subject.as_deref()) {
        (CredentialKind::Federated, Some(issuer), Some(subject)) => Some(
            FederationSpec::new(
                issuer,
                subject,
                req.audience.as_deref(),
                req.jwks_uri.as_deref(),
            )
            .map_err(|e| AdminError::BadRequest(e.to_string()))?,
        ),
        (CredentialKind::Federated, _, _) => {
            return Err(AdminError::BadRequest(
                "a federated credential needs issuer and subject".into(),
            ))
        }
        _ if req.issuer.is_some() || req.subject.is_some() || req.audience.is_some() => {
            return Err(AdminError::BadRequest(
                "issuer, subject and audience are for federated credentials only".into(),
            ))
        }
        (CredentialKind::OAuth2 | CredentialKind::AccessToken, ..) if req.jwks_uri.is_some() => {
            return Err(AdminError::BadRequest(
                "jwks_uri is for private-key-jwt and federated credentials only".into(),
            ))
        }
        _ => None,
    };
    // private_key_jwt: the client's public keys, validated and kept as public members only.
    // Or the URL where the client publishes them (RFC 7591 §2 `jwks_uri`).
    let jwks = match (kind, &req.public_key, req.jwks_uri.as_deref()) {
        (CredentialKind::PrivateKeyJwt, Some(_), Some(_)) => {
            return Err(AdminError::BadRequest(
                "a private-key-jwt credential takes public_key or jwks_uri, not both".into(),
            ))
        }
        (CredentialKind::PrivateKeyJwt, Some(key), None) => Some(ClientKeys::Registered(
            JwkSet::from_raw(key)
                .map_err(|e| AdminError::BadRequest(format!("public_key: {e}")))?,
        )),
        (CredentialKind::PrivateKeyJwt, None, Some(uri)) => {
            if !is_fetchable_url(uri) {
                return Err(AdminError::BadRequest(
                    "jwks_uri must be an https URL (http only to a loopback host), without query or fragment".into(),
                ));
            }
            Some(ClientKeys::Published {
                jwks_uri: uri.to_owned(),
            })
        }
        (CredentialKind::PrivateKeyJwt, None, None) => {
            return Err(AdminError::BadRequest(
                "a private-key-jwt credential needs public_key (a JWK or JWK set) or jwks_uri"
                    .into(),
            ))
        }
        (_, Some(_), _) => {
            return Err(AdminError::BadRequest(
                "public_key is for private-key-jwt credentials only".into(),
            ))
        }
        (_, None, _) => None,
    };
    let scopes = ScopeSet::parse(&req.scopes.join(" ")).map_err(|e| AdminError::BadRequest(e.0))?;
    let lifetime = req
        .expire_in
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| AdminError::BadRequest(e.to_string()))?;
    let secs = now.unix_secs();
    let expires_at = match (kind, lifetime) {
        (_, Some(lifetime)) => Some(secs + lifetime),
        (CredentialKind::AccessToken, None) => Some(secs + DEFAULT_ACCESS_TOKEN_CREDENTIAL_SECS),
        (_, None) => None,
    };
    let max_uses = match (req.max_uses, kind) {
        (None, _) => None,
        (Some(n), kind) if kind.uses_token_endpoint() && n >= 1 => Some(n),
        (Some(_), kind) if kind.uses_token_endpoint() => {
            return Err(AdminError::BadRequest("max_uses is at least 1".into()))
        }
        (Some(_), _) => {
            return Err(AdminError::BadRequest(
                "max_uses counts token requests: oauth2, private-key-jwt and federated credentials only"
                    .into(),
            ))
        }
    };
    // An access-token credential is a bearer token made by the admin API, with no client key
    // to bind it to: it cannot be DPoP-bound, so the flag would only mislead.
    if req.require_dpop && kind == CredentialKind::AccessToken {
        return Err(AdminError::BadRequest(
            "require_dpop binds the tokens a client requests: not for access-token credentials"
                .into(),
        ));
    }
    let user = store
        .user(&req.user)
        .await?
        .ok_or_else(|| AdminError::BadRequest(format!("user {:?} does not exist", req.user)))?;
    let taken = || AdminError::Conflict(format!("credential {:?} already exists", req.name));
    if store.credential_by_name(&req.name).await?.is_some() {
        return Err(taken());
    }
    let secret = (kind == CredentialKind::OAuth2).then(|| {
        let mut bytes = [0u8; CLIENT_SECRET_BYTES];
        caps.random.fill(&mut bytes);
        Secret::from_random_bytes(&bytes)
    });
    // Retry on the (negligible) chance of a client id collision; a name taken by a concurrent
    // request is reported as a conflict.
    for _ in 0..3 {
        let credential = Credential {
            client_id: new_client_id(caps.random),
            name: req.name.clone(),
            user_id: user.id,
            user: user.name.clone(),
            kind,
            secret_hash: secret.as_ref().map(Secret::hash),
            scopes: scopes.clone(),
            expires_at,
            enabled: true,
            created_at: secs,
            can_introspect: req.can_introspect,
            require_dpop: req.require_dpop,
            lifecycle: Lifecycle {
                max_uses,
                ..Lifecycle::default()
            },
        };
        if store.insert_credential(&credential).await? == Inserted::AlreadyExists {
            if store.credential_by_name(&req.name).await?.is_some() {
                return Err(taken());
            }
            continue;
        }
        if let Some(max) = max_uses {
            store.set_max_uses(&credential.client_id, max).await?;
        }
        if credential.require_dpop {
            store.set_require_dpop(&credential.client_id).await?;
        }
        let spec = jwks
            .as_ref()
            .map(ClientKeys::to_json)
            .or_else(|| federation.as_ref().map(FederationSpec::to_json));
        if let Some(stored) = spec {
            store
                .set_credential_keys(&credential.client_id, &stored)
                .await?;
        }
        let access_token = match kind {
            CredentialKind::OAuth2 | CredentialKind::PrivateKeyJwt | CredentialKind::Federated => {
                None
            }
            CredentialKind::AccessToken => {
                let ceiling = credential_ceiling(&credential.scopes);
                let lifetime_secs = Some(expires_at.unwrap_or(secs) - secs);
                let grant = Grant {
                    credential: &credential,
                    scopes: &ceiling,
                    lifetime_secs,
                    jkt: None,
                };
                Some(
                    ctx.minter
                        .issue(caps.ed25519, caps.random, grant, now)
                        .await
                        .access_token,
                )
            }
        };
        let created = CreatedCredential {
            access_token,
            client_id: credential.client_id.clone(),
            client_secret: secret.as_ref().map(|s| s.expose().to_owned()),
            credential: CredentialView::at(&credential, secs),
        };
        return Ok((Response::json(201, &created), credential.name));
    }
    Err(AdminError::ClientIdsExhausted)
}

/// Client ids look like Octelium's (`nz7y-hagw`): 8 characters from an alphabet without
/// look-alikes (40 bits; an identifier, not a secret).
pub(super) fn new_client_id(random: &dyn RandomSource) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 8];
    random.fill(&mut bytes);
    let mut id = String::with_capacity(9);
    for (i, b) in bytes.iter().enumerate() {
        if i == 4 {
            id.push('-');
        }
        id.push(ALPHABET[(b & 31) as usize] as char);
    }
    id
}
