//! The admin API (`/admin/v1/...` on the root domain), which the `isogate` CLI drives.
//! Every request needs `Authorization: Bearer <admin credential>`; secrets of new credentials
//! are in the creation response and nowhere else.

use crate::error::AdminError;
use crate::gateway::{Gateway, RandomSource};
use crate::http::{RequestHead, Response};
use crate::model::{is_valid_name, is_valid_service_name, normalize_upstream, Credential, CredentialKind, CredentialStatus, Service, User};
use crate::scope::{credential_ceiling, ScopeSet};
use crate::secret::{secrets_equal, Secret, CLIENT_SECRET_BYTES};
use crate::store::{Inserted, SqlDb, Store};
use serde::Deserialize;
use serde_json::{json, Value};

/// Lifetime of an access-token credential created without `expire_in`: one year.
pub const DEFAULT_ACCESS_TOKEN_CREDENTIAL_SECS: i64 = 365 * 24 * 3600;

pub(crate) async fn handle<D: SqlDb>(gw: &Gateway, db: &D, head: &RequestHead, body: &[u8], now: i64, rng: &mut dyn RandomSource) -> Response {
    let realm = gw.config.realm.clone();
    match route(gw, db, head, body, now, rng).await {
        Ok(resp) => resp.with_header("cache-control", "no-store"),
        Err(e) => e.to_response(&realm),
    }
}

fn authorize(gw: &Gateway, head: &RequestHead) -> Result<(), AdminError> {
    let Some(configured) = gw.config.admin_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(AdminError::Unavailable("the admin API is disabled: set ISOGATE_ADMIN_TOKEN".into()));
    };
    let presented = head.single_header("authorization").map_err(|_| AdminError::Unauthorized)?.unwrap_or("");
    let (scheme, token) = presented.trim().split_once(' ').unwrap_or(("", ""));
    if scheme.eq_ignore_ascii_case("bearer") && secrets_equal(token.trim(), configured) {
        Ok(())
    } else {
        Err(AdminError::Unauthorized)
    }
}

async fn route<D: SqlDb>(gw: &Gateway, db: &D, head: &RequestHead, body: &[u8], now: i64, rng: &mut dyn RandomSource) -> Result<Response, AdminError> {
    authorize(gw, head)?;
    if body.len() > crate::gateway::MAX_ADMIN_BODY_BYTES {
        return Err(AdminError::PayloadTooLarge);
    }
    let rest = head.path.strip_prefix("/admin/v1/").ok_or_else(|| AdminError::NotFound("no such admin endpoint".into()))?;
    let (collection, name) = match rest.split_once('/') {
        Some((c, n)) if !n.is_empty() && !n.contains('/') => (c, Some(n)),
        Some((c, "")) => (c, None),
        Some(_) => return Err(AdminError::NotFound("no such admin endpoint".into())),
        None => (rest, None),
    };
    let store = Store::new(db);
    match (collection, head.method.as_str(), name) {
        ("users", "GET", None) => Ok(list("users", store.users().await?.iter().map(user_json))),
        ("users", "GET", Some(n)) => store.user(n).await?.map(|u| one("user", user_json(&u))).ok_or_else(|| not_found("user", n)),
        ("users", "POST", None) => create_user(&store, body, now).await,
        ("users", "DELETE", Some(n)) => {
            let revoked = store.delete_user(n).await?.ok_or_else(|| not_found("user", n))?;
            for client_id in &revoked {
                gw.invalidate_credential(client_id);
            }
            Ok(Response::json(200, &json!({ "deleted": { "user": n, "credentials_revoked": revoked.len() } })))
        }
        ("services", "GET", None) => Ok(list("services", store.services().await?.iter().map(service_json))),
        ("services", "GET", Some(n)) => store.service(n).await?.map(|s| one("service", service_json(&s))).ok_or_else(|| not_found("service", n)),
        ("services", "POST", None) => create_service(gw, &store, body, now).await,
        ("services", "DELETE", Some(n)) => {
            if !store.delete_service(n).await? {
                return Err(not_found("service", n));
            }
            gw.invalidate_service(n);
            Ok(Response::json(200, &json!({ "deleted": { "service": n } })))
        }
        ("credentials", "GET", None) => Ok(list("credentials", store.credentials().await?.iter().map(credential_json))),
        ("credentials", "GET", Some(n)) => {
            store.credential_by_name(n).await?.map(|c| one("credential", credential_json(&c))).ok_or_else(|| not_found("credential", n))
        }
        ("credentials", "POST", None) => create_credential(gw, &store, body, now, rng).await,
        ("credentials", "DELETE", Some(n)) => {
            let cred = store.credential_by_name(n).await?.ok_or_else(|| not_found("credential", n))?;
            store.delete_credential(n).await?;
            gw.invalidate_credential(&cred.client_id);
            Ok(Response::json(200, &json!({ "deleted": { "credential": n } })))
        }
        ("users" | "services" | "credentials", _, None) => Err(AdminError::MethodNotAllowed("GET, POST")),
        ("users" | "services" | "credentials", _, Some(_)) => Err(AdminError::MethodNotAllowed("GET, DELETE")),
        _ => Err(AdminError::NotFound("no such admin endpoint".into())),
    }
}

fn not_found(kind: &str, name: &str) -> AdminError {
    AdminError::NotFound(format!("{kind} {name:?} does not exist"))
}

fn list(key: &str, items: impl Iterator<Item = Value>) -> Response {
    Response::json(200, &json!({ key: items.collect::<Vec<_>>() }))
}

fn one(key: &str, item: Value) -> Response {
    Response::json(200, &json!({ key: item }))
}

fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| AdminError::BadRequest(format!("invalid JSON body: {e}")))
}

fn user_json(u: &User) -> Value {
    json!({ "name": u.name, "enabled": u.enabled, "created_at": u.created_at })
}

fn service_json(s: &Service) -> Value {
    json!({ "name": s.name, "upstream": s.upstream, "allowed_users": s.allowed_users, "created_at": s.created_at })
}

fn credential_json(c: &Credential) -> Value {
    let scopes: Vec<String> = credential_ceiling(&c.scopes).iter().map(|s| s.to_string()).collect();
    json!({
        "name": c.name, "user": c.user, "type": c.kind.as_str(), "client_id": c.client_id,
        "scopes": scopes, "expires_at": c.expires_at, "enabled": c.enabled, "created_at": c.created_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
}

async fn create_user<D: SqlDb>(store: &Store<'_, D>, body: &[u8], now: i64) -> Result<Response, AdminError> {
    let req: NewUser = parse_body(body)?;
    if !is_valid_name(&req.name) {
        return Err(AdminError::BadRequest("user names are 1-64 letters, digits, '.', '_' or '-'".into()));
    }
    let user = User { name: req.name, enabled: true, created_at: now };
    match store.insert_user(&user).await? {
        Inserted::Created => Ok(Response::json(201, &json!({ "user": user_json(&user) }))),
        Inserted::AlreadyExists => Err(AdminError::Conflict(format!("user {:?} already exists", user.name))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewService {
    name: String,
    upstream: String,
    #[serde(default)]
    allowed_users: Vec<String>,
}

async fn create_service<D: SqlDb>(gw: &Gateway, store: &Store<'_, D>, body: &[u8], now: i64) -> Result<Response, AdminError> {
    let req: NewService = parse_body(body)?;
    if !is_valid_service_name(&req.name) {
        return Err(AdminError::BadRequest("service names are DNS labels: a-z, 0-9 and inner '-', at most 63".into()));
    }
    let upstream = normalize_upstream(&req.upstream).map_err(AdminError::BadRequest)?;
    let mut allowed_users = req.allowed_users;
    allowed_users.sort();
    allowed_users.dedup();
    for u in &allowed_users {
        if store.user(u).await?.is_none() {
            return Err(AdminError::BadRequest(format!("user {u:?} does not exist")));
        }
    }
    let service = Service { name: req.name, upstream, allowed_users, created_at: now };
    match store.insert_service(&service).await? {
        Inserted::Created => {
            // A cached "no such service" must not outlive the creation.
            gw.invalidate_service(&service.name);
            Ok(Response::json(201, &json!({ "service": service_json(&service) })))
        }
        Inserted::AlreadyExists => Err(AdminError::Conflict(format!("service {:?} already exists", service.name))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCredential {
    name: String,
    user: String,
    #[serde(rename = "type")]
    kind: String,
    /// A duration such as `30d`, `12h`, `90m`, `3600s` or `3600`.
    #[serde(default)]
    expire_in: Option<String>,
    /// Scope ceiling; empty = every service the user's policies admit.
    #[serde(default)]
    scopes: Vec<String>,
}

async fn create_credential<D: SqlDb>(gw: &Gateway, store: &Store<'_, D>, body: &[u8], now: i64, rng: &mut dyn RandomSource) -> Result<Response, AdminError> {
    let req: NewCredential = parse_body(body)?;
    if !is_valid_name(&req.name) {
        return Err(AdminError::BadRequest("credential names are 1-64 letters, digits, '.', '_' or '-'".into()));
    }
    let kind = CredentialKind::parse(&req.kind).ok_or_else(|| AdminError::BadRequest("type must be oauth2 or access-token".into()))?;
    let scopes = ScopeSet::parse(&req.scopes.join(" ")).map_err(|e| AdminError::BadRequest(e.0))?;
    let lifetime = req.expire_in.as_deref().map(parse_duration).transpose().map_err(AdminError::BadRequest)?;
    let expires_at = match (kind, lifetime) {
        (_, Some(secs)) => Some(now + secs),
        (CredentialKind::AccessToken, None) => Some(now + DEFAULT_ACCESS_TOKEN_CREDENTIAL_SECS),
        (CredentialKind::OAuth2, None) => None,
    };
    let user = store.user(&req.user).await?.ok_or_else(|| AdminError::BadRequest(format!("user {:?} does not exist", req.user)))?;
    if store.credential_by_name(&req.name).await?.is_some() {
        return Err(AdminError::Conflict(format!("credential {:?} already exists", req.name)));
    }
    let secret = (kind == CredentialKind::OAuth2).then(|| {
        let mut bytes = [0u8; CLIENT_SECRET_BYTES];
        rng.fill(&mut bytes);
        Secret::from_random_bytes(&bytes)
    });
    // Retry on the (negligible) chance of a client id collision; a name taken by a concurrent
    // request is reported as a conflict.
    for _ in 0..3 {
        let credential = Credential {
            client_id: new_client_id(rng),
            name: req.name.clone(),
            user: user.name.clone(),
            kind,
            secret_hash: secret.as_ref().map(|s| s.hash().0),
            scopes: scopes.to_string(),
            expires_at,
            enabled: true,
            created_at: now,
        };
        if store.insert_credential(&credential).await? == Inserted::AlreadyExists {
            if store.credential_by_name(&req.name).await?.is_some() {
                return Err(AdminError::Conflict(format!("credential {:?} already exists", req.name)));
            }
            continue;
        }
        let mut out = json!({ "credential": credential_json(&credential), "client_id": credential.client_id });
        match &secret {
            Some(s) => out["client_secret"] = s.expose().into(),
            None => {
                let status = CredentialStatus { credential: credential.clone(), user_enabled: user.enabled };
                let ceiling = credential_ceiling(&credential.scopes);
                let token = gw.issue(&status, &ceiling, now, Some(expires_at.unwrap_or(now) - now), rng);
                out["access_token"] = token.access_token.into();
            }
        }
        return Ok(Response::json(201, &out));
    }
    Err(AdminError::Unavailable("could not allocate a client id; try again".into()))
}

/// Client ids look like Octelium's (`nz7y-hagw`): 8 characters from an alphabet without
/// look-alikes (40 bits; an identifier, not a secret).
fn new_client_id(rng: &mut dyn RandomSource) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 8];
    rng.fill(&mut bytes);
    let mut id = String::with_capacity(9);
    for (i, b) in bytes.iter().enumerate() {
        if i == 4 {
            id.push('-');
        }
        id.push(ALPHABET[(b & 31) as usize] as char);
    }
    id
}

/// Parses `30d`, `12h`, `90m`, `45s` or plain seconds into seconds (at most ten years).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = || format!("invalid duration {s:?}; use e.g. 3600s, 90m, 12h, 30d");
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
        return Err(format!("duration {s:?} must be between 1s and 10 years"));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_refuse_garbage() {
        assert_eq!(parse_duration("30d"), Ok(30 * 86400));
        assert_eq!(parse_duration("12h"), Ok(43200));
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("45s"), Ok(45));
        assert_eq!(parse_duration("3600"), Ok(3600));
        for bad in ["", "d", "-5d", "0s", "5y", "99999999999999999999d", "1.5h", "20000d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    struct Counter(u8);
    impl RandomSource for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
    }

    #[test]
    fn client_ids_look_like_octeliums() {
        let id = new_client_id(&mut Counter(0));
        assert_eq!(id.len(), 9);
        assert_eq!(&id[4..5], "-");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_lowercase() || c.is_ascii_digit()));
    }
}
