// End-to-end harness: runs the built gateway in a real runtime on loopback, with a real origin,
// and gives the tests plain HTTP helpers. The runtime is chosen by ISOGATE_RUNTIME:
//   workers (default): workers/build/index.js + index_bg.wasm in workerd, through Miniflare's
//                      API (a real workerd process and real local D1, no wrangler proxy);
//   spin:              the Spin component in tests/spin-host (Spin's host interfaces over real
//                      SQLite; see tests/spin-host/README.md).
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
 * `settings` are extra ISOGATE_* settings, plus `tls`:
 *   tls: true (or { names: ["svc", ...] }) serves the gateway over HTTPS with a throwaway CA
 *   and certificate made by `openssl` (see makeTlsCertificate); ISOGATE_ISSUER becomes
 *   https://localhost:PORT and `gw.caCertPath` is the CA to give clients. Workers runtime
 *   only. Default: plain HTTP, as before.
 */
export async function startGateway({ tls = false, ...settings } = {}) {
  if (tls && RUNTIME !== "workers") throw new Error(`startGateway({ tls }) needs ISOGATE_RUNTIME=workers, not ${RUNTIME}`);
  const origin = await startOrigin(0);
  const originUrl = `http://127.0.0.1:${origin.address().port}`;
  const port = await freePort();
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
    runtime = RUNTIME === "spin" ? await startSpin(port, all) : await startWorkers(port, all, certs);
  } catch (e) {
    await new Promise((r) => origin.close(r));
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
    throw e;
  }
  const gw = new GatewayClient({ port, domain, adminToken, seed, originUrl, tls: certs });
  gw.runtime = runtime;
  gw.stop = async () => {
    await runtime.stop();
    await new Promise((r) => origin.close(r));
    origin.closeAllConnections?.();
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  };
  return gw;
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

async function startWorkers(port, bindings, certs) {
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(ROOT, "workers/build/index.js"),
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2025-09-01",
    d1Databases: ["DB"],
    bindings,
    host: "127.0.0.1",
    port,
    ...(certs ? { https: true, httpsKey: certs.key, httpsCert: certs.cert } : {}),
    cf: false,
  });
  await mf.ready;
  const db = await mf.getD1Database("DB");
  for (const statement of migrationStatements()) await db.prepare(statement).run();
  return { stop: () => mf.dispose() };
}

async function startSpin(port, settings) {
  const host = process.env.ISOGATE_SPIN_HOST ?? path.join(ROOT, "target/debug/isogate-spin-host");
  const component = process.env.ISOGATE_SPIN_COMPONENT ?? path.join(ROOT, "target/wasm32-wasip2/release/isogate_spin.wasm");
  const args = ["--component", component, "--listen", `127.0.0.1:${port}`, "--allowed-outbound-host", "http://127.0.0.1:*"];
  for (const [k, v] of Object.entries(settings)) args.push("--variable", `${k.toLowerCase()}=${v}`);
  const child = spawn(host, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`spin host did not start:\n${log}`)), 60000);
    child.stdout.on("data", (d) => {
      if (String(d).includes("listening on")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`spin host exited ${code}:\n${log}`)));
  });
  return {
    stop: () => new Promise((r) => { child.once("exit", r); child.kill(); }),
    log: () => log,
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
   */
  request(host, pathAndQuery, { method = "GET", headers = {}, body, stream = false } = {}) {
    return new Promise((resolve, reject) => {
      const options = { host: "127.0.0.1", port: this.port, method, path: pathAndQuery, headers: { host, ...headers }, setHost: false, agent: false };
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

  async createService(name, extra = {}) {
    const r = await this.admin("POST", "services", { name, upstream: this.originUrl, ...extra });
    if (r.status !== 201) throw new Error(`create service ${name}: ${r.status} ${r.text}`);
    return r.json.service;
  }

  async createUser(name) {
    const r = await this.admin("POST", "users", { name });
    if (r.status !== 201) throw new Error(`create user ${name}: ${r.status} ${r.text}`);
  }

  async createCredential(name, extra = {}) {
    const r = await this.admin("POST", "credentials", { name, user: "root", type: "oauth2", ...extra });
    if (r.status !== 201) throw new Error(`create credential ${name}: ${r.status} ${r.text}`);
    return r.json;
  }

  async accessToken(cred, form = {}) {
    const r = await this.token({ grant_type: "client_credentials", client_id: cred.client_id, client_secret: cred.client_secret, ...form });
    if (r.status !== 200) throw new Error(`token: ${r.status} ${r.text}`);
    return r.json.access_token;
  }

  /** Runs the isogate CLI against this gateway. Resolves { code, stdout, stderr }. */
  cli(args, env = {}) {
    return new Promise((resolve) => {
      execFile(CLI, args, { env: { ...process.env, ISOGATE_SERVER: this.issuer, ISOGATE_ADMIN_TOKEN: this.adminToken, ...env } }, (err, stdout, stderr) =>
        resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }));
    });
  }
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
