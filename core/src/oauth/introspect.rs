//! RFC 7662 token introspection: an authenticated client asks whether a token is active.
//! Reads storage directly, never the cache, so the answer is current.
//!
//! §4 asks the server to limit who may introspect what, lest any client learn the claims of
//! any token it comes across: a client learns only about its own tokens, unless its
//! credential was created with the introspection right (`can_introspect`, for a resource
//! server outside the edge). About anyone else's token it hears `{"active": false}`, the same
//! as for an invalid one (§2.2: nothing else is said of an inactive token).

use crate::audit::Caller;
use crate::capability::{Capabilities, Ed25519, Now, SqlDb};
use crate::error::TokenError;
use crate::federation::FederatedKeys;
use crate::http::{RequestHead, Response};
use crate::oauth::client_auth::{authenticate_client, ClientAttempt};
use crate::store::Store;
use crate::throttle::AuthThrottle;
use crate::token::Audience;
use crate::token::Confirmation;
use crate::token_request::{parse_client_request, ClientRequest};
use crate::verify::Verifier;
use serde::Serialize;

/// §2.2: the description of an active token. Fields in key order, as serialised.
#[derive(Serialize)]
struct Active<'a> {
    active: bool,
    /// A string, or (RFC 8707, several resources) an array, as in the token.
    aud: &'a Audience,
    client_id: &'a str,
    /// RFC 9449 §6.2: the key a DPoP-bound token is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a Confirmation>,
    exp: i64,
    iat: i64,
    iss: &'a str,
    jti: &'a str,
    scope: &'a str,
    sub: &'a str,
    token_type: &'a str,
    username: &'a str,
}

/// §2.2: the inactive answer carries nothing else.
#[derive(Serialize)]
struct Inactive {
    active: bool,
}

// The isolate's parts the endpoint uses, then the request's: as revocation_endpoint takes them.
#[allow(clippy::too_many_arguments)]
pub async fn introspection_endpoint<D: SqlDb, E: Ed25519>(
    verifier: &Verifier,
    throttle: &AuthThrottle,
    federated: &FederatedKeys,
    caps: Capabilities<'_, D, E>,
    head: &RequestHead,
    body: &[u8],
    now: Now,
    caller: &mut Caller,
) -> Result<Response, TokenError> {
    let ClientRequest { client, params } = parse_client_request(head, body)?;
    let attempt = ClientAttempt {
        client: &client,
        client_ip: head.client_ip.as_deref(),
        throttle,
        issuer: verifier.issuer(),
        endpoint: &head.path,
        federated,
    };
    let status = authenticate_client(caps.db, caps.jws, caps.secrets, attempt, now, caller).await?;
    let token = params
        .get("token")
        .ok_or_else(|| TokenError::invalid_request("token is required"))?;
    let inactive = || Ok(Response::json(200, &Inactive { active: false }).no_store());
    let Ok(verified) = verifier.verify(caps.ed25519, token, now).await else {
        return inactive();
    };
    let claims = &verified.claims;
    caller.jti = Some(claims.jti.clone());
    if claims.client_id != status.credential.client_id && !status.credential.can_introspect {
        return inactive();
    }
    let store = Store::new(caps.db);
    let credential = store.credential_status(&claims.client_id).await?;
    let live =
        credential.is_some_and(|s| s.is_live(now.unix_secs()) && s.credential.user == claims.sub);
    if !live || store.is_token_revoked(&claims.jti).await? {
        return inactive();
    }
    let active = Active {
        active: true,
        aud: &claims.aud,
        client_id: &claims.client_id,
        cnf: claims.cnf.as_ref(),
        exp: claims.exp,
        iat: claims.iat,
        iss: &claims.iss,
        jti: &claims.jti,
        scope: &claims.scope,
        sub: &claims.sub,
        token_type: if claims.cnf.is_some() {
            "DPoP"
        } else {
            "Bearer"
        },
        username: &claims.sub,
    };
    Ok(Response::json(200, &active).no_store())
}
