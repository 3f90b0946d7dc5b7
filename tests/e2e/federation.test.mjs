// Workload identity federation (issue #12.4) end to end: a local OIDC issuer started here (its
// own discovery document and JWKS over HTTP, an RS256 and an EdDSA key, counting its fetches),
// a federated credential created through the `isogate` CLI, the issuer's tokens exchanged at
// the token endpoint as client_assertion (jwt-bearer) and the access token used at a service;
// a key rotation mid-test; refusals (raw socket) of a wrong sub, aud, iss, an expired token, a
// kid the issuer never published, a token signed by another key.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import { startGateway, freePort, RUNTIME } from "./harness.mjs";
import { rawExchange, requestHead } from "./rawhttp.mjs";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

function makeKey(alg, kid) {
  const { publicKey, privateKey } = alg === "RS256"
    ? crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
    : crypto.generateKeyPairSync("ed25519");
  return { alg, kid, privateKey, jwk: { ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" } };
}

function sign(key, claims, header = {}) {
  const input = `${b64({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })}.${b64(claims)}`;
  const signature = crypto.sign(key.alg === "RS256" ? "sha256" : null, Buffer.from(input), key.privateKey);
  return `${input}.${signature.toString("base64url")}`;
}

/** A minimal OIDC issuer: discovery document and JWKS, the keys it publishes changeable. */
async function startIssuer() {
  const port = await freePort();
  const issuer = { url: `http://127.0.0.1:${port}`, keys: [], fetches: { discovery: 0, jwks: 0 } };
  issuer.server = http.createServer((req, res) => {
    if (req.url === "/.well-known/openid-configuration") {
      issuer.fetches.discovery++;
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ issuer: issuer.url, jwks_uri: `${issuer.url}/jwks`, id_token_signing_alg_values_supported: ["RS256", "EdDSA"] }));
    }
    if (req.url === "/jwks") {
      issuer.fetches.jwks++;
      res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=300" });
      return res.end(JSON.stringify({ keys: issuer.keys.map((k) => k.jwk) }));
    }
    res.writeHead(404).end();
  });
  await new Promise((r) => issuer.server.listen(port, "127.0.0.1", r));
  return issuer;
}

async function rawToken(gw, form) {
  const body = new URLSearchParams(form).toString();
  const head = requestHead("POST", "/oauth2/token", [["Host", gw.domain], ["Content-Type", "application/x-www-form-urlencoded"],
    ["Content-Length", Buffer.byteLength(body)], ["Connection", "close"]]);
  const r = await rawExchange(gw.port, head + body);
  assert.equal(r.outcome, "answered");
  return { status: r.answers[0].status, json: JSON.parse(r.answers[0].body.toString() || "{}") };
}

describe(`workload identity federation (${RUNTIME})`, () => {
  let gw;
  let issuer;
  let clientId;
  const rs = makeKey("RS256", "rs-1");
  const ed = makeKey("EdDSA", "ed-1");
  const SUB = "system:serviceaccount:ci:builder";
  const claims = (extra = {}) => ({ iss: issuer.url, sub: SUB, aud: gw.issuer, iat: now(), exp: now() + 600, ...extra });
  const exchange = (token) => rawToken(gw, { grant_type: "client_credentials", client_id: clientId, client_assertion_type: JWT_BEARER, client_assertion: token });

  before(async () => {
    issuer = await startIssuer();
    issuer.keys = [rs, ed];
    gw = await startGateway();
    await gw.createService("my-api");
    const r = await gw.cli(["create", "cred", "ci-builder", "--user", "root", "--type", "federated", "--issuer", issuer.url,
      "--subject", "system:serviceaccount:ci:*"]);
    assert.equal(r.code, 0, r.stderr);
    clientId = r.stdout.match(/Client ID: (\S+)/)[1];
    assert.ok(!/Secret/.test(r.stdout), "no secret exists");
  });
  after(async () => {
    await gw?.stop();
    issuer?.server.close();
  });

  it("OIDC discovery: RS256 and EdDSA tokens of the issuer get access tokens the service accepts", async () => {
    for (const key of [rs, ed]) {
      const r = await exchange(sign(key, claims()));
      assert.equal(r.status, 200, `${key.alg}: ${JSON.stringify(r.json)}`);
      const s = await gw.service("my-api", "/anything", { headers: { authorization: `Bearer ${r.json.access_token}` } });
      assert.equal(s.status, 200);
      assert.equal(s.json.headers["x-isogate-client-id"], clientId);
    }
    assert.ok(issuer.fetches.discovery >= 1 && issuer.fetches.jwks >= 1);
    if (RUNTIME === "workers") assert.deepEqual(issuer.fetches, { discovery: 1, jwks: 1 }, "cached in the isolate");
  });

  it("refusals: wrong sub, aud, iss, expired, an unknown kid, another key (invalid_client)", async () => {
    const thief = makeKey("RS256", "rs-1");
    const stranger = makeKey("EdDSA", "never-published");
    const cases = [
      ["wrong sub", sign(rs, claims({ sub: "system:serviceaccount:prod:deployer" }))],
      ["wrong aud", sign(rs, claims({ aud: "https://elsewhere.example" }))],
      ["wrong iss", sign(rs, claims({ iss: "http://127.0.0.1:1" }))],
      ["expired", sign(ed, claims({ iat: now() - 7200, exp: now() - 3600 }))],
      ["unknown kid", sign(stranger, claims())],
      ["another key", sign(thief, claims())],
    ];
    for (const [what, token] of cases) {
      const r = await exchange(token);
      assert.deepEqual([r.status, r.json.error], [401, "invalid_client"], what);
    }
  });

  it("a key rotation mid-test: the new kid is fetched (at most once per 10 s on an isolate) and accepted", async () => {
    const next = makeKey("EdDSA", "ed-2");
    issuer.keys = [ed, next];
    const before = issuer.fetches.jwks;
    // An isolate asks the issuer again for an unknown kid only 10 s after its last fetch.
    if (RUNTIME === "workers") await sleep(10_500);
    const r = await exchange(sign(next, claims()));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.ok(issuer.fetches.jwks > before, "the JWKS was fetched again");
    // The retired key is gone from the issuer: once refreshed, its tokens are refused.
    const old = await exchange(sign(rs, claims()));
    assert.deepEqual([old.status, old.json.error], [401, "invalid_client"]);
  });
});
