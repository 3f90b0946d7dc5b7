// Real OAuth2 client libraries, unchanged, against the gateway: each program obtains a token,
// calls a service with it, and reports a wrong secret as its library does, printing one
// `ok: ...` line per check and a final "all ... checks passed". One table drives them all:
// (language, library, auth methods, transport, program). The programs are built by
// tests/clients/install.sh (Go, Rust, TypeScript) and scripts/test.sh (the Python venv).
// curl, with the README's own commands, is clients_curl.test.mjs.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startGateway, runProgram, ROOT, RUNTIME } from "./harness.mjs";

const NODE_DIR = path.join(ROOT, "tests/clients/node");
const GO_CLIENT = process.env.ISOGATE_GO_CLIENT ?? path.join(ROOT, "target/clients/isogate-client-go");
const RUST_CLIENT = process.env.ISOGATE_RUST_CLIENT ?? path.join(ROOT, "target/debug/isogate-client-rust");
const PYTHON = process.env.ISOGATE_PYTHON ?? path.join(ROOT, ".venv-tests/bin/python");

// "https": HTTPS with a throwaway CA on workers; the Spin test host serves plain HTTP only, so
// there the same programs run over HTTP. "http": plain HTTP on both runtimes.
const TLS = RUNTIME === "workers";
const node = (name) => ({ file: process.execPath, args: ["--import", "./dist/localhost.js", `dist/${name}.js`], cwd: NODE_DIR, needs: path.join(NODE_DIR, `dist/${name}.js`), caEnv: "NODE_EXTRA_CA_CERTS" });

const CASES = [
  { language: "go", library: "golang.org/x/oauth2/clientcredentials", auth: "AuthStyleInHeader, AuthStyleInParams, AuthStyleAutoDetect", transport: "https",
    program: { file: GO_CLIENT, needs: GO_CLIENT, caEnv: "ISOGATE_CA_CERT" }, okLines: 15, done: "all go client checks passed" },
  { language: "typescript", library: "axios", auth: "client_secret_post, client_secret_basic", transport: "https",
    program: node("axios"), okLines: 5, done: "all axios checks passed" },
  { language: "typescript", library: "openid-client", auth: "client_secret_post, client_secret_basic (RFC 8414 discovery)", transport: "https",
    program: node("openid-client"), okLines: 8, done: "all openid-client checks passed", skip: !TLS && "openid-client refuses plain http" },
  { language: "typescript", library: "jose", auth: "client_secret_post (token verified against the JWKS)", transport: "https",
    program: node("jose"), okLines: 5, done: "all jose checks passed" },
  { language: "rust", library: "oauth2 (reqwest)", auth: "AuthType::BasicAuth, AuthType::RequestBody", transport: "https",
    program: { file: RUST_CLIENT, needs: RUST_CLIENT, caEnv: "ISOGATE_CA_CERT" }, okLines: 10, done: "all rust client checks passed" },
  { language: "python", library: "requests-oauthlib, authlib", auth: "client_secret_basic, client_secret_post", transport: "http",
    program: { file: PYTHON, args: [path.join(ROOT, "tests/clients/python/client_credentials.py")], needs: PYTHON }, okLines: 11, done: "all python client checks passed" },
];

describe(`OAuth2 client libraries (${RUNTIME})`, () => {
  /** One gateway per transport, shared by its cases (each with its own credential). */
  const gateways = {};
  const tlsOf = (transport) => transport === "https" && TLS;
  before(async () => {
    for (const c of CASES) {
      if (c.skip) continue;
      assert.ok(fs.existsSync(c.program.needs), `${c.program.needs} is missing: run bash tests/clients/install.sh (and scripts/test.sh for the Python venv)`);
      const tls = tlsOf(c.transport);
      if (!gateways[tls]) {
        gateways[tls] = await startGateway({ tls });
        await gateways[tls].createService("my-api");
      }
    }
  });
  after(async () => { for (const gw of Object.values(gateways)) await gw.stop(); });

  for (const c of CASES) {
    const scheme = tlsOf(c.transport) ? "https" : "http";
    it(`${c.language} ${c.library} [${c.auth}] over ${scheme}: token, service call, wrong secret`, { skip: c.skip }, async () => {
      const gw = gateways[tlsOf(c.transport)];
      const cred = await gw.createCredential(`${c.language}-${c.library.replace(/[^a-z0-9]+/gi, "-")}`.toLowerCase().replace(/-+$/, ""));
      const env = {
        ...process.env,
        ISOGATE_ISSUER: gw.issuer,
        ISOGATE_SERVICE_URL: gw.serviceUrl("my-api"),
        ...(gw.tls && c.program.caEnv ? { [c.program.caEnv]: gw.caCertPath } : {}),
        CLIENT_ID: cred.client_id,
        CLIENT_SECRET: cred.client_secret,
      };
      const { code, stdout, stderr } = await runProgram(c.program.file, c.program.args ?? [], { env, cwd: c.program.cwd });
      assert.equal(code, 0, `${stdout}\n${stderr}`);
      assert.ok(stdout.includes(c.done), stdout);
      assert.equal((stdout.match(/^ok: /gm) ?? []).length, c.okLines, stdout);
    });
  }
});
