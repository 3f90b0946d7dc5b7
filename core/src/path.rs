//! Which URL paths may be joined under a service's base path: the one rule for request paths
//! (before any forward) and for upstream base paths (when a service is created).
//!
//! The gateway forwards `GET /x` for an upstream `http://origin/base` as `/base/x`. A path that
//! an origin (or a proxy in front of it) would *resolve* could leave `/base`: `/../secret`
//! becomes `/base/../secret`, which RFC 3986 §5.2.4 (remove_dot_segments) turns into `/secret`.
//! Servers differ in what they resolve, so the rule is the union of what common ones do:
//!
//! - a **dot segment**, `.` or `..` as a whole segment (RFC 3986 §3.3), also when a dot is
//!   percent-encoded in any case (`%2e`, `%2E`, `.%2e`, `%2e.`): WHATWG URL (browsers, Node,
//!   workerd) and many servers decode `%2e` before resolving;
//! - a dot segment made by an **encoded slash**: `%2f` / `%2F` counts as a separator here
//!   (`/a%2f..%2fb`), since nginx, Apache (`AllowEncodedSlashes`) and Tomcat can be set to
//!   decode it before resolving. A `%2f` between ordinary segments (`/group%2Fproject`) is
//!   kept: APIs use it for names that contain a slash;
//! - a dot segment with **path parameters**, `..;x` or `.;x`: Tomcat and Jetty drop `;...`
//!   from each segment before resolving (the well-known `/..;/` escape);
//! - any **backslash**, raw `\` or `%5c` / `%5C`: WHATWG URL (and IIS) read it as `/`.
//!
//! Everything else is kept byte for byte, `%252e` (a literal `%2e`, once decoded) included: a
//! server that decodes twice is broken whatever the gateway sends.

use std::fmt;

/// Why a path may not be joined under a base path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnsafePath {
    /// The path does not start with `/` (RFC 9112 §3.2.1 origin-form).
    NotAbsolute,
    /// A `.` or `..` segment, raw or percent-encoded, or made by `%2f` or `;`.
    DotSegment,
    /// A raw `\` or `%5c`.
    Backslash,
}

impl UnsafePath {
    /// The rule, as a client is told it.
    pub fn rule(self) -> &'static str {
        match self {
            UnsafePath::NotAbsolute => "the request path must start with '/'",
            UnsafePath::DotSegment => {
                "the request path must not contain '.' or '..' segments, raw or percent-encoded"
            }
            UnsafePath::Backslash => "the request path must not contain a backslash ('\\' or %5C)",
        }
    }
}

impl fmt::Display for UnsafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rule())
    }
}

impl std::error::Error for UnsafePath {}

/// The value of `%XY`, if `bytes[i..]` starts with one.
fn percent_escape(bytes: &[u8], i: usize) -> Option<u8> {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    if bytes.get(i) != Some(&b'%') {
        return None;
    }
    Some(hex(*bytes.get(i + 1)?)? << 4 | hex(*bytes.get(i + 2)?)?)
}

/// Checks a path (without its query) for what could resolve out of a base path: see the
/// module documentation. One pass, no allocation. The empty path is safe (it means `/`).
pub fn check_path(path: &str) -> Result<(), UnsafePath> {
    let bytes = path.as_bytes();
    if !bytes.is_empty() && bytes[0] != b'/' {
        return Err(UnsafePath::NotAbsolute);
    }
    // Without a dot, a `%` or a backslash there is nothing to find (most paths): one scan.
    if !bytes.iter().any(|&b| matches!(b, b'.' | b'%' | b'\\')) {
        return Ok(());
    }
    // Per segment: how many dots it holds, whether it holds anything else (before a `;`), and
    // whether a `;` has started its parameters.
    let (mut dots, mut other, mut params) = (0u8, false, false);
    let mut i = 0;
    loop {
        let (byte, width) = match bytes.get(i) {
            None => (b'/', 1),
            Some(b'%') => match percent_escape(bytes, i) {
                Some(decoded) => (decoded, 3),
                None => (b'%', 1),
            },
            Some(&b) => (b, 1),
        };
        match byte {
            b'\\' => return Err(UnsafePath::Backslash),
            b'/' => {
                if !other && (dots == 1 || dots == 2) {
                    return Err(UnsafePath::DotSegment);
                }
                (dots, other, params) = (0, false, false);
                if i >= bytes.len() {
                    return Ok(());
                }
            }
            // Only a raw `;` starts parameters (`%3b` decodes to a literal `;` in the name).
            b';' if width == 1 => params = true,
            _ if params => {}
            b'.' => dots = dots.saturating_add(1),
            _ => other = true,
        }
        i += width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3986_3_3_dot_segments_are_refused_raw_and_percent_encoded() {
        for path in [
            "/..",
            "/.",
            "/../secret",
            "/a/../b",
            "/a/./b",
            "/a/..",
            "/a/.",
            "/%2e%2e/secret",
            "/%2E%2E/secret",
            "/a/%2E./b",
            "/a/.%2e/b",
            "/a/%2e/b",
            "//..//x",
        ] {
            assert_eq!(check_path(path), Err(UnsafePath::DotSegment), "{path}");
        }
    }

    #[test]
    fn encoded_slashes_and_path_parameters_cannot_make_a_dot_segment() {
        for path in [
            "/a%2f..%2fb",
            "/a%2F..%2Fb",
            "/a%2f%2e%2e",
            "/..;/secret",
            "/a/..;jsessionid=x/b",
            "/.;x",
        ] {
            assert_eq!(check_path(path), Err(UnsafePath::DotSegment), "{path}");
        }
    }

    #[test]
    fn backslashes_are_refused_raw_and_percent_encoded() {
        for path in ["/a\\b", "/a%5cb", "/a%5Cb", "/%5c..%5csecret", "\\"] {
            assert!(check_path(path).is_err(), "{path}");
        }
        assert_eq!(check_path("/a%5cb"), Err(UnsafePath::Backslash));
    }

    #[test]
    fn ordinary_paths_with_dots_and_odd_bytes_are_safe() {
        for path in [
            "",
            "/",
            "/a/b",
            "/a.",
            "/.a",
            "/a/...",
            "/a%2e/b",
            "/%2ea/b",
            "/..a",
            "/group%2Fproject",
            "/odd;x=1/%FF/%00/~!$&'()*+,=:@//double",
            "/a;..",
            "/%252e%252e/x",
            "/%2",
            "/%zz",
        ] {
            assert_eq!(check_path(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn rfc9112_3_2_1_a_path_must_be_origin_form() {
        assert_eq!(check_path("a/b"), Err(UnsafePath::NotAbsolute));
        assert_eq!(check_path("@evil/x"), Err(UnsafePath::NotAbsolute));
    }
}
