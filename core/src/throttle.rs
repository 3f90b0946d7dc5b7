//! Throttled guessing: failed client authentications are counted, and past a limit an
//! authentication attempt is refused with 429 (RFC 6585 §4) and `Retry-After` **before its
//! secret is looked at** (RFC 6749 §10.10: the server must keep attackers from guessing client
//! credentials). Successes are never counted and never reset a count.
//!
//! ## The rule
//!
//! Every failed authentication (a secret compared and found wrong, or a client id that does
//! not authenticate) counts against up to three keys:
//!
//! | key | counts | default limit per window |
//! |---|---|---|
//! | client id + address (`c\|<address>\|<client id>`) | that id's failures from that address | 10 |
//! | address (`a\|<address>`) | every failure from that address, any id, admin API included | 100 |
//! | client id (`i\|<client id>`) | that id's failures from any address | 100 |
//! | admin + address (`m\|<address>`) | the admin API's failures from that address | 10 |
//!
//! Each key counts failures in a window (default 60 s) that starts at its first failure. The
//! failure that reaches the limit locks the key for `window × 2^strikes` (capped, default 1 h)
//! and adds a strike; the next window starts when the lockout ends. Strikes are forgiven once
//! the key has been quiet (no failure) for the cap after its last lockout ended. So, with the
//! defaults, one address gets at most 10 guesses at one client id in the first minute, then 10
//! more after 1 minute, 2, 4, ... and from then on 10 per hour.
//!
//! An attempt is refused while its address key or its client id + address key is locked, and
//! while its client id key is locked **if this address has itself failed for that id** (its
//! client id + address key still holds a failure or an unforgiven strike). The per-id count
//! alone would let an attacker lock the real client out; this way a client presenting the
//! right secret from an address that never failed keeps working, while addresses that guessed
//! stop, and each fresh address an attacker brings gets one guess once the id is locked.
//!
//! Addresses are the client's IP address (`RequestHead::client_ip`); IPv6 addresses count by
//! their /64 (one host is routinely given a whole /64); an unknown or unparsable address is one
//! shared bucket, `unknown`.
//!
//! ## Where the counts live
//!
//! The counts are rows of `isogate_auth_failures` (the runtime's SQL database: D1, Spin
//! SQLite), read together with the credential in the token endpoint's one read and written in
//! one batch per failure, so that every isolate and instance of a deployment sees the same
//! counts. The transition ([`FailureCount::after_failure`]) is written twice, here and in the
//! SQL upsert (`store::sql::COUNT_AUTH_FAILURE`), so that concurrent failures are counted
//! atomically by the database; a test holds the two equal. On top of that, each isolate
//! remembers the lockouts it has seen ([`AuthThrottle`]), and refuses repeated attempts on
//! them without any storage read.

use crate::capability::Now;
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Default failures per window for one client id from one address (and for the admin API
/// from one address).
pub const DEFAULT_FAILURES_PER_CLIENT_ADDRESS: i64 = 10;
/// Default failures per window from one address, whatever the client id.
pub const DEFAULT_FAILURES_PER_ADDRESS: i64 = 100;
/// Default failures per window for one client id, whatever the address.
pub const DEFAULT_FAILURES_PER_CLIENT: i64 = 100;
/// Default window: one minute.
pub const DEFAULT_WINDOW_MS: i64 = 60_000;
/// Default cap on a lockout, and the quiet time after which strikes are forgiven: one hour.
pub const DEFAULT_MAX_LOCKOUT_MS: i64 = 3_600_000;
/// Strikes stop adding up here (the lockout is long capped by then; it keeps the shift finite).
pub const MAX_STRIKES: i64 = 20;
/// Client ids are keyed by at most this many bytes: no credential has a longer id, so
/// merging the counts of longer (made-up) ids only hurts whoever makes them up.
const MAX_KEYED_CLIENT_ID_BYTES: usize = 64;

/// The limits, from the `ISOGATE_AUTH_*` settings. A limit of 0 turns that count off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures per window for one client id from one address; also the admin API's per address.
    pub per_client_address: i64,
    /// Failures per window from one address.
    pub per_address: i64,
    /// Failures per window for one client id (applied to the addresses that failed for it).
    pub per_client: i64,
    pub window_ms: i64,
    /// The longest lockout, and the quiet time that forgives strikes. At least the window.
    pub max_lockout_ms: i64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            per_client_address: DEFAULT_FAILURES_PER_CLIENT_ADDRESS,
            per_address: DEFAULT_FAILURES_PER_ADDRESS,
            per_client: DEFAULT_FAILURES_PER_CLIENT,
            window_ms: DEFAULT_WINDOW_MS,
            max_lockout_ms: DEFAULT_MAX_LOCKOUT_MS,
        }
    }
}

/// One key's count, as stored (times in unix milliseconds). A key without a row is
/// `FailureCount::default()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureCount {
    /// When the current window began (after a lockout: when the lockout ends).
    pub window_start: i64,
    /// Failures in the current window.
    pub failures: i64,
    /// Lockouts not yet forgiven: the next one lasts `window × 2^strikes`.
    pub strikes: i64,
    /// Locked until then (0: never locked).
    pub locked_until: i64,
    /// After this the row says nothing (its window is over and its strikes forgiven): pruned.
    pub expires_at: i64,
}

impl FailureCount {
    /// The count after one more failure at `now` against `limit`. Mirrored by the SQL upsert
    /// `store::sql::COUNT_AUTH_FAILURE`; keep them equal.
    pub fn after_failure(self, now: i64, limit: i64, window: i64, cap: i64) -> FailureCount {
        let fresh = now >= self.window_start + window;
        let failures = if fresh { 1 } else { self.failures + 1 };
        // Quiet for the cap since the last lockout ended: its strikes are forgiven, and the
        // count is as if the key had never been locked (as a pruned row is).
        let forgiven = now >= self.locked_until + cap;
        let (strikes, locked_until) = if forgiven {
            (0, 0)
        } else {
            (self.strikes, self.locked_until)
        };
        if failures >= limit {
            let end = now + (window << strikes).min(cap);
            return FailureCount {
                window_start: end,
                failures: 0,
                strikes: (strikes + 1).min(MAX_STRIKES),
                locked_until: end,
                expires_at: end + cap,
            };
        }
        let window_start = if fresh { now } else { self.window_start };
        FailureCount {
            window_start,
            failures,
            strikes,
            locked_until,
            expires_at: (window_start + window).max(locked_until + cap),
        }
    }

    /// Whether the key still holds a failure or an unforgiven strike at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        now < self.expires_at
    }
}

/// The kinds of key, by what they count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    ClientAddress,
    Address,
    Client,
    AdminAddress,
}

/// A key as stored, with the limit it is counted against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureKey {
    pub kind: KeyKind,
    pub key: String,
    pub limit: i64,
}

/// The keys an authentication attempt is judged by and counted against. A key whose limit is
/// 0 is left out (the default: no key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attempt {
    /// Client id + address (or admin + address): what this isolate remembers lockouts under.
    pub pair: Option<FailureKey>,
    pub address: Option<FailureKey>,
    pub client: Option<FailureKey>,
}

/// The counts of an attempt's keys, as read (missing rows and left-out keys are zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub pair: FailureCount,
    pub address: FailureCount,
    pub client: FailureCount,
}

/// An attempt refused unseen: when to try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lockout {
    /// Unix ms.
    pub until: i64,
}

impl Lockout {
    /// `Retry-After` (RFC 9110 §10.2.3): whole seconds, rounded up, at least 1.
    pub fn retry_after_secs(&self, now: Now) -> u64 {
        let left = (self.until - now.unix_ms() as i64).max(1) as u64;
        left.div_ceil(1000)
    }
}

impl ThrottleConfig {
    fn key(&self, kind: KeyKind, key: String) -> Option<FailureKey> {
        let limit = match kind {
            KeyKind::ClientAddress | KeyKind::AdminAddress => self.per_client_address,
            KeyKind::Address => self.per_address,
            KeyKind::Client => self.per_client,
        };
        (limit > 0).then_some(FailureKey { kind, key, limit })
    }

    /// The keys of a client authentication by `client_id` from `client_ip`.
    pub fn client_attempt(&self, client_id: &str, client_ip: Option<&str>) -> Attempt {
        let address = address_key(client_ip);
        let id = keyed_client_id(client_id);
        Attempt {
            pair: self.key(KeyKind::ClientAddress, join(&["c|", &address, "|", id])),
            address: self.key(KeyKind::Address, join(&["a|", &address])),
            client: self.key(KeyKind::Client, join(&["i|", id])),
        }
    }

    /// The keys of an admin API authentication from `client_ip`.
    pub fn admin_attempt(&self, client_ip: Option<&str>) -> Attempt {
        let address = address_key(client_ip);
        Attempt {
            pair: self.key(KeyKind::AdminAddress, join(&["m|", &address])),
            address: self.key(KeyKind::Address, join(&["a|", &address])),
            client: None,
        }
    }
}

/// The lockouts that apply to an attempt, as the one read returns them (unix ms, 0: none):
/// the address's, and the pair's or, where this address has failed for the client id, the
/// client id's, whichever ends last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lockouts {
    pub address: i64,
    pub pair: i64,
}

impl Counts {
    /// The lockouts these counts impose at `now` (the module's rule): what the read statement
    /// (`store::sql::CREDENTIAL_STATUS_AND_LOCKOUTS`) computes in SQL; keep them equal.
    pub fn lockouts(&self, now: Now) -> Lockouts {
        let now = now.unix_ms() as i64;
        let client = if self.pair.is_live(now) {
            self.client.locked_until
        } else {
            0
        };
        Lockouts {
            address: self.address.locked_until,
            pair: self.pair.locked_until.max(client),
        }
    }
}

/// The address part of a key: the IPv4 address, the /64 of an IPv6 address (an IPv4-mapped
/// one is its IPv4 address), or `unknown`.
pub fn address_key(client_ip: Option<&str>) -> Cow<'_, str> {
    let ip = client_ip.map_or("", str::trim);
    // std reads dotted decimal only in its one canonical form (no leading zeros), so an IPv4
    // address is its own key; so is the dotted part of an IPv4-mapped one, as runtimes
    // write it (`::ffff:198.51.100.1`).
    let v4 = ip.strip_prefix("::ffff:").unwrap_or(ip);
    if v4.parse::<Ipv4Addr>().is_ok() {
        return Cow::Borrowed(v4);
    }
    let Ok(v6) = ip.parse::<Ipv6Addr>() else {
        return Cow::Borrowed("unknown");
    };
    // The first four groups, in four lower-case hex digits each.
    let mut key = *b"0000:0000:0000:0000::/64";
    for (i, group) in v6.segments()[..4].iter().enumerate() {
        for j in 0..4 {
            key[5 * i + j] = b"0123456789abcdef"[usize::from((group >> (12 - 4 * j)) & 0xf)];
        }
    }
    Cow::Owned(std::str::from_utf8(&key).unwrap_or("unknown").to_owned())
}

fn join(parts: &[&str]) -> String {
    let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        key.push_str(part);
    }
    key
}

fn keyed_client_id(client_id: &str) -> &str {
    let mut end = client_id.len().min(MAX_KEYED_CLIENT_ID_BYTES);
    while !client_id.is_char_boundary(end) {
        end -= 1;
    }
    &client_id[..end]
}

mod isolate;

pub use isolate::AuthThrottle;

#[cfg(test)]
mod sql_tests;
#[cfg(test)]
mod tests;
