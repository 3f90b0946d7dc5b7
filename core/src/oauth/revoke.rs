//! RFC 7009 token revocation: a client revokes one of its own access tokens.

use crate::capability::{Capabilities, Ed25519, Now, SqlDb};
use crate::error::TokenError;
use crate::http::{RequestHead, Response};
use crate::oauth::client_auth::authenticate_client;
use crate::service::ServiceCaches;
use crate::store::Store;
use crate::token::expiry_cutoff;
use crate::token_request::{parse_client_request, ClientRequest};
use crate::verify::Verifier;

/// Unknown, malformed or expired tokens answer 200 (§2.2: the client cannot do anything about
/// them anyway). A revoked token is refused at once by this isolate, and by the others once
/// their revoked-token set ages out.
pub async fn revocation_endpoint<D: SqlDb, E: Ed25519>(
    verifier: &Verifier,
    caches: &ServiceCaches,
    caps: Capabilities<'_, D, E>,
    head: &RequestHead,
    body: &[u8],
    now: Now,
) -> Result<Response, TokenError> {
    let ClientRequest { client, params } = parse_client_request(head, body)?;
    let status = authenticate_client(caps.db, &client, now).await?;
    let token = params
        .get("token")
        .ok_or_else(|| TokenError::invalid_request("token is required"))?;
    // `token_type_hint` may be ignored (§2.1): only access tokens exist here.
    if let Ok(verified) = verifier.verify(caps.ed25519, token, now).await {
        let claims = &verified.claims;
        // §2.1: the token must have been issued to the client making the request.
        if claims.client_id != status.credential.client_id {
            return Err(TokenError::UnauthorizedClient(
                "a client may revoke only its own tokens".into(),
            ));
        }
        Store::new(caps.db)
            .revoke_token(
                &claims.jti,
                &claims.client_id,
                claims.exp,
                expiry_cutoff(now),
            )
            .await?;
        caches.revoked_changed();
    }
    Ok(Response::new(200).no_store())
}
