//! The token endpoint: RFC 6749 §4.4 client credentials grant.
//!
//! ```text
//! parse_token_request ─► authenticate_client (one storage read; throttled) ─► grant type ─► grant_scopes
//!                     ─► RFC 8707 resources (each in scope, each a service: cached reads)
//!                     ─► the DPoP proof, if sent or required (RFC 9449 §5: crate::dpop)
//!                     ─► a use spent (`--max-uses` credentials only: one UPDATE)
//!                     ─► Minter::issue (bound to the proof's key: cnf.jkt) ─► §5.1 token response
//! ```

use crate::audit::Caller;
use crate::capability::{Capabilities, Ed25519, Now, SqlDb};
use crate::dpop::{accept_proof, proof_header, request_url, DpopInvalid, ProofTarget, SeenProofs};
use crate::error::{ClientAuthFailure, TokenError};
use crate::federation::FederatedKeys;
use crate::http::{RequestHead, Response};
use crate::mint::{Grant, Minter};
use crate::oauth::client_auth::{authenticate_client, ClientAttempt};
use crate::resource::{requested_services, InvalidTarget};
use crate::scope::{credential_ceiling, grant_scopes};
use crate::service::ServiceCaches;
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
// The isolate's parts, the runtime's capabilities, the request, the clock and the caller.
#[allow(clippy::too_many_arguments)]
pub async fn token_endpoint<D: SqlDb, E: Ed25519>(
    minter: &Minter,
    caches: &ServiceCaches,
    throttle: &AuthThrottle,
    proofs: &SeenProofs,
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
    // RFC 8707: the services asked for, each in the granted scope and existing (one cached
    // read each); none asked for, none read.
    let services = requested_services(minter.services(), &request.resources, &granted)
        .map_err(TokenError::InvalidTarget)?;
    if !services.is_empty() {
        // Boxed: the lookups' state would otherwise enlarge every token request's future,
        // which every request (a throttled one too) pays to move, resources or not.
        Box::pin(services_exist(caches, caps.db, &services, now)).await?;
    }
    // RFC 9449 §5: a proof binds the token to the client's key; checked only now that the
    // client is authenticated, so nobody else can spend a signature check or a replay slot.
    let jkt = match proof_header(head).map_err(TokenError::InvalidDpopProof)? {
        Some(proof) => {
            let url = request_url(&head.scheme, &head.host, &head.path);
            let target = ProofTarget {
                method: head.method.as_str(),
                url: &url,
                access_token: None,
                bound_to: None,
            };
            let checked = accept_proof(
                proofs,
                caps.db,
                caps.memory,
                (caps.ed25519, caps.jws),
                proof,
                &target,
                now,
            )
            .await?;
            Some(checked.jkt)
        }
        None if status.credential.require_dpop => {
            return Err(TokenError::InvalidDpopProof(DpopInvalid::Missing))
        }
        None => None,
    };
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
        jkt: jkt.as_deref(),
    };
    let issued = minter
        .issue_for(caps.ed25519, caps.random, grant, &services, now)
        .await;
    caller.jti = Some(issued.claims.jti.clone());
    let scope = (request.scope_raw.as_deref() != Some(issued.claims.scope.as_str()))
        .then(|| issued.claims.scope.clone());
    let body = TokenResponse {
        access_token: &issued.access_token,
        expires_in: issued.claims.exp - now.unix_secs(),
        scope,
        // RFC 9449 §5.1: a bound token's type is DPoP.
        token_type: if jkt.is_some() { "DPoP" } else { "Bearer" },
    };
    Ok(Response::json(200, &body).no_store())
}

/// RFC 8707 `invalid_target` unless every one of `services` exists (the isolate's cached
/// service records; a miss reads storage).
async fn services_exist<D: SqlDb>(
    caches: &ServiceCaches,
    db: &D,
    services: &[String],
    now: Now,
) -> Result<(), TokenError> {
    for name in services {
        if caches.service(db, name, now).await?.is_none() {
            return Err(TokenError::InvalidTarget(InvalidTarget::UnknownService));
        }
    }
    Ok(())
}
