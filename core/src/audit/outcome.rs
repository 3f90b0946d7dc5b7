//! The audit levels (`ISOGATE_AUDIT`) and the outcomes a line reports, in a fixed vocabulary.

/// `ISOGATE_AUDIT`: which decisions get a line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuditLevel {
    /// None.
    Off,
    /// Refusals of every kind, and admin changes.
    Denials,
    /// Every decision (the default).
    #[default]
    All,
}

impl AuditLevel {
    pub fn parse(setting: &str) -> Option<AuditLevel> {
        match setting {
            "off" => Some(AuditLevel::Off),
            "denials" => Some(AuditLevel::Denials),
            "all" => Some(AuditLevel::All),
            _ => None,
        }
    }

    pub fn logs(self, outcome: Outcome) -> bool {
        match self {
            AuditLevel::Off => false,
            AuditLevel::Denials => outcome.is_refusal() || outcome == Outcome::AdminChange,
            AuditLevel::All => true,
        }
    }
}

/// What the gateway decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A service request, forwarded to the origin.
    Forwarded,
    /// A service request (or any request outside the OAuth and admin endpoints) refused.
    Denied,
    /// An access token issued (`/oauth2/token`).
    TokenIssued,
    /// A request to `/oauth2/token`, `/oauth2/revoke` or `/oauth2/introspect` refused.
    TokenRefused,
    /// A revocation request answered 200 (RFC 7009 §2.2); `jti` names the token revoked.
    TokenRevoked,
    /// An introspection request answered (RFC 7662); `jti` names the token asked about.
    TokenIntrospected,
    /// Refused with 429 before anything was checked (guessing throttle, rate limit).
    Throttled,
    /// An admin API create or delete.
    AdminChange,
    /// An admin API read.
    AdminRead,
    /// An admin API request refused.
    AdminRefused,
}

impl Outcome {
    /// Every outcome, in the order the README lists them.
    pub const ALL: &'static [Outcome] = &[
        Outcome::Forwarded,
        Outcome::Denied,
        Outcome::TokenIssued,
        Outcome::TokenRefused,
        Outcome::TokenRevoked,
        Outcome::TokenIntrospected,
        Outcome::Throttled,
        Outcome::AdminChange,
        Outcome::AdminRead,
        Outcome::AdminRefused,
    ];

    /// The outcome's word in the log (the words in declaration order).
    pub fn as_str(self) -> &'static str {
        const WORDS: [&str; Outcome::ALL.len()] = [
            "forwarded",
            "denied",
            "token_issued",
            "token_refused",
            "token_revoked",
            "token_introspected",
            "throttled",
            "admin_change",
            "admin_read",
            "admin_refused",
        ];
        WORDS[self as usize]
    }

    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Outcome::Denied | Outcome::TokenRefused | Outcome::Throttled | Outcome::AdminRefused
        )
    }
}
