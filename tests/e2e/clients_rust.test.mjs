// Rust: the oauth2 crate (v5) with reqwest, exchange_client_credentials with
// AuthType::BasicAuth and AuthType::RequestBody, against the gateway over HTTPS (HTTP under
// Spin), and a wrong secret as RequestTokenError::ServerResponse(invalid_client). The program
// is tests/clients/rust, built by tests/clients/install.sh into target/debug.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startGateway, runProgram, ROOT, RUNTIME } from "./harness.mjs";

const RUST_CLIENT = process.env.ISOGATE_RUST_CLIENT ?? path.join(ROOT, "target/debug/isogate-client-rust");

// HTTPS on workers; the Spin test host serves plain HTTP only, so there the same program runs over HTTP.
const TLS = RUNTIME === "workers";

describe(`rust oauth2 crate over ${TLS ? "https" : "http"} (${RUNTIME})`, () => {
  let gw, cred;
  before(async () => {
    assert.ok(fs.existsSync(RUST_CLIENT), `${RUST_CLIENT} is missing: run bash tests/clients/install.sh`);
    gw = await startGateway({ tls: TLS });
    await gw.createService("my-api");
    cred = await gw.createCredential("rust-cred");
  });
  after(() => gw?.stop());

  it("oauth2_exchange_client_credentials_basic_and_request_body", async () => {
    const env = {
      ...process.env,
      ISOGATE_ISSUER: gw.issuer,
      ISOGATE_SERVICE_URL: gw.serviceUrl("my-api"),
      ...(TLS ? { ISOGATE_CA_CERT: gw.caCertPath } : {}),
      CLIENT_ID: cred.client_id,
      CLIENT_SECRET: cred.client_secret,
    };
    const { code, stdout, stderr } = await runProgram(RUST_CLIENT, [], { env });
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /all rust client checks passed/);
    assert.equal((stdout.match(/^ok: /gm) ?? []).length, 10, stdout);
  });
});
