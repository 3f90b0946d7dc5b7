//! The request's framing (RFC 9112 §6.3): whether a body goes to the origin, and with which
//! `Content-Length`; and the checks a service request gets before its credential is looked at.

use crate::error::ForwardError;
use crate::http::{Method, RequestHead};
use crate::path::check_path;

/// How the request's body is framed, and what of that the origin is told.
pub(super) struct Framing<'a> {
    pub(super) has_body: bool,
    pub(super) chunked: bool,
    /// The `Content-Length` to forward (RFC 9110 §8.6): the client's, when its body goes and
    /// is not chunked; `0` as sent, except with GET and HEAD, whose `Content-Length: 0` says
    /// nothing (a user agent "SHOULD NOT send" it where the method does not anticipate
    /// content).
    pub(super) content_length: Option<&'a str>,
}

/// RFC 9112 §6.3: `Transfer-Encoding` (which the runtime decoded) overrides `Content-Length`;
/// otherwise `Content-Length` is one decimal number. Only the exact names frame a request:
/// `Content_Length` is no framing header to the runtime that parsed the request, so it is
/// merely stripped like every look-alike.
pub(super) fn framing(head: &RequestHead) -> Result<Framing<'_>, ForwardError> {
    let (mut length, mut chunked) = (None, false);
    for (name, value) in &head.headers {
        if name.len() == 14 && name.eq_ignore_ascii_case("content-length") {
            let digits = value.trim();
            if length.is_some() || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(ForwardError::InvalidContentLength);
            }
            length = Some(digits);
        } else if name.len() == 17 && name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        }
    }
    let empty = length.map(|l| l.bytes().all(|b| b == b'0'));
    let has_body = chunked || empty == Some(false);
    let content_length = match (chunked, empty) {
        (true, _) => None,
        (false, Some(true)) if matches!(head.method, Method::Get | Method::Head) => None,
        (false, _) => length,
    };
    Ok(Framing {
        has_body,
        chunked,
        content_length,
    })
}

/// The checks of a service request that need no credential: its path and its framing. The
/// service flow runs them before authenticating (a refusal costs no signature check and tells
/// nothing about the token), and [`plan_forward`](super::plan_forward) again, so that no caller can plan a
/// forward without them.
pub fn check_request(head: &RequestHead) -> Result<(), ForwardError> {
    check_path(&head.path)?;
    framing(head).map(|_| ())
}
