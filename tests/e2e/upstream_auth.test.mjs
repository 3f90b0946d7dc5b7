// Secretless upstream credentials (issue #13.1), on both runtimes: an origin that demands its
// own credential of each kind (bearer, basic, header, oauth2-client-credentials) and refuses
// anything else, a local token server counting its fetches, and a client that tries to add or
// override the credential with odd header spellings over a raw socket. The client never sees
// the origin's credential: not in any response, log line or admin answer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startGateway, RUNTIME } from "./harness.mjs";
import { rawExchange } from "./rawhttp.mjs";

const BEARER = "origin-bearer-7Qx2v9LmT";
const BASIC = "svc-user:origin-pass-k3J8";
const API_KEY = "origin-api-key-Zr51";
const CLIENT_ID = "isogate-gw";
const CLIENT_SECRET = "origin-client-secret-Wp04";
const EXPIRES_IN = 4; // seconds: refreshed from 2 s on (min(60 s, lifetime / 2) before expiry)
const SECRETS = [BEARER, BASIC, Buffer.from(BASIC).toString("base64"), API_KEY, CLIENT_SECRET];

/** The origin's token server (RFC 6749 §4.4): counts fetches, answers after `delayMs`. */
function startTokenServer({ delayMs = 300 } = {}) {
  const state = { fetches: 0, issued: new Map(), refused: 0 };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`;
      const form = new URLSearchParams(body);
      state.fetches += 1;
      if (req.method !== "POST" || req.headers.authorization !== basic || form.get("grant_type") !== "client_credentials") {
        state.refused += 1;
        res.writeHead(401, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: "invalid_client" }));
      }
      const token = `origin-token-${state.fetches}-${Math.random().toString(36).slice(2)}`;
      state.issued.set(token, { scope: form.get("scope"), expires: Date.now() + EXPIRES_IN * 1000 });
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
        res.end(JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: EXPIRES_IN }));
      }, delayMs);
    });
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r({ server, state, url: `http://127.0.0.1:${server.address().port}/oauth2/token` })));
}

/**
 * The origin: each base path demands one credential, exactly one header carrying it, and
 * refuses (401) anything else. It never echoes a credential.
 */
function startDemandingOrigin(tokens) {
  const seen = [];
  const server = http.createServer((req, res) => {
    const count = (name) => req.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === name).length;
    const kind = req.url.split("/")[1];
    const auth = req.headers.authorization;
    let ok = false;
    if (kind === "bearer") ok = count("authorization") === 1 && auth === `Bearer ${BEARER}`;
    if (kind === "basic") ok = count("authorization") === 1 && auth === `Basic ${Buffer.from(BASIC).toString("base64")}`;
    if (kind === "header") ok = count("x-api-key") === 1 && req.headers["x-api-key"] === API_KEY && count("authorization") === 0;
    if (kind === "oauth") {
      const token = count("authorization") === 1 && auth?.startsWith("Bearer ") ? auth.slice(7) : "";
      const issued = tokens.issued.get(token);
      ok = issued !== undefined && issued.expires > Date.now();
    }
    seen.push({ kind, ok, headers: req.headers, rawHeaders: req.rawHeaders });
    res.writeHead(ok ? 200 : 401, { "content-type": "text/plain" });
    res.end(ok ? `welcome to ${kind}` : "refused");
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r({ server, seen, url: `http://127.0.0.1:${server.address().port}` })));
}

let gw, origin, tokens, token;

before(async () => {
  tokens = await startTokenServer();
  origin = await startDemandingOrigin(tokens.state);
  // The secrets are the runtime's: Workers vars/secrets, Spin variables (lower-cased names).
  gw = await startGateway({ PAYROLL_TOKEN: BEARER, PAYROLL_BASIC: BASIC, PAYROLL_KEY: API_KEY, ORIGIN_CLIENT_SECRET: CLIENT_SECRET });
  const services = {
    bearer: ["bearer:PAYROLL_TOKEN", "PAYROLL_TOKEN"],
    basic: ["basic:PAYROLL_BASIC", "PAYROLL_BASIC"],
    header: ["header:X-Api-Key:PAYROLL_KEY", "PAYROLL_KEY"],
    oauth: [`oauth2-client-credentials:${tokens.url},${CLIENT_ID},ORIGIN_CLIENT_SECRET,payroll.read`, "ORIGIN_CLIENT_SECRET"],
    missing: ["bearer:NOT_SET_ANYWHERE", "NOT_SET_ANYWHERE"],
  };
  for (const [kind, [spec, secret]] of Object.entries(services)) {
    const created = await gw.createService(`up-${kind}`, { upstream: `${origin.url}/${kind}`, upstream_auth: spec });
    assert.equal(created.upstream_auth.kind, spec.split(":")[0]);
    assert.equal(created.upstream_auth.secret, secret);
    assertNoCredential(JSON.stringify(created), "the creation answer");
  }
  await gw.createService("up-plain", { upstream: `${origin.url}/bearer` });
  token = await gw.accessToken(await gw.createCredential("up-client"));
});

after(async () => {
  await gw?.stop();
  await new Promise((r) => origin.server.close(r));
  await new Promise((r) => tokens.server.close(r));
});

/** Fails if any origin secret or origin token appears in `text`. */
function assertNoCredential(text, where) {
  for (const s of [...SECRETS, ...tokens.state.issued.keys()]) assert.ok(!text.includes(s), `${where} holds an origin credential`);
}

/** A raw GET of service `name` with the client's token and `extra` header lines as written. */
function rawGet(name, extra = []) {
  const lines = [`GET /x HTTP/1.1`, `Host: ${gw.serviceHost(name)}`, `Authorization: Bearer ${token}`, ...extra, "Connection: close", "", ""];
  return rawExchange(gw.port, lines.join("\r\n"));
}

test("each kind of upstream credential reaches the origin that demands it, once", async () => {
  for (const kind of ["bearer", "basic", "header", "oauth"]) {
    const r = await gw.service(`up-${kind}`, "/x", { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200, `${kind}: ${r.text}`);
    assert.equal(r.text, `welcome to ${kind}`);
    assertNoCredential(JSON.stringify(r.headers) + r.text, `${kind} response`);
  }
  // Without upstream auth the same origin path refuses: the credential is the gateway's doing.
  const plain = await gw.service("up-plain", "/x", { headers: { authorization: `Bearer ${token}` } });
  assert.equal(plain.status, 401);
});

test("a client cannot add a second credential or override it, in any spelling (raw socket)", async () => {
  const forged = ["Authorization_: Bearer forged", "X-Octelium-Auth:", "Proxy-Authorization: Bearer forged"];
  const headerForged = ["X-Api-Key: forged", "x_api_key: forged", "X-API-KEY: forged2", "X_Api-Key: forged3"];
  for (const [kind, extra] of [["bearer", forged], ["basic", forged], ["header", [...forged, ...headerForged]], ["oauth", forged]]) {
    const before = origin.seen.length;
    const r = await rawGet(`up-${kind}`, extra);
    assert.equal(r.outcome, "answered", kind);
    assert.equal(r.answers[0].status, 200, `${kind}: ${r.answers[0].body}`);
    const seen = origin.seen.slice(before);
    assert.equal(seen.length, 1);
    assert.ok(seen[0].ok, `${kind}: the origin saw exactly its own credential`);
    // No header that any stack reads as the credential's (names folded: case, `_` as `-`)
    // carries a forged value. (`Authorization_` is another name, passed on like any header.)
    const credentialName = kind === "header" ? "x-api-key" : "authorization";
    const raw = seen[0].rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].toLowerCase().replaceAll("_", "-") === credentialName) assert.ok(!raw[i + 1].includes("forged"), `${kind}: ${raw[i]}: a forged value reached the origin`);
    }
    assertNoCredential(r.answers[0].body.toString() + JSON.stringify(r.answers[0].headers), `${kind} raw response`);
  }
  // The gateway token in X-Octelium-Auth and a forged Authorization (not Bearer, so not read
  // as the gateway's): the origin still gets exactly its own.
  const before = origin.seen.length;
  const lines = [`GET /x HTTP/1.1`, `Host: ${gw.serviceHost("up-bearer")}`, `X-Octelium-Auth: ${token}`, "AUTHORIZATION: Basic Zm9yZ2Vk", "Connection: close", "", ""];
  const octelium = await rawExchange(gw.port, lines.join("\r\n"));
  assert.equal(octelium.answers[0].status, 200, String(octelium.answers[0].body));
  assert.ok(origin.seen[before].ok);
  assert.equal(origin.seen[before].headers.authorization, `Bearer ${BEARER}`);
  assert.equal(origin.seen[before].headers["x-octelium-auth"], undefined);
  // A second gateway credential next to the first is refused before anything is forwarded.
  const two = await rawGet("up-bearer", [`X-Octelium-Auth: ${token}`]);
  assert.equal(two.answers[0].status, 400);
});

test("a missing secret answers 502 without naming it; the log names it for the operator", async () => {
  const before = origin.seen.length;
  const r = await gw.service("up-missing", "/x", { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 502);
  assert.ok(!r.text.includes("NOT_SET_ANYWHERE") && !JSON.stringify(r.headers).includes("NOT_SET_ANYWHERE"));
  assert.equal(origin.seen.length, before, "never forwarded without its credential");
  await waitFor(() => gw.runtime.log().includes("NOT_SET_ANYWHERE"), "the diagnostic");
  assert.match(gw.runtime.log(), /"reason":"upstream_credential"/);
});

test("the admin API and the CLI show the kind and the secret's name, never a value", async () => {
  const listed = await gw.admin("GET", "services");
  assert.equal(listed.status, 200);
  assertNoCredential(listed.text, "admin list");
  const one = await gw.cliJson(["get", "service", "up-header"]);
  assert.deepEqual(one.service.upstream_auth, { kind: "header", secret: "PAYROLL_KEY", spec: "header:x-api-key:PAYROLL_KEY" });
  const table = await gw.cli(["get", "services"]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /UPSTREAM AUTH/);
  assert.match(table.stdout, /bearer:PAYROLL_TOKEN/);
  assertNoCredential(table.stdout, "CLI table");
  const refused = await gw.cli(["create", "service", "leak", "--upstream", origin.url, "--upstream-auth", "bearer:ISOGATE_SIGNING_KEY"]);
  assert.notEqual(refused.code, 0, "the gateway's own secrets are never an upstream credential");
});

test("oauth2-client-credentials: fetched once and cached, refreshed before expiry, one refresh at a time", async () => {
  const call = () => gw.service("up-oauth", "/x", { headers: { authorization: `Bearer ${token}` } });
  // A fresh client registration (another scope: another cache entry) so counts start here.
  await gw.createService("up-oauth2", { upstream: `${origin.url}/oauth`, upstream_auth: `oauth2-client-credentials:${tokens.url},${CLIENT_ID},ORIGIN_CLIENT_SECRET,payroll.write` });
  const call2 = () => gw.service("up-oauth2", "/x", { headers: { authorization: `Bearer ${token}` } });
  const start = tokens.state.fetches;
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) assert.equal((await call2()).status, 200);
  const sequentialMs = (Date.now() - t0) / 5;
  const sequential = tokens.state.fetches - start;
  if (RUNTIME === "workers") {
    assert.equal(sequential, 1, "one fetch for five requests: cached in the isolate");
    // Into the refresh window (less than half the 4 s lifetime left), then a burst.
    await sleep(2300);
    const burstStart = tokens.state.fetches;
    const burst = await Promise.all(Array.from({ length: 8 }, () => call2()));
    for (const r of burst) assert.equal(r.status, 200, r.text);
    assert.equal(tokens.state.fetches - burstStart, 1, "one refresh for a burst of 8, the others sent the still-valid token");
    // The refreshed token is the one sent from now on, with no new fetch.
    const after = tokens.state.fetches;
    const sent = origin.seen.length;
    assert.equal((await call2()).status, 200);
    assert.equal(tokens.state.fetches, after, "the refreshed token is cached");
    assert.match(origin.seen[sent].headers.authorization, new RegExp(`^Bearer origin-token-${after}-`));
  } else {
    // Spin gives each request a fresh instance: nothing in memory survives, so each fetches.
    assert.equal(sequential, 5, "one fetch per request on Spin");
  }
  console.log(`# ${RUNTIME}: oauth2-client-credentials: ${sequential} token fetches for 5 sequential requests, ${sequentialMs.toFixed(0)} ms per request (token server delay 300 ms)`);
  assert.equal(tokens.state.refused, 0, "every fetch authenticated with client_secret_basic");
  assert.equal((await call()).status, 200);
  assertNoCredential(gw.runtime.log(), "the runtime's log");
});

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(predicate, what, ms = 3000) {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
