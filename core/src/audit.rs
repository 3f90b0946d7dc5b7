//! The audit log: one JSON line per decision, formatted here and written by the runtime the
//! platform's way (Workers: `console.log`, which Workers Logs, Logpush and `wrangler tail`
//! carry; Spin: stdout). The runtime prints what the core formats and decides nothing.
//!
//! ```text
//! Gateway::start ─► AuditContext (request id, level, start time)
//!   Respond  { audit: AuditRecord }   runtime: record.finish(now)  ─► line
//!   Forward  { record: ForwardRecord } runtime: record.relay(outcome, now) ─► (Relay, line)
//! ```
//!
//! A line says who (user, credential, client id, token `jti`; for the admin API the admin
//! credential's id), what (host, service, method, path without its query), the outcome and
//! its reason in a fixed vocabulary ([`Outcome`], [`Reason`]), the status the client got, the
//! origin's status and the duration. Never a secret, a token, a query string, a cookie, a
//! body or a header value: nothing of the kind is ever handed to the formatter (nor a client id
//! no credential has: it may be a secret in the wrong field). Values a client chose (host,
//! path, method) are escaped and bounded (module `json`).
//!
//! Every request gets a request id ([`REQUEST_ID_HEADER`]): the client's own `X-Request-Id`
//! when it is one header of 1 to 64 characters from `A-Z a-z 0-9 - _ . :`, otherwise 16
//! random bytes, base64url. The origin receives it, the client gets it back, the line has it.
//!
//! Discovery, JWKS and `/healthz` are no decisions and get no line.

mod forward;
mod json;
mod outcome;
mod reason;

pub use forward::ForwardRecord;
pub use outcome::{AuditLevel, Outcome};
pub use reason::Reason;

use crate::capability::{Now, RandomSource};
use crate::http::RequestHead;
use crate::model::Credential;
use crate::service::Seen;
use json::{number, text, Line};
use sha2::{Digest, Sha256};
use std::fmt;

/// The request id's header, to the origin and back to the client.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The longest client `X-Request-Id` kept.
pub const MAX_CLIENT_REQUEST_ID: usize = 64;
const REQUEST_ID_BYTES: usize = 16;

// Bounds of the fields a client can choose, in bytes of the original value.
const MAX_HOST: usize = 255;
const MAX_PATH: usize = 512;
const MAX_METHOD: usize = 32;
/// Names, client ids and `jti`s (the gateway's own are at most 64).
const MAX_NAME: usize = 64;

/// Who a line is about, borrowed from what the flow learned.
#[derive(Clone, Copy, Debug, Default)]
pub struct Who<'a> {
    pub user: Option<&'a str>,
    pub credential: Option<&'a str>,
    pub client_id: Option<&'a str>,
    /// The token the decision was about: presented, issued, revoked or introspected.
    pub jti: Option<&'a str>,
}

impl<'a> From<&'a Seen> for Who<'a> {
    fn from(seen: &'a Seen) -> Who<'a> {
        let claims = seen.token.as_ref().map(|t| &t.claims);
        Who {
            user: claims.map(|c| c.sub.as_str()),
            credential: seen.credential.as_ref().map(|s| s.credential.name.as_str()),
            client_id: claims.map(|c| c.client_id.as_str()),
            jti: claims.map(|c| c.jti.as_str()),
        }
    }
}

/// Who made a root-domain request, filled in by the endpoint as it learns it (in the manner
/// of Pingora's per-request context), so that a refusal says as much as was known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    pub user: Option<String>,
    pub credential: Option<String>,
    /// As presented until the client authenticates, then the credential's.
    pub client_id: Option<String>,
    pub jti: Option<String>,
}

impl Caller {
    /// The client authenticated as `credential`.
    pub fn authenticated(&mut self, credential: &Credential) {
        self.user = Some(credential.user.clone());
        self.credential = Some(credential.name.clone());
        self.client_id = Some(credential.client_id.clone());
    }

    pub fn who(&self) -> Who<'_> {
        Who {
            user: self.user.as_deref(),
            credential: self.credential.as_deref(),
            client_id: self.client_id.as_deref(),
            jti: self.jti.as_deref(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminAction {
    Create,
    Delete,
    /// A credential rotated (`isogate rotate cred`).
    Rotate,
    /// A change to an existing object: a credential's state, expiry or scope (`isogate update
    /// cred`), a group's members (`isogate update group`).
    Update,
}

/// What an admin request changed: `kind` is `user`, `service` or `credential`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminChange {
    pub action: AdminAction,
    pub kind: &'static str,
    pub name: String,
}

/// The admin credential's id in the log: the first 8 hex digits of the SHA-256 of the admin
/// token. It tells one admin token from another (after a rotation) and cannot be turned
/// back into the token.
pub fn admin_credential_id(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// What an admin line adds: by which admin credential, and what changed.
#[derive(Clone, Copy, Debug)]
pub struct AdminEntry<'a> {
    pub admin: &'a str,
    pub change: Option<&'a AdminChange>,
}

/// Everything an answered request's line says.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub head: &'a RequestHead,
    pub service: Option<&'a str>,
    pub who: Who<'a>,
    pub admin: Option<AdminEntry<'a>>,
    pub outcome: Outcome,
    pub reason: Option<Reason>,
    /// The status the client got.
    pub status: u16,
}

/// A request's audit context from its start: its id, when it started, the level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditContext {
    level: AuditLevel,
    request_id: String,
    started: Now,
}

impl AuditContext {
    pub fn new(
        level: AuditLevel,
        head: &RequestHead,
        random: &dyn RandomSource,
        now: Now,
    ) -> AuditContext {
        AuditContext {
            level,
            request_id: request_id(head, random),
            started: now,
        }
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The record of an answered request: its line, formatted now if the level keeps it.
    pub fn record(&self, entry: &Entry<'_>) -> AuditRecord {
        let line = self.level.logs(entry.outcome).then(|| {
            let mut line = Line::new();
            let head = entry.head;
            write_request(
                &mut line,
                self.started,
                &self.request_id,
                (&head.host, entry.service, head.method.as_str(), &head.path),
                entry.who,
                entry.admin,
            );
            write_decision(&mut line, entry.outcome, entry.reason, entry.status);
            line.unfinished()
        });
        AuditRecord {
            line,
            started: self.started,
        }
    }
}

/// The client's acceptable `X-Request-Id`, or a new random one.
fn request_id(head: &RequestHead, random: &dyn RandomSource) -> String {
    // One header, or none kept (a plain loop: this runs on every request).
    let mut sent = head.headers.iter().filter(|(name, _)| {
        name.len() == REQUEST_ID_HEADER.len() && name.eq_ignore_ascii_case(REQUEST_ID_HEADER)
    });
    if let (Some((_, id)), None) = (sent.next(), sent.next()) {
        let safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
        if (1..=MAX_CLIENT_REQUEST_ID).contains(&id.len()) && id.bytes().all(safe) {
            return id.to_owned();
        }
    }
    let mut bytes = [0u8; REQUEST_ID_BYTES];
    random.fill(&mut bytes);
    base64url(&bytes)
}

/// Unpadded base64url (RFC 4648 §5) of the id's bytes, by hand: the general engine costs more
/// than the rest of making a request id.
fn base64url(bytes: &[u8; REQUEST_ID_BYTES]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = [0u8; 22];
    let sextet = |n: u32, shift: u32| ALPHABET[(n >> shift) as usize & 63];
    for i in 0..5 {
        let n = u32::from(bytes[3 * i]) << 16
            | u32::from(bytes[3 * i + 1]) << 8
            | u32::from(bytes[3 * i + 2]);
        out[4 * i..4 * i + 4].copy_from_slice(&[
            sextet(n, 18),
            sextet(n, 12),
            sextet(n, 6),
            sextet(n, 0),
        ]);
    }
    let last = u32::from(bytes[15]) << 16;
    out[20] = sextet(last, 18);
    out[21] = sextet(last, 12);
    std::str::from_utf8(&out).unwrap_or_default().to_owned()
}

/// The part of a line about the request: time, id, where, who.
fn write_request(
    line: &mut Line,
    started: Now,
    request_id: &str,
    (host, service, method, path): (&str, Option<&str>, &str, &str),
    who: Who<'_>,
    admin: Option<AdminEntry<'_>>,
) {
    line.time(text!("time"), started);
    line.str(text!("request_id"), request_id, MAX_NAME);
    line.str(text!("host"), host, MAX_HOST);
    line.opt(text!("service"), service, MAX_NAME);
    line.str(text!("method"), method, MAX_METHOD);
    line.str(text!("path"), path, MAX_PATH);
    line.opt(text!("user"), who.user, MAX_NAME);
    line.opt(text!("credential"), who.credential, MAX_NAME);
    line.opt(text!("client_id"), who.client_id, MAX_NAME);
    line.opt(text!("jti"), who.jti, MAX_NAME);
    if let Some(admin) = admin {
        line.str(text!("admin"), admin.admin, MAX_NAME);
        if let Some(change) = admin.change {
            let action = match change.action {
                AdminAction::Create => "create",
                AdminAction::Delete => "delete",
                AdminAction::Rotate => "rotate",
                AdminAction::Update => "update",
            };
            line.word(text!("action"), action);
            line.word(text!("object"), change.kind);
            line.str(text!("name"), &change.name, MAX_NAME);
        }
    }
}

fn write_decision(line: &mut Line, outcome: Outcome, reason: Option<Reason>, status: u16) {
    line.word(text!("outcome"), outcome.as_str());
    if let Some(reason) = reason {
        line.word(text!("reason"), reason.as_str());
    }
    line.num(number!("status"), u64::from(status));
}

fn write_duration(mut line: Line, started: Now, now: Now) -> AuditLine {
    line.num(
        number!("duration_ms"),
        now.unix_ms().saturating_sub(started.unix_ms()),
    );
    AuditLine(line.end())
}

/// An answered request's line, complete but for its duration (or nothing to log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    line: Option<String>,
    started: Now,
}

impl AuditRecord {
    /// No line (a request that is no decision, or a gateway without settings).
    pub const fn none() -> AuditRecord {
        AuditRecord {
            line: None,
            started: Now::from_unix_ms(0),
        }
    }

    /// The line, with the duration up to `now` (the runtime's clock as it sends the answer).
    pub fn finish(self, now: Now) -> Option<AuditLine> {
        let line = self.line?;
        Some(write_duration(Line::resume(line), self.started, now))
    }
}

/// One audit line: a JSON object without a newline, for the runtime to print as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditLine(String);

impl AuditLine {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuditLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
