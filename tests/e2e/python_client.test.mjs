// Real OAuth2 client libraries of another language (Python requests-oauthlib and authlib)
// obtain a token and call a service through the gateway.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { startGateway, ROOT } from "./harness.mjs";

const PYTHON = process.env.ISOGATE_PYTHON ?? path.join(ROOT, ".venv-tests/bin/python");

describe(`python OAuth2 clients (${process.env.ISOGATE_RUNTIME ?? "workers"})`, () => {
  let gw, cred;
  before(async () => {
    gw = await startGateway();
    await gw.createService("my-api");
    cred = await gw.createCredential("python-cred");
  });
  after(() => gw?.stop());

  it("requests_oauthlib_and_authlib_obtain_a_token_and_call_a_service", async () => {
    const env = {
      ...process.env,
      ISOGATE_ISSUER: `http://${gw.domain}`,
      ISOGATE_SERVICE_URL: `http://${gw.serviceHost("my-api")}`,
      CLIENT_ID: cred.client_id,
      CLIENT_SECRET: cred.client_secret,
    };
    const { code, stdout, stderr } = await new Promise((resolve) =>
      execFile(PYTHON, [path.join(ROOT, "tests/clients/python/client_credentials.py")], { env }, (err, stdout, stderr) =>
        resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr })));
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /all python client checks passed/);
    assert.equal((stdout.match(/^ok: /gm) ?? []).length, 11, stdout);
  });
});
