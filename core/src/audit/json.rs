//! The audit line's JSON, written by hand: a flat object of strings and numbers needs no
//! serde (smaller wasm, and fewer instructions per line than serde_json's general path).
//!
//! Every string is escaped per RFC 8259 §7, and more: all control characters (C0, DEL, C1),
//! U+2028/U+2029 and the bidirectional formatting characters are written as `\uXXXX`, so that
//! no value (a path or a host as an attacker sent it) can end the line, forge
//! another one, carry a terminal escape sequence, or reorder what a reader sees. Values longer than their field's bound are cut at a
//! character boundary and end with `...`.

use crate::capability::Now;

/// Marks a value cut at its bound.
pub(super) const CUT: &str = "...";

/// A string field's key as written, the value's opening quote included: `,"name":"`.
#[derive(Clone, Copy)]
pub(super) struct Text(pub(super) &'static str);

/// A number field's key as written: `,"name":`.
#[derive(Clone, Copy)]
pub(super) struct Number(pub(super) &'static str);

/// `text!("name")`: the [`Text`] key of field `name`, made at compile time.
macro_rules! text {
    ($name:literal) => {
        $crate::audit::json::Text(concat!(",\"", $name, "\":\""))
    };
}

/// `number!("name")`: the [`Number`] key of field `name`.
macro_rules! number {
    ($name:literal) => {
        $crate::audit::json::Number(concat!(",\"", $name, "\":"))
    };
}

pub(super) use {number, text};

/// One line being written: `{"log":"audit"` first, `}` at the end.
pub(super) struct Line {
    buf: String,
}

impl Line {
    pub(super) fn new() -> Line {
        let mut buf = String::with_capacity(448);
        buf.push_str("{\"log\":\"audit\"");
        Line { buf }
    }

    /// Continues a line whose start was written before (and kept as a string).
    pub(super) fn resume(start: String) -> Line {
        Line { buf: start }
    }

    /// `"key":"value"`, the value escaped and bounded to `max` bytes of the original.
    pub(super) fn str(&mut self, key: Text, value: &str, max: usize) {
        self.buf.push_str(key.0);
        if value.len() <= max {
            escape_into(&mut self.buf, value);
        } else {
            let mut end = max;
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            escape_into(&mut self.buf, &value[..end]);
            self.buf.push_str(CUT);
        }
        self.buf.push('"');
    }

    /// [`Line::str`] when there is a value; nothing otherwise (absent fields are left out).
    pub(super) fn opt(&mut self, key: Text, value: Option<&str>, max: usize) {
        if let Some(value) = value {
            self.str(key, value, max);
        }
    }

    /// A value from the core's own fixed vocabulary: needs no escaping.
    pub(super) fn word(&mut self, key: Text, word: &str) {
        self.buf.push_str(key.0);
        self.buf.push_str(word);
        self.buf.push('"');
    }

    pub(super) fn num(&mut self, key: Number, n: u64) {
        self.buf.push_str(key.0);
        push_u64(&mut self.buf, n);
    }

    /// RFC 3339 UTC with milliseconds: `2023-11-14T22:13:20.000Z`.
    pub(super) fn time(&mut self, key: Text, now: Now) {
        self.buf.push_str(key.0);
        push_rfc3339(&mut self.buf, now.unix_ms());
        self.buf.push('"');
    }

    /// The line so far, to be resumed later ([`Line::resume`]).
    pub(super) fn unfinished(self) -> String {
        self.buf
    }

    pub(super) fn end(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// The bytes that start something to escape: `"`, `\\`, C0 controls and DEL, and the lead
/// bytes of the other characters escaped (0xC2: C1 controls; 0xE2: U+2028.. and the
/// bidirectional formatting characters), which are then looked at whole.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0x7f] = true;
    t[0xc2] = true;
    t[0xe2] = true;
    t
};

/// Appends `value` as the inside of a JSON string, scanning bytes (a `str` is valid UTF-8, so
/// the characters to escape are recognised by their encodings) and copying the runs between
/// them whole: the common value (a name, an id, a path) is one copy.
pub(super) fn escape_into(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    let (mut run, mut i) = (0, 0);
    while let Some(found) = bytes[i..].iter().position(|&b| SPECIAL[usize::from(b)]) {
        i += found;
        let next = |k: usize| bytes.get(i + k).copied().unwrap_or(0);
        let (len, code) = match bytes[i] {
            b @ (b'"' | b'\\' | 0..=0x1f | 0x7f) => (1, u32::from(b)),
            // C1 controls, U+0080..U+009F.
            0xc2 if matches!(next(1), 0x80..=0x9f) => (2, u32::from(next(1))),
            // U+200E, U+200F, U+2028..U+202E, U+2066..U+2069.
            0xe2 if matches!(
                (next(1), next(2)),
                (0x80, 0x8e | 0x8f | 0xa8..=0xae) | (0x81, 0xa6..=0xa9)
            ) =>
            {
                let code = 0x2000 | (u32::from(next(1) & 0x3f) << 6) | u32::from(next(2) & 0x3f);
                (3, code)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&value[run..i]);
        // Every escape in the one `\uXXXX` form (RFC 8259 §7 allows it for any character):
        // less code than the short forms, and these characters are rare in what is logged.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut u = *b"\\u0000";
        for (k, shift) in [12, 8, 4, 0].into_iter().enumerate() {
            u[2 + k] = HEX[(code >> shift) as usize & 15];
        }
        out.push_str(std::str::from_utf8(&u).unwrap_or_default());
        i += len;
        run = i;
    }
    out.push_str(&value[run..]);
}

fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

/// Writes `n` in `out.len()` digits, zero-padded (`n` must fit).
fn padded(out: &mut [u8], mut n: u64) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

fn push_rfc3339(out: &mut String, unix_ms: u64) {
    let secs = unix_ms / 1000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let of_day = secs % 86_400;
    let mut t = *b"0000-00-00T00:00:00.000Z";
    padded(&mut t[0..4], year.max(0) as u64);
    padded(&mut t[5..7], month);
    padded(&mut t[8..10], day);
    padded(&mut t[11..13], of_day / 3600);
    padded(&mut t[14..16], of_day / 60 % 60);
    padded(&mut t[17..19], of_day % 60);
    padded(&mut t[20..23], unix_ms % 1000);
    out.push_str(std::str::from_utf8(&t).unwrap_or_default());
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`: exact for every day, no table).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
pub(super) fn rfc3339(unix_ms: u64) -> String {
    let mut s = String::new();
    push_rfc3339(&mut s, unix_ms);
    s
}
