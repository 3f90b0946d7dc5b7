//! Per-credential request rate limits on services (`isogate create service ... --rate-limit
//! 100/s`): the policy, the count, the decision and the `429` it becomes. Pure data fed the
//! time (Unix ms, like [`crate::cache`]), and a leaf module: the records and the store use it.
//! Where the counts live is the caller's choice ([`crate::capability::InstanceMemory`]): in the
//! isolate's memory ([`crate::cache::IsolateCounts`]) where instances serve many requests
//! (Workers), in the database (`Store::count_request`, one UPSERT) where each request gets a
//! fresh instance (Spin).
//!
//! **The count: fixed windows per credential.** A limit `N/s` (or `/m`, `/h`) admits at most
//! `N` requests of one credential to one service in each window of one second (minute, hour).
//! A credential's windows follow each other back to back, at a phase taken from its client id
//! ([`RateLimit::window_end`]), so that credentials limited at the same moment do not all come
//! back at the same instant (draft-ietf-httpapi-ratelimit-headers-11 §8.5). A burst that
//! straddles two windows can get up to `2N` in less than a window; no window admits more than
//! `N`. A count ([`Count`]) is a window's end and a number per (service, credential), kept by
//! the same arithmetic in memory ([`RateLimit::count`]) and in SQL
//! (`store::sql::COUNT_REQUEST`; a test pins them equal).
//!
//! **What counts.** Only requests that passed authentication, the scope and the service's
//! policy: a refused token or user costs the credential nothing (an attacker without the
//! credential cannot use up its quota). Refused (`429`) requests count too, which changes
//! nothing within a window.
//!
//! **The answer past the limit** ([`Limited`]): `429 Too Many Requests` (RFC 6585 §4) with
//! `Retry-After` (RFC 9110 §10.2.3, delay-seconds) and the fields of
//! draft-ietf-httpapi-ratelimit-headers-11 (May 2026), as Structured Fields (RFC 8941):
//! `RateLimit-Policy: "default";q=5;w=1` (§3: quota `q` per window `w` seconds) and
//! `RateLimit: "default";r=0;t=1` (§4: `r` requests left, `t` seconds until the window ends,
//! the same instant as `Retry-After`, which §6 asks for). Successful responses carry neither:
//! the origin's own `RateLimit` fields pass through untouched (§7.2: an intermediary should
//! not alter them), and a client learns the policy on its first `429`.

use std::fmt;

/// Largest `N` of a limit: far above what one credential should send, and small enough that
/// counts never approach an overflow.
pub const MAX_REQUESTS: u32 = 1_000_000;

/// The length of a rate-limit window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Second,
    Minute,
    Hour,
}

impl Window {
    pub const fn secs(self) -> u64 {
        match self {
            Window::Second => 1,
            Window::Minute => 60,
            Window::Hour => 3600,
        }
    }

    pub const fn ms(self) -> u64 {
        self.secs() * 1000
    }

    /// `s`, `m` or `h`: the canonical spelling.
    pub const fn unit(self) -> &'static str {
        match self {
            Window::Second => "s",
            Window::Minute => "m",
            Window::Hour => "h",
        }
    }
}

/// A service's limit: at most `requests` per `window` for each credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    requests: u32,
    window: Window,
}

/// A rate limit that is not `N/s`, `N/m` or `N/h` with `N` from 1 to [`MAX_REQUESTS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidRateLimit;

impl fmt::Display for InvalidRateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bound spelled out, as MAX_REQUESTS (a test checks they agree).
        f.write_str(
            "a rate limit is N/s, N/m or N/h (requests per second, minute or hour per \
             credential), N from 1 to 1000000",
        )
    }
}

impl std::error::Error for InvalidRateLimit {}

impl RateLimit {
    pub fn new(requests: u32, window: Window) -> Result<RateLimit, InvalidRateLimit> {
        if (1..=MAX_REQUESTS).contains(&requests) {
            Ok(RateLimit { requests, window })
        } else {
            Err(InvalidRateLimit)
        }
    }

    /// `100/s`, `100/m` or `100/h`: decimal digits without a sign, a space or a leading zero,
    /// so that each limit has one spelling (what is stored and shown).
    pub fn parse(s: &str) -> Result<RateLimit, InvalidRateLimit> {
        let (n, unit) = s.split_once('/').ok_or(InvalidRateLimit)?;
        let window = match unit {
            "s" => Window::Second,
            "m" => Window::Minute,
            "h" => Window::Hour,
            _ => return Err(InvalidRateLimit),
        };
        let mut requests: u32 = 0;
        for (i, b) in n.bytes().enumerate() {
            // Seven digits at most: anything longer is over MAX_REQUESTS, and cannot overflow.
            if !b.is_ascii_digit() || i >= 7 || (i == 0 && b == b'0') {
                return Err(InvalidRateLimit);
            }
            requests = requests * 10 + u32::from(b - b'0');
        }
        RateLimit::new(requests, window)
    }

    pub fn requests(self) -> u32 {
        self.requests
    }

    pub fn window(self) -> Window {
        self.window
    }

    /// The end (exclusive, Unix ms) of the credential's window that holds `now_ms`. Windows are
    /// `[end - w, end)`, back to back, offset from the epoch's by a phase from the client id
    /// (FNV-1a: cheap, stable across runtimes and releases; not a secret).
    pub fn window_end(self, client_id: &str, now_ms: u64) -> u64 {
        let w = self.window.ms();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in client_id.bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let phase = hash % w;
        let shifted = now_ms + phase;
        shifted - shifted % w + w - phase
    }

    /// The count after one more request at `now_ms`, given the stored one: one more in the
    /// stored window while `now_ms` is before its end, else the first of the window that holds
    /// `now_ms`. A window is never reopened: a clock that went back (or another instance's that
    /// lags) counts into the newest window stored. The database's UPSERT computes exactly this.
    pub fn count(self, stored: Option<Count>, client_id: &str, now_ms: u64) -> Count {
        let window_ms = self.window.ms();
        match stored {
            Some(c) if c.window_ms == window_ms && now_ms < c.window_end_ms => Count {
                hits: c.hits.saturating_add(1),
                ..c
            },
            _ => Count {
                window_ms,
                window_end_ms: self.window_end(client_id, now_ms),
                hits: 1,
            },
        }
    }

    /// Admitted while the window's count is within the limit.
    pub fn decide(self, count: Count, now_ms: u64) -> Result<(), Limited> {
        if count.hits <= u64::from(self.requests) {
            return Ok(());
        }
        // Whole seconds, rounded up (RFC 9110 §10.2.3 delay-seconds): retrying then finds a
        // new window. Never 0, which would invite an immediate retry.
        let wait_ms = count.window_end_ms.saturating_sub(now_ms);
        Err(Limited {
            limit: self,
            retry_after_secs: wait_ms.div_ceil(1000).max(1),
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.requests, self.window.unit())
    }
}

/// A credential's requests in its current window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    /// The window's length when it was counted (a changed limit starts a new count).
    pub window_ms: u64,
    /// End of the window, exclusive, Unix ms.
    pub window_end_ms: u64,
    /// Requests counted in it, this one included.
    pub hits: u64,
}

/// A request refused for its credential's rate: answered 429.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    pub limit: RateLimit,
    /// Seconds until the credential's window ends (`Retry-After`, and the `t` of `RateLimit`).
    pub retry_after_secs: u64,
}

impl Limited {
    /// `Retry-After`, `RateLimit-Policy` and `RateLimit`, in that order (names lower-case). The
    /// policy is named `"default"` (draft §3.1: a String item), the draft's own example name:
    /// the gateway has one policy per service.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        let secs = self.retry_after_secs;
        let (q, w) = (self.limit.requests, self.limit.window.secs());
        [
            ("retry-after", secs.to_string()),
            ("ratelimit-policy", format!("\"default\";q={q};w={w}")),
            ("ratelimit", format!("\"default\";r=0;t={secs}")),
        ]
    }
}

#[cfg(test)]
mod tests;
