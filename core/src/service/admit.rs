//! The checks of a verified token against storage ([`admit`]), shared by a request's flow
//! ([`super::authorize_service`]) and an open connection's re-check ([`super::session`]).

use super::{check_scope, decide_access, decide_users, ReadFirst, ServiceCaches};
use crate::capability::{Now, SqlDb};
use crate::error::{BearerError, TokenRefusal};
use crate::lifecycle::{live_credential, TokenTimes};
use crate::model::{CredentialStatus, Service};
use crate::policy;
use crate::scope::ScopeSet;
use std::rc::Rc;

/// Whom a token speaks for, as [`admit`] checks it.
pub(crate) struct Holder<'a> {
    pub client_id: &'a str,
    pub user: &'a str,
    pub jti: &'a str,
    /// The token's `iat` and `exp` (a rotation's grace ends tokens issued before it).
    pub iat: i64,
    pub exp: i64,
    /// `None`: the token's `scope` claim does not parse.
    pub scopes: Option<&'a ScopeSet>,
    /// The request's method and path, for the service's policy rules; `None` for an open
    /// connection's re-check (its rules were decided when it was admitted).
    pub request: Option<(&'a str, &'a str)>,
}

/// The checks of a verified token against what storage says, for a request and again for an
/// open connection (module `session`: one copy of this code in the wasm): its credential live
/// and the token's user's, the token not revoked, its scope naming the service, the service
/// there and its policy admitting the user. The credential goes in `seen` as soon as it is
/// read (a refusal's audit line names it). `read_first`: the read already made for it
/// ([`super::verify_reading_first`]), if any.
pub(crate) async fn admit<D: SqlDb>(
    caches: &ServiceCaches,
    db: &D,
    holder: Holder<'_>,
    service_name: &str,
    now: Now,
    (read_first, seen): (Option<ReadFirst>, &mut Option<Rc<CredentialStatus>>),
) -> Result<(Rc<CredentialStatus>, Rc<Service>), BearerError> {
    let mut read_with = None;
    let request = (holder.jti, service_name);
    let reads = (read_first, &mut read_with);
    let status = caches
        .credential(db, holder.client_id, request, now, reads)
        .await?;
    let (revoked, service) = match read_with {
        Some(read) => (Some(read.revoked), Some(read.service)),
        None => (None, None),
    };
    seen.clone_from(&status);
    let status = match status {
        Some(s) if s.credential.user == holder.user => s,
        _ => return Err(BearerError::InvalidToken(TokenRefusal::CredentialInactive)),
    };
    let times = TokenTimes {
        iat: holder.iat,
        exp: holder.exp,
        jti: holder.jti,
    };
    live_credential(&status, times, now.unix_secs())?;
    if caches
        .is_token_revoked(db, holder.jti, now, revoked)
        .await?
    {
        return Err(BearerError::InvalidToken(TokenRefusal::Revoked));
    }
    let scopes = holder
        .scopes
        .ok_or(BearerError::InvalidToken(TokenRefusal::BadScope))?;
    // Scope first, by name alone: a token cannot probe which services exist outside its
    // scope (existing or not, they all answer 403).
    check_scope(scopes, service_name)?;
    // And the credential's ceiling as it is now: `isogate update cred --scope` narrows the
    // tokens already issued too (within the cache TTL on other isolates).
    if !status.credential.scopes.is_empty() {
        check_scope(&status.credential.scopes, service_name)?;
    }
    let service = caches
        .service_or(db, service_name, now, service)
        .await?
        .ok_or(BearerError::UnknownService)?;
    let user = status.credential.user_id;
    match holder.request {
        Some((method, path)) => {
            let request = policy::Request {
                user,
                groups: &status.groups,
                client_id: holder.client_id,
                scopes,
                method,
                path,
            };
            decide_access(&request, &service)?;
        }
        None => decide_users(scopes, user, &service)?,
    }
    Ok((status, service))
}
