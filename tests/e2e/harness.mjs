// End-to-end harness: runs the built gateway in a real runtime on loopback, with a real origin,
// and gives the tests plain HTTP helpers. The runtime is chosen by ISOGATE_RUNTIME:
//   workers (default): workers/build/index.js + index_bg.wasm in workerd, through Miniflare's
//                      API (a real workerd process and real local D1, no wrangler proxy);
//   spin:              the Spin component in tests/spin-host (Spin's host interfaces over real
//                      SQLite files in a temp dir; see tests/spin-host/README.md).
// Users, services and credentials are created with the `isogate` CLI (target/debug/isogate),
// the one client of the admin API's schema; tests of the raw admin API use gw.admin().
import { Miniflare } from "miniflare";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { spawn, execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startOrigin } from "../../scripts/demo-origin.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const RUNTIME = process.env.ISOGATE_RUNTIME ?? "workers";
export const CLI = process.env.ISOGATE_CLI ?? path.join(ROOT, "target/debug/isogate");
/** Bound on revocation latency across isolates, as configured for the tests (ms). */
export const CACHE_TTL_MS = 2000;
export const UPSTREAM_TIMEOUT_MS = 1500;

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function migrationStatements() {
  const dir = path.join(ROOT, "infra/migrations");
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) =>
      fs
        .readFileSync(path.join(dir, f), "utf8")
        .split("\n")
        .map((l) => l.replace(/--.*$/, ""))
        .join("\n")
        .split(/;\s*\n/)
        .map((s) => s.trim())
        .filter(Boolean),
    );
}

export const signingSeed = () => crypto.randomBytes(32).toString("base64url");

/**
 * Starts an origin and the gateway. Returns helpers bound to them; call stop() at the end.
 * `settings` are extra ISOGATE_* settings, plus `tls` and `peer`:
 *   tls: true (or { names: ["svc", ...] }) serves the gateway over HTTPS with a throwaway CA
 *   and certificate made by `openssl` (see makeTlsCertificate); ISOGATE_ISSUER becomes
 *   https://localhost:PORT and `gw.caCertPath` is the CA to give clients. Workers runtime
 *   only. Default: plain HTTP, as before.
 *   peer: true also starts a second gateway instance sharing the first one's storage, as a
 *   second isolate or replica would in production (Workers: a second worker, its own isolate,
 *   in the same workerd, bound to the same D1 database; Spin: a second host process on the
 *   same SQLite files). `gw.peer` is a GatewayClient for it (plain HTTP).
 *
 *   statements: true counts the storage statements the gateway runs: `gw.runtime.statements()`
 *   resolves { count, sql: [statement text, ...] } so far (Workers: the worker runs behind a
 *   test-only wrapper module that counts `env.DB.prepare` calls; Spin: the test host's
 *   --log-sql lines).
 *   state: DIR keeps the database in DIR instead of a temp dir the harness removes (Workers:
 *   Miniflare's d1Persist, the layout of `wrangler d1 ... --local --persist-to DIR`'s v3/d1;
 *   Spin: DIR/db.sqlite), for tests that prepare a database first (e.g. an old schema).
 *   migrate: false (Workers) skips the harness's own run of infra/migrations, for a
 *   database that `wrangler d1 migrations apply` prepared. Spin always applies them itself.
 *   sqliteInit: [FILE...] (Spin) runs the files first, as `spin up --sqlite @FILE` does.
 *
 * `gw.originRequests` lists the requests the origin received ({ method, url, headers }; WebSocket
 * handshakes with upgrade: true, and gw.originWebSockets says how each went, see demo-origin),
 * `gw.runtime.log()` is what the runtime printed (the worker's console / the component's
 * stderr), and `gw.runtime.sql(statement)` runs one SQL statement directly in the runtime's
 * database (D1 through Miniflare, or the Spin host's SQLite file), behind the gateway's back.
 */
export async function startGateway({ tls = false, peer = false, statements = false, state, migrate = true, sqliteInit = [], ...settings } = {}) {
  if (tls && RUNTIME !== "workers") throw new Error(`startGateway({ tls }) needs ISOGATE_RUNTIME=workers, not ${RUNTIME}`);
  const origin = await startOrigin(0);
  const originRequests = [];
  origin.on("request", (req) => originRequests.push({ method: req.method, url: req.url, headers: req.headers }));
  // WebSocket handshakes too (Node emits "upgrade", not "request", for them).
  origin.on("upgrade", (req) => originRequests.push({ method: req.method, url: req.url, headers: req.headers, upgrade: true }));
  const originUrl = `http://127.0.0.1:${origin.address().port}`;
  const port = await freePort();
  const peerPort = peer ? await freePort() : undefined;
  const domain = `localhost:${port}`;
  const adminToken = crypto.randomBytes(32).toString("base64url");
  const seed = settings.ISOGATE_SIGNING_KEY ?? signingSeed();
  const certs = tls ? makeTlsCertificate(tls === true ? ["my-api"] : tls.names ?? []) : undefined;
  const all = {
    ISOGATE_DOMAIN: domain,
    ...(certs ? { ISOGATE_ISSUER: `https://${domain}` } : {}),
    ISOGATE_SIGNING_KEY: seed,
    ISOGATE_ADMIN_TOKEN: adminToken,
    ISOGATE_CACHE_TTL_MS: String(CACHE_TTL_MS),
    ISOGATE_UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
    ...settings,
  };
  let runtime;
  try {
    const options = { statements, state, migrate, sqliteInit };
    runtime = RUNTIME === "spin" ? await startSpin(port, all, peerPort, options) : await startWorkers(port, all, certs, peerPort, options);
  } catch (e) {
    await new Promise((r) => origin.close(r));
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
    throw e;
  }
  const gw = new GatewayClient({ port, domain, adminToken, seed, originUrl, tls: certs });
  gw.runtime = runtime;
  gw.originRequests = originRequests;
  gw.originWebSockets = origin.webSockets;
  // The CLI trusts only public CAs: over TLS it reaches the admin API through a plain-HTTP
  // relay on loopback that forwards to the gateway over HTTPS with the throwaway CA.
  const relay = certs ? await startAdminRelay(gw) : undefined;
  if (relay) gw.cliServer = `http://127.0.0.1:${relay.address().port}`;
  // The peer answers for the same domain (its Host headers name localhost:PORT of the first).
  if (peer) gw.peer = new GatewayClient({ port: peerPort, domain, adminToken, seed, originUrl });
  gw.stop = async () => {
    if (relay) await new Promise((r) => { relay.close(r); relay.closeAllConnections(); });
    await runtime.stop();
    await new Promise((r) => origin.close(r));
    origin.closeAllConnections?.();
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  };
  return gw;
}

/** A plain-HTTP server on 127.0.0.1 relaying every request to `gw` (HTTPS), with gw's Host. */
async function startAdminRelay(gw) {
  const server = http.createServer((req, res) => {
    const up = https.request({ host: "127.0.0.1", port: gw.port, method: req.method, path: req.url, headers: { ...req.headers, host: gw.domain },
      ca: gw.tls.ca, servername: "localhost", agent: false }, (r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
    up.on("error", (e) => { res.writeHead(502); res.end(String(e)); });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return server;
}

/**
 * A throwaway CA and a server certificate signed by it, in a new temp dir, made with the
 * openssl CLI. The certificate names localhost, 127.0.0.1, *.localhost and, explicitly,
 * `<name>.localhost` for each of `serviceNames`: OpenSSL (curl, node) and rustls do not
 * match a wildcard directly under a single-label name such as `*.localhost` (RFC 6125
 * §6.4.3 leaves that to the client), Go does. Returns { dir, caPath, certPath, keyPath,
 * ca, cert, key } (PEM strings).
 */
export function makeTlsCertificate(serviceNames = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "isogate-tls-"));
  const f = (name) => path.join(dir, name);
  const openssl = (...args) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  const sans = ["DNS:localhost", "IP:127.0.0.1", "DNS:*.localhost", ...serviceNames.map((n) => `DNS:${n}.localhost`)];
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", f("ca-key.pem"), "-out", f("ca.pem"), "-days", "2", "-subj", "/CN=Isogate test CA (throwaway)",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", f("key.pem"), "-out", f("server.csr"), "-subj", "/CN=localhost");
  fs.writeFileSync(f("server.ext"), [
    `subjectAltName=${sans.join(",")}`,
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
  ].join("\n") + "\n");
  openssl("x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca-key.pem"),
    "-CAcreateserial", "-days", "2", "-out", f("cert.pem"), "-extfile", f("server.ext"));
  const read = (name) => fs.readFileSync(f(name), "utf8");
  return { dir, caPath: f("ca.pem"), certPath: f("cert.pem"), keyPath: f("key.pem"), ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") };
}

/**
 * The test-only main module of { statements: true }: the built worker behind a wrapper that
 * counts (and records) the statements it prepares on `env.DB`, reported to a request carrying
 * a header only the harness sends (through Miniflare's dispatchFetch).
 */
const COUNTING_WRAPPER = `
import Isogate from "./index.js";
import { WorkerEntrypoint } from "cloudflare:workers";
const seen = [];
const counting = (db) => ({
  prepare: (sql) => { seen.push(sql); return db.prepare(sql); },
  batch: (statements) => db.batch(statements),
  exec: (sql) => db.exec(sql),
});
export default class extends WorkerEntrypoint {
  fetch(request) {
    if (request.headers.get("x-isogate-test-statements") === "1") return Response.json({ count: seen.length, sql: seen });
    const env = Object.create(this.env, { DB: { value: counting(this.env.DB) } });
    return new Isogate(this.ctx, env).fetch(request);
  }
}`;

async function startWorkers(port, bindings, certs, peerPort, { statements, state, migrate }) {
  const worker = {
    modules: true,
    scriptPath: path.join(ROOT, statements ? "workers/build/__counting.js" : "workers/build/index.js"),
    ...(statements ? { script: COUNTING_WRAPPER } : {}),
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2025-09-01",
    // One D1 database (by id), shared by every worker of this Miniflare.
    d1Databases: { DB: "isogate" },
    bindings,
  };
  let log = "";
  const mf = new Miniflare({
    host: "127.0.0.1",
    port,
    ...(state ? { d1Persist: path.join(state, "v3", "d1") } : {}),
    ...(certs ? { https: true, httpsKey: certs.key, httpsCert: certs.cert } : {}),
    cf: false,
    // The worker's console output (console.error from Rust included), kept for assertions.
    handleRuntimeStdio(stdout, stderr) {
      stdout.on("data", (d) => (log += d));
      stderr.on("data", (d) => (log += d));
    },
    workers: [
      { name: "isogate", ...worker },
      // A second isolate of the same worker, straight on its own socket.
      ...(peerPort ? [{ name: "isogate-peer", ...worker, unsafeDirectSockets: [{ host: "127.0.0.1", port: peerPort }] }] : []),
    ],
  });
  let db;
  try {
    await mf.ready;
    db = await mf.getD1Database("DB", "isogate");
    if (migrate) for (const statement of migrationStatements()) await db.prepare(statement).run();
  } catch (e) {
    await mf.dispose().catch(() => {});
    throw e;
  }
  return {
    stop: () => mf.dispose(),
    log: () => log,
    sql: async (statement) => { await db.prepare(statement).run(); },
    /** Rows of a statement run directly in D1 (arrays of column values). */
    rows: async (statement) => db.prepare(statement).raw(),
    statements: async () => {
      if (!statements) throw new Error("startGateway({ statements: true }) counts statements");
      const r = await mf.dispatchFetch("http://localhost/", { headers: { "x-isogate-test-statements": "1" } });
      return r.json();
    },
  };
}

async function startSpin(port, settings, peerPort, { statements, state, sqliteInit }) {
  const host = process.env.ISOGATE_SPIN_HOST ?? path.join(ROOT, "target/debug/isogate-spin-host");
  const component = process.env.ISOGATE_SPIN_COMPONENT ?? path.join(ROOT, "target/wasm32-wasip2/release/isogate_spin.wasm");
  // State in files, so that the tests (and a peer) can reach the same database.
  const dir = state ?? fs.mkdtempSync(path.join(os.tmpdir(), "isogate-spin-state-"));
  const dbFile = path.join(dir, "db.sqlite");
  const kvFile = path.join(dir, "kv.sqlite");
  const logs = [];
  const children = [];
  const startOne = async (listenPort) => {
    const args = ["--component", component, "--listen", `127.0.0.1:${listenPort}`, "--allowed-outbound-host", "http://127.0.0.1:*",
      "--sqlite-file", dbFile, "--kv-file", kvFile, ...(statements ? ["--log-sql"] : []),
      ...sqliteInit.flatMap((f) => ["--sqlite-init", f])];
    for (const [k, v] of Object.entries(settings)) args.push("--variable", `${k.toLowerCase()}=${v}`);
    const child = spawn(host, args, { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    const entry = { log: "" };
    logs.push(entry);
    child.stderr.on("data", (d) => (entry.log += d));
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`spin host did not start:\n${entry.log}`)), 60000);
      child.stdout.on("data", (d) => {
        if (String(d).includes("listening on")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => reject(new Error(`spin host exited ${code}:\n${entry.log}`)));
    });
  };
  const stop = async () => {
    await Promise.all(children.map((child) => new Promise((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      child.once("exit", r);
      child.kill();
    })));
    if (!state) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const p of peerPort ? [port, peerPort] : [port]) await startOne(p);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    stop,
    log: () => logs.map((e) => e.log).join(""),
    sql: (statement) => runProgram("sqlite3", ["-bail", dbFile, statement]).then((r) => {
      if (r.code !== 0) throw new Error(`sqlite3 ${dbFile}: exit ${r.code}: ${r.stderr}`);
    }),
    /** Rows of a statement run directly in the SQLite file (arrays of column values). */
    rows: (statement) => runProgram("sqlite3", ["-bail", "-json", dbFile, statement]).then((r) => {
      if (r.code !== 0) throw new Error(`sqlite3 ${dbFile}: exit ${r.code}: ${r.stderr}`);
      return r.stdout.trim() ? JSON.parse(r.stdout).map((row) => Object.values(row)) : [];
    }),
    statements: async () => {
      if (!statements) throw new Error("startGateway({ statements: true }) counts statements");
      const prefix = "isogate-spin-host: sql: ";
      const sql = logs.flatMap((e) => e.log.split("\n")).filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
      return { count: sql.length, sql };
    },
  };
}

/** An HTTP response with its body as a Buffer, and `json` when the body parses. */
class Reply {
  constructor(status, headers, body) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    try { this.json = JSON.parse(body.toString("utf8")); } catch { this.json = undefined; }
  }
  get text() { return this.body.toString("utf8"); }
}

export class GatewayClient {
  constructor({ port, domain, adminToken, seed, originUrl, tls }) {
    Object.assign(this, { port, domain, adminToken, seed, originUrl, tls });
  }

  /** "https" when started with { tls }, else "http". */
  get scheme() { return this.tls ? "https" : "http"; }
  /** The token issuer and base URL of the token endpoint: http(s)://localhost:PORT. */
  get issuer() { return `${this.scheme}://${this.domain}`; }
  /** PEM file of the CA that signed the gateway's certificate (TLS only). */
  get caCertPath() { return this.tls?.caPath; }

  /** Host header of service `name`. */
  serviceHost(name) { return `${name}.${this.domain}`; }
  /** Base URL of service `name`: http(s)://name.localhost:PORT. */
  serviceUrl(name) { return `${this.scheme}://${this.serviceHost(name)}`; }

  /**
   * A raw request to 127.0.0.1:port with the given Host. `body` may be a Buffer/string or a
   * readable stream; `stream: true` resolves with the live response instead of buffering it.
   * `localAddress` (a loopback address such as 127.0.0.2) is the client's address as the
   * runtime sees it (Spin's peer address, workerd's CF-Connecting-IP).
   */
  request(host, pathAndQuery, { method = "GET", headers = {}, body, stream = false, localAddress } = {}) {
    return new Promise((resolve, reject) => {
      const options = { host: "127.0.0.1", port: this.port, method, path: pathAndQuery, headers: { host, ...headers }, setHost: false, agent: false, localAddress };
      const req = this.tls
        ? https.request({ ...options, ca: this.tls.ca, servername: host.replace(/:\d+$/, "") })
        : http.request(options);
      req.on("error", reject);
      req.on("response", (res) => {
        if (stream) return resolve(res);
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve(new Reply(res.statusCode, res.headers, Buffer.concat(chunks))));
        res.on("error", reject);
      });
      if (body && typeof body.pipe === "function") body.pipe(req);
      else req.end(body);
    });
  }

  root(pathAndQuery, opts) { return this.request(this.domain, pathAndQuery, opts); }
  service(name, pathAndQuery, opts) { return this.request(this.serviceHost(name), pathAndQuery, opts); }

  admin(method, p, json) {
    const headers = { authorization: `Bearer ${this.adminToken}` };
    if (json !== undefined) headers["content-type"] = "application/json";
    return this.root(`/admin/v1/${p}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  }

  /** POST /oauth2/token with a form body (object or raw string) and extra headers. */
  token(form, headers = {}) {
    const body = typeof form === "string" ? form : new URLSearchParams(form).toString();
    return this.root("/oauth2/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body });
  }

  /** Runs `isogate ARGS -o json`; resolves its parsed output, or rejects with its stderr. */
  async cliJson(args) {
    const r = await this.cli([...args, "-o", "json"]);
    if (r.code !== 0) throw new Error(`isogate ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /**
   * `isogate create service NAME --upstream U [--allow-user X]... [--rate-limit N/s] [--upstream-auth KIND:...] [--allow R | --deny R]...`;
   * `rules`: ["allow group=finance", "deny paths=/admin/*", ...] in order. Resolves the service.
   */
  async createService(name, { upstream = this.originUrl, allowed_users = [], rate_limit, upstream_auth, rules = [], ...unknown } = {}) {
    noUnknownOptions("createService", unknown);
    const ruleArgs = rules.flatMap((r) => { const [effect, ...rest] = r.split(" "); return [`--${effect}`, rest.join(" ")]; });
    const created = await this.cliJson(["create", "service", name, "--upstream", upstream, ...allowed_users.flatMap((u) => ["--allow-user", u]),
      ...(rate_limit ? ["--rate-limit", rate_limit] : []), ...(upstream_auth ? ["--upstream-auth", upstream_auth] : []), ...ruleArgs]);
    return created.service;
  }

  /** `isogate create user NAME [--group G]...`. */
  async createUser(name, { groups = [] } = {}) {
    return (await this.cliJson(["create", "user", name, ...groups.flatMap((g) => ["--group", g])])).user;
  }

  /** `isogate create group NAME`. */
  async createGroup(name) {
    return (await this.cliJson(["create", "group", name])).group;
  }

  /**
   * `isogate create credential NAME --user U --type T [--scope S]... [--expire-in E] [--can-introspect] [--require-dpop] [--public-key FILE]`;
   * resolves what the CLI prints: { credential, client_id, client_secret } or { credential, access_token }.
   */
  async createCredential(name, { user = "root", type = "oauth2", scopes = [], expire_in, can_introspect = false, require_dpop = false, public_key, ...unknown } = {}) {
    noUnknownOptions("createCredential", unknown);
    return this.cliJson(["create", "credential", name, "--user", user, "--type", type,
      ...scopes.flatMap((s) => ["--scope", s]), ...(expire_in ? ["--expire-in", expire_in] : []),
      ...(can_introspect ? ["--can-introspect"] : []), ...(require_dpop ? ["--require-dpop"] : []),
      ...(public_key ? ["--public-key", public_key] : [])]);
  }

  /** `isogate delete KIND NAME` (KIND: user, service, credential). */
  async delete(kind, name) {
    return this.cliJson(["delete", kind, name]);
  }

  async accessToken(cred, form = {}) {
    const r = await this.token({ grant_type: "client_credentials", client_id: cred.client_id, client_secret: cred.client_secret, ...form });
    if (r.status !== 200) throw new Error(`token: ${r.status} ${r.text}`);
    return r.json.access_token;
  }

  /** Runs the isogate CLI against this gateway. Resolves { code, stdout, stderr }. */
  cli(args, env = {}) {
    return new Promise((resolve) => {
      execFile(CLI, args, { timeout: 60000, env: { ...process.env, ISOGATE_SERVER: this.cliServer ?? this.issuer, ISOGATE_ADMIN_TOKEN: this.adminToken, ...env } }, (err, stdout, stderr) =>
        resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }));
    });
  }
}

function noUnknownOptions(what, unknown) {
  const keys = Object.keys(unknown);
  if (keys.length) throw new Error(`${what}: unknown option(s) ${keys.join(", ")} (the CLI has no flag for them)`);
}

/** Runs a program to completion. Resolves { code, stdout, stderr } (code 0 on success). */
export function runProgram(file, args = [], options = {}) {
  return new Promise((resolve) =>
    execFile(file, args, { timeout: 120000, maxBuffer: 16 << 20, ...options }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : err.code ?? 1) : 0, stdout, stderr })));
}

/** Decodes a JWT's header and payload without verifying (tests verify separately). */
export function decodeJwt(token) {
  const [h, p] = token.split(".");
  return { header: JSON.parse(Buffer.from(h, "base64url")), payload: JSON.parse(Buffer.from(p, "base64url")) };
}

/** Signs an at+jwt with an Ed25519 seed (for crafting expired/foreign tokens in tests). */
export function signJwt(seedB64url, header, payload) {
  const seed = Buffer.from(seedB64url, "base64url");
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  const key = crypto.createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
  return `${input}.${crypto.sign(null, Buffer.from(input), key).toString("base64url")}`;
}
