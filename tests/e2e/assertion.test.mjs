// The signed identity assertion (X-Isogate-Assertion) end to end, on the runtime under test:
// three origins that believe nothing else (tests/origins/{node,python,go}: jose, PyJWT, Go's
// standard library; the README's snippets are excerpts of them) each sit behind a service,
// verify every request against the gateway's JWKS, and answer 200 with the verified claims or
// 401 with why. A recording relay in front of each keeps what the gateway sent, so the tests
// can replay it straight to the origin, as anyone who finds an origin's address can.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";
import fs from "node:fs";
import path from "node:path";
import { startGateway, decodeJwt, ROOT, RUNTIME } from "./harness.mjs";

const PYTHON = process.env.ISOGATE_PYTHON ?? path.join(ROOT, ".venv-tests/bin/python");
const GO_ORIGIN = process.env.ISOGATE_GO_ORIGIN ?? path.join(ROOT, "target/origins/isogate-origin-go");
// `source`: the program the README quotes (clients_readme.test.mjs checks the excerpts).
const ORIGINS = {
  node: { source: "tests/origins/node/origin.mjs", file: process.execPath, needs: path.join(ROOT, "tests/origins/node/node_modules/jose") },
  python: { source: "tests/origins/python/origin.py", file: PYTHON, needs: PYTHON },
  // Built from its source by tests/clients/install.sh.
  go: { source: "tests/origins/go/main.go", file: GO_ORIGIN, needs: GO_ORIGIN, built: true },
};
const LANGS = Object.keys(ORIGINS);
const CREDENTIAL = "assertion-cred";

/** Starts an origin program; resolves { port, stop, log } once it prints "listening on". */
function startOrigin(lang, env) {
  const { file, source, built } = ORIGINS[lang];
  const child = spawn(file, built ? [] : [path.join(ROOT, source)], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${lang} origin did not start:\n${log}`)), 20000);
    child.once("exit", (code) => reject(new Error(`${lang} origin exited ${code}:\n${log}`)));
    child.stdout.on("data", (d) => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(String(d));
      if (!m) return;
      clearTimeout(timer);
      resolve({
        port: Number(m[1]),
        log: () => log,
        stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once("exit", r), child.kill()))),
      });
    });
  });
}

/** A relay to 127.0.0.1:`port` that records each request's raw headers (name/value pairs). */
async function startRecorder(port) {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push(req.rawHeaders);
    const up = http.request({ host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on("error", (e) => { res.writeHead(502); res.end(String(e)); });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    last: () => seen.at(-1),
    stop: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }),
  };
}

/** Values of header `name` (case-insensitive) in raw header pairs. */
function rawValues(raw, name) {
  const values = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) values.push(raw[i + 1]);
  return values;
}

/** A request straight to an origin (not through the gateway) with the given headers. */
function direct(port, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/direct", headers, agent: false }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(body) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Decodes a chunked body (RFC 9112 §7.1); `undefined` until its last chunk has arrived. */
function dechunk(body) {
  const chunks = [];
  for (let at = 0; ;) {
    const eol = body.indexOf("\r\n", at);
    if (eol < 0) return undefined;
    const size = parseInt(body.subarray(at, eol).toString("latin1"), 16);
    if (size === 0) return Buffer.concat(chunks);
    if (body.length < eol + 2 + size + 2) return undefined;
    chunks.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** One request on a raw socket, read by its framing (Content-Length or chunked); resolves { status, json }. */
function rawRequest(port, text) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no complete answer: ${data}`)); }, 10000);
    socket.on("error", reject);
    socket.on("data", (d) => {
      data = Buffer.concat([data, d]);
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = data.subarray(0, end).toString("latin1");
      const rest = data.subarray(end + 4);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
      const body = length !== undefined
        ? (rest.length >= Number(length) ? rest.subarray(0, Number(length)) : undefined)
        : /\r\ntransfer-encoding: *chunked/i.test(head) ? dechunk(rest) : undefined;
      if (body === undefined) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(head.split(" ")[1]), json: JSON.parse(body.toString("utf8")) });
    });
    socket.write(text);
  });
}

/** `jwt` with one byte of its payload or its signature changed, the rest as signed. */
function oneByteChanged(jwt, part) {
  const parts = jwt.split(".");
  const bytes = Buffer.from(parts[part], "base64url");
  if (part === 1) {
    // Still valid JSON with the same claims but one: the user "root" becomes "roou".
    const at = bytes.indexOf('"sub":"root"') + '"sub":"roo'.length;
    assert.ok(at > 10, "the payload names the user");
    bytes[at] = "u".charCodeAt(0);
  } else {
    bytes[10] ^= 0x01;
  }
  parts[part] = bytes.toString("base64url");
  return parts.join(".");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe(`signed identity assertion (${RUNTIME})`, () => {
  let gw, cred, token, access, jwks;
  const origins = {};
  const recorders = {};
  /** The echo service's assertion, as the harness's demo origin received it. */
  const echoAssertion = () => gw.originRequests.at(-1).headers["x-isogate-assertion"];
  const bearer = () => ({ authorization: `Bearer ${token}` });

  before(async () => {
    for (const o of Object.values(ORIGINS)) {
      assert.ok(fs.existsSync(o.needs), `${o.needs} is missing: run bash tests/clients/install.sh (and scripts/test.sh for the Python venv)`);
      if (o.built) {
        const stale = fs.statSync(o.file).mtimeMs < fs.statSync(path.join(ROOT, o.source)).mtimeMs;
        assert.ok(!stale, `${o.file} is older than ${o.source}: run bash tests/clients/install.sh`);
      }
    }
    gw = await startGateway();
    for (const lang of LANGS) {
      const name = `origin-${lang}`;
      origins[lang] = await startOrigin(lang, { ISOGATE_ISSUER: gw.issuer, ISOGATE_AUDIENCE: gw.serviceUrl(name) });
      recorders[lang] = await startRecorder(origins[lang].port);
      await gw.createService(name, { upstream: recorders[lang].url });
    }
    await gw.createService("echo");
    cred = await gw.createCredential(CREDENTIAL);
    token = await gw.accessToken(cred);
    access = decodeJwt(token).payload;
    jwks = (await gw.root("/.well-known/jwks.json")).json;
  });
  after(async () => {
    for (const lang of LANGS) {
      await recorders[lang]?.stop();
      await origins[lang]?.stop();
    }
    await gw?.stop();
  });

  it("each origin verifier accepts the gateway's assertion and sees the verified identity", async () => {
    for (const lang of LANGS) {
      const name = `origin-${lang}`;
      const r = await gw.service(name, "/whoami?x=1", { headers: bearer() });
      assert.equal(r.status, 200, `${lang}: ${r.text}\n${origins[lang].log()}`);
      const c = r.json.claims;
      assert.equal(c.iss, gw.issuer, lang);
      assert.equal(c.aud, gw.serviceUrl(name), lang);
      assert.deepEqual([c.sub, c.client_id, c.credential, c.scope], ["root", cred.client_id, CREDENTIAL, access.scope], lang);
      assert.equal(c.jti, access.jti, `${lang}: the access token's jti`);
      assert.ok(c.exp - c.iat > 0 && c.exp - c.iat <= 300, `${lang}: lives at most 5 minutes: ${c.iat}..${c.exp}`);
      assert.ok(c.exp <= access.exp, `${lang}: never after the access token`);
      const [assertion] = rawValues(recorders[lang].last(), "x-isogate-assertion");
      const { header } = decodeJwt(assertion);
      assert.deepEqual([header.typ, header.alg], ["isogate-assertion+jwt", "EdDSA"], lang);
      assert.ok(jwks.keys.some((k) => k.kid === header.kid), `${lang}: signed with a key the JWKS publishes`);
      // The plain headers stay, for origins on a private network.
      assert.deepEqual(rawValues(recorders[lang].last(), "x-isogate-user"), ["root"], lang);
    }
  });

  it("each origin refuses a request without an assertion, and the assertion with one byte changed in its signature or payload", async () => {
    for (const lang of LANGS) {
      const [genuine] = rawValues(recorders[lang].last(), "x-isogate-assertion");
      const port = origins[lang].port;
      const ok = await direct(port, { "x-isogate-assertion": genuine });
      assert.equal(ok.status, 200, `${lang}: the genuine assertion, replayed: ${JSON.stringify(ok.json)}`);
      assert.equal((await direct(port, { "x-isogate-user": "root" })).status, 401, `${lang}: plain headers alone`);
      for (const part of [2, 1]) {
        const forged = oneByteChanged(genuine, part);
        assert.notEqual(forged, genuine);
        const r = await direct(port, { "x-isogate-assertion": forged });
        assert.equal(r.status, 401, `${lang}: one byte changed in part ${part}: ${JSON.stringify(r.json)}`);
        assert.match(r.json.error, /signature/i, lang);
      }
    }
  });

  it("each origin refuses an access token presented as the assertion, for its type", async () => {
    for (const lang of LANGS) {
      const r = await direct(origins[lang].port, { "x-isogate-assertion": token });
      assert.equal(r.status, 401, lang);
      assert.match(r.json.error, /typ/, `${lang}: ${r.json.error}`);
    }
  });

  it("an assertion presented to the gateway as a bearer token is refused 401 invalid_token", async () => {
    const r = await gw.service("echo", "/", { headers: bearer() });
    assert.equal(r.status, 200);
    const seen = gw.originRequests.length;
    const assertion = echoAssertion();
    for (const name of ["echo", "origin-node"]) {
      const refused = await gw.service(name, "/", { headers: { authorization: `Bearer ${assertion}` } });
      assert.equal(refused.status, 401, refused.text);
      assert.equal(refused.json.error, "invalid_token");
      assert.match(refused.headers["www-authenticate"], /error="invalid_token"/);
    }
    assert.equal(gw.originRequests.length, seen, "nothing reached the origin");
  });

  it("a client-sent X-Isogate-Assertion never reaches the origin (raw socket, two spellings)", async () => {
    // The attacker replays a genuine assertion of another service, and a made-up one.
    await gw.service("echo", "/", { headers: bearer() });
    const replayed = echoAssertion();
    const made_up = "eyJhbGciOiJFZERTQSIsInR5cCI6Imlzb2dhdGUtYXNzZXJ0aW9uK2p3dCJ9.eyJzdWIiOiJhZG1pbiJ9.AAAA";
    const r = await rawRequest(gw.port, [
      "GET /smuggle HTTP/1.1",
      `Host: ${gw.serviceHost("origin-node")}`,
      `Authorization: Bearer ${token}`,
      `X-Isogate-Assertion: ${replayed}`,
      `x-isogate-assertion: ${made_up}`,
      "Connection: close",
      "", "",
    ].join("\r\n"));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.claims.aud, gw.serviceUrl("origin-node"));
    const values = rawValues(recorders.node.last(), "x-isogate-assertion");
    assert.equal(values.length, 1, `exactly one assertion reached the origin: ${values}`);
    assert.ok(values[0] !== replayed && values[0] !== made_up, "the gateway's own");
    // Through the echo origin too (the harness's view of requests).
    await rawRequest(gw.port, [
      "GET /smuggle HTTP/1.1", `Host: ${gw.serviceHost("echo")}`, `Authorization: Bearer ${token}`,
      `X-ISOGATE-ASSERTION: ${made_up}`, "Connection: close", "", "",
    ].join("\r\n"));
    assert.ok(!echoAssertion().includes(made_up) && !echoAssertion().includes(","), echoAssertion());
  });

  it("the audience is the service's URL: an assertion for one service is refused by another's origin", async () => {
    await gw.service("echo", "/", { headers: bearer() });
    const forEcho = echoAssertion();
    assert.equal(decodeJwt(forEcho).payload.aud, gw.serviceUrl("echo"));
    // Genuine: signed by the published key.
    const [h, p, s] = forEcho.split(".");
    const jwk = jwks.keys.find((k) => k.kid === decodeJwt(forEcho).header.kid);
    const key = crypto.createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: "jwk" });
    assert.ok(crypto.verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url")));
    for (const lang of LANGS) {
      const r = await direct(origins[lang].port, { "x-isogate-assertion": forEcho });
      assert.equal(r.status, 401, lang);
      assert.match(r.json.error, /aud/i, `${lang}: ${r.json.error}`);
    }
  });

  // Workers keep an isolate between requests, and with it the signed assertion; Spin runs a
  // fresh instance per request (wasi:http 0.2), so each request signs its own. Re-signing once
  // the margin is reached is pinned in the core with a fixed clock (a real wait would be 4 min).
  it(RUNTIME === "workers"
    ? "a second request within the window gets the same assertion (cached per token and service)"
    : "each request gets a newly signed assertion (no instance reuse on Spin)", async () => {
    await gw.service("echo", "/", { headers: bearer() });
    const first = echoAssertion();
    await sleep(1100); // a newly signed one would carry a later iat
    await gw.service("echo", "/", { headers: bearer() });
    const second = echoAssertion();
    const [a, b] = [decodeJwt(first).payload, decodeJwt(second).payload];
    assert.equal(a.jti, b.jti);
    if (RUNTIME === "workers") {
      assert.equal(second, first);
    } else {
      assert.ok(b.iat > a.iat, `${a.iat} then ${b.iat}`);
    }
  });
});
