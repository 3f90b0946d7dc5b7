//! The token endpoint: RFC 6749 §4.4 client credentials grant.
//!
//! ```text
//! parse_token_request ─► authenticate_client (one storage read; throttled) ─► grant type ─► grant_scopes
//!                     ─► a use spent (`--max-uses` credentials only: one UPDATE)
//!                     ─► Minter::issue ─► §5.1 token response
//! ```

use crate::audit::Caller;
use crate::capability::{Capabilities, Ed25519, Now, SqlDb};
use crate::error::{ClientAuthFailure, TokenError};
use crate::federation::FederatedKeys;
use crate::http::{RequestHead, Response};
use crate::mint::{Grant, Minter};
use crate::oauth::client_auth::{authenticate_client, ClientAttempt};
use crate::scope::{credential_ceiling, grant_scopes};
use crate::store::Store;
use crate::throttle::AuthThrottle;
use crate::token_request::{parse_token_request, GrantType};
use serde::Serialize;

/// RFC 6749 §5.1 successful response. Fields in key order, as serialised.
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    expires_in: i64,
    /// §5.1: required when the granted scope differs from the requested one.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    token_type: &'a str,
}

/// Answers a token request whose (bounded) body has been read; who asked, and for which
/// token, goes in `caller`.
// The isolate's parts the endpoint uses, then the request's: as revocation_endpoint takes them.
#[allow(clippy::too_many_arguments)]
pub async fn token_endpoint<D: SqlDb, E: Ed25519>(
    minter: &Minter,
    throttle: &AuthThrottle,
    federated: &FederatedKeys,
    caps: Capabilities<'_, D, E>,
    head: &RequestHead,
    body: &[u8],
    now: Now,
    caller: &mut Caller,
) -> Result<Response, TokenError> {
    let request = parse_token_request(head, body)?;
    let attempt = ClientAttempt {
        client: &request.client,
        client_ip: head.client_ip.as_deref(),
        throttle,
        issuer: minter.issuer(),
        endpoint: &head.path,
        federated,
    };
    let status = authenticate_client(caps.db, caps.jws, caps.secrets, attempt, now, caller).await?;
    if request.grant_type != GrantType::ClientCredentials {
        return Err(TokenError::UnsupportedGrantType);
    }
    let ceiling = credential_ceiling(&status.credential.scopes);
    let granted = grant_scopes(&ceiling, request.scope.as_ref())
        .map_err(|e| TokenError::InvalidScope(e.0))?;
    // A `--max-uses` credential spends a use on each token, in one atomic statement (Octelium's
    // maxAuthentications): concurrent requests on any isolate never get more tokens than it
    // has uses. Last, so a request refused for another reason spends none.
    if status.credential.lifecycle.max_uses.is_some()
        && !Store::new(caps.db)
            .use_credential(&status.credential.client_id)
            .await?
    {
        return Err(TokenError::InvalidClient {
            failure: ClientAuthFailure::UsedUp,
            basic_attempted: request.client.is_basic(),
        });
    }
    let grant = Grant {
        credential: &status.credential,
        scopes: &granted,
        lifetime_secs: None,
    };
    let issued = minter.issue(caps.ed25519, caps.random, grant, now).await;
    caller.jti = Some(issued.claims.jti.clone());
    let scope = (request.scope_raw.as_deref() != Some(issued.claims.scope.as_str()))
        .then(|| issued.claims.scope.clone());
    let body = TokenResponse {
        access_token: &issued.access_token,
        expires_in: issued.claims.exp - now.unix_secs(),
        scope,
        token_type: "Bearer",
    };
    Ok(Response::json(200, &body).no_store())
}
