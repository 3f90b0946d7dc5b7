//! Client authentication (RFC 6749 §2.3.1) for the token, revocation and introspection
//! endpoints: the credential is read from storage on every request, never from a cache, so a
//! deleted or disabled credential fails at once on every isolate.

use crate::audit::Caller;
use crate::capability::{Now, SqlDb};
use crate::error::{ClientAuthFailure, TokenError};
use crate::model::{CredentialKind, CredentialStatus};
use crate::secret::hash_matches;
use crate::store::Store;
use crate::token_request::ClientAuth;

/// Loads the client's credential and verifies its secret; who the client is goes in `caller`
/// for the audit line: the credential once it authenticated, and before that the presented
/// client id only if a credential has it (an unknown "client id" may be a secret pasted into
/// the wrong field, so it never reaches the log).
pub async fn authenticate_client<D: SqlDb>(
    db: &D,
    client: &ClientAuth,
    now: Now,
    caller: &mut Caller,
) -> Result<CredentialStatus, TokenError> {
    let status = Store::new(db).credential_status(client.client_id()).await?;
    if status.is_some() {
        caller.client_id = Some(client.client_id().to_owned());
    }
    let status = verify_client_secret(client, status, now)?;
    caller.authenticated(&status.credential);
    Ok(status)
}

/// Checks the presented secret against the stored hash in constant time. Unknown client ids
/// cost the same hash as known ones, and every failure reads the same to the client.
pub fn verify_client_secret(
    client: &ClientAuth,
    status: Option<CredentialStatus>,
    now: Now,
) -> Result<CredentialStatus, TokenError> {
    const NO_SUCH_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    let stored = status
        .as_ref()
        .and_then(|s| s.credential.secret_hash.as_ref())
        .map_or(NO_SUCH_HASH, |h| h.as_str());
    let secret_ok = hash_matches(stored, client.client_secret());
    let failure = match status {
        Some(s)
            if secret_ok
                && s.credential.kind == CredentialKind::OAuth2
                && s.is_live(now.unix_secs()) =>
        {
            return Ok(s)
        }
        // Which failure it was is for the audit log; the client reads the same for each.
        None => ClientAuthFailure::UnknownClient,
        Some(_) if !secret_ok => ClientAuthFailure::BadSecret,
        Some(_) => ClientAuthFailure::Inactive,
    };
    Err(TokenError::InvalidClient {
        failure,
        basic_attempted: client.is_basic(),
    })
}
