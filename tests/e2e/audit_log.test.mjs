// The audit log (issue #11, Build 4), read back from the runtime's own log (the worker's console
// through workerd, the component's stdout through the Spin host): a scripted session leaves one
// JSON line per decision, each checked field by field, and no line holds the secret, a token,
// the query string, a cookie or the body that was sent (distinctive markers in each).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startGateway, decodeJwt, RUNTIME } from "./harness.mjs";

const QUERY_MARKER = `qmark${crypto.randomBytes(6).toString("hex")}`;
const BODY_MARKER = `bmark${crypto.randomBytes(6).toString("hex")}`;
const COOKIE_MARKER = `cmark${crypto.randomBytes(6).toString("hex")}`;

/** The audit lines the runtime printed so far, parsed. */
function auditLines(gw) {
  return gw.runtime
    .log()
    .split("\n")
    .filter((l) => l.startsWith('{"log":"audit"'))
    .map((l) => JSON.parse(l));
}

/** The first audit line `match`es, waiting for the runtime's output to arrive (it is piped). */
async function lineWhere(gw, match, what) {
  for (let i = 0; i < 100; i++) {
    const found = auditLines(gw).find(match);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`no audit line for ${what} in the ${RUNTIME} log:\n${gw.runtime.log()}`);
}

/** The line of the request that got `reply` (by the X-Request-Id it came back with). */
function lineOf(gw, reply) {
  const id = reply.headers["x-request-id"];
  assert.ok(id, `the answer (${reply.status}) carries an X-Request-Id`);
  return lineWhere(gw, (l) => l.request_id === id, `request id ${id}`);
}

const ALWAYS = ["log", "time", "request_id", "host", "method", "path", "status", "duration_ms"];

/** Every pair of `expected` is in `line`, and `line` has no field beyond those and ALWAYS. */
function assertFields(line, expected) {
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(line[k], v, `${k} in ${JSON.stringify(line)}`);
  for (const k of Object.keys(line)) {
    assert.ok(ALWAYS.includes(k) || k in expected, `unexpected field ${k} in ${JSON.stringify(line)}`);
  }
  assert.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Math.abs(Date.parse(line.time) - Date.now()) < 120_000, `time ${line.time} is now`);
  assert.ok(Number.isInteger(line.duration_ms) && line.duration_ms >= 0, `duration ${line.duration_ms}`);
}

describe(`audit log of a scripted session (${RUNTIME})`, () => {
  let gw, ci, root, adminId;
  /** What must never be in the log. */
  const secrets = [QUERY_MARKER, BODY_MARKER, COOKIE_MARKER];

  const form = (path, fields) => gw.root(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
  const bearer = (token, headers = {}) => ({ headers: { authorization: `Bearer ${token}`, ...headers } });

  before(async () => {
    gw = await startGateway();
    adminId = crypto.createHash("sha256").update(gw.adminToken).digest("hex").slice(0, 8);
    secrets.push(gw.adminToken);
    await gw.createUser("alice");
    await gw.createService("my-api");
    await gw.createService("payroll", { allowed_users: ["alice"] });
    await gw.createService("limited", { rate_limit: "1/m" });
    ci = await gw.createCredential("ci", { user: "alice" });
    root = await gw.createCredential("root-cred");
    secrets.push(ci.client_secret, root.client_secret);
  });
  after(() => gw?.stop());

  it("admin_creates_are_logged_with_the_admin_credentials_id_never_its_token", async () => {
    for (const [object, name] of [["user", "alice"], ["service", "payroll"], ["credential", "ci"]]) {
      const line = await lineWhere(gw, (l) => l.outcome === "admin_change" && l.action === "create" && l.name === name, `create ${object} ${name}`);
      assertFields(line, {
        outcome: "admin_change", admin: adminId, action: "create", object, name, status: 201,
        method: "POST", path: `/admin/v1/${object}s`, host: gw.domain,
      });
    }
  });

  it("token_issued_forward_scope_and_policy_denials_revocation_and_a_wrong_secret_are_each_one_line", async () => {
    // A token issued.
    const issued = await form("/oauth2/token", { grant_type: "client_credentials", client_id: ci.client_id, client_secret: ci.client_secret });
    assert.equal(issued.status, 200, issued.text);
    const token = issued.json.access_token;
    const jti = decodeJwt(token).payload.jti;
    secrets.push(token);
    assertFields(await lineOf(gw, issued), {
      outcome: "token_issued", user: "alice", credential: "ci", client_id: ci.client_id, jti,
      status: 200, method: "POST", path: "/oauth2/token", host: gw.domain,
    });

    // A forward: the client's X-Request-Id is kept, sent to the origin, returned, logged; the
    // query, the cookie and the body stay out of the line.
    const requestId = `e2e-${crypto.randomBytes(4).toString("hex")}`;
    const forwarded = await gw.service("my-api", `/items/7?${QUERY_MARKER}=1`, {
      method: "POST",
      ...bearer(token, { "x-request-id": requestId, cookie: `session=${COOKIE_MARKER}`, "content-type": "text/plain" }),
      body: `payload ${BODY_MARKER}`,
    });
    assert.equal(forwarded.status, 200, forwarded.text);
    assert.equal(forwarded.headers["x-request-id"], requestId, "the client gets its own id back");
    const atOrigin = gw.originRequests.filter((r) => r.url.startsWith("/items/7"));
    assert.equal(atOrigin.length, 1);
    assert.equal(atOrigin[0].headers["x-request-id"], requestId, "the origin sees the same id");
    assertFields(await lineOf(gw, forwarded), {
      outcome: "forwarded", service: "my-api", host: gw.serviceHost("my-api"), method: "POST",
      path: "/items/7", user: "alice", credential: "ci", client_id: ci.client_id, jti,
      status: 200, origin_status: 200, request_id: requestId,
    });

    // Without an X-Request-Id (or with one that is not acceptable) the gateway makes one: the
    // origin and the client get the same.
    for (const sent of [undefined, "has spaces and \"quotes\""]) {
      const made = await gw.service("my-api", "/made-id", bearer(token, sent ? { "x-request-id": sent } : {}));
      const id = made.headers["x-request-id"];
      assert.match(id, /^[A-Za-z0-9_-]{22}$/, `a random id, not ${JSON.stringify(sent)}`);
      const seen = gw.originRequests.filter((r) => r.url === "/made-id").at(-1);
      assert.equal(seen.headers["x-request-id"], id);
      assert.equal((await lineOf(gw, made)).request_id, id);
    }

    // A scope denial: a token for payroll only, at my-api.
    const narrow = await gw.accessToken(ci, { scope: "service:payroll" });
    secrets.push(narrow);
    const scoped = await gw.service("my-api", "/", bearer(narrow));
    assert.equal(scoped.status, 403);
    assertFields(await lineOf(gw, scoped), {
      outcome: "denied", reason: "scope", service: "my-api", user: "alice", credential: "ci",
      client_id: ci.client_id, jti: decodeJwt(narrow).payload.jti, status: 403, method: "GET", path: "/",
    });

    // A policy denial: payroll admits alice only; root's token is refused.
    const rootToken = await gw.accessToken(root);
    secrets.push(rootToken);
    const policed = await gw.service("payroll", "/runs", bearer(rootToken));
    assert.equal(policed.status, 403);
    assertFields(await lineOf(gw, policed), {
      outcome: "denied", reason: "policy", service: "payroll", user: "root", credential: "root-cred",
      client_id: root.client_id, jti: decodeJwt(rootToken).payload.jti, status: 403, path: "/runs",
    });
    // ... and alice's token is admitted there: a forward.
    const admitted = await gw.service("payroll", "/runs", bearer(token));
    assert.equal(admitted.status, 200);
    assert.equal((await lineOf(gw, admitted)).outcome, "forwarded");

    // Past a service's rate limit (1/m): the second request is throttled, and never forwarded.
    const first = await gw.service("limited", "/once", bearer(token));
    assert.equal(first.status, 200, first.text);
    const limited = await gw.service("limited", "/twice", bearer(token));
    assert.equal(limited.status, 429, limited.text);
    assertFields(await lineOf(gw, limited), {
      outcome: "throttled", reason: "rate_limited", service: "limited", host: gw.serviceHost("limited"),
      user: "alice", credential: "ci", client_id: ci.client_id, jti, status: 429, method: "GET", path: "/twice",
    });
    assert.ok(!gw.originRequests.some((r) => r.url === "/twice"), "the throttled request never reached the origin");

    // A revocation, then the revoked token at the service.
    const revoked = await form("/oauth2/revoke", { client_id: ci.client_id, client_secret: ci.client_secret, token });
    assert.equal(revoked.status, 200, revoked.text);
    assertFields(await lineOf(gw, revoked), {
      outcome: "token_revoked", user: "alice", credential: "ci", client_id: ci.client_id, jti,
      status: 200, path: "/oauth2/revoke",
    });
    const refused = await gw.service("my-api", "/after-revocation", bearer(token));
    assert.equal(refused.status, 401);
    assertFields(await lineOf(gw, refused), {
      outcome: "denied", reason: "revoked", service: "my-api", user: "alice", credential: "ci",
      client_id: ci.client_id, jti, status: 401, path: "/after-revocation",
    });

    // A wrong secret: the client id (a credential has it), never the secret.
    const wrong = `wrong-${BODY_MARKER}`;
    const guessed = await form("/oauth2/token", { grant_type: "client_credentials", client_id: ci.client_id, client_secret: wrong });
    assert.equal(guessed.status, 401);
    assertFields(await lineOf(gw, guessed), {
      outcome: "token_refused", reason: "bad_secret", client_id: ci.client_id, status: 401, path: "/oauth2/token",
    });
    // Guessing from one address (a socket bound to 127.0.0.77, so that the other tests' token
    // requests from 127.0.0.1 are not locked out): past the limit (10 per minute per client id
    // and address) the guess is throttled, unseen, and its line says so, secret-free.
    const guess = () => gw.root("/oauth2/token", {
      method: "POST", localAddress: "127.0.0.77",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: ci.client_id, client_secret: wrong }).toString(),
    });
    let throttled;
    for (let i = 0; i < 20 && !throttled; i++) {
      const r = await guess();
      if (r.status === 429) throttled = r;
      else assert.equal(r.status, 401, r.text);
    }
    assert.ok(throttled, "20 wrong secrets from one address: one answer is 429");
    assert.ok(Number(throttled.headers["retry-after"]) > 0, "Retry-After");
    assertFields(await lineOf(gw, throttled), {
      outcome: "throttled", reason: "too_many_failures", client_id: ci.client_id, status: 429,
      method: "POST", path: "/oauth2/token", host: gw.domain,
    });

    // A client id no credential has (here: a secret pasted into the wrong field) is not logged.
    const swapped = await form("/oauth2/token", { grant_type: "client_credentials", client_id: ci.client_secret, client_secret: ci.client_id });
    assert.equal(swapped.status, 401);
    assertFields(await lineOf(gw, swapped), { outcome: "token_refused", reason: "unknown_client", status: 401, path: "/oauth2/token" });
  });

  it("admin_delete_is_logged_with_what_was_deleted", async () => {
    await gw.delete("credential", "root-cred");
    const line = await lineWhere(gw, (l) => l.outcome === "admin_change" && l.action === "delete", "the deletion");
    assertFields(line, {
      outcome: "admin_change", admin: adminId, action: "delete", object: "credential", name: "root-cred",
      status: 200, method: "DELETE", path: "/admin/v1/credentials/root-cred",
    });
  });

  it("a_path_built_to_forge_a_line_stays_inside_its_own_field", async () => {
    const token = await gw.accessToken(ci);
    secrets.push(token);
    // Quotes and braces as sent (Node's client does not encode them); the runtime may
    // percent-encode them first, which is as good.
    const forged = '/x"},{"log":"audit","outcome":"forged","path":"y';
    const r = await gw.service("my-api", forged, bearer(token));
    const line = await lineOf(gw, r);
    assert.equal(line.outcome, "forwarded");
    assert.ok(line.path === forged || line.path === forged.replaceAll('"', "%22").replaceAll("{", "%7B").replaceAll("}", "%7D"), line.path);
    assert.ok(!auditLines(gw).some((l) => l.outcome === "forged"), "no forged line");
  });

  it("no_line_and_nothing_in_the_log_holds_a_secret_a_token_the_query_a_cookie_or_the_body", async () => {
    const log = gw.runtime.log();
    assert.ok(auditLines(gw).length >= 15, `the session's lines are there:\n${log}`);
    for (const s of secrets) assert.ok(!log.includes(s), `the ${RUNTIME} log contains ${s.slice(0, 12)}...:\n${log}`);
    assert.ok(!log.includes("page="), "no query string");
  });
});

describe(`ISOGATE_AUDIT levels (${RUNTIME})`, () => {
  for (const level of ["off", "denials"]) {
    it(`isogate_audit_${level}_logs_${level === "off" ? "nothing" : "refusals_and_admin_changes_only"}_and_still_sends_request_ids`, async () => {
      const gw = await startGateway({ ISOGATE_AUDIT: level });
      try {
        await gw.createService("my-api");
        const cred = await gw.createCredential("c");
        const token = await gw.accessToken(cred);
        const ok = await gw.service("my-api", "/", { headers: { authorization: `Bearer ${token}` } });
        assert.equal(ok.status, 200);
        assert.match(ok.headers["x-request-id"], /^[A-Za-z0-9_-]{22}$/);
        const denied = await gw.service("my-api", "/");
        assert.equal(denied.status, 401);
        if (level === "denials") {
          assert.equal((await lineOf(gw, denied)).reason, "missing_token");
          await lineWhere(gw, (l) => l.outcome === "admin_change" && l.name === "c", "the admin change");
          const outcomes = auditLines(gw).map((l) => l.outcome);
          assert.ok(!outcomes.includes("forwarded") && !outcomes.includes("token_issued"), outcomes.join(","));
        } else {
          await new Promise((r) => setTimeout(r, 300));
          assert.deepEqual(auditLines(gw), []);
        }
      } finally {
        await gw.stop();
      }
    });
  }
});
