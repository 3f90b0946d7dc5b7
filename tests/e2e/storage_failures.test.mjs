// Storage failures through the runtimes' real transaction paths: D1's batch() on Workers and
// BEGIN/ROLLBACK over Spin's SQLite interface. A trigger installed directly in the runtime's
// database (behind the gateway's back) makes one statement of a multi-statement write fail.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, RUNTIME } from "./harness.mjs";

describe(`storage failures (${RUNTIME})`, () => {
  let gw, cred;
  before(async () => {
    gw = await startGateway();
    await gw.createService("my-api");
    await gw.createUser("dora");
    cred = await gw.createCredential("dora-cred", { user: "dora" });
    // Deleting a user deletes its credentials and then the user, in one batch/transaction:
    // the credentials' DELETE succeeds, the user's fails, so everything must be rolled back.
    await gw.runtime.sql("CREATE TRIGGER fail_user_delete BEFORE DELETE ON isogate_users BEGIN SELECT RAISE(ABORT, 'simulated storage failure'); END");
  });
  after(() => gw?.stop());

  it("a_failed_batch_answers_503_and_leaves_the_user_and_its_credentials_intact", async () => {
    const token = await gw.accessToken(cred);
    const r = await gw.admin("DELETE", "users/dora");
    assert.equal(r.status, 503, r.text);
    assert.ok(!r.text.includes("simulated"), `the answer carries storage internals: ${r.text}`);
    // Nothing was deleted: not the user, not its credential (the first statement of the batch).
    assert.equal((await gw.admin("GET", "users/dora")).status, 200);
    const creds = await gw.cliJson(["get", "credentials"]);
    assert.ok(creds.credentials.some((c) => c.name === "dora-cred" && c.user === "dora"), JSON.stringify(creds));
    // The credential still gets tokens, and its tokens still work.
    const again = await gw.token({ grant_type: "client_credentials", client_id: cred.client_id, client_secret: cred.client_secret });
    assert.equal(again.status, 200, again.text);
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${token}` } })).status, 200);
  });

  // Both adapters log the core's storage diagnostic the same way (issue #9: Spin used to log none).
  it("the_storage_error_is_logged_by_the_runtime", async () => {
    const r = await gw.admin("DELETE", "users/dora");
    assert.equal(r.status, 503);
    // `isogate: storage error: <the runtime's own message>` (D1's on Workers, SQLite's on Spin).
    const expected = RUNTIME === "workers" ? /isogate: storage error: d1: .*simulated storage failure/ : /isogate: storage error: spin sqlite: .*simulated storage failure/;
    await waitFor(() => expected.test(gw.runtime.log()), 3000);
    assert.match(gw.runtime.log(), expected);
  });

  it("the_user_can_be_deleted_once_storage_works_again", async () => {
    await gw.runtime.sql("DROP TRIGGER fail_user_delete");
    assert.equal((await gw.admin("DELETE", "users/dora")).status, 200);
    assert.equal((await gw.admin("GET", "users/dora")).status, 404);
    assert.equal((await gw.admin("GET", "credentials/dora-cred")).status, 404);
  });
});

/** Resolves when `check()` is true, or after `ms` (the caller asserts). Logs arrive asynchronously. */
async function waitFor(check, ms) {
  const start = Date.now();
  while (!check() && Date.now() - start < ms) await new Promise((r) => setTimeout(r, 50));
}
