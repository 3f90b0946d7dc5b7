//! The SQL twins of the rule (`store::sql::COUNT_AUTH_FAILURE`, the lockouts of
//! `CREDENTIAL_STATUS_AND_LOCKOUTS`) held equal to the model, on the real migrations in an
//! in-memory SQLite.

use super::*;
use crate::capability::RandomSource;
use crate::store::{SqlValue, Store};
use crate::testing::{block_on, MemDb, SeededRandom};

const T0: i64 = 1_700_000_000_000;
const W: i64 = DEFAULT_WINDOW_MS;

fn now(ms: i64) -> Now {
    Now::from_unix_ms(ms as u64)
}

/// The stored row of `key`, as a count.
fn stored(db: &MemDb, key: &str) -> FailureCount {
    let rows = db.raw(&format!(
        "SELECT window_start, failures, strikes, locked_until, expires_at \
         FROM isogate_auth_failures WHERE key = '{key}'"
    ));
    let int = |v: &SqlValue| match v {
        SqlValue::Integer(i) => *i,
        other => panic!("{other:?}"),
    };
    rows.first()
        .map_or_else(FailureCount::default, |r| FailureCount {
            window_start: int(&r[0]),
            failures: int(&r[1]),
            strikes: int(&r[2]),
            locked_until: int(&r[3]),
            expires_at: int(&r[4]),
        })
}

#[test]
fn the_sql_counts_and_judges_exactly_as_the_model_does() {
    // Random failures on three keys with small limits, a short window and a short cap, the
    // clock jumping by up to two caps: the database's row is the model's count every time
    // (`FailureCount::after_failure`), and the lockouts read are the model's
    // (`Counts::lockouts`).
    let db = MemDb::migrated();
    let random = SeededRandom::new(7);
    let draw = |n: u64| {
        let mut b = [0u8; 8];
        random.fill(&mut b);
        (u64::from_le_bytes(b) % n) as i64
    };
    let config = ThrottleConfig {
        per_client_address: 3,
        per_address: 5,
        per_client: 2,
        window_ms: 1_000,
        max_lockout_ms: 8_000,
    };
    let mut at = T0;
    let mut lockouts = 0;
    for step in 0..3_000 {
        at += match draw(10) {
            0 => draw(16_000),
            1..=3 => draw(1_500),
            _ => draw(200),
        };
        let ip = ["192.0.2.1", "192.0.2.2"][draw(2) as usize];
        let attempt = config.client_attempt("ky9f-mmt2", Some(ip));
        let keys: Vec<_> = [
            attempt.pair.clone(),
            attempt.address.clone(),
            attempt.client.clone(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let before: Vec<_> = keys.iter().map(|k| stored(&db, &k.key)).collect();
        block_on(Store::new(&db).record_failure(&attempt, &config, now(at))).unwrap();
        for (key, before) in keys.iter().zip(before) {
            let want = before.after_failure(at, key.limit, config.window_ms, config.max_lockout_ms);
            assert_eq!(
                stored(&db, &key.key),
                want,
                "step {step} at {at}: {}",
                key.key
            );
            lockouts += (want.locked_until != before.locked_until) as u32;
        }
        // The read's lockouts, a moment later, are what the counts stored impose.
        let later = now(at + draw(3_000));
        let counts = Counts {
            pair: stored(&db, &attempt.pair.as_ref().unwrap().key),
            address: stored(&db, &attempt.address.as_ref().unwrap().key),
            client: stored(&db, &attempt.client.as_ref().unwrap().key),
        };
        let store = Store::new(&db);
        let (_, read) =
            block_on(store.credential_status_and_lockouts("", &attempt, later)).unwrap();
        assert_eq!(read, counts.lockouts(later), "step {step} at {at}");
    }
    assert!(lockouts > 100, "the walk locked keys {lockouts} times");
}

#[test]
fn concurrent_failures_all_count_whatever_their_requests_read() {
    // Ten requests read the same (empty) counts, then each records its failure: the database
    // counts ten, not one.
    let db = MemDb::migrated();
    let config = ThrottleConfig {
        per_client_address: 100,
        ..ThrottleConfig::default()
    };
    let attempt = config.client_attempt("ky9f-mmt2", Some("192.0.2.1"));
    for _ in 0..10 {
        block_on(Store::new(&db).record_failure(&attempt, &config, now(T0))).unwrap();
    }
    assert_eq!(stored(&db, "c|192.0.2.1|ky9f-mmt2").failures, 10);
    assert_eq!(stored(&db, "a|192.0.2.1").failures, 10);
    assert_eq!(stored(&db, "i|ky9f-mmt2").failures, 10);
}

#[test]
fn expired_rows_are_pruned_when_a_failure_is_counted() {
    let db = MemDb::migrated();
    let config = ThrottleConfig::default();
    let store = Store::new(&db);
    let attempt = config.client_attempt("a", Some("192.0.2.1"));
    block_on(store.record_failure(&attempt, &config, now(T0))).unwrap();
    let rows = || {
        db.raw("SELECT key FROM isogate_auth_failures ORDER BY key")
            .len()
    };
    assert_eq!(rows(), 3);
    let later = T0 + W;
    let admin = config.admin_attempt(Some("192.0.2.9"));
    block_on(store.record_failure(&admin, &config, now(later))).unwrap();
    assert_eq!(
        db.raw("SELECT key FROM isogate_auth_failures ORDER BY key"),
        [
            [SqlValue::from("a|192.0.2.9")],
            [SqlValue::from("m|192.0.2.9")]
        ]
    );
}
