//! Long-lived connections (WebSockets) and their token: what the gateway admitted at the
//! handshake is checked again for as long as the connection lasts.
//!
//! The runtime re-checks a connection's [`Session`] through the core
//! ([`crate::Gateway::check_connection`]) as soon as it is open and then when the core says
//! ([`ConnectionCheck::Open`]): every `max(ISOGATE_CACHE_TTL_MS, 1 s)`, and exactly when the
//! token expires. A check is the service flow's own, through the same isolate caches: the
//! token's expiry (at its `exp`, without the clock leeway the handshake allowed: the gateway
//! issued the token on its own clock), the credential and its user still live, the token not
//! revoked (RFC 7009), the service still there and its policy still admitting the user. With
//! warm caches a check reads nothing; each cache entry is read again once per cache lifetime.
//!
//! **The bound.** A revocation (or a deleted credential, user or service) taken by this
//! isolate closes the connection at its next check, within one interval; taken elsewhere, the
//! isolate's cached "not revoked" may live one cache lifetime more, so the connection is
//! closed within `interval + ISOGATE_CACHE_TTL_MS` of it: 2 × the cache lifetime (10 s by
//! default). The close code is 1008 (policy violation, RFC 6455 §7.4.1), or 1011 when the
//! check could not read storage (fail closed, as a request would get a 503).

use super::{admit, Holder, ServiceCaches};
use crate::capability::{Now, SqlDb};
use crate::error::{BearerError, TokenRefusal};
use crate::forward::websocket::{CLOSE_POLICY, CLOSE_UNAVAILABLE};
use crate::scope::ScopeSet;
use crate::service::Seen;

/// The shortest interval between two checks of a connection.
pub const MIN_CHECK_INTERVAL_MS: u64 = 1_000;

/// What a connection was admitted with: enough to check it again, no secret (not the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    service: String,
    client_id: String,
    user: String,
    jti: String,
    scope: String,
    /// The token's `exp` and `iat`, Unix seconds.
    exp: i64,
    iat: i64,
}

/// What the runtime does with an open connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionCheck {
    /// Leave it open; check again in this many milliseconds.
    Open { recheck_in_ms: u64 },
    /// Close both sides with this code and reason (RFC 6455 §7.4).
    Close { code: u16, reason: &'static str },
}

impl Session {
    /// The session of a connection to `service` admitted for the token the flow verified.
    pub fn admitted(service: &str, seen: &Seen) -> Option<Session> {
        let claims = &seen.token.as_ref()?.claims;
        Some(Session {
            service: service.to_owned(),
            client_id: claims.client_id.clone(),
            user: claims.sub.clone(),
            jti: claims.jti.clone(),
            scope: claims.scope.clone(),
            exp: claims.exp,
            iat: claims.iat,
        })
    }

    /// The session as one string, for a runtime that keeps it in foreign code (Workers:
    /// `glue.js`) and hands it back to [`Session::uncarry`].
    pub fn carry(&self) -> String {
        let mut carried = format!("{}\0{}", self.exp, self.iat);
        // NUL separates: no name, id or scope holds one.
        for part in [
            &self.service,
            &self.client_id,
            &self.user,
            &self.jti,
            &self.scope,
        ] {
            carried.push('\0');
            carried.push_str(part);
        }
        carried
    }

    pub fn uncarry(carried: &str) -> Option<Session> {
        let mut parts = carried.split('\0');
        let exp: u64 = parts.next()?.parse().ok()?;
        let iat: i64 = parts.next()?.parse().ok()?;
        let mut next = || parts.next().map(str::to_owned);
        Some(Session {
            exp: i64::try_from(exp).ok()?,
            iat,
            service: next()?,
            client_id: next()?,
            user: next()?,
            jti: next()?,
            scope: next()?,
        })
    }
}

/// One check of a connection (module doc): close it, or when to check again.
pub(crate) async fn check_session<D: SqlDb>(
    caches: &ServiceCaches,
    db: &D,
    session: &Session,
    interval_ms: u64,
    now: Now,
) -> ConnectionCheck {
    let expires_ms = u64::try_from(session.exp).unwrap_or(0).saturating_mul(1000);
    if now.unix_ms() >= expires_ms {
        return close("token expired");
    }
    match still_admitted(caches, db, session, now).await {
        Ok(()) => ConnectionCheck::Open {
            recheck_in_ms: interval_ms
                .max(MIN_CHECK_INTERVAL_MS)
                .min(expires_ms - now.unix_ms()),
        },
        Err(BearerError::Unavailable(_)) => ConnectionCheck::Close {
            code: CLOSE_UNAVAILABLE,
            reason: "try again shortly",
        },
        Err(BearerError::InvalidToken(TokenRefusal::Revoked)) => close("token revoked"),
        Err(BearerError::InvalidToken(_)) => close("credential revoked"),
        Err(_) => close("access revoked"),
    }
}

fn close(reason: &'static str) -> ConnectionCheck {
    ConnectionCheck::Close {
        code: CLOSE_POLICY,
        reason,
    }
}

/// The handshake's checks again, but the token's signature (the session is the core's own):
/// the request's own code ([`admit`]).
async fn still_admitted<D: SqlDb>(
    caches: &ServiceCaches,
    db: &D,
    session: &Session,
    now: Now,
) -> Result<(), BearerError> {
    let scopes = ScopeSet::parse(&session.scope).ok();
    let holder = Holder {
        client_id: &session.client_id,
        user: &session.user,
        jti: &session.jti,
        iat: session.iat,
        exp: session.exp,
        scopes: scopes.as_ref(),
        request: None,
    };
    admit(caches, db, holder, &session.service, now, (None, &mut None)).await?;
    Ok(())
}
