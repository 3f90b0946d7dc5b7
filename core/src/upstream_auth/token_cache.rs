//! The isolate's cache of origins' tokens (`oauth2-client-credentials`): see
//! [`super::origin_token`] for when a token is fetched, refreshed and shared.

use super::origin_token::{read_token_reply, ClientCredentials, OriginToken};
use super::CredentialFailure;
use crate::cache::{Flight, Landed};
use crate::capability::{Now, OriginSecrets};
use crate::error::StoreError;
use std::cell::RefCell;
use std::rc::Rc;

/// The most client registrations whose tokens an isolate keeps (one per distinct
/// `oauth2-client-credentials` spec; past it the least recently fetched goes).
const MAX_REGISTRATIONS: usize = 64;

/// The isolate's tokens of origins, by client registration (the credentials' canonical text:
/// services sharing one share its token). A short list scanned in place: an isolate holds a
/// handful of registrations, and a map type of its own would cost the worker more code than
/// the scans cost time.
pub struct OriginTokens {
    slots: RefCell<Vec<Slot>>,
    /// Whether a request may await another's fetch (see
    /// [`crate::config::GatewayConfig::shared_loads`]).
    shared_loads: bool,
}

struct Slot {
    key: String,
    token: Option<Rc<OriginToken>>,
    /// A request is refreshing the (still valid) token: the others send it meanwhile.
    refreshing: bool,
    /// A first fetch in progress (no valid token), which other requests may await: the
    /// cache's single-flight ([`crate::cache`]'s `Flight`).
    flight: Option<Rc<Flight>>,
}

impl OriginTokens {
    pub fn new(shared_loads: bool) -> OriginTokens {
        OriginTokens {
            slots: RefCell::new(Vec::new()),
            shared_loads,
        }
    }

    fn with_slot<R>(&self, key: &str, f: impl FnOnce(&mut Slot) -> R) -> R {
        let mut slots = self.slots.borrow_mut();
        let i = match slots.iter().position(|s| s.key == key) {
            Some(i) => i,
            None => {
                if slots.len() >= MAX_REGISTRATIONS {
                    slots.remove(0);
                }
                slots.push(Slot {
                    key: key.to_owned(),
                    token: None,
                    refreshing: false,
                    flight: None,
                });
                slots.len() - 1
            }
        };
        f(&mut slots[i])
    }

    fn store(&self, key: &str, token: Rc<OriginToken>) {
        self.with_slot(key, |s| s.token = Some(token));
    }

    /// The `Authorization` value for `creds` at `now`: the cached token, or one fetched with
    /// the client secret from `secrets` (see the module documentation for when).
    pub async fn header(
        &self,
        creds: &ClientCredentials,
        secrets: &dyn OriginSecrets,
        now: Now,
    ) -> Result<String, CredentialFailure> {
        let key = creds.to_string();
        let now_ms = now.unix_ms();
        let fetch = || async {
            let secret = super::secret_value(secrets, &creds.secret)?;
            let reply = secrets
                .fetch_token(creds.token_request(&secret))
                .await
                .map_err(CredentialFailure::TokenEndpoint)?;
            read_token_reply(&reply, now)
                .map(Rc::new)
                .map_err(CredentialFailure::TokenEndpoint)
        };
        loop {
            // What to do, decided in one borrow: send the current token, refresh it, await
            // another request's first fetch, or make the first fetch.
            enum Next {
                Send(String),
                Refresh(Rc<OriginToken>),
                Await(Rc<Flight>),
                Fetch(Rc<Flight>),
            }
            let next = self.with_slot(&key, |s| match &s.token {
                Some(t) if now_ms < t.expires_at_ms => {
                    if now_ms < t.refresh_at_ms || s.refreshing {
                        Next::Send(t.header.clone())
                    } else {
                        s.refreshing = true;
                        Next::Refresh(t.clone())
                    }
                }
                _ => match (&s.flight, self.shared_loads) {
                    (Some(f), true) => Next::Await(f.clone()),
                    _ => {
                        let flight = Rc::new(Flight::default());
                        s.flight = Some(flight.clone());
                        Next::Fetch(flight)
                    }
                },
            });
            match next {
                Next::Send(header) => return Ok(header),
                Next::Refresh(current) => {
                    let _refreshing = Refreshing {
                        tokens: self,
                        key: &key,
                    };
                    return Ok(match fetch().await {
                        Ok(fresh) => {
                            let header = fresh.header.clone();
                            self.store(&key, fresh);
                            header
                        }
                        // The current token is still valid: send it; the next request retries.
                        Err(_) => current.header.clone(),
                    });
                }
                Next::Await(flight) => match flight.wait().await {
                    // The failure's words come through the flight as a storage error's do.
                    Landed::Failed(StoreError(words)) => return Err(decode_failure(words)),
                    Landed::Cached | Landed::Abandoned => continue,
                },
                Next::Fetch(flight) => {
                    let loading = Loading {
                        tokens: self,
                        key: &key,
                        flight: Some(flight),
                    };
                    let result = fetch().await;
                    let header = match &result {
                        Ok(token) => Ok(token.header.clone()),
                        Err(e) => Err(e.clone()),
                    };
                    loading.land(result);
                    return header;
                }
            }
        }
    }
}

/// A refresh in progress; dropped (done, or its request cancelled), it lets the next one start.
struct Refreshing<'a> {
    tokens: &'a OriginTokens,
    key: &'a str,
}

impl Drop for Refreshing<'_> {
    fn drop(&mut self) {
        self.tokens.with_slot(self.key, |s| s.refreshing = false);
    }
}

/// A first fetch in progress; dropped unfinished (its request cancelled), it abandons the
/// flight so that its waiters fetch for themselves, never hang.
struct Loading<'a> {
    tokens: &'a OriginTokens,
    key: &'a str,
    flight: Option<Rc<Flight>>,
}

impl Loading<'_> {
    fn land(mut self, result: Result<Rc<OriginToken>, CredentialFailure>) {
        let landed = match result {
            Ok(token) => {
                self.tokens.store(self.key, token);
                Landed::Cached
            }
            Err(e) => Landed::Failed(StoreError(encode_failure(&e))),
        };
        self.finish(landed);
    }

    fn finish(&mut self, landed: Landed) {
        if let Some(flight) = self.flight.take() {
            self.tokens.with_slot(self.key, |s| {
                if s.flight.as_ref().is_some_and(|f| Rc::ptr_eq(f, &flight)) {
                    s.flight = None;
                }
            });
            flight.land(landed);
        }
    }
}

impl Drop for Loading<'_> {
    fn drop(&mut self) {
        self.finish(Landed::Abandoned);
    }
}

/// A failure through the flight (which carries text) and back, its kind kept.
fn encode_failure(e: &CredentialFailure) -> String {
    match e {
        CredentialFailure::MissingSecret(n) => format!("m{n}"),
        CredentialFailure::UnusableSecret(n) => format!("u{n}"),
        CredentialFailure::TokenEndpoint(w) => format!("t{w}"),
    }
}

fn decode_failure(mut words: String) -> CredentialFailure {
    let kind = if words.is_empty() {
        't'
    } else {
        words.remove(0)
    };
    match kind {
        'm' => CredentialFailure::MissingSecret(words),
        'u' => CredentialFailure::UnusableSecret(words),
        _ => CredentialFailure::TokenEndpoint(words),
    }
}
