// Throttled guessing (RFC 6749 §10.10; 429 and Retry-After per RFC 6585 §4), end to end in the
// real runtime, as an attacker sends it: from real client addresses (the client socket bound to
// 127.0.0.x on loopback; workerd reports it as CF-Connecting-IP, the Spin host as
// spin-client-addr), against a second isolate (workerd) or host process (Spin) sharing storage.
//
// The gateway runs with a 5 s window and 5 s lockouts (ISOGATE_AUTH_FAILURE_WINDOW and
// ISOGATE_AUTH_LOCKOUT_MAX; production: 60 s and up to 1 h) so that "after the window" is seconds
// away, and 20 failures per client id (ISOGATE_AUTH_FAILURES_PER_MINUTE_PER_CLIENT); the other
// limits are the defaults (10 per client id and address, 100 per address).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, RUNTIME } from "./harness.mjs";

const WINDOW_S = 5;
const PER_CLIENT = 20;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe(`throttled guessing (${RUNTIME})`, () => {
  let gw;
  before(async () => {
    gw = await startGateway({
      peer: true,
      ISOGATE_AUTH_FAILURE_WINDOW: `${WINDOW_S}s`,
      ISOGATE_AUTH_LOCKOUT_MAX: `${WINDOW_S}s`,
      ISOGATE_AUTH_FAILURES_PER_MINUTE_PER_CLIENT: String(PER_CLIENT),
    });
    await gw.createService("my-api");
  });
  after(() => gw?.stop());

  const form = (fields) => new URLSearchParams(fields).toString();
  // The workerd peer listens on a direct socket, where no CF-Connecting-IP is set for it: it is
  // told the address the way Cloudflare's edge tells a worker.
  const addressHeader = (client, from) => (client === gw.peer && RUNTIME === "workers" ? { "cf-connecting-ip": from } : {});
  const post = (client, from, path, fields) =>
    client.root(path, { method: "POST", localAddress: from, body: form(fields),
      headers: { "content-type": "application/x-www-form-urlencoded", ...addressHeader(client, from) } });
  const token = (from, cred, secret, client = gw) =>
    post(client, from, "/oauth2/token", { grant_type: "client_credentials", client_id: cred.client_id, client_secret: secret });
  const admin = (from, adminToken) =>
    gw.root("/admin/v1/users", { localAddress: from, headers: { authorization: `Bearer ${adminToken}` } });

  /** A 429 as RFC 6585 §4 and RFC 6749 §5.2 have it; returns its Retry-After in seconds. */
  const assertThrottled = (r, code = "invalid_client") => {
    assert.equal(r.status, 429, r.text);
    assert.match(r.headers["retry-after"] ?? "", /^[0-9]+$/, "Retry-After in whole seconds");
    const secs = Number(r.headers["retry-after"]);
    assert.ok(secs >= 1 && secs <= WINDOW_S, `Retry-After ${secs}`);
    assert.deepEqual(r.json, { error: code, error_description: `too many failed attempts; retry after ${secs} s` });
    assert.equal(r.headers["cache-control"], "no-store");
    return secs;
  };

  it("150_wrong_secrets_for_one_client_id_get_429s_while_the_right_secret_from_another_address_gets_a_token_and_after_the_window_from_the_first_too", async () => {
    const cred = await gw.createCredential("guessed");
    const [A, B] = ["127.0.0.11", "127.0.0.12"];
    const statuses = [];
    let lastRetryAfter = 0;
    const started = Date.now();
    for (let i = 0; i < 150; i++) {
      const r = await token(A, cred, `wrong-${i}`);
      statuses.push(r.status);
      if (r.status === 429) {
        lastRetryAfter = assertThrottled(r);
        // While A is locked, even the right secret from A is refused: it is never looked at.
        if (i === 10) assertThrottled(await token(A, cred, cred.client_secret));
      } else {
        assert.equal(r.status, 401, r.text);
        assert.equal(r.json.error, "invalid_client");
        lastRetryAfter = 0;
      }
    }
    const elapsed = Date.now() - started;
    const runs = statuses.join(",").split("429").map((run) => run.split(",").filter(Boolean).length);
    console.log(`150 wrong secrets in ${elapsed} ms: ${statuses.filter((s) => s === 401).length} answered 401 (secret checked), ` +
      `${statuses.filter((s) => s === 429).length} answered 429; runs of 401s: ${runs.filter(Boolean).join(", ")}`);
    // The first ten are checked, then the client id is locked for this address: at most ten
    // secrets are checked per window, and most of the 150 are refused unseen.
    assert.deepEqual(statuses.slice(0, 11), [...Array(10).fill(401), 429]);
    assert.ok(runs.every((n) => n <= 10), `runs of 401s: ${runs}`);
    assert.ok(statuses.filter((s) => s === 429).length >= 100, statuses.join(","));

    // The real client, from an address that never failed, gets its token.
    const fromB = await token(B, cred, cred.client_secret);
    assert.equal(fromB.status, 200, fromB.text);
    assert.ok(fromB.json.access_token);

    // Once the lockout (Retry-After) is over, the first address gets one too.
    await sleep(lastRetryAfter * 1000 + 100);
    const fromA = await token(A, cred, cred.client_secret);
    assert.equal(fromA.status, 200, fromA.text);
  });

  it("a_lockout_counted_by_one_isolate_refuses_the_attempt_on_another", async () => {
    // workerd: a second isolate of the worker; Spin: a second host process. Both share the
    // database, where the counts live.
    const cred = await gw.createCredential("guessed-on-two");
    const A = "127.0.0.21";
    for (let i = 0; i < 10; i++) {
      const r = await token(A, cred, `wrong-${i}`, i % 2 ? gw.peer : gw);
      assert.equal(r.status, 401, r.text);
    }
    assertThrottled(await token(A, cred, cred.client_secret, gw.peer));
    assertThrottled(await token(A, cred, cred.client_secret, gw));
    assert.equal((await token("127.0.0.22", cred, cred.client_secret, gw.peer)).status, 200);
  });

  it("a_guess_spread_over_addresses_locks_the_client_id_only_for_the_addresses_that_failed_for_it", async () => {
    const cred = await gw.createCredential("guessed-from-many");
    const address = (i) => `127.0.1.${i + 1}`;
    for (let i = 0; i < PER_CLIENT; i++) {
      const r = await token(address(i), cred, "wrong");
      assert.equal(r.status, 401, `${address(i)}: ${r.text}`);
    }
    // Every address that guessed is refused now, even with the right secret...
    for (const i of [0, 7, PER_CLIENT - 1]) assertThrottled(await token(address(i), cred, cred.client_secret));
    // ...but the real client, from an address that never failed, keeps working.
    const r = await token("127.0.1.200", cred, cred.client_secret);
    assert.equal(r.status, 200, r.text);
  });

  it("wrong_admin_tokens_are_throttled_per_address_and_the_operator_elsewhere_is_not", async () => {
    const A = "127.0.2.1";
    for (let i = 0; i < 10; i++) {
      const r = await admin(A, `wrong-admin-token-${i}`);
      assert.equal(r.status, 401, r.text);
    }
    const r = await admin(A, gw.adminToken);
    assertThrottled(r, "too_many_requests");
    assert.ok(!r.text.includes(gw.adminToken));
    assert.equal((await admin("127.0.2.2", gw.adminToken)).status, 200);
    // The CLI (from 127.0.0.1) keeps working.
    await gw.createUser("still-administered");
  });

  it("revocation_and_introspection_are_throttled_and_share_the_counts", async () => {
    const cred = await gw.createCredential("revoker");
    const accessToken = await gw.accessToken(cred);
    const A = "127.0.3.1";
    const client = (secret) => ({ client_id: cred.client_id, client_secret: secret, token: accessToken });
    for (let i = 0; i < 5; i++) {
      assert.equal((await post(gw, A, "/oauth2/revoke", client(`wrong-r${i}`))).status, 401);
      assert.equal((await post(gw, A, "/oauth2/introspect", client(`wrong-i${i}`))).status, 401);
    }
    assertThrottled(await post(gw, A, "/oauth2/revoke", client(cred.client_secret)));
    assertThrottled(await post(gw, A, "/oauth2/introspect", client(cred.client_secret)));
    // The throttled revocation revoked nothing: from another address the token is active.
    const r = await post(gw, "127.0.3.2", "/oauth2/introspect", client(cred.client_secret));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.active, true);
  });

  it("successes_are_never_counted", async () => {
    const cred = await gw.createCredential("busy");
    for (let i = 0; i < 30; i++) {
      const r = await token("127.0.4.1", cred, cred.client_secret);
      assert.equal(r.status, 200, `${i}: ${r.text}`);
    }
  });
});
