//! RFC 7009 token revocation: a client revokes one of its own access tokens.
//!
//! Each revocation is a row until the token would have expired anyway, and the service path
//! looks one token up at a time (by `jti`), so revocations cost other clients nothing. One
//! credential may hold at most `ISOGATE_MAX_REVOCATIONS_PER_CREDENTIAL` (default 1,000)
//! unexpired revocations; past that it is refused with `invalid_request` (see
//! [`TokenError::TooManyRevocations`]): a client that needs to end more tokens at once ends
//! them all by deleting its credential, which takes no rows.

use crate::audit::Caller;
use crate::capability::{Capabilities, Ed25519, Now, SqlDb};
use crate::error::TokenError;
use crate::federation::FederatedKeys;
use crate::http::{RequestHead, Response};
use crate::oauth::client_auth::{authenticate_client, ClientAttempt};
use crate::service::ServiceCaches;
use crate::store::{Revoked, Store};
use crate::throttle::AuthThrottle;
use crate::token::expiry_cutoff;
use crate::token_request::{parse_client_request, ClientRequest};
use crate::verify::Verifier;

/// Unknown, malformed or expired tokens answer 200 (§2.2: the client cannot do anything about
/// them anyway), as does a token revoked before. A revoked token is refused at once by this
/// isolate, and by the others once their cached answer for it ages out.
// The endpoint's inputs as the other endpoints take them, plus the bound, the throttle and the
// caller's record: a struct for them would be built once per request only to be taken apart here.
#[allow(clippy::too_many_arguments)]
pub async fn revocation_endpoint<D: SqlDb, E: Ed25519>(
    verifier: &Verifier,
    caches: &ServiceCaches,
    max_revocations: u64,
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
    // `token_type_hint` may be ignored (§2.1): only access tokens exist here.
    if let Ok(verified) = verifier.verify(caps.ed25519, token, now).await {
        let claims = &verified.claims;
        caller.jti = Some(claims.jti.clone());
        // §2.1: the token must have been issued to the client making the request.
        if claims.client_id != status.credential.client_id {
            return Err(TokenError::UnauthorizedClient(
                "a client may revoke only its own tokens".into(),
            ));
        }
        let revoked = Store::new(caps.db)
            .revoke_token(
                &claims.jti,
                &claims.client_id,
                claims.exp,
                expiry_cutoff(now),
                max_revocations,
            )
            .await?;
        if revoked == Revoked::BoundReached {
            return Err(TokenError::TooManyRevocations);
        }
        caches.token_revoked(&claims.jti, now);
    }
    Ok(Response::new(200).no_store())
}
