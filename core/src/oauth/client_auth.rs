//! Client authentication (RFC 6749 §2.3.1) for the token, revocation and introspection
//! endpoints: the credential is read from storage on every request, never from a cache, so a
//! deleted or disabled credential fails at once on every isolate.
//!
//! Guessing is throttled ([`crate::throttle`], RFC 6749 §10.10): an attempt on a lockout this
//! isolate knows of is refused before any storage read; otherwise the failure counts come with
//! the credential in the one read, and a locked attempt is refused before its secret is hashed.
//! Only a failed secret check is counted (one write); a success counts and resets nothing.

use crate::audit::Caller;
use crate::capability::{Now, SqlDb};
use crate::error::{ClientAuthFailure, TokenError};
use crate::model::{CredentialKind, CredentialStatus};
use crate::secret::hash_matches;
use crate::store::Store;
use crate::throttle::{AuthThrottle, Lockout};
use crate::token_request::ClientAuth;

/// Who is authenticating, as the endpoints hand it over: the client's credentials and the
/// address they came from, judged by the isolate's throttle.
pub struct ClientAttempt<'a> {
    pub client: &'a ClientAuth,
    pub client_ip: Option<&'a str>,
    pub throttle: &'a AuthThrottle,
}

/// Loads the client's credential and verifies its secret, unless the attempt is throttled; who
/// the client is goes in `caller` for the audit line: the credential once it authenticated, and
/// before that the presented client id only if a credential has it (an unknown "client id" may
/// be a secret pasted into the wrong field, so it never reaches the log).
pub async fn authenticate_client<D: SqlDb>(
    db: &D,
    attempt: ClientAttempt<'_>,
    now: Now,
    caller: &mut Caller,
) -> Result<CredentialStatus, TokenError> {
    let ClientAttempt {
        client,
        client_ip,
        throttle,
    } = attempt;
    let keys = throttle
        .config()
        .client_attempt(client.client_id(), client_ip);
    let throttled = |lockout: Lockout| TokenError::throttled(lockout.retry_after_secs(now));
    if let Some(lockout) = throttle.known_lockout(&keys, now) {
        return Err(throttled(lockout));
    }
    let store = Store::new(db);
    let (status, lockouts) = store
        .credential_status_and_lockouts(client.client_id(), &keys, now)
        .await?;
    if status.is_some() {
        caller.client_id = Some(client.client_id().to_owned());
    }
    if let Some(lockout) = throttle.judge(&keys, lockouts, now) {
        return Err(throttled(lockout));
    }
    let verified = verify_client_secret(client, status, now);
    match &verified {
        Ok(status) => caller.authenticated(&status.credential),
        // Fails closed: a failure that cannot be counted is not answered as a plain 401.
        Err(_) => store.record_failure(&keys, throttle.config(), now).await?,
    }
    verified
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
