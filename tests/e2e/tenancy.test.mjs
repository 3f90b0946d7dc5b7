// No tenant can hurt another (issue #10), end to end in the real runtime: a revocation flood by
// one client leaves another client's requests as they were (status and storage statements),
// one credential may hold only so many revocations, a user deleted and re-created under the
// same name stays out of the services that admitted the old one, introspection answers only
// about the caller's own tokens without the right to more, every 401 carries a challenge, and
// a weak admin token keeps the gateway from starting.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import net from "node:net";
import { startGateway, decodeJwt, signJwt, CACHE_TTL_MS, RUNTIME } from "./harness.mjs";

const FLOOD = 1000; // the default ISOGATE_MAX_REVOCATIONS_PER_CREDENTIAL
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** POSTs a form to a root endpoint as client_secret_post. */
function post(gw, path, client, form) {
  return gw.root(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: client.client_id, client_secret: client.client_secret, ...form }).toString(),
  });
}

/** Runs `task(i)` for i in 0..n, `width` at a time. */
async function pool(n, width, task) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await task(next++);
  }));
}

describe(`one tenant cannot degrade the others (${RUNTIME})`, () => {
  let gw, victim, flooder;
  before(async () => {
    gw = await startGateway({ statements: true });
    await gw.createService("my-api");
    victim = await gw.createCredential("victim");
    flooder = await gw.createCredential("flooder");
  });
  after(() => gw?.stop());

  /** Status and storage statements of one request of `token`, its caches expired first. */
  async function coldRequest(token) {
    await sleep(CACHE_TTL_MS + 100);
    const before = await gw.runtime.statements();
    const r = await gw.service("my-api", "/", { headers: { authorization: `Bearer ${token}` } });
    const after = await gw.runtime.statements();
    return { status: r.status, sql: after.sql.slice(before.count) };
  }

  /** The host's statement log once no more lines arrive (earlier requests' lines come late). */
  async function settledStatements() {
    let last = await gw.runtime.statements();
    for (;;) {
      await sleep(100);
      const now = await gw.runtime.statements();
      if (now.count === last.count) return now;
      last = now;
    }
  }

  /** The SQL statements one forwarded request of `token` ran, and its status. */
  async function spinRequest(token) {
    const before = await settledStatements();
    const r = await gw.service("my-api", "/", { headers: { authorization: `Bearer ${token}` } });
    const after = await settledStatements();
    return { status: r.status, sql: after.sql.slice(before.count) };
  }

  // Spin gives every request a fresh instance (a wasi:http 0.2 component): nothing cached, the
  // schema not known to be current, and still one SQLite statement per forwarded request,
  // counted by the host, once the token's verification is remembered (its first admitted
  // request also prunes and inserts its row of isogate_verified_tokens, issue #14.2); a
  // revocation is refused by the next request, with the same one statement.
  it("every_forwarded_request_on_spin_runs_exactly_one_sqlite_statement", { skip: RUNTIME !== "spin" && "Spin's instance per request" }, async () => {
    const token = await gw.accessToken(victim);
    const first = await spinRequest(token);
    assert.equal(first.status, 200);
    assert.equal(first.sql.length, 3, first.sql.join("\n"));
    assert.match(first.sql[1], /^DELETE FROM isogate_verified_tokens/);
    assert.match(first.sql[2], /^INSERT OR IGNORE INTO isogate_verified_tokens/);
    for (let i = 0; i < 3; i++) {
      const { status, sql } = await spinRequest(token);
      assert.equal(status, 200);
      assert.equal(sql.length, 1, sql.join("\n"));
      assert.match(sql[0], /FROM isogate_verified_tokens WHERE digest = \?5/);
    }
    const revoked = await gw.accessToken(victim);
    assert.equal((await post(gw, "/oauth2/revoke", victim, { token: revoked })).status, 200);
    const before = await settledStatements();
    const r = await gw.service("my-api", "/", { headers: { authorization: `Bearer ${revoked}` } });
    const after = await settledStatements();
    assert.equal(r.status, 401);
    assert.equal(after.sql.slice(before.count).length, 1, after.sql.slice(before.count).join("\n"));
  });

  // A remembered verification vouches for that exact token string only: the same token with its
  // claims changed, or its signature, is verified (and refused) as if nothing were remembered,
  // writes nothing, and never reaches the origin.
  it("a_tampered_token_after_a_remembered_one_is_refused_on_spin_and_the_origin_sees_nothing", { skip: RUNTIME !== "spin" && "Spin's instance per request" }, async () => {
    const token = await gw.accessToken(victim);
    assert.equal((await spinRequest(token)).status, 200);
    assert.equal((await spinRequest(token)).sql.length, 1, "remembered");
    const { payload } = decodeJwt(token);
    const [h64, , s64] = token.split(".");
    // Its lifetime stretched by a day, its signature kept.
    const longer = Buffer.from(JSON.stringify({ ...payload, exp: payload.exp + 86400 })).toString("base64url");
    assert.notEqual(longer, token.split(".")[1]);
    const flipped = s64.slice(0, -2) + (s64.at(-2) === "A" ? "B" : "A") + s64.at(-1);
    const seenBefore = gw.originRequests.length;
    for (const forged of [`${h64}.${longer}.${s64}`, `${h64}.${token.split(".")[1]}.${flipped}`]) {
      const { status, sql } = await spinRequest(forged);
      assert.equal(status, 401);
      assert.equal(sql.length, 1, sql.join("\n"));
    }
    assert.equal(gw.originRequests.length, seenBefore, "the origin saw none of them");
  });

  it("a_flood_of_revocations_by_one_client_leaves_another_clients_requests_and_statements_unchanged", async () => {
    const token = await gw.accessToken(victim);
    // Once first (on Spin its first admitted request remembers its verification: two writes).
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${token}` } })).status, 200);
    const baseline = await coldRequest(token);
    assert.equal(baseline.status, 200);
    // Credential, "is this token revoked" by its id and service in one statement (Spin: with
    // the schema's ledger counted in it, which every fresh instance needs).
    assert.equal(baseline.sql.length, 1, baseline.sql.join("\n"));
    assert.ok(baseline.sql[0].includes("(SELECT 1 FROM revoked_tokens WHERE jti = ?1)"), baseline.sql.join("\n"));

    // The flood: the flooder's own tokens (signed as the gateway signs them), each revoked
    // through /oauth2/revoke, up to the bound.
    const model = decodeJwt(await gw.accessToken(flooder));
    const started = Date.now();
    await pool(FLOOD, 8, async () => {
      const t = signJwt(gw.seed, model.header, { ...model.payload, jti: crypto.randomBytes(16).toString("base64url") });
      const r = await post(gw, "/oauth2/revoke", flooder, { token: t });
      assert.equal(r.status, 200, r.text);
    });
    console.log(`   ${FLOOD} revocations through /oauth2/revoke in ${Date.now() - started} ms`);

    const after = await coldRequest(token);
    assert.deepEqual(after, baseline, "the same statements, the same answer");
    // No statement anywhere read the revoked tokens other than by id.
    const { sql } = await gw.runtime.statements();
    for (const s of sql.filter((s) => /FROM revoked_tokens/.test(s) && !/^(DELETE|INSERT)/.test(s))) {
      assert.ok(/WHERE (jti = \?1|client_id = \?2)/.test(s), s);
    }

    // The bound: the next revocation is refused, RFC 6749 §5.2-style, and changes nothing.
    const oneMore = await gw.accessToken(flooder);
    const refused = await post(gw, "/oauth2/revoke", flooder, { token: oneMore });
    assert.equal(refused.status, 400);
    assert.equal(refused.headers["cache-control"], "no-store");
    assert.deepEqual(refused.json, {
      error: "invalid_request",
      error_description: "too many revoked tokens for this client; delete and recreate the credential to end all of its tokens at once",
    });
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${oneMore}` } })).status, 200);
    // Another client still revokes.
    const theirs = await gw.accessToken(victim);
    assert.equal((await post(gw, "/oauth2/revoke", victim, { token: theirs })).status, 200);
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${theirs}` } })).status, 401);
    // And the remedy the error names works: deleting the credential ends every token at once.
    await gw.delete("credential", "flooder");
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${oneMore}` } })).status, 401);
  });

  it("a_user_deleted_and_re_created_under_the_same_name_is_still_denied_at_the_service_that_admitted_the_old_one", async () => {
    await gw.createUser("alice");
    await gw.createService("alice-only", { allowed_users: ["alice"] });
    const old = await gw.createCredential("alice-cred", { user: "alice" });
    const oldToken = await gw.accessToken(old);
    assert.equal((await gw.service("alice-only", "/", { headers: { authorization: `Bearer ${oldToken}` } })).status, 200);

    await gw.delete("user", "alice");
    const again = await gw.createUser("alice");
    const fresh = await gw.createCredential("alice-cred-2", { user: "alice" });
    const token = await gw.accessToken(fresh);
    for (const t of [token, oldToken]) {
      const r = await gw.service("alice-only", "/", { headers: { authorization: `Bearer ${t}` } });
      assert.equal(r.status, t === token ? 403 : 401, r.text);
    }
    const r = await gw.service("alice-only", "/", { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.json.error_description, "this service's policy does not admit this user");
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${token}` } })).status, 200, "she is a user, just not that one");
    // What the admin sees: the policy names the old id; the new alice has another.
    const svc = (await gw.cliJson(["get", "service", "alice-only"])).service;
    assert.deepEqual(svc.allowed_users, ["alice"]);
    assert.equal(svc.allowed_user_ids.length, 1);
    assert.notEqual(svc.allowed_user_ids[0], again.id);
    const text = await gw.cli(["get", "service", "alice-only"]);
    assert.match(text.stdout, new RegExp(`alice#${svc.allowed_user_ids[0]}`));
  });

  it("rfc7662_4_introspection_answers_about_another_clients_token_only_with_the_right", async () => {
    const owner = await gw.createCredential("owner");
    const stranger = await gw.createCredential("stranger");
    const resourceServer = await gw.createCredential("resource-server", { can_introspect: true });
    const token = await gw.accessToken(owner);
    const stranger_view = await post(gw, "/oauth2/introspect", stranger, { token });
    assert.equal(stranger_view.status, 200);
    assert.deepEqual(stranger_view.json, { active: false });
    for (const client of [owner, resourceServer]) {
      const r = await post(gw, "/oauth2/introspect", client, { token });
      assert.equal(r.json.active, true, client.credential.name);
      assert.equal(r.json.client_id, owner.client_id);
    }
    const listed = (await gw.cliJson(["get", "creds"])).credentials;
    const right = Object.fromEntries(listed.map((c) => [c.name, c.can_introspect]));
    assert.deepEqual([right["resource-server"], right.stranger, right.owner], [true, false, false]);
    assert.match((await gw.cli(["get", "cred", "resource-server"])).stdout, /INTROSPECT[\s\S]*\byes\b/);
  });
});

/**
 * One request over a raw socket; resolves the response head as sent: the status code and the
 * header lines (name and value exactly as on the wire).
 */
function rawHead(port, request) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error("no answer within 5 s")); }, 5000);
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      if (end < 0) return;
      clearTimeout(timer);
      socket.destroy();
      const [status, ...lines] = received.subarray(0, end).toString("latin1").split("\r\n");
      resolve({ status: Number(status.split(" ")[1]), lines });
    });
    socket.write(request);
  });
}

describe(`every 401 carries WWW-Authenticate (RFC 9110 §15.5.2) (${RUNTIME})`, () => {
  let gw, cred;
  before(async () => {
    gw = await startGateway();
    await gw.createService("my-api");
    cred = await gw.createCredential("c401");
  });
  after(() => gw?.stop());

  it("rfc9110_15_5_2_each_401_path_sends_a_challenge_on_the_wire", async () => {
    const revoked = await gw.accessToken(cred);
    await post(gw, "/oauth2/revoke", cred, { token: revoked });
    const doomed = await gw.createCredential("doomed");
    const ofDeleted = await gw.accessToken(doomed);
    await gw.delete("credential", "doomed");
    const form = (body) => ({ method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    const wrong = `client_id=${cred.client_id}&client_secret=wrong`;
    const basicWrong = `Basic ${Buffer.from(`${cred.client_id}:wrong`).toString("base64")}`;
    const cases = [
      // [what, host, path, method, headers, body, challenge scheme]
      ["token: no client authentication", "root", "/oauth2/token", form("grant_type=client_credentials"), "Basic"],
      ["token: client_secret_post, wrong secret", "root", "/oauth2/token", form(`grant_type=client_credentials&${wrong}`), "Basic"],
      ["token: client_secret_basic, wrong secret", "root", "/oauth2/token", { ...form("grant_type=client_credentials"), auth: basicWrong }, "Basic"],
      ["revoke: wrong secret", "root", "/oauth2/revoke", form(`token=x&${wrong}`), "Basic"],
      ["revoke: no client authentication", "root", "/oauth2/revoke", form("token=x"), "Basic"],
      ["introspect: wrong secret", "root", "/oauth2/introspect", form(`token=x&${wrong}`), "Basic"],
      ["introspect: no client authentication", "root", "/oauth2/introspect", form("token=x"), "Basic"],
      ["admin: no credential", "root", "/admin/v1/users", { method: "GET" }, "Bearer"],
      ["admin: wrong credential", "root", "/admin/v1/users", { method: "GET", auth: "Bearer wrong" }, "Bearer"],
      ["service: no token", "svc", "/", { method: "GET" }, "Bearer"],
      ["service: garbage token", "svc", "/", { method: "GET", auth: "Bearer garbage" }, "Bearer"],
      ["service: revoked token", "svc", "/", { method: "GET", auth: `Bearer ${revoked}` }, "Bearer"],
      ["service: deleted credential", "svc", "/", { method: "GET", auth: `Bearer ${ofDeleted}` }, "Bearer"],
    ];
    for (const [what, host, path, { method, headers = {}, body = "", auth }, scheme] of cases) {
      const hostHeader = host === "root" ? gw.domain : gw.serviceHost("my-api");
      const lines = [`${method} ${path} HTTP/1.1`, `Host: ${hostHeader}`, "Connection: close", `Content-Length: ${Buffer.byteLength(body)}`];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      if (auth) lines.push(`Authorization: ${auth}`);
      const r = await rawHead(gw.port, `${lines.join("\r\n")}\r\n\r\n${body}`);
      assert.equal(r.status, 401, what);
      const challenges = r.lines.filter((l) => /^www-authenticate:/i.test(l));
      assert.equal(challenges.length, 1, `${what}: ${r.lines.join(" | ")}`);
      assert.match(challenges[0], new RegExp(`^www-authenticate: ?${scheme} realm="isogate(-admin)?"`, "i"), what);
    }
  });
});

describe(`a weak admin token keeps the gateway down (${RUNTIME})`, () => {
  for (const token of ["change-me", "change-me-change-me-change-me-change-me", "x".repeat(31)]) {
    it(`admin_token_${token.length < 32 ? "under_32_bytes" : "placeholder"}_${token.slice(0, 9)}_is_503_misconfigured_with_a_log_naming_the_setting`, async () => {
      const gw = await startGateway({ ISOGATE_ADMIN_TOKEN: token });
      try {
        for (const [host, path] of [[gw.domain, "/healthz"], [gw.domain, "/admin/v1/users"], [gw.serviceHost("my-api"), "/"]]) {
          const r = await gw.request(host, path, { headers: { authorization: `Bearer ${token}` } });
          assert.equal(r.status, 503, `${host}${path}`);
          assert.deepEqual(r.json, { error: "temporarily_unavailable", error_description: "the gateway is not configured; see its log" });
        }
        await sleep(200); // the runtime's log reaches us asynchronously
        const log = gw.runtime.log();
        assert.match(log, /isogate: configuration error: ISOGATE_ADMIN_TOKEN (is shorter than 32 bytes|is a placeholder)/);
        assert.ok(!log.includes(token), "the value is never logged");
      } finally {
        await gw.stop();
      }
    });
  }
});
