// TypeScript/Node: axios (form post, then Authorization: Bearer), openid-client v6 (RFC 8414
// discovery, clientCredentialsGrant, fetchProtectedResource) and jose (the access token
// verified against the published JWKS), against the gateway over HTTPS (HTTP under Spin), each with
// a failure as the library reports it. The programs are tests/clients/node/src/*.ts, compiled by
// tests/clients/install.sh (npm ci + tsc) into tests/clients/node/dist.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startGateway, runProgram, ROOT, RUNTIME } from "./harness.mjs";

const DIR = path.join(ROOT, "tests/clients/node");

// HTTPS on workers; the Spin test host serves plain HTTP only, so there axios and jose run
// over HTTP and openid-client, which refuses plain HTTP unless told otherwise, is skipped.
const TLS = RUNTIME === "workers";

describe(`node OAuth2 clients over ${TLS ? "https" : "http"} (${RUNTIME})`, () => {
  let gw, cred;
  before(async () => {
    assert.ok(fs.existsSync(path.join(DIR, "dist/axios.js")), `${DIR}/dist is missing: run bash tests/clients/install.sh`);
    gw = await startGateway({ tls: TLS });
    await gw.createService("my-api");
    cred = await gw.createCredential("node-cred");
  });
  after(() => gw?.stop());

  /** Runs dist/<name>.js as a workload would, with the local CA trusted and *.localhost resolved. */
  async function example(name, okLines, done) {
    const env = {
      ...process.env,
      ...(TLS ? { NODE_EXTRA_CA_CERTS: gw.caCertPath } : {}),
      ISOGATE_ISSUER: gw.issuer,
      ISOGATE_SERVICE_URL: gw.serviceUrl("my-api"),
      CLIENT_ID: cred.client_id,
      CLIENT_SECRET: cred.client_secret,
    };
    const { code, stdout, stderr } = await runProgram(process.execPath, ["--import", "./dist/localhost.js", `dist/${name}.js`], { env, cwd: DIR });
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, done);
    assert.equal((stdout.match(/^ok: /gm) ?? []).length, okLines, stdout);
  }

  it("axios_form_post_then_bearer", () => example("axios", 5, /all axios checks passed/));
  it("openid_client_discovery_and_client_credentials_grant", { skip: !TLS && "openid-client needs https" }, () => example("openid-client", 8, /all openid-client checks passed/));
  it("jose_verifies_the_access_token_against_the_jwks", () => example("jose", 5, /all jose checks passed/));
});
