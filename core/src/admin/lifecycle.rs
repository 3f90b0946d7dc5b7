//! Changing a credential after its creation ([`crate::lifecycle`]): rotation with a grace, and
//! updates of its state, expiry and scope. Each tells the isolate's caches, like a deletion:
//! this isolate applies it to the next request, every other one within the cache TTL.

use super::api::*;
use super::{not_found, parse_body, AdminContext};
use crate::audit::AdminAction;
use crate::capability::{Capabilities, Ed25519, Now, SqlDb};
use crate::config::parse_duration;
use crate::error::AdminError;
use crate::http::Method;
use crate::http::Response;
use crate::lifecycle::{DEFAULT_GRACE_SECS, MAX_GRACE_SECS};
use crate::mint::Grant;
use crate::model::{Credential, CredentialKind, Lifecycle};
use crate::scope::{credential_ceiling, ScopeSet};
use crate::secret::{Secret, CLIENT_SECRET_BYTES};
use crate::store::Store;

fn bad(e: impl std::fmt::Display) -> AdminError {
    AdminError::BadRequest(e.to_string())
}

/// A grace: a duration, or `0` (the previous secret refused at once).
fn parse_grace(grace: Option<&str>) -> Result<i64, AdminError> {
    let secs = match grace.map(str::trim) {
        None => DEFAULT_GRACE_SECS,
        Some("0" | "0s" | "0m" | "0h" | "0d") => 0,
        Some(g) => parse_duration(g).map_err(bad)?,
    };
    if secs > MAX_GRACE_SECS {
        return Err(bad("the grace is at most 31d"));
    }
    Ok(secs)
}

/// The credential a lifecycle request is about, and which: `POST credentials/<name>/rotate`
/// (any other method: 405) or `PATCH credentials/<name>`; `None` for every other request.
pub(super) fn lifecycle_request<'p>(
    rest: &'p str,
    method: &Method,
) -> Result<Option<(&'p str, AdminAction)>, AdminError> {
    let Some(path) = rest.strip_prefix("credentials/") else {
        return Ok(None);
    };
    let (name, rotate) = match path.strip_suffix("/rotate") {
        Some(name) => (name, true),
        None => (path, false),
    };
    if name.is_empty() || name.contains('/') {
        return Ok(None);
    }
    match (rotate, method) {
        (true, Method::Post) => Ok(Some((name, AdminAction::Rotate))),
        (true, _) => Err(AdminError::MethodNotAllowed("POST")),
        (false, Method::Patch) => Ok(Some((name, AdminAction::Update))),
        (false, _) => Ok(None),
    }
}

/// `POST /admin/v1/credentials/<name>/rotate`: a new secret (oauth2) or access token, shown
/// in this response only; the previous one accepted until the grace ends.
pub(super) async fn rotate_credential<D: SqlDb, E: Ed25519>(
    ctx: &AdminContext<'_>,
    caps: Capabilities<'_, D, E>,
    store: &Store<'_, D>,
    mut c: Credential,
    body: &[u8],
    now: Now,
) -> Result<Response, AdminError> {
    let req: RotateCredential = match body {
        b"" => RotateCredential::default(),
        _ => parse_body(body)?,
    };
    let grace = parse_grace(req.grace.as_deref())?;
    let secs = now.unix_secs();
    let old = &c.lifecycle;
    let mut rotation = Lifecycle {
        rotated_at: Some(secs),
        grace_until: Some(secs + grace),
        previous_rotated_at: old.rotated_at,
        max_uses: old.max_uses,
        uses: old.uses,
        ..Lifecycle::default()
    };
    let (mut client_secret, mut access_token) = (None, None);
    match c.kind {
        // Its secret is the client's private key, which Isogate never sees: the client rotates
        // it, and a new credential registers the new public key.
        CredentialKind::PrivateKeyJwt | CredentialKind::Federated => {
            return Err(bad(
                "a private-key-jwt credential has no secret to rotate: create a credential \
                 with the new public key, then delete this one",
            ))
        }
        CredentialKind::OAuth2 => {
            let mut bytes = [0u8; CLIENT_SECRET_BYTES];
            caps.random.fill(&mut bytes);
            let secret = Secret::from_random_bytes(&bytes);
            rotation.previous_secret_hash = c.secret_hash.replace(secret.hash());
            client_secret = Some(secret.expose().to_owned());
        }
        CredentialKind::AccessToken => {
            // The new token ends with the credential, as the first one did.
            let lifetime = c.expires_at.map_or(0, |exp| exp - secs);
            if lifetime <= 0 {
                return Err(bad(
                    "the credential has expired; give it a new lifetime first (update --expire-in)",
                ));
            }
            let ceiling = credential_ceiling(&c.scopes);
            let grant = Grant {
                credential: &c,
                scopes: &ceiling,
                lifetime_secs: Some(lifetime),
                jkt: None,
            };
            let issued = ctx
                .minter
                .issue(caps.ed25519, caps.random, grant, now)
                .await;
            rotation.previous_token_jti = old.token_jti.clone();
            rotation.token_jti = Some(issued.claims.jti);
            access_token = Some(issued.access_token);
        }
    }
    store
        .rotate_credential(&c.client_id, c.secret_hash.as_ref(), &rotation)
        .await?;
    c.lifecycle = rotation;
    ctx.caches.credential_changed(&c.client_id);
    let rotated = CreatedCredential {
        access_token,
        client_id: c.client_id.clone(),
        client_secret,
        credential: CredentialView::at(&c, secs),
    };
    Ok(Response::json(200, &rotated))
}

/// `PATCH /admin/v1/credentials/<name>`: enable or disable it, give it a new expiry or scope
/// ceiling.
pub(super) async fn update_credential<D: SqlDb>(
    ctx: &AdminContext<'_>,
    store: &Store<'_, D>,
    mut c: Credential,
    body: &[u8],
    now: Now,
) -> Result<Response, AdminError> {
    let req: UpdateCredential = parse_body(body)?;
    if req == UpdateCredential::default() {
        return Err(bad("nothing to update: give enabled, expire_in or scopes"));
    }
    let secs = now.unix_secs();
    if let Some(enabled) = req.enabled {
        c.enabled = enabled;
    }
    match req.expire_in.as_deref().map(str::trim) {
        None => {}
        Some("never") => c.expires_at = None,
        Some(d) => c.expires_at = Some(secs + parse_duration(d).map_err(bad)?),
    }
    if let Some(scopes) = &req.scopes {
        c.scopes = ScopeSet::parse(&scopes.join(" ")).map_err(|e| bad(e.0))?;
    }
    // Deleted meanwhile: as if it had never been found.
    if !store.update_credential(&c).await? {
        return Err(not_found("credential", &c.name));
    }
    ctx.caches.credential_changed(&c.client_id);
    Ok(Response::json(
        200,
        &OneCredential {
            credential: CredentialView::at(&c, secs),
        },
    ))
}
