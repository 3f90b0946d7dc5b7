//! Path patterns of policy rules, and the two readings of a request path they are matched
//! against.
//!
//! A pattern is `/` and `/`-separated segments; a segment is `*` (any one non-empty segment)
//! or literal text (`%XX` escapes allowed, and compared decoded). A pattern matches a path whose
//! first segments match its own: `/reports` matches `/reports`, `/reports/` and
//! `/reports/2024/q1` but not `/reports-old`; `/reports/*` matches `/reports/q1` and
//! `/reports/q1/x` but not `/reports` or `/reports/`; `/*/admin` matches `/v1/admin/users`; `/`
//! matches every path. No `**`, no `*` inside a segment, no empty segment (`//`, a trailing
//! `/`), no `.`/`..`, `;`, `?`, `#`, `\`, encoded `/` or non-ASCII.
//!
//! The request path (dot segments and backslashes were refused before: [`crate::path`]) is read
//! two ways, because origins differ:
//!
//! 1. **as sent**: split at `/`; each segment percent-decoded (`%61dmin` is `admin`, `a%2Fb` one
//!    segment `a/b`); empty segments kept; case kept;
//! 2. **as normalising servers read it**: also split at `%2F`; empty segments dropped (`//admin`
//!    is `/admin`, as nginx's `merge_slashes` reads it); each segment cut at its first `;`
//!    (Tomcat's and Jetty's path parameters: `/admin;x=1/` is `/admin/`); ASCII case folded (IIS
//!    and case-insensitive file systems).
//!
//! A deny rule's pattern matches when either reading matches, an allow rule's only when both
//! do: an ambiguous path is never let through by an allow rule it only seems to match, and never
//! slips past a deny rule that one reading of it would hit.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// `*`: any one non-empty segment.
    Any,
    /// Literal text, decoded.
    Literal(Vec<u8>),
}

/// A parsed path pattern; its text (as written) is what is stored and shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    segments: Vec<Segment>,
}

/// Longest pattern accepted.
const MAX_PATTERN_BYTES: usize = 256;

impl PathPattern {
    pub fn parse(text: &str) -> Result<PathPattern, String> {
        let bad = |why: &str| Err(format!("path pattern {text:?}: {why}"));
        let Some(rest) = text.strip_prefix('/') else {
            return bad("must start with '/'");
        };
        if text.len() > MAX_PATTERN_BYTES {
            return bad("longer than 256 bytes");
        }
        if let Some(b) = text
            .bytes()
            .find(|&b| !(0x21..=0x7e).contains(&b) || matches!(b, b'?' | b'#' | b'\\' | b';'))
        {
            return bad(&format!(
                "{:?} is not allowed (no whitespace, non-ASCII, '?', '#', '\\' or ';')",
                b as char
            ));
        }
        let mut segments = Vec::new();
        if !rest.is_empty() {
            for raw in rest.split('/') {
                if raw.is_empty() {
                    return bad("empty segment (write /reports, which also matches /reports/ and below, or /reports/*)");
                }
                if raw == "*" {
                    segments.push(Segment::Any);
                    continue;
                }
                if raw.contains('*') {
                    return bad("'*' stands for a whole segment only");
                }
                let decoded = percent_decode(raw.as_bytes())
                    .ok_or_else(|| format!("path pattern {text:?}: bad %-escape"))?;
                if decoded.contains(&b'/') || decoded.contains(&b'\\') {
                    return bad("no encoded '/' or '\\'");
                }
                if decoded == b"." || decoded == b".." {
                    return bad("no '.' or '..' segments");
                }
                segments.push(Segment::Literal(decoded));
            }
        }
        Ok(PathPattern {
            text: text.to_owned(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `path` (as sent, without the query) matches: under both readings, or, for a
    /// deny rule (`either`), under one of them.
    pub fn matches(&self, path: &str, either: bool) -> bool {
        let path = path.as_bytes();
        let path = path.strip_prefix(b"/").unwrap_or(path);
        let as_sent = self.matches_segments(path.split(|&b| b == b'/'), false);
        if as_sent == either {
            return as_sent;
        }
        let normalised = NormalisedSegments { rest: path }
            .map(|s| s.split(|&b| b == b';').next().unwrap_or(s))
            .filter(|s| !s.is_empty());
        self.matches_segments(normalised, true)
    }

    fn matches_segments<'p>(
        &self,
        mut request: impl Iterator<Item = &'p [u8]>,
        fold_case: bool,
    ) -> bool {
        self.segments.iter().all(|want| match request.next() {
            None => false,
            Some(raw) => match want {
                Segment::Any => !raw.is_empty(),
                Segment::Literal(text) => decoded_equals(raw, text, fold_case),
            },
        })
    }
}

/// Segments split at `/` and at `%2F` (any case), empty ones included.
struct NormalisedSegments<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NormalisedSegments<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let bytes = self.rest;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'/' {
                self.rest = &bytes[i + 1..];
                return Some(&bytes[..i]);
            }
            if bytes[i] == b'%' && escape(bytes, i) == Some(b'/') {
                self.rest = &bytes[i + 3..];
                return Some(&bytes[..i]);
            }
            i += 1;
        }
        self.rest = &[];
        Some(bytes)
    }
}

/// The value of the `%XY` at `bytes[i..]`, if there is one.
fn escape(bytes: &[u8], i: usize) -> Option<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    if bytes.get(i) != Some(&b'%') {
        return None;
    }
    Some(hex(*bytes.get(i + 1)?)? << 4 | hex(*bytes.get(i + 2)?)?)
}

/// `raw` percent-decoded equals `text` (a `%` that starts no escape is itself), without
/// allocating.
fn decoded_equals(raw: &[u8], text: &[u8], fold_case: bool) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < raw.len() {
        let (byte, width) = match escape(raw, i) {
            Some(b) => (b, 3),
            None => (raw[i], 1),
        };
        let Some(&want) = text.get(j) else {
            return false;
        };
        // `want` is folded too: both sides to upper case. Written out rather than with
        // `eq_ignore_ascii_case`, which the optimiser then kept out of line for every caller
        // in the crate (bench: parse_token_request +13%).
        #[allow(clippy::manual_ignore_case_cmp)]
        let same =
            byte == want || (fold_case && byte.to_ascii_uppercase() == want.to_ascii_uppercase());
        if !same {
            return false;
        }
        i += width;
        j += 1;
    }
    j == text.len()
}

/// Strict decoding for patterns: every `%` must start an escape.
fn percent_decode(raw: &[u8]) -> Option<Vec<u8>> {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            escape(raw, i)?;
            i += 3;
        } else {
            i += 1;
        }
    }
    Some(Decoded { raw, i: 0 }.collect())
}

/// The bytes of a valid percent-encoded string, decoded.
struct Decoded<'a> {
    raw: &'a [u8],
    i: usize,
}

impl Iterator for Decoded<'_> {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        let b = *self.raw.get(self.i)?;
        match escape(self.raw, self.i) {
            Some(decoded) => {
                self.i += 3;
                Some(decoded)
            }
            None => {
                self.i += 1;
                Some(b)
            }
        }
    }
}
