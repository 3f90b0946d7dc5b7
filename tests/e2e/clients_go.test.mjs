// Go: golang.org/x/oauth2/clientcredentials (Debian's golang-golang-x-oauth2-dev), the
// canonical config.Token(ctx) + config.Client(ctx).Get(...) with each AuthStyle, against the
// gateway over HTTPS (HTTP under Spin), and a wrong secret as *oauth2.RetrieveError.
// The program is tests/clients/go/main.go, built by tests/clients/install.sh.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startGateway, runProgram, ROOT, RUNTIME } from "./harness.mjs";

const GO_CLIENT = process.env.ISOGATE_GO_CLIENT ?? path.join(ROOT, "target/clients/isogate-client-go");

// HTTPS on workers; the Spin test host serves plain HTTP only, so there the same program runs over HTTP.
const TLS = RUNTIME === "workers";

describe(`go golang.org/x/oauth2 client over ${TLS ? "https" : "http"} (${RUNTIME})`, () => {
  let gw, cred;
  before(async () => {
    assert.ok(fs.existsSync(GO_CLIENT), `${GO_CLIENT} is missing: run bash tests/clients/install.sh`);
    gw = await startGateway({ tls: TLS });
    await gw.createService("my-api");
    cred = await gw.createCredential("go-cred");
  });
  after(() => gw?.stop());

  it("clientcredentials_obtains_a_token_and_calls_a_service", async () => {
    const env = {
      ...process.env,
      ISOGATE_ISSUER: gw.issuer,
      ISOGATE_SERVICE_URL: gw.serviceUrl("my-api"),
      ...(TLS ? { ISOGATE_CA_CERT: gw.caCertPath } : {}),
      CLIENT_ID: cred.client_id,
      CLIENT_SECRET: cred.client_secret,
    };
    const { code, stdout, stderr } = await runProgram(GO_CLIENT, [], { env });
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /all go client checks passed/);
    assert.equal((stdout.match(/^ok: /gm) ?? []).length, 15, stdout);
  });
});
