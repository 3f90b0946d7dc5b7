//! The incoming request's body, taken once when the request arrives, for whichever step uses
//! it (the core's `NeedBody`, or the upload of a forward).
//!
//! Taken early for one reason: the host removes `Transfer-Encoding` before the component sees
//! the request (wasmtime-wasi-http treats it as a forbidden header, in Spin as in the test
//! host), so a chunked body looks like no body at all from the headers. The core decides by
//! the headers (RFC 9112 §6.3) whether a body goes to the origin; [`RequestBody::chunked`]
//! tells the adapter when to restore the header the host removed.

use spin_sdk::http::IncomingRequest;
// spin-sdk names this type only in its (hidden) bindings; its `consume` returns it.
use spin_sdk::wit::wasi::http0_2_0::types::IncomingBody;
use wasi::io::streams::{InputStream, StreamError};

pub struct RequestBody {
    // Declared before `_body`, so dropped before it: a stream must not outlive its body.
    stream: Option<InputStream>,
    _body: Option<IncomingBody>,
    /// Whether the stream was not at its end on the first look.
    pending: bool,
    /// The `Content-Length` the client sent (`Some("")` when it sent several), for the core's
    /// `step::leftover_body`.
    declared: Option<String>,
}

impl RequestBody {
    pub fn take(req: &IncomingRequest) -> RequestBody {
        let body = req.consume().ok();
        let stream = body.as_ref().and_then(|b| b.stream().ok());
        // A zero-length read takes no byte: wasmtime polls the body once and keeps a frame
        // that is ready for the next read, or answers `closed` for a body that is already
        // complete, which is what a request without content is (hyper's empty body ends at
        // once). So: closed = no content; anything else = content, arrived or on its way.
        let pending = stream
            .as_ref()
            .is_some_and(|s| !matches!(s.read(0), Err(StreamError::Closed)));
        let lengths = req.headers().get("content-length");
        let declared = match lengths.as_slice() {
            [] => None,
            [one] => Some(String::from_utf8_lossy(one).into_owned()),
            _ => Some(String::new()),
        };
        RequestBody {
            stream,
            _body: body,
            pending,
            declared,
        }
    }

    /// The `Content-Length` the client sent, as `step::leftover_body` takes it.
    pub fn declared_length(&self) -> Option<&str> {
        self.declared.as_deref()
    }

    /// Whether there is content at all (arrived or on its way).
    pub fn has_content(&self) -> bool {
        self.pending
    }

    /// Reads and throws away at most `at_most` bytes, or until the body ends or fails.
    pub async fn drain(&self, at_most: usize) {
        let mut drained = 0;
        while drained <= at_most {
            match self.read_chunk().await {
                Ok(Some(chunk)) => drained += chunk.len(),
                Ok(None) | Err(_) => return,
            }
        }
    }

    /// Whether content follows although the head has no `Content-Length`: then the client
    /// sent it chunked (HTTP/1.1 has no other framing for a request body), and the head the
    /// core sees says so again.
    pub fn chunked(&self, has_content_length: bool) -> bool {
        self.pending && !has_content_length
    }

    /// The next chunk; `None` at the end (or when the host gave no body at all).
    pub async fn read_chunk(&self) -> Result<Option<Vec<u8>>, StreamError> {
        match &self.stream {
            Some(stream) => crate::wasi_io::read_chunk(stream).await,
            None => Ok(None),
        }
    }

    /// Whether the host handed over a body stream at all.
    pub fn is_readable(&self) -> bool {
        self.stream.is_some()
    }
}
