//! Client authentication (RFC 6749 §2.3.1) for the token, revocation and introspection
//! endpoints: the credential is read from storage on every request, never from a cache, so a
//! deleted or disabled credential fails at once on every isolate.
//!
//! Guessing is throttled ([`crate::throttle`], RFC 6749 §10.10): an attempt on a lockout this
//! isolate knows of is refused before any storage read; otherwise the failure counts come with
//! the credential in the one read, and a locked attempt is refused before its secret is hashed.
//! Only a failed secret check is counted (one write); a success counts and resets nothing.
//!
//! A client assertion (`private_key_jwt`, [`crate::client_assertion`]) is throttled and
//! counted the same way: the read then also brings the credential's public keys, and a
//! verified assertion spends its `jti` (one insert on a unique key) before it is accepted.

use crate::audit::Caller;
use crate::capability::{JwsVerifier, Now, OriginSecrets, SqlDb};
use crate::client_assertion::{
    verify_client_assertion, verify_signed, AssertionFailure, ClientKeys, Expected,
    VerifiedAssertion,
};
use crate::error::{ClientAuthFailure, TokenError};
use crate::federation::{verify_federated, FederatedKeys, FederationFailure, FederationSpec};
use crate::jws::{parse_compact, JwkSet};
use crate::model::{CredentialKind, CredentialStatus, Inactive};
use crate::secret::{constant_time_eq, SecretHash};
use crate::store::{Spent, Store};
use crate::throttle::{Attempt, AuthThrottle, Lockout};
use crate::token_request::ClientAuth;

/// Who is authenticating, as the endpoints hand it over: the client's credentials and the
/// address they came from, judged by the isolate's throttle.
pub struct ClientAttempt<'a> {
    pub client: &'a ClientAuth,
    pub client_ip: Option<&'a str>,
    pub throttle: &'a AuthThrottle,
    /// This deployment's issuer, and the path of the endpoint asked (`/oauth2/token`): the
    /// audiences a client assertion may name.
    pub issuer: &'a str,
    pub endpoint: &'a str,
    /// The isolate's cache of external issuers' keys (federated credentials).
    pub federated: &'a FederatedKeys,
}

/// Loads the client's credential and verifies its secret, unless the attempt is throttled; who
/// the client is goes in `caller` for the audit line: the credential once it authenticated, and
/// before that the presented client id only if a credential has it (an unknown "client id" may
/// be a secret pasted into the wrong field, so it never reaches the log).
pub async fn authenticate_client<D: SqlDb>(
    db: &D,
    jws: &dyn JwsVerifier,
    fetcher: &dyn OriginSecrets,
    attempt: ClientAttempt<'_>,
    now: Now,
    caller: &mut Caller,
) -> Result<CredentialStatus, TokenError> {
    let ClientAttempt {
        client,
        client_ip,
        throttle,
        issuer,
        endpoint,
        federated,
    } = attempt;
    let keys = throttle
        .config()
        .client_attempt(client.client_id(), client_ip);
    let throttled = |lockout: Lockout| TokenError::throttled(lockout.retry_after_secs(now));
    if let Some(lockout) = throttle.known_lockout(&keys, now) {
        return Err(throttled(lockout));
    }
    let store = Store::new(db);
    // One read either way; an assertion's also brings the credential's keys.
    let assertion = match client {
        ClientAuth::Assertion { assertion, .. } => Some(assertion.as_str()),
        _ => None,
    };
    let (status, lockouts, spec) = store
        .read_attempt(client.client_id(), &keys, now, assertion.is_some())
        .await?;
    if status.is_some() {
        caller.client_id = Some(client.client_id().to_owned());
    }
    if let Some(lockout) = throttle.judge(&keys, lockouts, now) {
        return Err(throttled(lockout));
    }
    let verified = match assertion {
        Some(assertion) => {
            let checked = AssertionCheck {
                jws,
                assertion,
                expected: Expected {
                    client_id: client.client_id(),
                    issuer,
                    endpoint,
                },
                jwks: spec,
                federated,
                fetcher,
            };
            checked.verify(&store, status, now).await?
        }
        None => verify_client_secret(client, status, now),
    };
    settle(&store, &keys, throttle, verified, now, caller).await
}

/// The outcome of a check: an authenticated caller, or a failure counted against the
/// attempt's keys. Fails closed: a failure that cannot be counted is not answered as a plain
/// 401.
async fn settle<D: SqlDb>(
    store: &Store<'_, D>,
    keys: &Attempt,
    throttle: &AuthThrottle,
    verified: Result<CredentialStatus, TokenError>,
    now: Now,
    caller: &mut Caller,
) -> Result<CredentialStatus, TokenError> {
    match &verified {
        Ok(status) => caller.authenticated(&status.credential),
        // Only refused authentications count (a storage failure is no guess).
        Err(TokenError::InvalidClient { .. }) => {
            store.record_failure(keys, throttle.config(), now).await?
        }
        Err(_) => {}
    }
    verified
}

/// A client assertion to check against the credential it names.
struct AssertionCheck<'a> {
    jws: &'a dyn JwsVerifier,
    assertion: &'a str,
    expected: Expected<'a>,
    /// The credential's registered keys (or federation spec), as stored.
    jwks: Option<String>,
    /// Federated credentials: the isolate's cache of issuers' keys, and the runtime's GET.
    federated: &'a FederatedKeys,
    fetcher: &'a dyn OriginSecrets,
}

/// Why a credential that exists may not be used, as a client authentication failure.
fn inactive_failure(status: &CredentialStatus, secs: i64) -> Option<ClientAuthFailure> {
    match status.inactive(secs) {
        Some(Inactive::Disabled) => Some(ClientAuthFailure::Disabled),
        Some(Inactive::Expired) => Some(ClientAuthFailure::Expired),
        Some(Inactive::UserDisabled) => Some(ClientAuthFailure::Inactive),
        None => None,
    }
}

impl AssertionCheck<'_> {
    /// A federated credential: the external issuer's token, its keys found through the
    /// isolate's cache ([`crate::federation`]). No `jti` is spent: such tokens (a Kubernetes
    /// service account's, GitHub's) are presented again until they expire, by design.
    async fn verify_federated(
        self,
        status: CredentialStatus,
        now: Now,
    ) -> Result<Result<CredentialStatus, TokenError>, TokenError> {
        let refused = |failure| {
            Ok(Err(TokenError::InvalidClient {
                failure,
                basic_attempted: false,
            }))
        };
        let Some(spec) = self.jwks.as_deref().and_then(FederationSpec::from_json) else {
            return refused(ClientAuthFailure::Federation(FederationFailure::UnknownKey));
        };
        let verified = verify_federated(
            self.federated,
            self.fetcher,
            self.jws,
            self.assertion,
            &spec,
            self.expected.issuer,
            now.unix_ms(),
        )
        .await;
        if let Err(failure) = verified {
            return refused(ClientAuthFailure::Federation(failure));
        }
        match inactive_failure(&status, now.unix_secs()) {
            Some(failure) => refused(failure),
            None => Ok(Ok(status)),
        }
    }

    /// An assertion checked with the keys the client publishes at `jwks_uri`: found through
    /// the isolate's key cache, as a federated issuer's are (the cache is keyed by the URL).
    /// Keys that cannot be fetched are an `invalid_client` to the client, audited as
    /// `bad_assertion` like any key that does not verify.
    async fn verify_published(
        &self,
        client_id: &str,
        jwks_uri: String,
        now: Now,
    ) -> Result<VerifiedAssertion, ClientAuthFailure> {
        let parsed = parse_compact(self.assertion)
            .map_err(|_| ClientAuthFailure::Assertion(AssertionFailure::Malformed))?;
        let source = FederationSpec {
            issuer: client_id.to_owned(),
            subject: client_id.to_owned(),
            audience: None,
            jwks_uri: Some(jwks_uri),
        };
        let key = self
            .federated
            .key(
                self.fetcher,
                &source,
                parsed.alg,
                parsed.kid.as_deref(),
                now.unix_ms(),
            )
            .await
            .map_err(|failure| match failure {
                FederationFailure::UnknownKey => {
                    ClientAuthFailure::Assertion(AssertionFailure::UnknownKey)
                }
                other => ClientAuthFailure::Federation(other),
            })?;
        verify_signed(self.jws, &parsed, &key, self.expected, now.unix_secs())
            .await
            .map_err(ClientAuthFailure::Assertion)
    }

    /// The credential, if the assertion is genuine, fresh and its `jti` unspent (spent now);
    /// then, as for a secret, whether the credential may be used.
    async fn verify<D: SqlDb>(
        self,
        store: &Store<'_, D>,
        status: Option<CredentialStatus>,
        now: Now,
    ) -> Result<Result<CredentialStatus, TokenError>, TokenError> {
        let refused = |failure| {
            Ok(Err(TokenError::InvalidClient {
                failure,
                basic_attempted: false,
            }))
        };
        let Some(status) = status else {
            return refused(ClientAuthFailure::UnknownClient);
        };
        if status.credential.kind == CredentialKind::Federated {
            return self.verify_federated(status, now).await;
        }
        if status.credential.kind != CredentialKind::PrivateKeyJwt {
            return refused(ClientAuthFailure::Assertion(AssertionFailure::UnknownKey));
        }
        // Stored keys were validated on the way in: keys that do not parse match nothing.
        let keys = self.jwks.as_deref().and_then(ClientKeys::from_json);
        let secs = now.unix_secs();
        let verified = match keys {
            Some(ClientKeys::Published { jwks_uri }) => {
                self.verify_published(&status.credential.client_id, jwks_uri, now)
                    .await
            }
            registered => {
                let keys = match registered {
                    Some(ClientKeys::Registered(keys)) => keys,
                    _ => JwkSet::default(),
                };
                verify_client_assertion(self.jws, self.assertion, &keys, self.expected, secs)
                    .await
                    .map_err(ClientAuthFailure::Assertion)
            }
        };
        let verified = match verified {
            Ok(v) => v,
            Err(failure) => return refused(failure),
        };
        // An inactive credential spends no jti.
        if let Some(failure) = inactive_failure(&status, secs) {
            return refused(failure);
        }
        let client_id = &status.credential.client_id;
        match store
            .spend_assertion(client_id, &verified.jti, verified.exp, secs)
            .await?
        {
            Spent::Now => Ok(Ok(status)),
            Spent::Before => refused(ClientAuthFailure::Assertion(AssertionFailure::Replayed)),
        }
    }
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
    let Some(presented) = client.client_secret().map(|s| s.hash()) else {
        return Err(TokenError::InvalidClient {
            failure: ClientAuthFailure::Missing,
            basic_attempted: false,
        });
    };
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
        // (A private-key-jwt credential has no secret hash: no secret matches it.)
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
