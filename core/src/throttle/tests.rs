//! Unit tests of the rule: the transition, the keys, the judgement and what an isolate
//! remembers. The SQL twins of the transition and the judgement: `sql_tests.rs`.

use super::*;

const T0: i64 = 1_700_000_000_000;
const W: i64 = DEFAULT_WINDOW_MS;
const CAP: i64 = DEFAULT_MAX_LOCKOUT_MS;

fn fail(count: FailureCount, at: i64, limit: i64) -> FailureCount {
    count.after_failure(at, limit, W, CAP)
}

fn now(ms: i64) -> Now {
    Now::from_unix_ms(ms as u64)
}

#[test]
fn the_limit_th_failure_in_a_window_locks_for_one_window_and_the_next_window_starts_after_it() {
    let mut c = FailureCount::default();
    for i in 1..10 {
        c = fail(c, T0 + i, 10);
        assert_eq!((c.failures, c.locked_until, c.window_start), (i, 0, T0 + 1));
    }
    c = fail(c, T0 + 10, 10);
    let end = T0 + 10 + W;
    assert_eq!(
        c,
        FailureCount {
            window_start: end,
            failures: 0,
            strikes: 1,
            locked_until: end,
            expires_at: end + CAP,
        }
    );
}

#[test]
fn failures_of_an_expired_window_do_not_count() {
    let mut c = FailureCount::default();
    for i in 0..9 {
        c = fail(c, T0 + i, 10);
    }
    // The window began at T0: at T0 + W a new one begins with this failure.
    c = fail(c, T0 + W, 10);
    assert_eq!((c.failures, c.window_start, c.locked_until), (1, T0 + W, 0));
    assert_eq!(c.expires_at, T0 + 2 * W);
}

#[test]
fn lockouts_double_up_to_the_cap_and_strikes_are_forgiven_after_a_quiet_cap() {
    // limit 1: every failure after a lockout ends starts the next one at once.
    let mut c = FailureCount::default();
    let mut at = T0;
    let mut lengths = vec![];
    for _ in 0..9 {
        c = fail(c, at, 1);
        lengths.push((c.locked_until - at) / 1000);
        at = c.locked_until;
    }
    assert_eq!(lengths, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    // Quiet for the cap after the lockout ended: the next lockout is one window again.
    c = fail(c, c.locked_until + CAP, 1);
    assert_eq!((c.strikes, c.locked_until - (at + CAP)), (1, W));
    // Strikes stop at MAX_STRIKES; the shift stays finite and the cap holds.
    let mut c = FailureCount::default();
    for i in 0..40 {
        c = c.after_failure(T0 + i, 1, 10 * 365 * 86_400_000, 1 << 60);
    }
    assert_eq!(c.strikes, MAX_STRIKES);
}

#[test]
fn a_row_says_nothing_once_its_window_is_over_and_its_strikes_forgiven() {
    let c = fail(FailureCount::default(), T0, 10);
    assert!(c.is_live(T0 + W - 1) && !c.is_live(T0 + W));
    let locked = fail(FailureCount::default(), T0, 1);
    assert!(locked.is_live(locked.locked_until + CAP - 1));
    assert!(!locked.is_live(locked.locked_until + CAP));
    // What a pruned (dead) row would have become is what no row becomes.
    for dead in [c, locked] {
        let at = dead.expires_at;
        assert_eq!(fail(dead, at, 3), fail(FailureCount::default(), at, 3));
    }
}

#[test]
fn ipv6_addresses_count_by_their_64_and_unknown_ones_share_one_bucket() {
    let cases = [
        (Some("203.0.113.7"), "203.0.113.7"),
        (Some(" 203.0.113.7 "), "203.0.113.7"),
        (Some("2001:db8:1:2:3:4:5:6"), "2001:0db8:0001:0002::/64"),
        (Some("2001:DB8:1:2::99"), "2001:0db8:0001:0002::/64"),
        (Some("2001:db8::1"), "2001:0db8:0000:0000::/64"),
        (Some("::ffff:198.51.100.1"), "198.51.100.1"),
        (Some("2001:db8::198.51.100.1"), "2001:0db8:0000:0000::/64"),
        (Some("::1"), "0000:0000:0000:0000::/64"),
        (Some("2001:0db8:0001:0002::"), "2001:0db8:0001:0002::/64"),
        (Some("not an address"), "unknown"),
        (Some("203.0.113.7:443"), "unknown"),
        (Some("203.0.113.256"), "unknown"),
        (Some("203.0.113.07"), "unknown"),
        (Some("203.0.113"), "unknown"),
        (Some("2001:db8::1::2"), "unknown"),
        (Some("2001:db8:1:2:3:4:5:6:7"), "unknown"),
        (Some("2001:db8:1:2:3:4:5"), "unknown"),
        (Some("fe80::1%eth0"), "unknown"),
        (Some("12345::"), "unknown"),
        (Some(""), "unknown"),
        (None, "unknown"),
    ];
    for (ip, key) in cases {
        assert_eq!(address_key(ip), key, "{ip:?}");
    }
}

#[test]
fn keys_name_their_kind_address_and_client_id_and_a_limit_of_0_leaves_a_key_out() {
    let config = ThrottleConfig::default();
    let a = config.client_attempt("ky9f-mmt2", Some("192.0.2.1"));
    let keys: Vec<_> = [a.pair, a.address, a.client]
        .into_iter()
        .map(|k| k.map(|k| (k.key, k.limit)))
        .collect();
    assert_eq!(
        keys,
        [
            Some(("c|192.0.2.1|ky9f-mmt2".to_owned(), 10)),
            Some(("a|192.0.2.1".to_owned(), 100)),
            Some(("i|ky9f-mmt2".to_owned(), 100)),
        ]
    );
    let admin = config.admin_attempt(None);
    assert_eq!(admin.pair.unwrap().key, "m|unknown");
    assert_eq!(admin.client, None);
    let off = ThrottleConfig {
        per_client: 0,
        per_address: 0,
        ..config
    };
    let a = off.client_attempt("ky9f-mmt2", Some("192.0.2.1"));
    assert!(a.pair.is_some() && a.address.is_none() && a.client.is_none());
    // A made-up id longer than any credential's is keyed by its first 64 bytes (whole chars).
    let long = format!("{}é{}", "x".repeat(63), "y".repeat(100));
    let key = config.client_attempt(&long, None).client.unwrap().key;
    assert_eq!(key, format!("i|{}", "x".repeat(63)));
}

fn locked(until: i64) -> FailureCount {
    FailureCount {
        locked_until: until,
        expires_at: until + CAP,
        window_start: until,
        strikes: 1,
        failures: 0,
    }
}

#[test]
fn the_client_id_lockout_applies_only_to_addresses_that_failed_for_that_id() {
    let at = now(T0 + 1_000);
    let client_locked = Counts {
        client: locked(T0 + W),
        ..Counts::default()
    };
    // A clean address: the real client keeps working.
    assert_eq!(client_locked.lockouts(at), Lockouts::default());
    // An address with one failure for this id in its window: refused until the id's lockout ends.
    let failed_here = Counts {
        pair: fail(FailureCount::default(), T0, 10),
        ..client_locked
    };
    assert_eq!(failed_here.lockouts(at).pair, T0 + W);
    // The address's or the pair's own lockout applies whatever the id's count.
    let address = Counts {
        address: locked(T0 + 5_000),
        ..Counts::default()
    };
    assert_eq!(
        address.lockouts(at),
        Lockouts {
            address: T0 + 5_000,
            pair: 0
        }
    );
    let pair = Counts {
        pair: locked(T0 + 5_000),
        ..Counts::default()
    };
    assert_eq!(
        pair.lockouts(at),
        Lockouts {
            address: 0,
            pair: T0 + 5_000
        }
    );
}

#[test]
fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
    let lockout = Lockout { until: T0 + 2_001 };
    assert_eq!(lockout.retry_after_secs(now(T0)), 3);
    assert_eq!(lockout.retry_after_secs(now(T0 + 2_000)), 1);
    assert_eq!(lockout.retry_after_secs(now(T0 + 2_001)), 1);
}

#[test]
fn an_isolate_remembers_the_lockouts_it_reads_until_they_end() {
    let throttle = AuthThrottle::new(ThrottleConfig::default());
    let a = throttle
        .config()
        .client_attempt("ky9f-mmt2", Some("192.0.2.1"));
    let other_id = throttle
        .config()
        .client_attempt("zzzz-zzzz", Some("192.0.2.1"));
    let elsewhere = throttle
        .config()
        .client_attempt("ky9f-mmt2", Some("192.0.2.2"));
    assert_eq!(throttle.known_lockout(&a, now(T0)), None);
    // Nothing locked read: nothing refused, nothing remembered.
    assert_eq!(throttle.judge(&a, Lockouts::default(), now(T0)), None);
    let ended = Lockouts {
        address: T0,
        pair: T0 - 1,
    };
    assert_eq!(throttle.judge(&a, ended, now(T0)), None);
    assert_eq!(throttle.known_lockout(&a, now(T0)), None);
    // A pair lockout read: refused, and known here from now on, for this pair only.
    let until = T0 + W;
    let pair = Lockouts {
        address: 0,
        pair: until,
    };
    assert_eq!(throttle.judge(&a, pair, now(T0)), Some(Lockout { until }));
    assert_eq!(
        throttle.known_lockout(&a, now(T0 + 1)),
        Some(Lockout { until })
    );
    assert_eq!(throttle.known_lockout(&other_id, now(T0 + 1)), None);
    assert_eq!(throttle.known_lockout(&elsewhere, now(T0 + 1)), None);
    assert_eq!(throttle.known_lockout(&a, now(until)), None);
    // An address lockout refuses every id from that address.
    let address = Lockouts {
        address: until + W,
        pair: 0,
    };
    assert!(throttle.judge(&a, address, now(until)).is_some());
    assert_eq!(
        throttle.known_lockout(&other_id, now(until)),
        Some(Lockout { until: until + W })
    );
    // Many lockouts: the list stays bounded; what it forgot is read again.
    for i in 0..1_000 {
        let id = format!("id-{i}");
        let attempt = throttle.config().client_attempt(&id, Some("192.0.2.3"));
        throttle.judge(&attempt, pair, now(T0));
    }
    assert!(throttle.known_lockout(&a, now(T0 + 1)).is_none());
}
