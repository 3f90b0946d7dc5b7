//! The gateway's side of long-lived connections: each check of an open WebSocket goes
//! through the isolate's caches like a request ([`crate::service::session`]).

use super::Gateway;
use crate::capability::{Capabilities, Ed25519, Now, SqlDb};
use crate::service::session::{check_session, ConnectionCheck, Session};

impl Gateway {
    /// Whether the connection admitted as `session` stays open at `now`, and until when
    /// (a check every cache lifetime, at least 1 s apart, and one at the token's expiry).
    pub async fn check_connection<D: SqlDb, E: Ed25519>(
        &self,
        caps: Capabilities<'_, D, E>,
        session: &Session,
        now: Now,
    ) -> ConnectionCheck {
        check_session(
            &self.caches,
            caps.db,
            session,
            self.config.cache_ttl_ms,
            now,
        )
        .await
    }
}
