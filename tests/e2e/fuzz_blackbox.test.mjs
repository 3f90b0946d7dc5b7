// A seeded black-box fuzz of the running gateway: thousands of mixed hostile requests over raw
// TCP (hostile, oversized and lying bodies, broken chunked encoding, odd, huge and duplicated
// headers, bad tokens, random paths and hosts, absolute-form targets, slow partial requests),
// against the gateway started the README's way (Workers: `scripts/dev.sh`, with ports and a
// state directory of its own; Spin: the component in the test host). It must end with the
// gateway still serving a valid request at once, no 5xx from the gateway itself, no request
// left hanging, and no secret in any answer; the counts are printed.
//
// A 5xx that the runtime emits before the worker runs is counted apart, by its signature:
// workerd answers a request it cannot turn into a Fetch Request (an absolute-form target, an
// invalid or repeated Host, conflicting Content-Lengths) with a plain-text
// "500 Internal Server Error" of its own. Every other 5xx, the Spin test host's "component
// failed" (a trap) included, counts against the gateway.
//
//   ISOGATE_FUZZ_SEED=N ISOGATE_FUZZ_REQUESTS=M ISOGATE_RUNTIME=workers node --test tests/e2e/fuzz_blackbox.test.mjs
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway, freePort, signJwt, CLI, ROOT, RUNTIME } from "./harness.mjs";
import { rawExchange, requestHead } from "./rawhttp.mjs";

const SEED = Number(process.env.ISOGATE_FUZZ_SEED ?? 20261201);
const REQUESTS = Number(process.env.ISOGATE_FUZZ_REQUESTS ?? 5000);
const CONCURRENCY = 12;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Starts dev.sh as a user would, in its own state directory and on free ports. */
async function startReadmeWay() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "isogate-dev-"));
  const port = await freePort();
  const originPort = await freePort();
  const child = spawn("bash", [path.join(ROOT, "scripts/dev.sh")], {
    cwd: ROOT,
    env: { ...process.env, ISOGATE_PORT: String(port), ISOGATE_DEMO_ORIGIN_PORT: String(originPort), ISOGATE_DEV_DIR: dir, ISOGATE_SKIP_BUILD: "1", ISOGATE_CLI: CLI },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev.sh did not start in 120 s:\n${out}`)), 120000);
    const check = () => { if (out.includes("Press Ctrl-C to stop.")) { clearTimeout(timer); resolve(); } };
    child.stdout.on("data", check);
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`dev.sh exited ${code}:\n${out}`)); });
  });
  const vars = Object.fromEntries(fs.readFileSync(path.join(dir, ".dev.vars"), "utf8").trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  const field = (name) => new RegExp(`^${name}: (.*)$`, "m").exec(out)?.[1];
  return {
    how: "scripts/dev.sh (Miniflare's server, local D1, the demo origin)",
    port,
    domain: `localhost:${port}`,
    clientId: field("Client ID"),
    clientSecret: field("Client Secret"),
    adminToken: vars.ISOGATE_ADMIN_TOKEN,
    seed: vars.ISOGATE_SIGNING_KEY,
    alive: () => child.exitCode === null,
    log: () => out + (fs.existsSync(path.join(dir, ".dev-server.log")) ? fs.readFileSync(path.join(dir, ".dev-server.log"), "utf8") : ""),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        process.kill(-child.pid, "SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startSpinHost() {
  const gw = await startGateway();
  await gw.createService("my-api");
  const cred = await gw.createCredential("fuzz-cred");
  return {
    how: "the Spin component in tests/spin-host",
    port: gw.port,
    domain: gw.domain,
    clientId: cred.client_id,
    clientSecret: cred.client_secret,
    adminToken: gw.adminToken,
    seed: gw.seed,
    alive: () => true,
    log: () => gw.runtime.log(),
    stop: () => gw.stop(),
  };
}

/** The mixed hostile requests: each { kind, parts, opts, complete, summary }. */
function generate(rand, fx) {
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const chance = (p) => rand() < p;
  const str = (n, alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-._~") => Array.from({ length: n }, () => pick(alphabet)).join("");
  const b64u = (n) => Buffer.from(Array.from({ length: n }, () => int(0, 255))).toString("base64url");
  const svcHost = (name) => `${name}.${fx.domain}`;

  const weird = ["", " ", "..", "%2e%2e", "%2E.", "\\", "%5c", "%00", "%", "%zz", "é", "\u00ff", "//", ";", "@", "'\"<>", "${jndi:x}", "a".repeat(3000), "%252e%252e", "..;", "~"];
  const segment = () => (chance(0.3) ? pick(weird) : str(int(0, 12)));
  const randomPath = () => {
    if (chance(0.05)) return pick(["*", "", "?", "#frag", "/?x=1#y"]);
    const p = "/" + Array.from({ length: int(0, 5) }, segment).join("/");
    return chance(0.3) ? `${p}?${Array.from({ length: int(1, 4) }, () => `${segment()}=${segment()}`).join("&")}` : p;
  };
  const methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "get", "post", "X".repeat(40), "BREW"];
  const tokens = () => pick([
    fx.token,
    fx.token.slice(0, -1) + (fx.token.endsWith("A") ? "B" : "A"),
    fx.token.slice(0, int(1, fx.token.length - 1)),
    fx.token + ".x",
    fx.foreignToken,
    fx.expiredToken,
    fx.noneToken,
    fx.wrongTypToken,
    `${b64u(20)}.${b64u(40)}.${b64u(64)}`,
    "eyJhbGciOiJub25lIn0.e30.",
    "..",
    "",
    str(int(1, 300)),
    "a".repeat(9000),
  ]);
  const authorization = () => pick([
    ["Authorization", `Bearer ${tokens()}`],
    ["Authorization", `bearer ${tokens()}`],
    ["Authorization", `Bearer  ${tokens()} `],
    ["Authorization", `Basic ${Buffer.from(`${fx.clientId}:${fx.clientSecret}`).toString("base64")}`],
    ["Authorization", `${str(6)} ${tokens()}`],
    ["Authorization", "Bearer"],
    ["X-Octelium-Auth", tokens()],
  ]);

  // Bodies and their framing: [extra headers, body bytes, complete?]
  const body = (size) => Buffer.alloc(size, pick(["a", "=", "&", "%", "\u00ff", "{"]));
  const framed = () => {
    const size = pick([0, 1, 17, 600, 8192, 8193, 16385, 20000, 70000, 300000, 2000000]);
    switch (int(0, 9)) {
      case 0: case 1: case 2: return [[["Content-Length", String(size)]], body(size), true];
      case 3: { // lying: declares more than it sends (then the client half-closes)
        const sent = int(0, Math.min(size, 5000));
        return [[["Content-Length", String(size + int(1, 1000))]], body(sent), false];
      }
      case 4: { // chunked, valid
        const chunks = [];
        let left = Math.min(size, 300000);
        while (left > 0) { const n = Math.min(left, int(1, 70000)); chunks.push(`${n.toString(16)}${chance(0.2) ? ";ext=1" : ""}\r\n`, body(n), "\r\n"); left -= n; }
        chunks.push("0\r\n", chance(0.2) ? "X-Trailer: t\r\n" : "", "\r\n");
        return [[["Transfer-Encoding", pick(["chunked", "Chunked", "gzip, chunked"])]], Buffer.concat(chunks.map((c) => Buffer.from(c))), true];
      }
      case 5: { // chunked, broken
        const broken = pick(["zz\r\nabc\r\n0\r\n\r\n", "5\r\nabc\r\n0\r\n\r\n", "-1\r\nx\r\n0\r\n\r\n", "ffffffffffffffff\r\nabc", "3\r\nabc0\r\n\r\n", "3\nabc\n0\n\n", "1\r\na\r\n"]);
        return [[["Transfer-Encoding", "chunked"]], Buffer.from(broken), false];
      }
      case 6: return [[["Content-Length", String(size)], ["Transfer-Encoding", "chunked"]], Buffer.from("0\r\n\r\n"), false];
      case 7: return [[["Content-Length", String(size)], ["Content-Length", String(size + 1)]], body(size), false];
      case 8: return [[["Content-Length", pick(["-1", "1e3", "0x10", " 12", "99999999999999999999", "1,1"])]], body(12), false];
      default: return [[], Buffer.alloc(0), true];
    }
  };

  const oddHeaders = () => {
    const h = [];
    switch (int(0, 9)) {
      case 0: for (let i = 0; i < int(50, 300); i++) h.push([`X-Many-${i}`, str(int(0, 50))]); break;
      case 1: h.push(["X-Huge", "a".repeat(pick([8000, 40000, 90000]))]); break;
      case 2: h.push(["X-Isogate-User", "root"], ["X-Isogate_User", "root"], ["X-Forwarded-For", "1.2.3.4"], ["Forwarded", "for=evil"], ["X-Real-IP", "6.6.6.6"]); break;
      case 3: h.push("X-Folded: a\r\n b"); break;
      case 4: h.push("NoColonHeader"); break;
      case 5: h.push([`X-${str(3)}\u00ff`, "v"]); break;
      case 6: h.push(["X-Bin", "\u00ff\u00fe\u0001"]); break;
      case 7: h.push(["Expect", "100-continue"], ["Connection", "keep-alive, X-Isogate-User"], ["TE", "trailers"], ["Upgrade", "websocket"]); break;
      case 8: h.push(["Content-Type", "application/x-www-form-urlencoded"], ["Content-Type", "application/json"]); break;
      default: break;
    }
    return h;
  };

  const hosts = () => pick([
    fx.domain, fx.domain.toUpperCase(), `${fx.domain}.`, svcHost("my-api"), svcHost("MY-API"), svcHost(str(int(1, 20))),
    `a.b.${fx.domain}`, `my_api.${fx.domain}`, "evil.example", "127.0.0.1", "[::1]", "", " ", `${fx.domain}:1`,
    `my-api.${fx.domain}@evil.example`, "a".repeat(300), `${"a".repeat(70)}.${fx.domain}`, "localhost", "x y",
  ]);

  const requests = [];
  for (let i = 0; i < REQUESTS; i++) {
    const kind = pick(["token", "token", "token", "service", "service", "service", "service", "host", "headers", "body", "body", "slow", "admin", "admin", "root", "pipelined"]);
    let method = "GET", target = "/", host = fx.domain, headers = [], payload = Buffer.alloc(0), complete = true;
    const opts = { timeoutMs: 10000 };
    switch (kind) {
      case "token": {
        method = chance(0.9) ? "POST" : pick(methods);
        target = chance(0.9) ? pick(["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"]) : `/oauth2/token?${str(5)}=${str(5)}`;
        const params = [];
        const add = (k, v) => params.push(`${k}=${v}`);
        if (chance(0.7)) add("grant_type", pick(["client_credentials", "CLIENT_CREDENTIALS", "password", "", "%00"]));
        if (chance(0.6)) add("client_id", pick([fx.clientId, fx.clientId.toUpperCase(), str(9), "", "%ZZ"]));
        if (chance(0.6)) add("client_secret", pick([fx.clientSecret, fx.clientSecret.slice(1), str(43), "", "a".repeat(5000)]));
        if (chance(0.3)) add("scope", pick(["service:my-api", "service:*", "service:" + str(80), "%20%20", "service:my-api service:my-api", "openid"]));
        if (chance(0.3)) add("token", tokens());
        if (chance(0.1)) add(str(3), str(3));
        if (chance(0.1)) params.push(params[0] ?? "a=b"); // a repeated parameter
        let form = params.join("&");
        if (chance(0.1)) form = str(int(0, 200), "=&%+abc\u00ff");
        headers.push(["Content-Type", pick(["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8", "text/plain", "application/json", ""])]);
        if (chance(0.4)) headers.push(["Authorization", pick([
          `Basic ${Buffer.from(`${fx.clientId}:${fx.clientSecret}`).toString("base64")}`,
          `Basic ${Buffer.from(`${str(9)}:${str(20)}`).toString("base64")}`,
          `Basic ${str(int(0, 40), "ABCxyz+/=%!")}`, "Basic", `basic ${Buffer.from(`${fx.clientId}`).toString("base64")}`,
          `Bearer ${tokens()}`,
        ])]);
        if (chance(0.2)) {
          const [h, b, c] = framed();
          headers.push(...h);
          payload = b;
          complete = c;
        } else {
          payload = Buffer.from(form);
          headers.push(["Content-Length", String(payload.length)]);
        }
        break;
      }
      case "service": {
        host = chance(0.8) ? svcHost("my-api") : svcHost(pick(["nope", str(int(1, 30)), "MY-API"]));
        method = chance(0.6) ? "GET" : pick(methods);
        target = chance(0.7) ? randomPath() : `/anything?access_token=${tokens()}`;
        if (target.startsWith("/slow") || target.startsWith("/download")) target = "/x" + target;
        if (chance(0.85)) headers.push(authorization());
        if (chance(0.1)) headers.push(authorization());
        if (chance(0.2)) headers.push(...oddHeaders());
        if (chance(0.25)) {
          const [h, b, c] = framed();
          headers.push(...h);
          payload = b;
          complete = c;
        }
        break;
      }
      case "host": {
        host = hosts();
        method = pick(methods);
        target = chance(0.3) ? `http://${pick([hosts(), "evil.example", svcHost("my-api")])}${randomPath()}` : randomPath();
        if (chance(0.2)) headers.push(["Host", hosts()]);
        if (chance(0.3)) headers.push(authorization());
        break;
      }
      case "headers": {
        host = pick([fx.domain, svcHost("my-api")]);
        method = pick(["GET", "POST", "HEAD"]);
        target = pick(["/healthz", "/oauth2/token", "/anything", randomPath()]);
        headers.push(...oddHeaders(), ...oddHeaders());
        if (chance(0.5)) headers.push(authorization());
        break;
      }
      case "body": {
        host = pick([fx.domain, fx.domain, svcHost("my-api"), "elsewhere.example"]);
        method = pick(["POST", "PUT", "GET", "PATCH"]);
        target = pick(["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect", "/admin/v1/users", "/healthz", "/nope", "/upload", randomPath()]);
        if (chance(0.5)) headers.push(chance(0.5) ? ["Authorization", `Bearer ${fx.adminToken}`] : authorization());
        const [h, b, c] = framed();
        headers.push(...h);
        payload = b;
        complete = c;
        break;
      }
      case "slow": {
        // A slowloris: part of a request, a pause, more or nothing, then the client gives up.
        const full = Buffer.from(requestHead("POST", "/oauth2/token", [["Host", pick([fx.domain, svcHost("my-api")])], ["Content-Length", "64"], ["Content-Type", "application/x-www-form-urlencoded"]]) + "grant_type=client_credentials");
        const cut = int(1, full.length - 1);
        requests.push({ kind, parts: [full.subarray(0, cut), int(200, 1500), ...(chance(0.5) ? [full.subarray(cut, Math.min(full.length, cut + int(1, 10))), int(100, 800)] : [])], opts: { timeoutMs: 6000, then: chance(0.5) ? "end" : "destroy" }, complete: false, summary: `slow cut at ${cut}` });
        continue;
      }
      case "admin": {
        method = pick(["GET", "POST", "POST", "DELETE", "PUT"]);
        target = `/admin/v1/${pick(["users", "services", "credentials", str(5), "users/" + "fz-" + str(6), "services/fz-" + str(4), "credentials/fz-" + str(4), "users/", "", "../x"])}`;
        headers.push(["Authorization", pick([`Bearer ${fx.adminToken}`, `Bearer ${fx.adminToken}`, `bearer ${fx.adminToken}`, `Bearer ${fx.adminToken}x`, "Bearer", `Basic ${fx.adminToken}`])]);
        const name = "fz-" + str(int(1, 12));
        const json = pick([
          { name },
          { name, upstream: pick(["http://127.0.0.1:9", "https://ok.example", "javascript:alert(1)", "http://u:p@h", "http://[::1", "file:///etc/passwd", "http://h/a?b#c", "ftp://x", "http://h\\@evil", "", 5, null]), allowed_users: pick([[], ["root"], [str(70)], "root", [1, 2]]) },
          { name, user: pick(["root", str(5), "", null]), type: pick(["oauth2", "access-token", "x", 3]), scopes: pick([["service:*"], ["service:" + str(70)], "x", [null]]), expire_in: pick(["30d", "-1d", "0", "99999999999d", 7, null]) },
          { name: pick(["", "ROOT", "a".repeat(200), "-x", "x-", "a b", "\u00e9", 1, null, [], {}]) },
          (() => { const depth = int(1, 3000); return "[".repeat(depth) + "]".repeat(depth); })(),
          str(int(0, 40), "{}[]\":,1tfn "),
        ]);
        payload = Buffer.from(typeof json === "string" ? json : JSON.stringify(json));
        headers.push(["Content-Type", pick(["application/json", "text/plain"])], ["Content-Length", String(payload.length)]);
        break;
      }
      case "root": {
        method = pick(methods);
        target = pick(["/healthz", "/oauth2/jwks", "/.well-known/jwks.json", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/", randomPath()]);
        if (chance(0.3)) headers.push(...oddHeaders());
        break;
      }
      case "pipelined": {
        // A request whose Content-Length is shorter than what follows: the rest must be read
        // as the next request (or refused), never as part of this one.
        const smuggled = requestHead("GET", "/admin/v1/users", [["Host", fx.domain]]);
        const first = Buffer.from(requestHead("POST", pick(["/oauth2/token", "/nope"]), [["Host", fx.domain], ["Content-Length", "5"], ["Content-Type", "application/x-www-form-urlencoded"]]) + "a=b&c" + smuggled);
        requests.push({ kind, parts: [first], opts: { timeoutMs: 10000, answers: 2 }, complete: true, summary: "CL 5 + smuggled GET /admin/v1/users" });
        continue;
      }
    }
    if (kind !== "host" || chance(0.8)) headers.unshift(["Host", host]);
    const head = Buffer.from(requestHead(method, target, headers), "latin1");
    if (!complete) opts.then = "end";
    if (method === "HEAD") opts.head = true;
    requests.push({ kind, parts: [head, payload], opts, complete, summary: `${method} ${target.slice(0, 60)} Host=${host.slice(0, 40)} body=${payload.length}` });
  }
  return requests;
}

/**
 * The 5xx answers workerd sends itself, before any worker runs: its plain "Internal Server
 * Error" for a request it cannot make a Fetch Request of (absolute-form target, invalid or
 * repeated Host, conflicting Content-Lengths), and its HTTP server's (kj's) "ERROR: ..." text,
 * e.g. 501 "ERROR: Unrecognized request method." for `get` or `BREW`.
 */
// (A worker that throws gets a different 500: text/plain;charset=UTF-8 with the error's
// message, from Miniflare's entry worker; so does a wasm panic.)
const isRuntime5xx = (a, head) =>
  (a.status === 500 && !a.headers["content-type"] && /close/i.test(a.headers.connection ?? "") &&
    (head ? a.headers["content-length"] === "21" : a.body.toString() === "Internal Server Error")) ||
  (/^text\/plain/.test(a.headers["content-type"] ?? "") && a.body.toString().startsWith("ERROR: "));

describe(`black-box fuzz of the running gateway (${RUNTIME})`, { timeout: 300000 }, () => {
  let gw, fx;
  before(async () => {
    gw = RUNTIME === "spin" ? await startSpinHost() : await startReadmeWay();
    const form = `grant_type=client_credentials&client_id=${gw.clientId}&client_secret=${gw.clientSecret}`;
    const tokenReply = await rawExchange(gw.port, requestHead("POST", "/oauth2/token", [["Host", gw.domain], ["Content-Type", "application/x-www-form-urlencoded"], ["Content-Length", String(form.length)]]) + form);
    assert.equal(tokenReply.answers[0]?.status, 200, `a first token: ${tokenReply.outcome} ${tokenReply.answers[0]?.body}`);
    const token = JSON.parse(tokenReply.answers[0].body).access_token;
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
    const header = JSON.parse(Buffer.from(token.split(".")[0], "base64url"));
    const now = Math.floor(Date.now() / 1000);
    fx = {
      ...gw,
      token,
      foreignToken: signJwt(crypto.randomBytes(32).toString("base64url"), header, claims),
      expiredToken: signJwt(gw.seed, header, { ...claims, iat: now - 7200, exp: now - 3600 }),
      wrongTypToken: signJwt(gw.seed, { ...header, typ: "JWT" }, claims),
      noneToken: `${Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.`,
    };
  });
  after(() => gw?.stop());

  it(`${REQUESTS}_hostile_requests_end_with_the_gateway_serving_no_5xx_from_it_and_nothing_hanging`, async (t) => {
    const requests = generate(prng(SEED), fx);
    const counts = { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx from the gateway": 0, "5xx from the runtime, before the worker": 0, "5xx from the runtime, examples": new Set(), "closed without an answer": 0, reset: 0, "connection refused": 0, "no answer yet, client gave up": 0, "client reset on purpose": 0 };
    const byKind = {};
    const gateway5xx = [], hung = [], leaks = [];
    const secrets = [fx.clientSecret, fx.adminToken, fx.seed];
    const t0 = Date.now();
    let next = 0;
    const workerLoop = async () => {
      while (next < requests.length) {
        const r = requests[next++];
        const result = await rawExchange(gw.port, r.parts, r.opts);
        const k = (byKind[r.kind] ??= {});
        if (result.outcome === "sent") counts["client reset on purpose"]++;
        else if (result.outcome === "timeout") {
          counts["no answer yet, client gave up"]++;
          if (r.complete) hung.push(r.summary);
        } else if (result.outcome === "reset") counts.reset++;
        else if (result.outcome === "error ECONNREFUSED") counts["connection refused"]++;
        else if (result.outcome !== "answered" && result.answers.length === 0) counts["closed without an answer"]++;
        for (const a of result.answers) {
          const cls = `${Math.floor(a.status / 100)}xx`;
          k[a.status] = (k[a.status] ?? 0) + 1;
          if (cls !== "5xx") counts[cls] = (counts[cls] ?? 0) + 1;
          else if (RUNTIME === "workers" && isRuntime5xx(a, r.opts.head)) {
            counts["5xx from the runtime, before the worker"]++;
            counts["5xx from the runtime, examples"].add(`${a.status} ${a.body.toString().slice(0, 60)}`);
          } else {
            counts["5xx from the gateway"]++;
            gateway5xx.push(`${a.status} ${a.body.toString().slice(0, 160)} <- ${r.kind}: ${r.summary}`);
          }
          const text = a.body.toString("latin1");
          // A creation response shows the new credential's own secret, never these.
          for (const s of secrets) if (s && text.includes(s)) leaks.push(`${r.kind}: ${r.summary}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, workerLoop));
    const seconds = (Date.now() - t0) / 1000;

    // Still serving, at once: health, a token, a service call through to the origin.
    const health = await rawExchange(gw.port, requestHead("GET", "/healthz", [["Host", fx.domain]]), { timeoutMs: 2000 });
    const form = `grant_type=client_credentials&client_id=${fx.clientId}&client_secret=${fx.clientSecret}`;
    const tokenReply = await rawExchange(gw.port, requestHead("POST", "/oauth2/token", [["Host", fx.domain], ["Content-Type", "application/x-www-form-urlencoded"], ["Content-Length", String(form.length)]]) + form, { timeoutMs: 2000 });
    const fresh = tokenReply.answers[0]?.status === 200 ? JSON.parse(tokenReply.answers[0].body).access_token : "";
    const call = await rawExchange(gw.port, requestHead("GET", "/after-the-fuzz?ok=1", [["Host", `my-api.${fx.domain}`], ["Authorization", `Bearer ${fresh}`]]), { timeoutMs: 2000 });

    const report = [
      `black-box fuzz (${RUNTIME}, gateway started by ${gw.how}): seed ${SEED}, ${requests.length} requests, ${CONCURRENCY} connections at a time, ${seconds.toFixed(1)} s`,
      ...Object.entries(counts).map(([k, v]) => `  ${k}: ${v instanceof Set ? JSON.stringify([...v]) : v}`),
      "  statuses by kind of request:",
      ...Object.entries(byKind).sort().map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
      `  afterwards: /healthz ${health.answers[0]?.status ?? health.outcome} in ${health.ms} ms, token ${tokenReply.answers[0]?.status ?? tokenReply.outcome} in ${tokenReply.ms} ms, service call ${call.answers[0]?.status ?? call.outcome} in ${call.ms} ms`,
    ];
    for (const line of report) t.diagnostic(line);

    assert.ok(gw.alive(), `the gateway process died:\n${gw.log().slice(-3000)}`);
    assert.equal(counts["connection refused"], 0, "connections were refused: the server is gone");
    assert.deepEqual(gateway5xx.slice(0, 20), [], `5xx answers from the gateway (${gateway5xx.length})`);
    assert.deepEqual(hung.slice(0, 20), [], `complete requests left without an answer (${hung.length})`);
    assert.deepEqual(leaks.slice(0, 20), [], "answers that carry a secret");
    assert.equal(health.answers[0]?.status, 200, `healthz after the fuzz: ${health.outcome}`);
    assert.equal(tokenReply.answers[0]?.status, 200, `a token after the fuzz: ${tokenReply.outcome}`);
    assert.equal(call.answers[0]?.status, 200, `a service call after the fuzz: ${call.outcome} ${call.answers[0]?.body}`);
    assert.ok(health.ms < 1000 && tokenReply.ms < 1000 && call.ms < 1000, "served at once");
    assert.equal(JSON.parse(call.answers[0].body).path, "/after-the-fuzz", "the origin answered");
  });
});
