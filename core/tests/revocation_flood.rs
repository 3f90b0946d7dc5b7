//! One tenant cannot degrade the others (issue #10): revocations are looked up one token at a
//! time, so however many one client holds, another client's service requests make the same
//! storage reads of the same size; one credential may hold only so many; and concurrent
//! requests that miss the same cache entry make one storage read between them.

use isogate_core::capability::Capabilities;
use isogate_core::error::StoreError;
use isogate_core::http::Response;
use isogate_core::keys::PortableEd25519;
use isogate_core::store::{SqlDb, SqlValue};
use isogate_core::testing::*;
use isogate_core::Step;
use std::cell::Cell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

fn revoke(h: &Harness, client: &Client, token: &str) -> Response {
    let body = format!(
        "client_id={}&client_secret={}&token={token}",
        form_encode(&client.client_id),
        form_encode(&client.client_secret)
    );
    let form = [("content-type", "application/x-www-form-urlencoded")];
    h.root(
        &head("POST", DOMAIN, "/oauth2/revoke", None, &form),
        body.as_bytes(),
    )
}

/// Statements run and rows read by one service request of `token` on a fresh isolate (every
/// cache cold: credential, revocation, service).
fn cold_request_cost(h: &Harness, token: &str) -> (usize, usize) {
    let gw = h.isolate();
    let (statements, rows) = (h.db.statements.get(), h.db.rows_read.get());
    authorized(h.call_with(&gw, token));
    (
        h.db.statements.get() - statements,
        h.db.rows_read.get() - rows,
    )
}

fn revocations_of(h: &Harness, client: &Client) -> SqlValue {
    h.db.raw(&format!(
        "SELECT COUNT(*) FROM revoked_tokens WHERE client_id = '{}'",
        client.client_id
    ))[0][0]
        .clone()
}

#[test]
fn ten_thousand_revocations_by_one_client_leave_another_clients_reads_unchanged() {
    let h = Harness::with_settings(&[("ISOGATE_MAX_REVOCATIONS_PER_CREDENTIAL", Some("20000"))]);
    h.create_service(SERVICE, UPSTREAM, &[]);
    let victim = h.create_client("victim", "root", &[]);
    let flooder = h.create_client("flooder", "root", &[]);
    let token = h.token_for(&victim, None);
    let before = cold_request_cost(&h, &token);
    // Credential, "is this token revoked" and service in one statement, one row.
    assert_eq!(before, (1, 1), "statements and rows of a cold request");

    // The flood: revocations through the endpoint, and the same rows in bulk (signing and
    // verifying 10,000 tokens in a debug build would take minutes).
    for _ in 0..10 {
        let t = h.token_for(&flooder, None);
        assert_eq!(revoke(&h, &flooder, &t).status, 200);
    }
    let exp = h.now_secs() + 3600;
    h.db.exec_raw(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 9990) \
         INSERT INTO revoked_tokens (jti, client_id, expires_at) \
         SELECT 'flood-' || i, '{}', {exp} FROM n",
        flooder.client_id
    ));
    assert_eq!(revocations_of(&h, &flooder), SqlValue::Integer(10_000));

    assert_eq!(cold_request_cost(&h, &token), before, "after the flood");
    // A warm isolate refilling its caches after the TTL: the same reads again.
    authorized(h.call(&token));
    h.advance_ms(5_000);
    let (statements, rows) = (h.db.statements.get(), h.db.rows_read.get());
    authorized(h.call(&token));
    assert_eq!(
        (
            h.db.statements.get() - statements,
            h.db.rows_read.get() - rows
        ),
        before,
        "a refill"
    );
    // And with warm caches, none at all.
    let statements = h.db.statements.get();
    authorized(h.call(&token));
    assert_eq!(h.db.statements.get(), statements);
}

#[test]
fn rfc7009_a_credential_holds_at_most_the_configured_revocations_then_gets_invalid_request() {
    let h = Harness::with_settings(&[("ISOGATE_MAX_REVOCATIONS_PER_CREDENTIAL", Some("3"))]);
    h.create_service(SERVICE, UPSTREAM, &[]);
    let client = h.create_client("busy", "root", &[]);
    let other = h.create_client("other", "root", &[]);
    let tokens: Vec<String> = (0..4).map(|_| h.token_for(&client, None)).collect();
    for t in &tokens[..3] {
        assert_eq!(revoke(&h, &client, t).status, 200);
        assert_bearer_error(&refused(h.call(t)), 401, "invalid_token");
    }

    let r = revoke(&h, &client, &tokens[3]);
    assert_token_error(&r, 400, "invalid_request");
    assert_eq!(
        json_body(&r)["error_description"],
        "too many revoked tokens for this client; delete and recreate the credential to end \
         all of its tokens at once"
    );
    authorized(h.call(&tokens[3]));
    assert_eq!(revocations_of(&h, &client), SqlValue::Integer(3));

    // Revoking a token again is still a 200 (RFC 7009 §2.2), and the bound is per credential.
    assert_eq!(revoke(&h, &client, &tokens[0]).status, 200);
    let theirs = h.token_for(&other, None);
    assert_eq!(revoke(&h, &other, &theirs).status, 200);

    // Room comes back as the revoked tokens expire (their rows are pruned).
    h.advance_ms(3_600_000 + 31_000);
    let later = h.token_for(&client, None);
    assert_eq!(revoke(&h, &client, &later).status, 200);
    assert_eq!(revocations_of(&h, &client), SqlValue::Integer(1));
}

#[test]
fn a_revocation_through_this_isolate_overrides_its_cached_not_revoked_at_once() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    authorized(h.call(&token));
    assert_eq!(revoke(&h, &client, &token).status, 200);
    assert_bearer_error(&refused(h.call(&token)), 401, "invalid_token");
}

// -- single flight: a database whose reads park until the test releases them

struct Parked<'a>(&'a Cell<bool>);

impl Future for Parked<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0.get() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The real database behind a gate: every statement waits until `open`.
struct ParkedDb<'a> {
    db: &'a MemDb,
    open: Cell<bool>,
    started: Cell<usize>,
}

impl SqlDb for ParkedDb<'_> {
    async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        self.started.set(self.started.get() + 1);
        Parked(&self.open).await;
        self.db.query(sql, params).await
    }

    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        Parked(&self.open).await;
        self.db.execute(sql, params).await
    }

    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError> {
        Parked(&self.open).await;
        self.db.execute_batch(statements).await
    }
}

#[test]
fn concurrent_requests_missing_the_same_entries_make_one_storage_read_each() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let gw = h.isolate();
    let db = ParkedDb {
        db: &h.db,
        open: Cell::new(false),
        started: Cell::new(0),
    };
    let caps = Capabilities {
        db: &db,
        ed25519: &PortableEd25519,
        random: &FixedRandom(1),
        memory: isogate_core::capability::InstanceMemory::Kept,
        secrets: &isogate_core::capability::NoOriginSecrets,
        jws: &isogate_core::jws::PortableJws,
    };
    let auth = format!("Bearer {token}");
    let request = head("GET", SERVICE_HOST, "/", None, &[("authorization", &auth)]);
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut first = pin!(gw.start(caps, request.clone(), h.clock()));
    let mut second = pin!(gw.start(caps, request.clone(), h.clock()));
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        db.started.get(),
        1,
        "the second request awaits the first's read"
    );

    let statements = h.db.statements.get();
    db.open.set(true);
    for request in [first.as_mut(), second.as_mut()] {
        match request.poll(&mut cx) {
            Poll::Ready(Step::Forward(_)) => {}
            other => panic!(
                "expected a forward, got {:?}",
                other.map(|s| format!("{s:?}"))
            ),
        }
    }
    assert_eq!(
        h.db.statements.get() - statements,
        1,
        "credential, revocation and service, in one read made once"
    );
}
