//! The record of a forwarded request, completed when the origin has answered: the status the
//! client got, the origin's, the reason when the core replaced the answer, the duration.
//!
//! Until then it keeps what the line will say by moving it (host, path, service name) or
//! sharing it (the verified token and credential), not by copying or formatting it: with `ISOGATE_AUDIT=off` or `denials` the hot
//! path formats nothing. A runtime that must hand the forward to foreign code and be called
//! back (Workers: `glue.js` fetches, then calls the relay) carries it as one string
//! ([`ForwardRecord::carry`]), formatted up to the outcome when the level keeps forwards.

use super::json::{number, Line};
use super::{write_decision, write_duration, write_request, AuditLevel, AuditRecord, Who};
use super::{AuditContext, AuditLine, Outcome, Reason, REQUEST_ID_HEADER};
use crate::capability::Now;
use crate::forward::websocket::relay_upgrade;
use crate::forward::{relay, Relay, UpstreamOutcome};
use crate::http::{Method, RequestHead, Response};
use crate::service::Seen;
use std::fmt;

/// A forwarded request's record (its `Debug` shows the request id only).
#[derive(Clone)]
pub struct ForwardRecord {
    request_id: String,
    started: Now,
    method: Method,
    /// A WebSocket handshake's offered protocols (the relay checks the origin's choice).
    websocket: Option<Box<[String]>>,
    pending: Pending,
}

#[derive(Clone)]
enum Pending {
    /// What the line will say, moved here from the request and the decision.
    Fields {
        level: AuditLevel,
        host: String,
        path: String,
        service: String,
        seen: Seen,
    },
    /// Formatted up to the outcome ([`ForwardRecord::carry`]), or nothing to log.
    Formatted(Option<String>),
}

impl AuditContext {
    /// The record of a request forwarded to `service` for `principal`.
    pub fn forward(self, head: RequestHead, service: String, seen: Seen) -> ForwardRecord {
        let RequestHead {
            method, host, path, ..
        } = head;
        ForwardRecord {
            request_id: self.request_id,
            started: self.started,
            method,
            websocket: None,
            pending: Pending::Fields {
                level: self.level,
                host,
                path,
                service,
                seen,
            },
        }
    }
}

impl ForwardRecord {
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The record of a WebSocket handshake offering these protocols, when `Some`.
    pub fn websocket(mut self, offered: Option<Box<[String]>>) -> ForwardRecord {
        self.websocket = offered;
        self
    }

    /// The forwarded request's method (what [`relay`] needs to know).
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// What the client gets for the outcome of the fetch ([`relay`]), with the request id in
    /// place of any the origin sent, and the finished line. `now` is the runtime's clock as
    /// the answer's head goes out: a body streamed after it is not in the duration.
    pub fn relay(self, outcome: UpstreamOutcome<'_>, now: Now) -> (Relay, Option<AuditLine>) {
        let origin_status = match outcome {
            UpstreamOutcome::Responded { status, .. } => Some(status),
            _ => None,
        };
        let mut decision = match &self.websocket {
            Some(offered) => relay_upgrade(outcome, offered),
            None => relay(outcome, &self.method),
        };
        let (status, reason) = match &decision {
            Relay::Pass { status, .. } => (*status, None),
            Relay::Upgrade { .. } => (101, None),
            Relay::Replace {
                response,
                diagnostic,
            } => (response.status, Some(Reason::from(diagnostic))),
        };
        let started = self.started;
        let (request_id, line) = self.into_line(Outcome::Forwarded, reason, status, origin_status);
        let line = line.map(|line| write_duration(line, started, now));
        match &mut decision {
            Relay::Pass { headers, .. } | Relay::Upgrade { headers } => {
                headers.retain(|(name, _)| !name.eq_ignore_ascii_case(REQUEST_ID_HEADER));
                headers.push((REQUEST_ID_HEADER.to_owned(), request_id));
            }
            Relay::Replace { response, .. } => {
                response
                    .headers
                    .push((REQUEST_ID_HEADER.to_owned(), request_id));
            }
        }
        (decision, line)
    }

    /// The answer instead of the forward (the runtime cannot send the plan), and its record.
    pub fn refuse(self, response: Response, reason: Reason) -> (Response, AuditRecord) {
        let started = self.started;
        let (request_id, line) =
            self.into_line(Outcome::Denied, Some(reason), response.status, None);
        let record = AuditRecord {
            line: line.map(Line::unfinished),
            started,
        };
        (response.with_header(REQUEST_ID_HEADER, request_id), record)
    }

    /// The record as one string, for a runtime that carries it through foreign code and
    /// hands it back to [`ForwardRecord::uncarry`]. Formats the line up to the outcome if the
    /// level keeps forwards (after a forward, no outcome is a refusal).
    pub fn carry(self) -> String {
        let mut carried = self.started.unix_ms().to_string();
        let method = self.method.clone();
        // `-`, or `+` and the offered protocols (tokens: no `,` in one).
        let mut websocket = String::from("-");
        if let Some(offered) = &self.websocket {
            websocket = String::from("+");
            for (i, protocol) in offered.iter().enumerate() {
                if i > 0 {
                    websocket.push(',');
                }
                websocket.push_str(protocol);
            }
        }
        let (request_id, line) = self.into_start(Outcome::Forwarded);
        // NUL separates: a method, a request id, protocols and an escaped line never hold one.
        for part in [request_id.as_str(), method.as_str(), &websocket] {
            carried.push('\0');
            carried.push_str(part);
        }
        carried.push('\0');
        if let Some(line) = line {
            carried.push_str(&line.unfinished());
        }
        carried
    }

    /// The record [`ForwardRecord::carry`] made this string of.
    pub fn uncarry(carried: &str) -> ForwardRecord {
        let mut parts = carried.splitn(5, '\0');
        let started = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let request_id = parts.next().unwrap_or_default().to_owned();
        let method = Method::parse(parts.next().unwrap_or_default());
        let websocket = parts
            .next()
            .and_then(|w| w.strip_prefix('+'))
            .map(|offered| {
                offered
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            });
        let line = parts.next().filter(|l| !l.is_empty()).map(str::to_owned);
        ForwardRecord {
            request_id,
            started: Now::from_unix_ms(started),
            method,
            websocket,
            pending: Pending::Formatted(line),
        }
    }

    /// The request id, and the line up to the outcome if the level keeps `outcome`.
    fn into_start(self, outcome: Outcome) -> (String, Option<Line>) {
        let line = match self.pending {
            Pending::Fields {
                level,
                host,
                path,
                service,
                seen,
            } => level.logs(outcome).then(|| {
                let mut line = Line::new();
                let target = (
                    host.as_str(),
                    Some(service.as_str()),
                    self.method.as_str(),
                    path.as_str(),
                );
                let who = Who::from(&seen);
                write_request(&mut line, self.started, &self.request_id, target, who, None);
                line
            }),
            Pending::Formatted(line) => line.map(Line::resume),
        };
        (self.request_id, line)
    }

    /// The request id, and the line up to its duration.
    fn into_line(
        self,
        outcome: Outcome,
        reason: Option<Reason>,
        status: u16,
        origin_status: Option<u16>,
    ) -> (String, Option<Line>) {
        let (request_id, line) = self.into_start(outcome);
        let line = line.map(|mut line| {
            write_decision(&mut line, outcome, reason, status);
            if let Some(origin) = origin_status {
                line.num(number!("origin_status"), u64::from(origin));
            }
            line
        });
        (request_id, line)
    }
}

impl fmt::Debug for ForwardRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForwardRecord")
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
