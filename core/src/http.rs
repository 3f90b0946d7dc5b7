//! The plain HTTP shapes the core speaks: a request head in, a response (or a forward plan) out.
//! The runtimes convert their own request/response types to and from these at their edge, so
//! nothing in the core depends on a runtime's HTTP library.

use serde::Serialize;
use std::fmt;

/// An HTTP method (RFC 9110 §9). Methods are case-sensitive: `get` is not `GET`, and an
/// unregistered method is kept as sent ([`Method::Other`]) so a service sees what the client
/// sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Method {
    #[default]
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Connect,
    Trace,
    Other(String),
}

impl Method {
    pub fn parse(method: &str) -> Method {
        match method {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            "CONNECT" => Method::Connect,
            "TRACE" => Method::Trace,
            other => Method::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Connect => "CONNECT",
            Method::Trace => "TRACE",
            Method::Other(other) => other,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the core needs to know about an incoming request. Header names are lower-case.
#[derive(Clone, Debug, Default)]
pub struct RequestHead {
    pub method: Method,
    /// `http` or `https`, as the client connected.
    pub scheme: String,
    /// The `Host` the client addressed (`my-api.example.com`, `localhost:8787`).
    pub host: String,
    /// Path as sent (percent-encoded), starting with `/`.
    pub path: String,
    /// Raw query, without `?`; `None` when the URL has no `?`.
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The client's address as the runtime knows it (`CF-Connecting-IP` on Workers).
    pub client_ip: Option<String>,
}

/// A header that must occur at most once occurred more than once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepeatedHeader;

impl RequestHead {
    /// All values of a header (names compared case-insensitively).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The header's value if it occurs exactly once; an error if it is repeated.
    pub fn single_header<'a>(&'a self, name: &'a str) -> Result<Option<&'a str>, RepeatedHeader> {
        let mut values = self.header_values(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(RepeatedHeader);
        }
        Ok(first)
    }

    /// The client's address as a reverse proxy in front of the gateway reports it in `header`:
    /// the last address of the header's last occurrence (`X-Forwarded-For` is a list each
    /// proxy appends the peer it saw to, so only the last entry is the trusted proxy's own;
    /// the entries before it are whatever the client sent). `None` unless that entry is an IP
    /// address (an `IPv4:port` is taken without its port), and then the runtime's address
    /// stands: a client cannot choose its throttling bucket by sending garbage.
    pub fn address_from_proxy(&self, header: &str) -> Option<String> {
        let last = self
            .header_values(header)
            .last()?
            .rsplit(',')
            .next()?
            .trim();
        let ip = last
            .parse::<std::net::IpAddr>()
            .or_else(|_| last.parse::<std::net::SocketAddr>().map(|a| a.ip()))
            .ok()?;
        Some(ip.to_string())
    }

    /// The body length the client declared: one valid `Content-Length` (RFC 9110 §8.6) that
    /// no `Transfer-Encoding` overrides (RFC 9112 §6.3). `None` when the length is unknown
    /// (chunked, absent, repeated or malformed: the runtime's framing then decides).
    pub fn declared_length(&self) -> Option<u64> {
        if self.header_values("transfer-encoding").next().is_some() {
            return None;
        }
        content_length(self.single_header("content-length").ok()??)
    }
}

/// A `Content-Length` value (RFC 9110 §8.6: `1*DIGIT`); a length too large for a `u64` is
/// `u64::MAX` (it is over every limit either way). Anything else, `1, 1` included, is `None`.
pub fn content_length(value: &str) -> Option<u64> {
    let digits = value.trim_matches([' ', '\t']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// A complete response produced by the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON response. Objects serialise with their members in key order (serde_json's map is
    /// sorted; the typed bodies declare their fields in that order too).
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        Response::new(status)
            .with_header("content-type", "application/json")
            .with_body(body)
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// RFC 6749 §5.1: token responses (and their errors) must not be cached.
    pub fn no_store(self) -> Self {
        self.with_header("cache-control", "no-store")
            .with_header("pragma", "no-cache")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The parts of an absolute request URL (`scheme://authority/path?query#fragment`) that the
/// gateway routes on, split without a URL library (the runtimes hand over URLs they already
/// parsed; a full parser would only add size to the wasm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub scheme: &'a str,
    pub authority: &'a str,
    /// Starts with `/`; `/` when the URL has no path.
    pub path: &'a str,
    pub query: Option<&'a str>,
}

pub fn split_url(url: &str) -> UrlParts<'_> {
    let url = url.split('#').next().unwrap_or("");
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    UrlParts {
        scheme,
        authority,
        path: if path.is_empty() { "/" } else { path },
        query,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_urls_split_into_routing_parts() {
        let u = split_url("https://my-api.example.com:8443/a/b%20c?x=1&y=?#frag");
        let expected = UrlParts {
            scheme: "https",
            authority: "my-api.example.com:8443",
            path: "/a/b%20c",
            query: Some("x=1&y=?"),
        };
        assert_eq!(u, expected);
        assert_eq!(split_url("http://h").path, "/");
        assert_eq!(split_url("http://h?q").query, Some("q"));
        assert_eq!(split_url("http://h/").query, None);
    }

    #[test]
    fn rfc9110_9_1_methods_are_case_sensitive_and_kept_as_sent() {
        for m in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
            "PROPFIND", "get",
        ] {
            assert_eq!(Method::parse(m).as_str(), m);
        }
        assert_eq!(Method::parse("get"), Method::Other("get".into()));
    }

    #[test]
    fn rfc9110_8_6_content_length_is_digits_and_transfer_encoding_overrides_it() {
        let with = |headers: &[(&str, &str)]| RequestHead {
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        assert_eq!(
            with(&[("content-length", "20480")]).declared_length(),
            Some(20480)
        );
        assert_eq!(
            with(&[("Content-Length", " 0 ")]).declared_length(),
            Some(0)
        );
        let huge = "99999999999999999999999";
        assert_eq!(
            with(&[("content-length", huge)]).declared_length(),
            Some(u64::MAX)
        );
        for value in ["", "-1", "+5", "1, 1", "0x10", "1e3", "12 3"] {
            assert_eq!(
                with(&[("content-length", value)]).declared_length(),
                None,
                "{value:?}"
            );
        }
        let repeated = with(&[("content-length", "5"), ("content-length", "5")]);
        assert_eq!(repeated.declared_length(), None);
        let chunked = with(&[("content-length", "5"), ("transfer-encoding", "chunked")]);
        assert_eq!(
            chunked.declared_length(),
            None,
            "RFC 9112 §6.3: TE overrides CL"
        );
        assert_eq!(with(&[]).declared_length(), None);
    }

    #[test]
    fn a_repeated_header_is_not_a_single_one() {
        let head = RequestHead {
            headers: vec![("a".into(), "1".into()), ("A".into(), "2".into())],
            ..Default::default()
        };
        assert_eq!(head.single_header("a"), Err(RepeatedHeader));
        assert_eq!(head.single_header("b"), Ok(None));
    }
}
