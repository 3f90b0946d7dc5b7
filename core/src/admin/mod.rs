//! The admin API (`/admin/v1/...` on the root domain), which the `isogate` CLI drives. Every
//! request needs `Authorization: Bearer <admin credential>`; secrets of new credentials are in
//! the creation response and nowhere else.
//!
//! It takes a narrow [`AdminContext`], not the gateway: the admin token, the realm, the one
//! [`Minter`] (access-token credentials are signed like any token) and the caches to tell
//! about changes. The dependency runs one way: the gateway calls the admin API, never back.

pub mod api;

use crate::cache::CacheInvalidation;
use crate::capability::{Capabilities, Ed25519, Now, RandomSource, SqlDb};
use crate::config::parse_duration;
use crate::error::AdminError;
use crate::http::{Method, RequestHead, Response};
use crate::mint::{Grant, Minter};
use crate::model::{is_valid_name, is_valid_service_name, normalize_upstream, Credential, CredentialKind, Service, User};
use crate::scope::{credential_ceiling, ScopeSet};
use crate::secret::{secrets_equal, Secret, CLIENT_SECRET_BYTES};
use crate::store::{Inserted, Store};
use api::*;
use serde::{Deserialize, Serialize};

/// Lifetime of an access-token credential created without `expire_in`: one year.
pub const DEFAULT_ACCESS_TOKEN_CREDENTIAL_SECS: i64 = 365 * 24 * 3600;
/// Largest admin API body.
pub const MAX_ADMIN_BODY_BYTES: usize = 64 * 1024;

/// What the admin API may use of the isolate's state.
#[derive(Clone, Copy)]
pub struct AdminContext<'a> {
    /// The admin API's bearer secret; `None` or empty disables the admin API.
    pub admin_token: Option<&'a str>,
    pub realm: &'a str,
    pub minter: &'a Minter,
    pub caches: &'a dyn CacheInvalidation,
}

/// Answers an admin request whose (bounded) body has been read. Successful answers are
/// `no-store`, like every error.
pub async fn handle<D: SqlDb, E: Ed25519>(
    ctx: &AdminContext<'_>,
    caps: Capabilities<'_, D, E>,
    head: &RequestHead,
    body: &[u8],
    now: Now,
) -> Result<Response, AdminError> {
    Ok(route(ctx, caps, head, body, now).await?.with_header("cache-control", "no-store"))
}

fn authorize(ctx: &AdminContext<'_>, head: &RequestHead) -> Result<(), AdminError> {
    let Some(configured) = ctx.admin_token.filter(|t| !t.is_empty()) else {
        return Err(AdminError::Disabled);
    };
    let presented = head.single_header("authorization").map_err(|_| AdminError::Unauthorized)?.unwrap_or("");
    let (scheme, token) = presented.trim().split_once(' ').unwrap_or(("", ""));
    // RFC 9110 §11.1: the scheme is case-insensitive; the secret is compared in constant time.
    if scheme.eq_ignore_ascii_case("bearer") && secrets_equal(token.trim(), configured) {
        Ok(())
    } else {
        Err(AdminError::Unauthorized)
    }
}

async fn route<D: SqlDb, E: Ed25519>(
    ctx: &AdminContext<'_>,
    caps: Capabilities<'_, D, E>,
    head: &RequestHead,
    body: &[u8],
    now: Now,
) -> Result<Response, AdminError> {
    authorize(ctx, head)?;
    if body.len() > MAX_ADMIN_BODY_BYTES {
        return Err(AdminError::PayloadTooLarge);
    }
    let no_such = || AdminError::NotFound("no such admin endpoint".into());
    let rest = head.path.strip_prefix("/admin/v1/").ok_or_else(no_such)?;
    let (collection, name) = match rest.split_once('/') {
        Some((c, n)) if !n.is_empty() && !n.contains('/') => (c, Some(n)),
        Some((c, "")) => (c, None),
        Some(_) => return Err(no_such()),
        None => (rest, None),
    };
    let store = Store::new(caps.db);
    match (collection, &head.method, name) {
        ("users", Method::Get, None) => ok(&UserList { users: store.users().await?.iter().map(UserView::from).collect() }),
        ("users", Method::Get, Some(n)) => {
            let user = store.user(n).await?.ok_or_else(|| not_found("user", n))?;
            ok(&OneUser { user: UserView::from(&user) })
        }
        ("users", Method::Post, None) => create_user(&store, body, now).await,
        ("users", Method::Delete, Some(n)) => {
            let revoked = store.delete_user(n).await?.ok_or_else(|| not_found("user", n))?;
            for client_id in &revoked {
                ctx.caches.credential_changed(client_id);
            }
            ok(&Deleted { deleted: DeletedUser { credentials_revoked: revoked.len(), user: n.to_owned() } })
        }
        ("services", Method::Get, None) => {
            ok(&ServiceList { services: store.services().await?.iter().map(ServiceView::from).collect() })
        }
        ("services", Method::Get, Some(n)) => {
            let service = store.service(n).await?.ok_or_else(|| not_found("service", n))?;
            ok(&OneService { service: ServiceView::from(&service) })
        }
        ("services", Method::Post, None) => create_service(ctx, &store, body, now).await,
        ("services", Method::Delete, Some(n)) => {
            if !store.delete_service(n).await? {
                return Err(not_found("service", n));
            }
            ctx.caches.service_changed(n);
            ok(&Deleted { deleted: DeletedService { service: n.to_owned() } })
        }
        ("credentials", Method::Get, None) => {
            ok(&CredentialList { credentials: store.credentials().await?.iter().map(CredentialView::from).collect() })
        }
        ("credentials", Method::Get, Some(n)) => {
            let credential = store.credential_by_name(n).await?.ok_or_else(|| not_found("credential", n))?;
            ok(&OneCredential { credential: CredentialView::from(&credential) })
        }
        ("credentials", Method::Post, None) => create_credential(ctx, caps, &store, body, now).await,
        ("credentials", Method::Delete, Some(n)) => {
            let credential = store.credential_by_name(n).await?.ok_or_else(|| not_found("credential", n))?;
            store.delete_credential(n).await?;
            ctx.caches.credential_changed(&credential.client_id);
            ok(&Deleted { deleted: DeletedCredential { credential: n.to_owned() } })
        }
        ("users" | "services" | "credentials", _, None) => Err(AdminError::MethodNotAllowed("GET, POST")),
        ("users" | "services" | "credentials", _, Some(_)) => Err(AdminError::MethodNotAllowed("GET, DELETE")),
        _ => Err(no_such()),
    }
}

fn ok<T: Serialize>(body: &T) -> Result<Response, AdminError> {
    Ok(Response::json(200, body))
}

fn not_found(kind: &str, name: &str) -> AdminError {
    AdminError::NotFound(format!("{kind} {name:?} does not exist"))
}

fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| AdminError::BadRequest(format!("invalid JSON body: {e}")))
}

async fn create_user<D: SqlDb>(store: &Store<'_, D>, body: &[u8], now: Now) -> Result<Response, AdminError> {
    let req: NewUser = parse_body(body)?;
    if !is_valid_name(&req.name) {
        return Err(AdminError::BadRequest("user names are 1-64 letters, digits, '.', '_' or '-'".into()));
    }
    let user = User { name: req.name, enabled: true, created_at: now.unix_secs() };
    match store.insert_user(&user).await? {
        Inserted::Created => Ok(Response::json(201, &OneUser { user: UserView::from(&user) })),
        Inserted::AlreadyExists => Err(AdminError::Conflict(format!("user {:?} already exists", user.name))),
    }
}

async fn create_service<D: SqlDb>(ctx: &AdminContext<'_>, store: &Store<'_, D>, body: &[u8], now: Now) -> Result<Response, AdminError> {
    let req: NewService = parse_body(body)?;
    if !is_valid_service_name(&req.name) {
        return Err(AdminError::BadRequest("service names are DNS labels: a-z, 0-9 and inner '-', at most 63".into()));
    }
    let upstream = normalize_upstream(&req.upstream).map_err(|e| AdminError::BadRequest(e.to_string()))?;
    let mut allowed_users = req.allowed_users;
    allowed_users.sort();
    allowed_users.dedup();
    for u in &allowed_users {
        if store.user(u).await?.is_none() {
            return Err(AdminError::BadRequest(format!("user {u:?} does not exist")));
        }
    }
    let service = Service { name: req.name, upstream, allowed_users, created_at: now.unix_secs() };
    match store.insert_service(&service).await? {
        Inserted::Created => {
            // A cached "no such service" must not outlive the creation.
            ctx.caches.service_changed(&service.name);
            Ok(Response::json(201, &OneService { service: ServiceView::from(&service) }))
        }
        Inserted::AlreadyExists => Err(AdminError::Conflict(format!("service {:?} already exists", service.name))),
    }
}

async fn create_credential<D: SqlDb, E: Ed25519>(
    ctx: &AdminContext<'_>,
    caps: Capabilities<'_, D, E>,
    store: &Store<'_, D>,
    body: &[u8],
    now: Now,
) -> Result<Response, AdminError> {
    let req: NewCredential = parse_body(body)?;
    if !is_valid_name(&req.name) {
        return Err(AdminError::BadRequest("credential names are 1-64 letters, digits, '.', '_' or '-'".into()));
    }
    let kind = CredentialKind::parse(&req.kind).ok_or_else(|| AdminError::BadRequest("type must be oauth2 or access-token".into()))?;
    let scopes = ScopeSet::parse(&req.scopes.join(" ")).map_err(|e| AdminError::BadRequest(e.0))?;
    let lifetime = req.expire_in.as_deref().map(parse_duration).transpose().map_err(|e| AdminError::BadRequest(e.to_string()))?;
    let secs = now.unix_secs();
    let expires_at = match (kind, lifetime) {
        (_, Some(lifetime)) => Some(secs + lifetime),
        (CredentialKind::AccessToken, None) => Some(secs + DEFAULT_ACCESS_TOKEN_CREDENTIAL_SECS),
        (CredentialKind::OAuth2, None) => None,
    };
    let user = store.user(&req.user).await?.ok_or_else(|| AdminError::BadRequest(format!("user {:?} does not exist", req.user)))?;
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
            user: user.name.clone(),
            kind,
            secret_hash: secret.as_ref().map(Secret::hash),
            scopes: scopes.clone(),
            expires_at,
            enabled: true,
            created_at: secs,
        };
        if store.insert_credential(&credential).await? == Inserted::AlreadyExists {
            if store.credential_by_name(&req.name).await?.is_some() {
                return Err(taken());
            }
            continue;
        }
        let access_token = match &secret {
            Some(_) => None,
            None => {
                let ceiling = credential_ceiling(&credential.scopes);
                let lifetime_secs = Some(expires_at.unwrap_or(secs) - secs);
                let grant = Grant { credential: &credential, scopes: &ceiling, lifetime_secs };
                Some(ctx.minter.issue(caps.ed25519, caps.random, grant, now).await.access_token)
            }
        };
        let created = CreatedCredential {
            access_token,
            client_id: credential.client_id.clone(),
            client_secret: secret.as_ref().map(|s| s.expose().to_owned()),
            credential: CredentialView::from(&credential),
        };
        return Ok(Response::json(201, &created));
    }
    Err(AdminError::ClientIdsExhausted)
}

/// Client ids look like Octelium's (`nz7y-hagw`): 8 characters from an alphabet without
/// look-alikes (40 bits; an identifier, not a secret).
fn new_client_id(random: &dyn RandomSource) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FixedRandom, SeededRandom};

    #[test]
    fn client_ids_look_like_octeliums() {
        let id = new_client_id(&SeededRandom::new(1));
        assert_eq!(id.len(), 9);
        assert_eq!(&id[4..5], "-");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_eq!(new_client_id(&FixedRandom(0)), "aaaa-aaaa");
    }
}
