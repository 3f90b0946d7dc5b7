// Oversized and unread request bodies, sent as an attacker sends them (raw TCP, the body
// really sent): every root endpoint answers a 2 MB and a 20 KB body with 413 (declared by
// Content-Length, or chunked), every route that answers without reading a body releases it,
// and the next request is served at once. (Issue #10: under `wrangler dev` a 2 MB POST to
// /oauth2/token got "503 Your worker restarted mid-request" and the next request stalled 5 s;
// a 9-20 KB body did the same.) The last block runs the same probes under `wrangler dev`
// itself, the start command the README used to give.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway, freePort, signingSeed, runProgram, ROOT, RUNTIME } from "./harness.mjs";
import { rawExchange, requestHead } from "./rawhttp.mjs";

const MB2 = 2_000_000;
const KB20 = 20_000;
/** How soon the next request must be answered ("at once": the issue saw a 5 s stall). */
const NEXT_WITHIN_MS = 1000;
const TOO_LARGE = { error: "invalid_request", error_description: "the request body is too large" };

/** The request bytes: a head, then `size` bytes of body declared by Content-Length or chunked. */
function withBody(method, target, host, size, framing, headers = []) {
  const body = Buffer.alloc(size, "a");
  if (framing === "chunked") {
    const chunks = [];
    for (let at = 0; at < size; at += 16384) {
      const piece = body.subarray(at, Math.min(size, at + 16384));
      chunks.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n"));
    }
    chunks.push(Buffer.from("0\r\n\r\n"));
    const head = requestHead(method, target, [["Host", host], ["Transfer-Encoding", "chunked"], ...headers]);
    return Buffer.concat([Buffer.from(head), ...chunks]);
  }
  const head = requestHead(method, target, [["Host", host], ["Content-Length", String(size)], ...headers]);
  return Buffer.concat([Buffer.from(head), body]);
}

/** The next request, on a new connection: answered 200 within NEXT_WITHIN_MS. */
async function assertNextServedAtOnce(port, domain, what) {
  const next = await rawExchange(port, requestHead("GET", "/healthz", [["Host", domain]]), { timeoutMs: 5000 });
  assert.equal(next.outcome, "answered", `${what}: the next request got ${next.outcome} after ${next.ms} ms`);
  assert.equal(next.answers[0].status, 200, `${what}: the next request`);
  assert.ok(next.ms < NEXT_WITHIN_MS, `${what}: the next request took ${next.ms} ms`);
}

/** The body endpoints of the root domain, with the headers a real client would send. */
function rootBodyEndpoints(adminToken) {
  const form = [["Content-Type", "application/x-www-form-urlencoded"]];
  const admin = [["Content-Type", "application/json"], ["Authorization", `Bearer ${adminToken}`]];
  return [
    ["/oauth2/token", form],
    ["/oauth2/revoke", form],
    ["/oauth2/introspect", form],
    ["/admin/v1/users", admin],
    ["/admin/v1/services", admin],
    ["/admin/v1/credentials", admin],
  ];
}

async function assertEveryRootEndpointAnswers413(port, domain, adminToken, framings) {
  for (const [target, headers] of rootBodyEndpoints(adminToken)) {
    for (const size of [MB2, KB20]) {
      for (const framing of framings) {
        const what = `POST ${target} with ${size} bytes (${framing})`;
        const r = await rawExchange(port, withBody("POST", target, domain, size, framing, headers));
        assert.equal(r.outcome, "answered", `${what}: ${r.outcome}`);
        assert.equal(r.answers[0].status, 413, `${what}: ${r.answers[0].body}`);
        assert.deepEqual(JSON.parse(r.answers[0].body), TOO_LARGE, what);
        await assertNextServedAtOnce(port, domain, what);
      }
    }
  }
}

describe(`oversized and unread request bodies (${RUNTIME})`, () => {
  let gw, cred, token, otherToken;
  before(async () => {
    gw = await startGateway();
    await gw.createService("my-api");
    cred = await gw.createCredential("big-bodies");
    token = await gw.accessToken(cred);
    // In scope for a service that does not exist, and not for my-api.
    const narrow = await gw.createCredential("narrow", { scopes: ["service:elsewhere"] });
    otherToken = await gw.accessToken(narrow);
  });
  after(() => gw?.stop());

  it("a_2_mb_and_a_20_kb_body_to_every_root_endpoint_answer_413_and_the_next_request_is_served_at_once", async () => {
    await assertEveryRootEndpointAnswers413(gw.port, gw.domain, gw.adminToken, ["content-length", "chunked"]);
  });

  it("a_small_body_left_unread_is_drained_and_its_connection_kept", async () => {
    // Both requests on one connection: the second is answered only if the first one's 20 KB
    // were read off the connection (drained) rather than left there.
    for (const target of ["/nope", "/oauth2/token"]) {
      const pipelined = Buffer.concat([
        withBody("POST", target, gw.domain, KB20, "content-length", [["Content-Type", "application/x-www-form-urlencoded"]]),
        Buffer.from(requestHead("GET", "/healthz", [["Host", gw.domain]])),
      ]);
      const r = await rawExchange(gw.port, pipelined, { answers: 2, timeoutMs: 5000 });
      assert.equal(r.outcome, "answered", `${target}: ${r.outcome}, answers ${r.answers.map((a) => a.status)}`);
      assert.deepEqual(r.answers.map((a) => a.status), [target === "/nope" ? 404 : 413, 200], target);
    }
  });

  it("every_route_that_answers_without_reading_a_body_releases_it_and_serves_the_next_request_at_once", async () => {
    const svc = gw.serviceHost("my-api");
    const cases = [
      // [what, method, target, host, extra headers, expected status]
      ["GET-only route sent a body", "GET", "/healthz", gw.domain, [], 200],
      ["GET-only route POSTed a body", "POST", "/oauth2/jwks", gw.domain, [], 405],
      ["token endpoint GET with a body", "GET", "/oauth2/token", gw.domain, [], 405],
      ["admin API without the admin credential", "POST", "/admin/v1/users", gw.domain, [["Content-Type", "application/json"]], 401],
      ["unknown root path", "POST", "/nope", gw.domain, [], 404],
      ["unknown host", "POST", "/", `elsewhere.example:${gw.port}`, [], 404],
      ["service without a token", "POST", "/upload", svc, [], 401],
      ["service with a broken token", "PUT", "/upload", svc, [["Authorization", "Bearer not.a.token"]], 401],
      ["service the token is not scoped for", "POST", "/upload", svc, [["Authorization", `Bearer ${otherToken}`]], 403],
      ["unknown service in the token's scope", "POST", "/upload", gw.serviceHost("elsewhere"), [["Authorization", `Bearer ${otherToken}`]], 404],
    ];
    for (const [what, method, target, host, headers, status] of cases) {
      for (const size of [MB2, KB20]) {
        const label = `${what} (${size} bytes)`;
        const r = await rawExchange(gw.port, withBody(method, target, host, size, "content-length", headers));
        assert.equal(r.outcome, "answered", `${label}: ${r.outcome}`);
        assert.equal(r.answers[0].status, status, `${label}: ${r.answers[0].body}`);
        await assertNextServedAtOnce(gw.port, gw.domain, label);
      }
    }
    // And the service still forwards a body it is allowed to (nothing was left half-read).
    const ok = await gw.service("my-api", "/upload", { method: "POST", headers: { authorization: `Bearer ${token}` }, body: Buffer.alloc(KB20, "b") });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.body.length, KB20);
  });
});

describe(`a misconfigured gateway releases bodies too (${RUNTIME})`, () => {
  let gw;
  before(async () => {
    gw = await startGateway({ ISOGATE_SIGNING_KEY: "not-a-key" });
  });
  after(() => gw?.stop());

  it("a_misconfigured_gateway_answers_a_2_mb_body_503_and_answers_the_next_request_at_once", async () => {
    for (const size of [MB2, KB20]) {
      const r = await rawExchange(gw.port, withBody("POST", "/oauth2/token", gw.domain, size, "content-length"));
      assert.equal(r.outcome, "answered", r.outcome);
      assert.equal(r.answers[0].status, 503);
      assert.equal(JSON.parse(r.answers[0].body).error, "temporarily_unavailable");
      const next = await rawExchange(gw.port, requestHead("GET", "/healthz", [["Host", gw.domain]]), { timeoutMs: 5000 });
      assert.equal(next.outcome, "answered");
      assert.ok(next.ms < NEXT_WITHIN_MS, `the next request took ${next.ms} ms`);
    }
  });
});

// `wrangler dev` (4.86, the start command the README gave before issue #10) runs the worker
// behind a proxy that breaks when a body is started on and cancelled half way. The worker now
// answers a declared-too-large body without touching it and drains small ones, which that
// proxy survives; a chunked body too large to drain (over 8 KiB + 64 KiB) still gets its
// "503 Your worker restarted mid-request", and a client vanishing mid-body can still kill
// wrangler itself, which is why scripts/dev.sh no longer runs it (README).
describe("oversized bodies under wrangler dev", { skip: RUNTIME !== "workers" && "wrangler dev runs the Workers build only" }, () => {
  let child, port, domain, adminToken, state;
  before(async () => {
    port = await freePort();
    domain = `localhost:${port}`;
    adminToken = crypto.randomBytes(32).toString("base64url");
    state = fs.mkdtempSync(path.join(os.tmpdir(), "isogate-wrangler-dev-"));
    // The schema, as a deployment has it: the admin API's credential check reads the address's
    // failure counts (throttled guessing) before it looks at a body.
    const migrated = await runProgram(path.join(ROOT, "node_modules/.bin/wrangler"),
      ["d1", "migrations", "apply", "isogate", "--local", "--persist-to", state],
      { cwd: ROOT, env: { ...process.env, ISOGATE_SKIP_BUILD: "1", WRANGLER_SEND_METRICS: "false", CI: "true" } });
    assert.equal(migrated.code, 0, migrated.stdout + migrated.stderr);
    const inspector = await freePort();
    child = spawn(path.join(ROOT, "node_modules/.bin/wrangler"), [
      "dev", "--local", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
      "--persist-to", state, "--var", `ISOGATE_DOMAIN:${domain}`, "--var", `ISOGATE_SIGNING_KEY:${signingSeed()}`,
      "--var", `ISOGATE_ADMIN_TOKEN:${adminToken}`,
    ], { cwd: ROOT, env: { ...process.env, ISOGATE_SKIP_BUILD: "1", WRANGLER_SEND_METRICS: "false" }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let log = "";
    child.stdout.on("data", (d) => (log += d));
    child.stderr.on("data", (d) => (log += d));
    const deadline = Date.now() + 60000;
    for (;;) {
      const r = await rawExchange(port, requestHead("GET", "/healthz", [["Host", domain]]), { timeoutMs: 2000 });
      if (r.outcome === "answered" && r.answers[0].status === 200) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`wrangler dev did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(-child.pid, "SIGTERM");
      await exited;
    }
    if (state) fs.rmSync(state, { recursive: true, force: true });
  });

  it("under_wrangler_dev_a_2_mb_and_a_20_kb_body_to_every_root_endpoint_answer_413_and_the_next_request_is_served_at_once", async () => {
    // The 20 KB bodies are drained whatever their framing; of the 2 MB ones, only those
    // declared by Content-Length (answered without a byte read) are within what the proxy survives.
    await assertEveryRootEndpointAnswers413(port, domain, adminToken, ["content-length"]);
    for (const [target, headers] of rootBodyEndpoints(adminToken)) {
      const r = await rawExchange(port, withBody("POST", target, domain, KB20, "chunked", headers));
      assert.equal(r.answers[0]?.status, 413, `${target}, 20 KB chunked: ${r.outcome}`);
      await assertNextServedAtOnce(port, domain, `${target}, 20 KB chunked`);
    }
  });
});
