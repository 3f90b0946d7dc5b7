//! What one isolate remembers: the lockouts it has read, so that repeated attempts on them are
//! refused without a storage read.

use super::{Attempt, Lockout, Lockouts, ThrottleConfig};
use crate::capability::Now;
use std::cell::RefCell;

/// Lockouts an isolate remembers at most. A list, not a map: it is short (a lockout takes a
/// batch of failures to earn, and is forgotten when it ends), and a scan of it costs less
/// than hashing the key. When full it is emptied: forgetting costs a read, never a wrong answer.
const MAX_REMEMBERED_LOCKOUTS: usize = 256;

/// One isolate's throttle: the limits, and the lockouts this isolate has read, so that further
/// attempts on them cost no storage read. Only what storage said is remembered (a lockout a
/// failure starts is learned by the next attempt's read), never longer than it said.
#[derive(Debug, Default)]
pub struct AuthThrottle {
    config: ThrottleConfig,
    lockouts: RefCell<Vec<(String, i64)>>,
}

impl AuthThrottle {
    pub fn new(config: ThrottleConfig) -> AuthThrottle {
        AuthThrottle {
            config,
            lockouts: RefCell::default(),
        }
    }

    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// A lockout of the attempt's address or pair that this isolate already knows of.
    pub fn known_lockout(&self, attempt: &Attempt, now: Now) -> Option<Lockout> {
        let keys = [&attempt.pair, &attempt.address];
        let until = self
            .lockouts
            .borrow()
            .iter()
            .filter(|(key, _)| {
                keys.iter()
                    .any(|k| k.as_ref().is_some_and(|k| k.key == *key))
            })
            .map(|(_, until)| *until)
            .max()?;
        (until > now.unix_ms() as i64).then_some(Lockout { until })
    }

    /// Judges the lockouts read from storage. They are remembered: the address's under the
    /// address (it refuses every client id from there), the verdict under the pair.
    pub fn judge(&self, attempt: &Attempt, lockouts: Lockouts, now: Now) -> Option<Lockout> {
        let until = lockouts.address.max(lockouts.pair);
        let now = now.unix_ms() as i64;
        if until <= now {
            return None;
        }
        let mut remembered = self.lockouts.borrow_mut();
        remembered.retain(|(_, t)| *t > now);
        if remembered.len() + 2 > MAX_REMEMBERED_LOCKOUTS {
            remembered.clear();
        }
        for (key, until) in [(&attempt.address, lockouts.address), (&attempt.pair, until)] {
            if let Some(key) = key.as_ref().filter(|_| until > now) {
                remembered.push((key.key.clone(), until));
            }
        }
        Some(Lockout { until })
    }
}
