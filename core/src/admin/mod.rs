//! The admin API (`/admin/v1/...` on the root domain), which the `isogate` CLI drives. Every
//! request needs `Authorization: Bearer <admin credential>`; secrets of new credentials are in
//! the creation response and nowhere else.
//!
//! It takes a narrow [`AdminContext`], not the gateway: the admin token, the realm, the one
//! [`Minter`] (access-token credentials are signed like any token), the caches to tell
//! about changes and the throttle that counts wrong admin credentials per address
//! ([`crate::throttle`]). The dependency runs one way: the gateway calls the admin API, never
//! back.

pub mod api;
mod create;
mod groups;
mod lifecycle;

use create::{create_credential, create_service, create_user};
use groups::{create_group, delete_group, update_group};
use lifecycle::{lifecycle_request, rotate_credential, update_credential};

use crate::audit::{AdminAction, AdminChange};
use crate::cache::CacheInvalidation;
use crate::capability::{Capabilities, Ed25519, Now, SqlDb};
use crate::error::AdminError;
use crate::http::{Method, RequestHead, Response};
use crate::mint::Minter;
use crate::secret::secrets_equal;
use crate::store::Store;
use crate::throttle::{AuthThrottle, Lockout};
use api::*;
use serde::{Deserialize, Serialize};

/// Lifetime of an access-token credential created without `expire_in`: one year.
pub const DEFAULT_ACCESS_TOKEN_CREDENTIAL_SECS: i64 = 365 * 24 * 3600;
/// Largest admin API body: a service whose allowed-user list names a few hundred users fits;
/// a 20 KB probe does not (every root endpoint answers it 413).
pub const MAX_ADMIN_BODY_BYTES: usize = 16 * 1024;

/// What the admin API may use of the isolate's state.
#[derive(Clone, Copy)]
pub struct AdminContext<'a> {
    /// The admin API's bearer secret; `None` or empty disables the admin API.
    pub admin_token: Option<&'a str>,
    pub realm: &'a str,
    pub minter: &'a Minter,
    pub caches: &'a dyn CacheInvalidation,
    pub throttle: &'a AuthThrottle,
}

/// An admin request's answer, and what it changed (for the audit line).
#[derive(Debug)]
pub struct AdminAnswer {
    pub response: Response,
    pub change: Option<AdminChange>,
}

/// Answers an admin request, [`authorize`]d, whose (bounded) body has been read. Successful
/// answers are `no-store`, like every error.
pub(crate) async fn handle<D: SqlDb, E: Ed25519>(
    ctx: &AdminContext<'_>,
    caps: Capabilities<'_, D, E>,
    head: &RequestHead,
    body: &[u8],
    now: Now,
    _authorized: Authorized,
) -> Result<AdminAnswer, AdminError> {
    let mut change = None;
    let response = route(ctx, caps, head, body, now, &mut change).await?;
    Ok(AdminAnswer {
        response: response.with_header("cache-control", "no-store"),
        change,
    })
}

/// Proof that a request presented the admin credential ([`authorize`]): what [`handle`] takes,
/// so that no admin request is handled unauthorized, and none is authorized (and, when wrong,
/// counted) twice.
#[derive(Debug)]
pub(crate) struct Authorized(());

/// The admin credential, unless wrong ones from this address are throttled: judged before
/// the presented one is compared (one read of the address's counts), a wrong one counted. A
/// request that presents none guesses nothing: refused at once, with no read, not counted.
/// Run before the body is read (`gateway`), once.
pub(crate) async fn authorize<D: SqlDb>(
    ctx: &AdminContext<'_>,
    db: &D,
    head: &RequestHead,
    now: Now,
) -> Result<Authorized, AdminError> {
    let Some(configured) = ctx.admin_token.filter(|t| !t.is_empty()) else {
        return Err(AdminError::Disabled);
    };
    let presented = head
        .single_header("authorization")
        .map_err(|_| AdminError::Unauthorized)?
        .unwrap_or("")
        .trim();
    if presented.is_empty() {
        return Err(AdminError::Unauthorized);
    }
    let throttle = ctx.throttle;
    let keys = throttle.config().admin_attempt(head.client_ip.as_deref());
    let throttled = |lockout: Lockout| AdminError::throttled(lockout.retry_after_secs(now));
    if let Some(lockout) = throttle.known_lockout(&keys, now) {
        return Err(throttled(lockout));
    }
    let store = Store::new(db);
    // No client id: the read finds no credential, only the lockouts.
    let (_, lockouts) = store.credential_status_and_lockouts("", &keys, now).await?;
    if let Some(lockout) = throttle.judge(&keys, lockouts, now) {
        return Err(throttled(lockout));
    }
    let (scheme, token) = presented.split_once(' ').unwrap_or(("", ""));
    // RFC 9110 §11.1: the scheme is case-insensitive; the secret is compared in constant time.
    if scheme.eq_ignore_ascii_case("bearer") && secrets_equal(token.trim(), configured) {
        return Ok(Authorized(()));
    }
    store.record_failure(&keys, throttle.config(), now).await?;
    Err(AdminError::Unauthorized)
}

async fn route<D: SqlDb, E: Ed25519>(
    ctx: &AdminContext<'_>,
    caps: Capabilities<'_, D, E>,
    head: &RequestHead,
    body: &[u8],
    now: Now,
    change: &mut Option<AdminChange>,
) -> Result<Response, AdminError> {
    if body.len() > MAX_ADMIN_BODY_BYTES {
        return Err(AdminError::PayloadTooLarge);
    }
    let no_such = || AdminError::NotFound("no such admin endpoint".into());
    let rest = head.path.strip_prefix("/admin/v1/").ok_or_else(no_such)?;
    // A credential's lifecycle (`PATCH credentials/<name>`, and `POST credentials/<name>/rotate`,
    // the one path with a verb): one lookup for both.
    if let Some((n, action)) = lifecycle_request(rest, &head.method)? {
        let store = Store::new(caps.db);
        let c = store
            .credential_by_name(n)
            .await?
            .ok_or_else(|| not_found("credential", n))?;
        let response = match action {
            AdminAction::Rotate => rotate_credential(ctx, caps, &store, c, body, now).await?,
            _ => update_credential(ctx, &store, c, body, now).await?,
        };
        *change = Some(changed(action, "credential", n.to_owned()));
        return Ok(response);
    }
    let (collection, name) = match rest.split_once('/') {
        Some((c, n)) if !n.is_empty() && !n.contains('/') => (c, Some(n)),
        Some((c, "")) => (c, None),
        Some(_) => return Err(no_such()),
        None => (rest, None),
    };
    let store = Store::new(caps.db);
    let secs = now.unix_secs();
    match (collection, &head.method, name) {
        ("users", Method::Get, None) => ok(&UserList {
            users: store.users().await?.iter().map(UserView::from).collect(),
        }),
        ("users", Method::Get, Some(n)) => {
            let user = store.user(n).await?.ok_or_else(|| not_found("user", n))?;
            ok(&OneUser {
                user: UserView::from(&user),
            })
        }
        ("users", Method::Post, None) => {
            let (response, name) = create_user(&store, body, now).await?;
            *change = Some(changed(AdminAction::Create, "user", name));
            Ok(response)
        }
        ("users", Method::Delete, Some(n)) => {
            let revoked = store
                .delete_user(n)
                .await?
                .ok_or_else(|| not_found("user", n))?;
            for client_id in &revoked {
                ctx.caches.credential_changed(client_id);
            }
            *change = Some(changed(AdminAction::Delete, "user", n.to_owned()));
            ok(&Deleted {
                deleted: DeletedUser {
                    credentials_revoked: revoked.len(),
                    user: n.to_owned(),
                },
            })
        }
        ("groups", Method::Get, None) => ok(&GroupList {
            groups: store.groups().await?.iter().map(GroupView::from).collect(),
        }),
        ("groups", Method::Get, Some(n)) => {
            let group = store.group(n).await?.ok_or_else(|| not_found("group", n))?;
            ok(&OneGroup {
                group: GroupView::from(&group),
            })
        }
        ("groups", Method::Post, None) => {
            let (response, name) = create_group(&store, body, now).await?;
            *change = Some(changed(AdminAction::Create, "group", name));
            Ok(response)
        }
        ("groups", Method::Patch, Some(n)) => {
            let response = update_group(ctx, &store, n, body).await?;
            *change = Some(changed(AdminAction::Update, "group", n.to_owned()));
            Ok(response)
        }
        ("groups", Method::Delete, Some(n)) => {
            let response = delete_group(ctx, &store, n).await?;
            *change = Some(changed(AdminAction::Delete, "group", n.to_owned()));
            Ok(response)
        }
        ("services", Method::Get, None) => ok(&ServiceList {
            services: store
                .services()
                .await?
                .iter()
                .map(ServiceView::from)
                .collect(),
        }),
        ("services", Method::Get, Some(n)) => {
            let service = store
                .service(n)
                .await?
                .ok_or_else(|| not_found("service", n))?;
            ok(&OneService {
                service: ServiceView::from(&service),
            })
        }
        ("services", Method::Post, None) => {
            let (response, name) = create_service(ctx, &store, body, now).await?;
            *change = Some(changed(AdminAction::Create, "service", name));
            Ok(response)
        }
        ("services", Method::Delete, Some(n)) => {
            if !store.delete_service(n).await? {
                return Err(not_found("service", n));
            }
            ctx.caches.service_changed(n);
            *change = Some(changed(AdminAction::Delete, "service", n.to_owned()));
            ok(&Deleted {
                deleted: DeletedService {
                    service: n.to_owned(),
                },
            })
        }
        ("credentials", Method::Get, None) => ok(&CredentialList {
            credentials: store
                .credentials()
                .await?
                .iter()
                .map(|c| CredentialView::at(c, secs))
                .collect(),
        }),
        ("credentials", Method::Get, Some(n)) => {
            let credential = store
                .credential_by_name(n)
                .await?
                .ok_or_else(|| not_found("credential", n))?;
            ok(&OneCredential {
                credential: CredentialView::at(&credential, secs),
            })
        }
        ("credentials", Method::Post, None) => {
            let (response, name) = create_credential(ctx, caps, &store, body, now).await?;
            *change = Some(changed(AdminAction::Create, "credential", name));
            Ok(response)
        }
        ("credentials", Method::Delete, Some(n)) => {
            let credential = store
                .credential_by_name(n)
                .await?
                .ok_or_else(|| not_found("credential", n))?;
            store.delete_credential(n).await?;
            ctx.caches.credential_changed(&credential.client_id);
            *change = Some(changed(AdminAction::Delete, "credential", n.to_owned()));
            ok(&Deleted {
                deleted: DeletedCredential {
                    credential: n.to_owned(),
                },
            })
        }
        ("users" | "groups" | "services" | "credentials", _, None) => {
            Err(AdminError::MethodNotAllowed("GET, POST"))
        }
        ("credentials" | "groups", _, Some(_)) => {
            Err(AdminError::MethodNotAllowed("GET, PATCH, DELETE"))
        }
        ("users" | "services", _, Some(_)) => Err(AdminError::MethodNotAllowed("GET, DELETE")),
        _ => Err(no_such()),
    }
}

fn ok<T: Serialize>(body: &T) -> Result<Response, AdminError> {
    Ok(Response::json(200, body))
}

fn changed(action: AdminAction, kind: &'static str, name: String) -> AdminChange {
    AdminChange { action, kind, name }
}

pub(super) fn not_found(kind: &str, name: &str) -> AdminError {
    AdminError::NotFound(format!("{kind} {name:?} does not exist"))
}

pub(super) fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body)
        .map_err(|e| AdminError::BadRequest(format!("invalid JSON body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::create::new_client_id;
    use crate::testing::{FixedRandom, SeededRandom};

    #[test]
    fn client_ids_look_like_octeliums() {
        let id = new_client_id(&SeededRandom::new(1));
        assert_eq!(id.len(), 9);
        assert_eq!(&id[4..5], "-");
        assert!(id
            .chars()
            .all(|c| c == '-' || c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_eq!(new_client_id(&FixedRandom(0)), "aaaa-aaaa");
    }
}
