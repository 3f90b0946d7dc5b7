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
use crate::model::{CredentialKind, CredentialStatus, Inactive};
use crate::secret::{constant_time_eq, SecretHash};
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

/// Checks the presented secret against the stored hash in constant time, and against the
/// previous one a rotation keeps during its grace ([`crate::lifecycle`]). Unknown client ids
/// cost the same hash as known ones, and every failure reads the same to the client; which
/// one it was is for the audit log.
///
/// A client that authenticated with the previous secret gets a status whose `expires_at` is
/// the grace's end: a token it obtains never outlives the secret that obtained it.
pub fn verify_client_secret(
    client: &ClientAuth,
    status: Option<CredentialStatus>,
    now: Now,
) -> Result<CredentialStatus, TokenError> {
    const NO_SUCH_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    let presented = client.client_secret().hash();
    let matches = |stored: Option<&SecretHash>| {
        let stored = stored.map_or(NO_SUCH_HASH, |h| h.as_str());
        constant_time_eq(stored.as_bytes(), presented.as_str().as_bytes())
    };
    let credential = status.as_ref().map(|s| &s.credential);
    let current_ok = matches(credential.and_then(|c| c.secret_hash.as_ref()));
    // Whether a credential was rotated is no secret: only a rotated one pays the second compare.
    let previous = credential.and_then(|c| c.lifecycle.previous_secret_hash.as_ref());
    let previous_ok = previous.is_some() && matches(previous);
    let secs = now.unix_secs();
    let failure = match status {
        None => ClientAuthFailure::UnknownClient,
        Some(_) if !current_ok && !previous_ok => ClientAuthFailure::BadSecret,
        Some(s) if s.credential.kind != CredentialKind::OAuth2 => ClientAuthFailure::Inactive,
        Some(s) => match s.inactive(secs) {
            Some(Inactive::Disabled) => ClientAuthFailure::Disabled,
            Some(Inactive::Expired) => ClientAuthFailure::Expired,
            Some(Inactive::UserDisabled) => ClientAuthFailure::Inactive,
            None if !current_ok && !s.credential.lifecycle.in_grace(secs) => {
                ClientAuthFailure::Rotated
            }
            None => {
                let mut s = s;
                if !current_ok {
                    let lifecycle = &s.credential.lifecycle;
                    let end = lifecycle.grace_until.unwrap_or(secs);
                    s.credential.expires_at =
                        Some(s.credential.expires_at.map_or(end, |e| e.min(end)));
                }
                return Ok(s);
            }
        },
    };
    Err(TokenError::InvalidClient {
        failure,
        basic_attempted: client.is_basic(),
    })
}
