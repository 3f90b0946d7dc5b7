// DPoP (RFC 9449, issue #12.5) on the built gateway, on workerd and on Spin: openid-client v6
// (`getDPoPHandle`, an EdDSA key pair, and its default ES256 one) obtains a DPoP-bound token and calls a service through
// it, then proofs made by hand and sent over raw sockets, as an attacker holding a stolen token
// would, are refused one by one: another htu, another htm, a stale iat, a replay, a wrong ath,
// the token as a bearer token, no proof, a private key in the jwk, and a `--require-dpop`
// credential asking without a proof. The origin never sees a `DPoP` header nor the token.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import dns from "node:dns";
import path from "node:path";
import { startGateway, decodeJwt, ROOT, RUNTIME } from "./harness.mjs";
import { rawExchange, requestHead } from "./rawhttp.mjs";

// RFC 6761: *.localhost is loopback; Node's resolver does not know it (the clients' tests do
// the same in tests/clients/node/src/localhost.ts).
const lookup = dns.lookup;
dns.lookup = (hostname, options, callback) => lookup(hostname.endsWith(".localhost") ? "127.0.0.1" : hostname, options, callback);

const client = await import(path.join(ROOT, "tests/clients/node/node_modules/openid-client/build/index.js"));

let gw, cred, bound;

before(async () => {
  gw = await startGateway();
  await gw.createService("my-api");
  cred = await gw.createCredential("dpop-client");
  bound = await gw.createCredential("bound-client", { require_dpop: true });
});

after(async () => gw?.stop());

/** A client's Ed25519 key pair, making proofs by hand (RFC 9449 §4.2). */
function dpopKey() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const jwk = publicKey.export({ format: "jwk" });
  const privateJwk = privateKey.export({ format: "jwk" });
  const sign = (header, claims) => {
    const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
    return `${input}.${crypto.sign(null, Buffer.from(input), privateKey).toString("base64url")}`;
  };
  const header = { typ: "dpop+jwt", alg: "EdDSA", jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x } };
  const claims = (htm, htu, { token, iat = Math.floor(Date.now() / 1000) } = {}) => ({
    jti: crypto.randomBytes(16).toString("base64url"), htm, htu, iat,
    ...(token ? { ath: crypto.createHash("sha256").update(token).digest("base64url") } : {}),
  });
  return {
    proof: (htm, htu, options) => sign(header, claims(htm, htu, options)),
    withPrivateKey: (htm, htu, options) => sign({ ...header, jwk: privateJwk }, claims(htm, htu, options)),
    thumbprint: crypto.createHash("sha256").update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest("base64url"),
  };
}

const tokenUrl = () => `${gw.issuer}/oauth2/token`;
const serviceUrl = (p = "/anything") => `${gw.serviceUrl("my-api")}${p}`;

/** A DPoP token of `c` bound to `key`, asked for over a raw socket. */
async function dpopToken(c, key) {
  const form = new URLSearchParams({ grant_type: "client_credentials", client_id: c.client_id, client_secret: c.client_secret }).toString();
  const r = await gw.token(form, { dpop: key.proof("POST", tokenUrl()) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.token_type, "DPoP");
  return r.json.access_token;
}

/** GET /anything on my-api over a raw socket, with these extra header lines. */
async function rawGet(headers, target = "/anything") {
  const head = requestHead("GET", target, [["Host", gw.serviceHost("my-api")], ...headers, ["Connection", "close"]]);
  const { outcome, answers } = await rawExchange(gw.port, head);
  assert.equal(outcome, "answered");
  const a = answers[0];
  return { status: a.status, headers: a.headers, json: a.body.length ? JSON.parse(a.body.toString()) : undefined };
}

/** RFC 9449 §7.1, §12.2: 401 invalid_dpop_proof with the DPoP challenge naming EdDSA. */
function assertProofRefused(r, why) {
  assert.equal(r.status, 401, `${why}: ${JSON.stringify(r.json)}`);
  assert.equal(r.json.error, "invalid_dpop_proof", why);
  assert.match(r.headers["www-authenticate"], /^DPoP error="invalid_dpop_proof", .*algs="EdDSA Ed25519 ES256", resource_metadata="[^"]+"$/, why);
}

test("openid-client v6 gets a DPoP token with getDPoPHandle (EdDSA) and calls a service through it", async () => {
  const [issuer, clientId, clientSecret, apiUrl] = [gw.issuer, cred.client_id, cred.client_secret, gw.serviceUrl("my-api")];
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretPost(clientSecret), {
    algorithm: "oauth2",
    execute: [client.allowInsecureRequests], // this test's gateway is plain http
  });
  assert.deepEqual(config.serverMetadata().dpop_signing_alg_values_supported, ["EdDSA", "Ed25519", "ES256"]);
  const keyPair = await client.randomDPoPKeyPair("EdDSA");
  const dpop = client.getDPoPHandle(config, keyPair);
  const token = await client.clientCredentialsGrant(config, { scope: "service:my-api" }, { DPoP: dpop });
  assert.equal(token.token_type, "dpop");
  const { payload } = decodeJwt(token.access_token);
  const jwk = await crypto.subtle.exportKey("jwk", keyPair.publicKey);
  const jkt = crypto.createHash("sha256").update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest("base64url");
  assert.deepEqual(payload.cnf, { jkt });
  const before = gw.originRequests.length;
  const response = await client.fetchProtectedResource(config, token.access_token, new URL(`${apiUrl}/anything?lib=openid-client-dpop`), "GET", undefined, undefined, {
    DPoP: dpop,
  });
  assert.equal(response.status, 200, await response.clone().text());
  // Twice: each call makes a fresh proof (jti, iat).
  const again = await client.fetchProtectedResource(config, token.access_token, new URL(serviceUrl("/anything?n=2")), "GET", undefined, undefined, { DPoP: dpop });
  assert.equal(again.status, 200);
  const seen = gw.originRequests.slice(before);
  assert.equal(seen.length, 2);
  assert.equal(seen[0].url, "/anything?lib=openid-client-dpop");
  for (const r of seen) {
    assert.equal(r.headers.dpop, undefined, "the DPoP proof reached the origin");
    assert.equal(r.headers.authorization, undefined);
    assert.ok(!JSON.stringify(r.headers).includes(token.access_token), "the token reached the origin");
  }
  // RFC 7662 + RFC 9449 §6.2: introspection shows the binding.
  const form = new URLSearchParams({ token: token.access_token, client_id: cred.client_id, client_secret: cred.client_secret }).toString();
  const r = await gw.root("/oauth2/introspect", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form });
  assert.equal(r.json.active, true);
  assert.equal(r.json.token_type, "DPoP");
  assert.deepEqual(r.json.cnf, { jkt });
});

test("openid-client v6's default randomDPoPKeyPair() (ES256, P-256) gets a DPoP token and calls a service", async () => {
  const config = await client.discovery(new URL(gw.issuer), cred.client_id, undefined, client.ClientSecretPost(cred.client_secret), {
    algorithm: "oauth2",
    execute: [client.allowInsecureRequests],
  });
  const keyPair = await client.randomDPoPKeyPair();
  assert.equal(keyPair.publicKey.algorithm.name, "ECDSA");
  const dpop = client.getDPoPHandle(config, keyPair);
  const token = await client.clientCredentialsGrant(config, { scope: "service:my-api" }, { DPoP: dpop });
  assert.equal(token.token_type, "dpop");
  // RFC 7638 §3.2: an EC key's thumbprint hashes crv, kty, x, y in that order.
  const jwk = await crypto.subtle.exportKey("jwk", keyPair.publicKey);
  const jkt = crypto.createHash("sha256").update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest("base64url");
  assert.deepEqual(decodeJwt(token.access_token).payload.cnf, { jkt });
  const before = gw.originRequests.length;
  const response = await client.fetchProtectedResource(config, token.access_token, new URL(serviceUrl("/anything?lib=openid-client-es256")), "GET", undefined, undefined, { DPoP: dpop });
  assert.equal(response.status, 200, await response.clone().text());
  const seen = gw.originRequests.slice(before);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].headers.dpop, undefined, "the DPoP proof reached the origin");
  // Another ES256 key's proof for the same token is refused (§7.1).
  const other = await client.randomDPoPKeyPair();
  await assert.rejects(
    client.fetchProtectedResource(config, token.access_token, new URL(serviceUrl()), "GET", undefined, undefined, { DPoP: client.getDPoPHandle(config, other) }),
    (e) => e instanceof client.WWWAuthenticateChallengeError && e.cause[0].parameters.error === "invalid_dpop_proof",
  );
  assert.equal(gw.originRequests.length, before + 1);
});

test("hand-made proofs over raw sockets: each wrong one is refused, a good one passes once", async () => {
  const key = dpopKey();
  const token = await dpopToken(cred, key);
  assert.equal(decodeJwt(token).payload.cnf.jkt, key.thumbprint);
  const auth = ["Authorization", `DPoP ${token}`];
  const before = gw.originRequests.length;
  const good = key.proof("GET", serviceUrl(), { token });
  // RFC 9449 §4.3 step 9: htu ignores the query.
  assert.equal((await rawGet([auth, ["DPoP", good]], "/anything?x=1")).status, 200);
  // §11.1: the same proof again.
  assertProofRefused(await rawGet([auth, ["DPoP", good]], "/anything?x=1"), "replayed proof");
  const now = Math.floor(Date.now() / 1000);
  const cases = [
    ["proof for another htu (path)", key.proof("GET", serviceUrl("/other"), { token })],
    ["proof for another htu (host)", key.proof("GET", `${gw.issuer}/anything`, { token })],
    ["proof for another htm", key.proof("POST", serviceUrl(), { token })],
    ["stale iat", key.proof("GET", serviceUrl(), { token, iat: now - 300 })],
    ["iat in the future", key.proof("GET", serviceUrl(), { token, iat: now + 300 })],
    ["wrong ath", key.proof("GET", serviceUrl(), { token: `${token}x` })],
    ["no ath", key.proof("GET", serviceUrl())],
    ["a private key in the jwk", key.withPrivateKey("GET", serviceUrl(), { token })],
    ["another key", dpopKey().proof("GET", serviceUrl(), { token })],
  ];
  for (const [why, proof] of cases) assertProofRefused(await rawGet([auth, ["DPoP", proof]]), why);
  assertProofRefused(await rawGet([auth]), "missing proof");
  // §7.2: the bound token as a bearer token, with or without a valid proof.
  for (const extra of [[], [["DPoP", key.proof("GET", serviceUrl(), { token })]]]) {
    const r = await rawGet([["Authorization", `Bearer ${token}`], ...extra]);
    assert.equal(r.status, 401);
    assert.equal(r.json.error, "invalid_token");
    assert.match(r.headers["www-authenticate"], /^DPoP /);
  }
  // Only the one good request reached the origin, without the proof or the token.
  const seen = gw.originRequests.slice(before);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].headers.dpop, undefined);
  assert.ok(!JSON.stringify(seen[0].headers).includes(token));
});

test("the token endpoint refuses a bad proof with 400 invalid_dpop_proof, and a --require-dpop credential without one", async () => {
  const key = dpopKey();
  const form = (c) => new URLSearchParams({ grant_type: "client_credentials", client_id: c.client_id, client_secret: c.client_secret }).toString();
  for (const [why, proof] of [
    ["a private key in the jwk", key.withPrivateKey("POST", tokenUrl())],
    ["another htu", key.proof("POST", `${gw.issuer}/oauth2/revoke`)],
    ["another htm", key.proof("GET", tokenUrl())],
  ]) {
    const r = await gw.token(form(cred), { dpop: proof });
    assert.equal(r.status, 400, why);
    assert.equal(r.json.error, "invalid_dpop_proof", why);
  }
  // --require-dpop: no proof, no token; with one, a DPoP token that works at the service.
  assert.equal(bound.credential.require_dpop, true);
  const refused = await gw.token(form(bound));
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error, "invalid_dpop_proof");
  const token = await dpopToken(bound, key);
  const r = await rawGet([["Authorization", `DPoP ${token}`], ["DPoP", key.proof("GET", serviceUrl(), { token })]]);
  assert.equal(r.status, 200);
  // An access-token credential is a bearer token: it cannot require DPoP.
  const at = await gw.cli(["create", "credential", "at-bound", "--user", "root", "--type", "access-token", "--require-dpop"]);
  assert.notEqual(at.code, 0);
  assert.match(at.stderr, /not for access-token credentials/);
});

test("DPoP refusals leave audit lines with their reasons", async () => {
  const reasons = () => gw.runtime.log().split("\n").filter((l) => l.startsWith('{"log":"audit"')).map((l) => JSON.parse(l).reason);
  for (let i = 0; i < 100 && !(reasons().includes("dpop_proof") && reasons().includes("dpop_binding")); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(reasons().includes("dpop_proof"), `no dpop_proof line on ${RUNTIME}`);
  assert.ok(reasons().includes("dpop_binding"), `no dpop_binding line on ${RUNTIME}`);
});
