//! Unit tests of the rate-limit policy, its windows, the count, the decision and the fields of
//! the 429, on a fixed clock.

use super::*;

/// 2023-11-14T22:13:20Z, a whole second.
const T0: u64 = 1_700_000_000_000;

fn limit(s: &str) -> RateLimit {
    RateLimit::parse(s).unwrap()
}

#[test]
fn limits_are_n_per_second_minute_or_hour_in_one_canonical_spelling() {
    for (input, canonical) in [
        ("5/s", "5/s"),
        ("100/m", "100/m"),
        ("1000/h", "1000/h"),
        ("1/s", "1/s"),
        ("1000000/s", "1000000/s"),
    ] {
        let parsed = RateLimit::parse(input).unwrap_or_else(|_| panic!("{input}"));
        assert_eq!(parsed.to_string(), canonical, "{input}");
        assert_eq!(
            RateLimit::parse(canonical),
            Ok(parsed),
            "{canonical} round-trips"
        );
    }
    for bad in [
        "",
        "5",
        "/s",
        "5/",
        "0/s",
        "05/s",
        "-5/s",
        "+5/s",
        " 5/s",
        "5/s ",
        "5 /s",
        "5/ s",
        "5/S",
        "5/d",
        "5/ms",
        "5.5/s",
        "1000001/s",
        "99999999/s",
        "5/s/s",
        "五/s",
        "5/sec",
        "5/second",
        "5/min",
        "5/hour",
        "5/m ",
        "4294967301/s",
    ] {
        assert_eq!(RateLimit::parse(bad), Err(InvalidRateLimit), "{bad:?}");
    }
    assert!(InvalidRateLimit
        .to_string()
        .ends_with(&format!("from 1 to {MAX_REQUESTS}")));
    assert!(RateLimit::new(0, Window::Second).is_err());
    assert!(RateLimit::new(MAX_REQUESTS + 1, Window::Hour).is_err());
}

#[test]
fn a_credentials_windows_are_back_to_back_and_hold_now() {
    for l in [limit("5/s"), limit("5/m"), limit("5/h")] {
        let w = l.window().ms();
        for client in ["ky9f-mmt2", "aaaa-aaaa", "x"] {
            let end = l.window_end(client, T0);
            assert!(end > T0 && end - w <= T0, "{l} {client}: {end} holds {T0}");
            // Every instant of the window maps to it; its end starts the next one.
            assert_eq!(l.window_end(client, end - w), end);
            assert_eq!(l.window_end(client, end - 1), end);
            assert_eq!(l.window_end(client, end), end + w);
        }
    }
}

#[test]
fn credentials_windows_start_at_different_phases() {
    // draft-ietf-httpapi-ratelimit-headers-11 §8.5: throttled clients should not all come back
    // at the same instant. Phases come from the client id, so they differ between credentials.
    let l = limit("5/m");
    let ends: std::collections::HashSet<u64> = (0..20)
        .map(|i| l.window_end(&format!("client-{i}"), T0))
        .collect();
    assert!(ends.len() > 15, "{} distinct phases of 20", ends.len());
    // ... and stay put for one credential.
    assert_eq!(l.window_end("ky9f-mmt2", T0), l.window_end("ky9f-mmt2", T0));
}

#[test]
fn a_window_admits_exactly_n_and_the_next_one_starts_afresh() {
    let l = limit("5/s");
    let end = l.window_end("c", T0);
    let mut count = None;
    let mut admitted = 0;
    for i in 0..20 {
        let c = l.count(count, "c", T0 + i);
        count = Some(c);
        assert_eq!(c.window_end_ms, end);
        if l.decide(c, T0 + i).is_ok() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5);
    // The last millisecond of the window is still in it.
    let c = l.count(count, "c", end - 1);
    assert!(l.decide(c, end - 1).is_err());
    // At its end the count starts again.
    let c = l.count(Some(c), "c", end);
    assert_eq!((c.hits, c.window_end_ms), (1, end + 1000));
    assert_eq!(l.decide(c, end), Ok(()));
}

#[test]
fn a_burst_straddling_a_boundary_gets_at_most_2n() {
    let l = limit("5/s");
    let end = l.window_end("c", T0);
    let mut count = None;
    let mut admitted = 0;
    for now in [end - 1; 10].into_iter().chain([end; 10]) {
        let c = l.count(count, "c", now);
        count = Some(c);
        admitted += usize::from(l.decide(c, now).is_ok());
    }
    assert_eq!(admitted, 10, "5 in each window: the documented worst case");
}

#[test]
fn a_changed_limit_starts_a_new_count_and_a_clock_gone_back_reopens_nothing() {
    let per_hour = limit("5/h");
    let mut c = None;
    for i in 0..9 {
        c = Some(per_hour.count(c, "c", T0 + i));
    }
    // The service is re-created with another window: the hour's count is not carried over.
    let per_second = limit("5/s");
    let fresh = per_second.count(c, "c", T0 + 10);
    assert_eq!(fresh.hits, 1);
    assert_eq!(fresh.window_ms, 1000);
    // A clock that went back by a minute counts into the newest window, never a fresh one.
    let c = per_hour.count(c, "c", T0 - 60_000);
    assert_eq!(c.hits, 10);
    assert!(per_hour.decide(c, T0 - 60_000).is_err());
}

#[test]
fn retry_after_is_the_rest_of_the_window_rounded_up_and_never_zero() {
    let l = limit("5/m");
    let end = l.window_end("c", T0);
    let over = Count {
        window_ms: 60_000,
        window_end_ms: end,
        hits: 6,
    };
    let retry_after = |now_ms| l.decide(over, now_ms).unwrap_err().retry_after_secs;
    assert_eq!(retry_after(end - 60_000), 60);
    assert_eq!(retry_after(end - 59_999), 60);
    assert_eq!(retry_after(end - 59_000), 59);
    assert_eq!(retry_after(end - 1_001), 2);
    assert_eq!(retry_after(end - 1_000), 1);
    assert_eq!(retry_after(end - 1), 1);
    assert_eq!(
        retry_after(end + 5),
        1,
        "a count past its end still says 1, never 0"
    );
    assert_eq!(l.decide(Count { hits: 5, ..over }, end - 1), Ok(()));
}

#[test]
fn draft_11_fields_are_structured_field_lists_of_one_named_item() {
    // RateLimit-Policy: a String item with q (quota) and w (window, seconds) (§3.1);
    // RateLimit: the same name with r (remaining) and t (seconds left) (§4.1); Retry-After in
    // delay-seconds equal to t (§6: not earlier than the end of the effective window).
    for (l, retry, policy, ratelimit) in [
        ("5/s", 1, "\"default\";q=5;w=1", "\"default\";r=0;t=1"),
        (
            "100/m",
            42,
            "\"default\";q=100;w=60",
            "\"default\";r=0;t=42",
        ),
        (
            "1000/h",
            3600,
            "\"default\";q=1000;w=3600",
            "\"default\";r=0;t=3600",
        ),
    ] {
        let limited = Limited {
            limit: limit(l),
            retry_after_secs: retry,
        };
        assert_eq!(
            limited.headers(),
            [
                ("retry-after", retry.to_string()),
                ("ratelimit-policy", policy.to_owned()),
                ("ratelimit", ratelimit.to_owned()),
            ]
        );
    }
}
