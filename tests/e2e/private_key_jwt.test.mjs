// private_key_jwt (RFC 7523 §2.2, RFC 7521 §4.2) end to end: credentials created through the
// `isogate` CLI with `--public-key` (Ed25519, P-256 and RSA keys made here by node:crypto),
// real client libraries obtaining tokens with them and calling a service (Python authlib's
// PrivateKeyJWT, Node openid-client v6's PrivateKeyJwt: tests/clients), and the refusals an
// attacker meets, sent from a raw socket: a replayed jti (on this instance and on a second one
// sharing storage), an assertion for another audience, an expired one, one valid too long,
// another iss or sub, another key, a secret with an assertion. Each refusal is checked on the
// wire and by its audit reason.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { startGateway, runProgram, decodeJwt, ROOT, RUNTIME } from "./harness.mjs";
import { rawExchange, requestHead } from "./rawhttp.mjs";

const PYTHON = process.env.ISOGATE_PYTHON ?? path.join(ROOT, ".venv-tests/bin/python");
const NODE_DIR = path.join(ROOT, "tests/clients/node");
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A client key pair of `alg`, its public JWK (kid, alg, use) and PEM files in `dir`. */
function makeKey(alg, kid, dir) {
  const [type, options] = { EdDSA: ["ed25519", {}], ES256: ["ec", { namedCurve: "P-256" }], RS256: ["rsa", { modulusLength: 2048 }] }[alg];
  const { publicKey, privateKey } = crypto.generateKeyPairSync(type, options);
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" };
  const publicFile = path.join(dir, `${kid}.jwk.json`);
  const keyFile = path.join(dir, `${kid}.pem`);
  fs.writeFileSync(publicFile, JSON.stringify(jwk));
  fs.writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
  return { alg, kid, jwk, publicFile, keyFile, privateKey };
}

const b64 = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** A compact JWS of `claims` signed with `key` (header alg and kid of the key unless given). */
function sign(key, claims, header = {}) {
  const h = { alg: key.alg, kid: key.kid, typ: "JWT", ...header };
  const input = `${b64(h)}.${b64(claims)}`;
  const signature = key.alg === "ES256"
    ? crypto.sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" })
    : crypto.sign(key.alg === "RS256" ? "sha256" : null, Buffer.from(input), key.privateKey);
  return `${input}.${signature.toString("base64url")}`;
}

const now = () => Math.floor(Date.now() / 1000);
const claimsFor = (clientId, aud, extra = {}) => ({
  iss: clientId, sub: clientId, aud, iat: now(), exp: now() + 60, jti: crypto.randomUUID(), ...extra,
});

/** A token request as an attacker sends it: raw bytes on a socket. */
async function rawToken(gw, form) {
  const body = new URLSearchParams(form).toString();
  const head = requestHead("POST", "/oauth2/token", [["Host", gw.domain], ["Content-Type", "application/x-www-form-urlencoded"],
    ["Content-Length", Buffer.byteLength(body)], ["Connection", "close"]]);
  const r = await rawExchange(gw.port, head + body);
  assert.equal(r.outcome, "answered", `raw token request: ${r.outcome}`);
  const answer = r.answers[0];
  return { status: answer.status, json: JSON.parse(answer.body.toString() || "{}"), headers: answer.headers };
}

const assertionForm = (assertion, extra = {}) => ({
  grant_type: "client_credentials", client_assertion_type: JWT_BEARER, client_assertion: assertion, ...extra,
});

function auditLines(gw) {
  return gw.runtime.log().split("\n").filter((l) => l.startsWith('{"log":"audit"')).flatMap((l) => {
    try { return [JSON.parse(l)]; } catch { return []; }
  });
}

/** Waits for the audit line of a refused token request of `clientId` with `reason`. */
async function auditReason(gw, clientId, reason) {
  for (let i = 0; i < 100; i++) {
    if (auditLines(gw).some((l) => l.reason === reason && l.client_id === clientId)) return;
    await sleep(20);
  }
  assert.fail(`no audit line with reason ${reason} for ${clientId} in the ${RUNTIME} log`);
}

describe(`private_key_jwt (${RUNTIME})`, () => {
  let gw;
  let dir;
  const keys = {};
  const clients = {};
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "isogate-pkjwt-"));
    gw = await startGateway({ peer: true });
    await gw.createService("my-api");
    for (const alg of ["EdDSA", "ES256", "RS256"]) {
      keys[alg] = makeKey(alg, `key-${alg.toLowerCase()}`, dir);
      const created = await gw.createCredential(`pkjwt-${alg.toLowerCase()}`, { type: "private-key-jwt", public_key: keys[alg].publicFile });
      assert.equal(created.client_secret, undefined, "no secret exists");
      assert.equal(created.credential.type, "private-key-jwt");
      clients[alg] = created.client_id;
    }
  });
  after(async () => {
    await gw?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the CLI prints the client id and no secret; a private key file is refused", async () => {
    const key = makeKey("EdDSA", "cli-key", dir);
    const r = await gw.cli(["create", "cred", "cli-pkjwt", "--user", "root", "--type", "private-key-jwt", "--public-key", key.publicFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Credential cli-pkjwt successfully created\nClient ID: [a-z0-9]{4}-[a-z0-9]{4}\n$/);
    const privateJwk = path.join(dir, "private.jwk.json");
    fs.writeFileSync(privateJwk, JSON.stringify(key.privateKey.export({ format: "jwk" })));
    const refused = await gw.cli(["create", "cred", "leaky", "--user", "root", "--type", "private-key-jwt", "--public-key", privateJwk]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /private key material/);
    assert.ok(!refused.stderr.includes(JSON.parse(fs.readFileSync(privateJwk)).d), "the private key is not echoed");
  });

  it("RFC 8414: the metadata advertises private_key_jwt and EdDSA, ES256, RS256", async () => {
    const m = (await gw.root("/.well-known/oauth-authorization-server")).json;
    assert.ok(m.token_endpoint_auth_methods_supported.includes("private_key_jwt"));
    for (const alg of ["EdDSA", "ES256", "RS256"]) assert.ok(m.token_endpoint_auth_signing_alg_values_supported.includes(alg), alg);
  });

  for (const alg of ["EdDSA", "ES256", "RS256"]) {
    it(`RFC 7523 §2.2: a ${alg} assertion (aud = the token endpoint) gets a token the service accepts`, async () => {
      const r = await rawToken(gw, assertionForm(sign(keys[alg], claimsFor(clients[alg], `${gw.issuer}/oauth2/token`))));
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(decodeJwt(r.json.access_token).payload.client_id, clients[alg]);
      const s = await gw.service("my-api", "/anything", { headers: { authorization: `Bearer ${r.json.access_token}` } });
      assert.equal(s.status, 200);
      assert.equal(s.json.headers["x-isogate-client-id"], clients[alg]);
    });
  }

  it("Python authlib PrivateKeyJWT (EdDSA, ES256, RS256): token, service call, a replayed jti, an hour-long assertion", async () => {
    assert.ok(fs.existsSync(PYTHON), `${PYTHON} is missing: run scripts/test.sh for the Python venv`);
    const CLIENTS = JSON.stringify(Object.values(keys).map((k) => ({ alg: k.alg, client_id: clients[k.alg], kid: k.kid, key_file: k.keyFile })));
    const env = { ...process.env, ISOGATE_ISSUER: gw.issuer, ISOGATE_SERVICE_URL: gw.serviceUrl("my-api"), CLIENTS, PYTHONWARNINGS: "ignore" };
    const { code, stdout, stderr } = await runProgram(PYTHON, [path.join(ROOT, "tests/clients/python/private_key_jwt.py")], { env });
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.ok(stdout.includes("all python private_key_jwt checks passed"), stdout);
    assert.equal((stdout.match(/^ok: /gm) ?? []).length, 9, stdout);
    await auditReason(gw, clients.EdDSA, "replayed_assertion");
  });

  it("Node openid-client v6 PrivateKeyJwt (EdDSA as Ed25519, ES256, RS256): discovery, token, service call, another key", async () => {
    const program = path.join(NODE_DIR, "dist/private-key-jwt.js");
    assert.ok(fs.existsSync(program), `${program} is missing: run bash tests/clients/install.sh`);
    const CLIENTS = JSON.stringify(Object.values(keys).map((k) => ({ alg: k.alg, client_id: clients[k.alg], kid: k.kid, key_file: k.keyFile })));
    const env = { ...process.env, ISOGATE_ISSUER: gw.issuer, ISOGATE_SERVICE_URL: gw.serviceUrl("my-api"), CLIENTS };
    const { code, stdout, stderr } = await runProgram(process.execPath, ["--import", "./dist/localhost.js", "dist/private-key-jwt.js"], { env, cwd: NODE_DIR });
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.ok(stdout.includes("all openid-client private_key_jwt checks passed"), stdout);
    assert.equal((stdout.match(/^ok: /gm) ?? []).length, 12, stdout);
  });

  it("RFC 7523 §3 item 7: a jti is used once, on this instance and on another sharing storage", async () => {
    const assertion = sign(keys.ES256, claimsFor(clients.ES256, gw.issuer));
    assert.equal((await rawToken(gw, assertionForm(assertion))).status, 200);
    const replay = await rawToken(gw, assertionForm(assertion));
    assert.deepEqual([replay.status, replay.json.error], [401, "invalid_client"]);
    assert.match(replay.headers["www-authenticate"], /^Basic realm=/);
    await auditReason(gw, clients.ES256, "replayed_assertion");
    const other = await rawToken(gw.peer, assertionForm(assertion));
    assert.deepEqual([other.status, other.json.error], [401, "invalid_client"], "the second instance refuses it too");
    // And a fresh assertion on the second instance is spent there for both.
    const fresh = sign(keys.ES256, claimsFor(clients.ES256, gw.issuer));
    assert.equal((await rawToken(gw.peer, assertionForm(fresh))).status, 200);
    assert.equal((await rawToken(gw, assertionForm(fresh))).status, 401);
  });

  it("refusals: another aud, expired, valid too long, another iss or sub, another key, alg none (invalid_client, audited)", async () => {
    const id = clients.RS256;
    const key = keys.RS256;
    const thief = makeKey("RS256", key.kid, fs.mkdtempSync(path.join(dir, "thief-")));
    const cases = [
      ["another aud", sign(key, claimsFor(id, "https://elsewhere.example/oauth2/token"))],
      ["expired", sign(key, claimsFor(id, gw.issuer, { iat: now() - 600, exp: now() - 300 }))],
      ["valid for an hour", sign(key, claimsFor(id, gw.issuer, { exp: now() + 3600 }))],
      ["another iss", sign(key, claimsFor(id, gw.issuer, { iss: "someone-else" }))],
      ["another sub", sign(key, claimsFor(id, gw.issuer, { sub: clients.EdDSA }))],
      ["another key", sign(thief, claimsFor(id, gw.issuer))],
      ["alg none", `${b64({ alg: "none" })}.${b64(claimsFor(id, gw.issuer))}.`],
    ];
    for (const [what, assertion] of cases) {
      const r = await rawToken(gw, assertionForm(assertion, { client_id: id }));
      assert.deepEqual([r.status, r.json.error], [401, "invalid_client"], what);
      assert.equal(r.json.error_description, "client authentication failed", what);
    }
    await auditReason(gw, id, "bad_assertion");
  });

  it("RFC 6749 §2.3: a secret with an assertion is invalid_request", async () => {
    const oauth2 = await gw.createCredential("pkjwt-and-secret");
    const assertion = sign(keys.EdDSA, claimsFor(clients.EdDSA, gw.issuer));
    const r = await rawToken(gw, assertionForm(assertion, { client_id: oauth2.client_id, client_secret: oauth2.client_secret }));
    assert.deepEqual([r.status, r.json.error], [400, "invalid_request"]);
    // Nothing was spent: the assertion alone still works.
    assert.equal((await rawToken(gw, assertionForm(assertion))).status, 200);
  });

  it("lifecycle: a disabled private-key-jwt credential is refused, rotation is refused with the reason", async () => {
    const key = makeKey("ES256", "life-key", dir);
    const created = await gw.createCredential("pkjwt-life", { type: "private-key-jwt", public_key: key.publicFile });
    const off = await gw.cli(["update", "cred", "pkjwt-life", "--disable"]);
    assert.equal(off.code, 0, off.stderr);
    const r = await rawToken(gw, assertionForm(sign(key, claimsFor(created.client_id, gw.issuer))));
    assert.deepEqual([r.status, r.json.error], [401, "invalid_client"]);
    await auditReason(gw, created.client_id, "credential_disabled");
    const rotate = await gw.cli(["rotate", "cred", "pkjwt-life"]);
    assert.notEqual(rotate.code, 0);
    assert.match(rotate.stderr, /no secret to rotate/);
  });

  it("RFC 7591 §2 jwks_uri: keys the client publishes are fetched, cached, and a rotated kid found", async () => {
    // The client's own key server on loopback (allowed outbound on Spin by spin.toml's
    // isogate_federation_issuers default), counting the gateway's fetches.
    const first = makeKey("ES256", "pub-1", dir);
    const second = makeKey("EdDSA", "pub-2", dir);
    let published = [first.jwk];
    let fetches = 0;
    const server = http.createServer((req, res) => {
      fetches++;
      res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" });
      res.end(JSON.stringify({ keys: published }));
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    try {
      const jwksUri = `http://127.0.0.1:${server.address().port}/jwks.json`;
      const made = await gw.cli(["create", "cred", "pkjwt-published", "--user", "root", "--type", "private-key-jwt", "--jwks-uri", jwksUri]);
      assert.equal(made.code, 0, made.stderr);
      const clientId = made.stdout.match(/Client ID: (\S+)/)[1];
      for (let i = 0; i < 2; i++) {
        const r = await rawToken(gw, assertionForm(sign(first, claimsFor(clientId, gw.issuer))));
        assert.equal(r.status, 200, JSON.stringify(r.json));
        const s = await gw.service("my-api", "/anything", { headers: { authorization: `Bearer ${r.json.access_token}` } });
        assert.equal(s.json.headers["x-isogate-client-id"], clientId);
      }
      // Workers keep the keys per isolate (one fetch); Spin's fresh instance per request fetches each time.
      if (RUNTIME === "workers") assert.equal(fetches, 1, "the published keys are cached");
      else assert.ok(fetches >= 1);
      // The client rotates to a new key under a new kid: found by a refetch, at most one per
      // 10 s per isolate (so a made-up kid cannot make the gateway fetch on every request).
      published = [first.jwk, second.jwk];
      if (RUNTIME === "workers") await sleep(10_500);
      const rotated = await rawToken(gw, assertionForm(sign(second, claimsFor(clientId, gw.issuer))));
      assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
      if (RUNTIME === "workers") assert.equal(fetches, 2, "one refetch for the new kid");
      // A key the client never published is refused.
      const stranger = makeKey("EdDSA", "pub-2", dir);
      const r = await rawToken(gw, assertionForm(sign(stranger, claimsFor(clientId, gw.issuer))));
      assert.deepEqual([r.status, r.json.error], [401, "invalid_client"]);
      await auditReason(gw, clientId, "bad_assertion");
      // A key or a URL, not both.
      const both = await gw.cli(["create", "cred", "pkjwt-both", "--user", "root", "--type", "private-key-jwt", "--jwks-uri", jwksUri, "--public-key", first.publicFile]);
      assert.notEqual(both.code, 0);
      assert.match(both.stderr, /public_key or jwks_uri, not both/);
    } finally {
      server.close();
    }
  });
});
