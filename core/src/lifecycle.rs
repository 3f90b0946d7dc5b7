//! A credential's lifecycle beyond create and delete (issue #13): rotation with a grace period,
//! a limit on its uses, and the state `isogate get creds` shows. The rules are here, pure; the
//! row is `isogate_credential_lifecycle` (`infra/migrations/0007_*.sql`), read with the
//! credential in the same statement, so the service path's warm checks cost a few comparisons
//! on the cached record and no storage read.
//!
//! Rotation, as Keycloak's "rotated secret" and cidaas' retiring secret do it: one previous
//! secret is kept, accepted until the grace ends, then refused; rotating again replaces it
//! (and ends its grace at once). What a secret obtained never outlives it:
//!
//! - **oauth2**: a token issued with the previous secret during the grace expires when the grace
//!   does (`exp` capped, and refused from then on without the verifier's 30 s clock-skew leeway);
//!   tokens issued before the rotation are refused on services once the grace is over, and at
//!   once after a second rotation (their `iat`, in seconds, is before the rotation: a token
//!   issued in the very second of the rotation is not told apart, and keeps at most its own
//!   `ISOGATE_TOKEN_TTL`);
//! - **access-token**: the rotation mints a new token; after the grace only that token (by its
//!   `jti`) is accepted, so the old one, valid for a year, stops at the grace's end.

use crate::error::{BearerError, TokenRefusal};
use crate::model::{Credential, CredentialKind, CredentialStatus, Inactive};
use crate::secret::SecretHash;

/// Grace of `isogate rotate cred` when none is given: one hour, long enough to roll the new
/// secret out to every workload; `--grace 0` ends the old one at once (a leaked secret).
pub const DEFAULT_GRACE_SECS: i64 = 3600;
/// The longest grace accepted: a month. A rotation is meant to end the old secret.
pub const MAX_GRACE_SECS: i64 = 31 * 24 * 3600;

/// A credential's row of `isogate_credential_lifecycle`; all `None` (and 0 uses) without one.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    /// oauth2: the hash of the secret the last rotation replaced.
    pub previous_secret_hash: Option<SecretHash>,
    /// Unix seconds of the last rotation, and the end of its grace (exclusive).
    pub rotated_at: Option<i64>,
    pub grace_until: Option<i64>,
    /// The rotation before the last one: oauth2 tokens issued before it are refused.
    pub previous_rotated_at: Option<i64>,
    /// access-token: the `jti` of the current token (since the last rotation), and of the one
    /// it replaced (`None`: the token made at creation, whose `jti` is not stored).
    pub token_jti: Option<String>,
    pub previous_token_jti: Option<String>,
    /// Token requests the credential may make (`None`: no limit), and those made.
    pub max_uses: Option<i64>,
    pub uses: i64,
}

/// What a rotation's rule reads of a token: its `iat`, `exp` and `jti` claims.
#[derive(Clone, Copy, Debug)]
pub struct TokenTimes<'a> {
    pub iat: i64,
    pub exp: i64,
    pub jti: &'a str,
}

/// What `isogate get creds` shows, decided at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialState {
    Active,
    Disabled,
    Expired,
    /// Every use of a `--max-uses` credential is spent.
    UsedUp,
    /// Rotated, and the previous secret or token still in its grace.
    Rotating,
}

impl CredentialState {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialState::Active => "active",
            CredentialState::Disabled => "disabled",
            CredentialState::Expired => "expired",
            CredentialState::UsedUp => "used-up",
            CredentialState::Rotating => "rotating",
        }
    }
}

impl Lifecycle {
    /// Whether the grace of the last rotation still runs at `now` (Unix seconds).
    pub fn in_grace(&self, now: i64) -> bool {
        self.grace_until.is_some_and(|until| now < until)
    }

    /// The previous secret's hash while its grace runs.
    pub fn previous_secret(&self, now: i64) -> Option<&SecretHash> {
        self.previous_secret_hash
            .as_ref()
            .filter(|_| self.in_grace(now))
    }

    /// Whether every use is spent (as last read; the token endpoint's count is atomic).
    pub fn used_up(&self) -> bool {
        self.max_uses.is_some_and(|max| self.uses >= max)
    }

    /// Whether a token of this credential, issued at `iat` until `exp` with id `jti`, was
    /// superseded by a rotation at `now` (see the module doc). The warm service path's check:
    /// no allocation.
    pub fn supersedes(&self, kind: CredentialKind, token: TokenTimes<'_>, now: i64) -> bool {
        let TokenTimes { iat, exp, jti } = token;
        match kind {
            CredentialKind::AccessToken => match &self.token_jti {
                None => false,
                Some(current) if current == jti => false,
                Some(_) => {
                    !self.in_grace(now)
                        || self.previous_token_jti.as_deref().is_some_and(|p| p != jti)
                }
            },
            // A private-key-jwt credential is never rotated (its keys are): no rotation fields.
            CredentialKind::OAuth2 | CredentialKind::PrivateKeyJwt | CredentialKind::Federated => {
                // Issued before the rotation, or (capped to the grace) with the previous secret.
                let of_old_secret = |r: i64| iat < r || self.grace_until.is_some_and(|g| exp <= g);
                self.previous_rotated_at.is_some_and(|r| iat < r)
                    || self
                        .rotated_at
                        .is_some_and(|r| !self.in_grace(now) && of_old_secret(r))
            }
        }
    }
}

impl Credential {
    /// The state `isogate get creds` shows at `now` (its user's state aside).
    pub fn state(&self, now: i64) -> CredentialState {
        if !self.enabled {
            CredentialState::Disabled
        } else if self.expires_at.is_some_and(|exp| now >= exp) {
            CredentialState::Expired
        } else if self.lifecycle.used_up() {
            CredentialState::UsedUp
        } else if self.lifecycle.in_grace(now) {
            CredentialState::Rotating
        } else {
            CredentialState::Active
        }
    }
}

/// The credential of a `token`, if it may be used at `now` (Unix
/// seconds): neither disabled nor expired, its user enabled, and the token not superseded by a
/// rotation. Each refusal has its own reason in the audit log. The service path's check, on
/// the cached record: no storage read, no allocation.
pub fn live_credential<'s>(
    status: &'s CredentialStatus,
    token: TokenTimes<'_>,
    now: i64,
) -> Result<&'s Credential, BearerError> {
    let refused = |why| Err(BearerError::InvalidToken(why));
    let c = &status.credential;
    match status.inactive(now) {
        Some(Inactive::Disabled) => refused(TokenRefusal::CredentialDisabled),
        Some(Inactive::Expired) => refused(TokenRefusal::CredentialExpired),
        Some(Inactive::UserDisabled) => refused(TokenRefusal::CredentialInactive),
        None if c.lifecycle.supersedes(c.kind, token, now) => refused(TokenRefusal::Superseded),
        None => Ok(c),
    }
}

#[cfg(test)]
mod tests;
