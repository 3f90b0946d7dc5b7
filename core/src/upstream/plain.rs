//! The fast path of the upstream parser: the common shape in one pass (see
//! [`parse_upstream_ref`](super::parse_upstream_ref)).

use super::{Scheme, UpstreamRef};

/// The common shape only, in one pass with no search: `None` for anything else (an IPv6
/// host, `%XX` or `.` in the base path, any refusal), which [`parse_exact`] then decides.
pub(super) fn parse_plain(text: &str) -> Option<UpstreamRef<'_>> {
    let b = text.as_bytes();
    let n = b.len();
    // `| 0x20` lower-cases a letter, and maps no other byte onto `h`, `t`, `p` or `s`.
    let lower = |i: usize| b.get(i).map(|c| c | 0x20);
    if (lower(0), lower(1), lower(2), lower(3)) != (Some(b'h'), Some(b't'), Some(b't'), Some(b'p'))
    {
        return None;
    }
    let (scheme, mut i) = match (b.get(4..7), b.get(5..8)) {
        (Some(b"://"), _) => (Scheme::Http, 7),
        (_, Some(b"://")) if lower(4) == Some(b's') => (Scheme::Https, 8),
        _ => return None,
    };
    let start = i;
    // Host: LDH labels; when the last is numeric, a canonical dotted quad.
    let (mut labels, mut all_octets) = (0, true);
    let (last_numeric, last_hex) = loop {
        let label = i;
        let mut digits = true;
        while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
            digits &= b[i].is_ascii_digit();
            i += 1;
        }
        let len = i - label;
        if len == 0 || len > 63 || b[label] == b'-' || b[i - 1] == b'-' {
            return None;
        }
        all_octets &= digits
            && len <= 3
            && (len == 1 || b[label] != b'0')
            && (len < 3 || &b[label..i] <= b"255".as_slice());
        labels += 1;
        if i < n && b[i] == b'.' {
            i += 1;
            continue;
        }
        break (
            digits,
            len > 1 && b[label] == b'0' && b[label + 1] | 0x20 == b'x',
        );
    };
    if i - start > 253 || last_hex || (last_numeric && !(labels == 4 && all_octets)) {
        return None;
    }
    if i < n && b[i] == b':' {
        i += 1;
        let (digits, mut port) = (i, 0u32);
        while i < n && b[i].is_ascii_digit() && i - digits < 5 {
            port = port * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        if i == digits || port == 0 || port > 65535 {
            return None;
        }
    }
    let authority_end = i;
    // Base path: path characters other than `.` and `%` (without them there is no dot
    // segment and no escape to check).
    while i < n {
        match b[i] {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'~' | b'/' => {}
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => {}
            b':' | b'@' => {}
            _ => return None,
        }
        i += 1;
    }
    if authority_end < n && b[authority_end] != b'/' {
        return None;
    }
    Some(UpstreamRef {
        scheme,
        authority: &text[start..authority_end],
        base_path: text[authority_end..].trim_end_matches('/'),
    })
}
