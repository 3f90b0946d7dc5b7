// curl: the exact commands of the README's quick start (form post to /oauth2/token, then
// "Authorization: Bearer" to my-api.localhost:PORT), read from README.md itself, against the
// gateway over HTTP; the same over HTTPS with --cacert; and a wrong secret as curl shows it.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startGateway, runProgram, ROOT, RUNTIME } from "./harness.mjs";

/**
 * The README's two curl commands (token, then service call), continuation lines joined, as
 * they appear in the first ```sh block that has both.
 */
function readmeCurlCommands() {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  for (const [, block] of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const commands = block
      .replace(/\\\n\s*/g, "")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("curl "));
    const token = commands.find((c) => c.includes("/oauth2/token"));
    const call = commands.find((c) => c.includes("Authorization: Bearer <ACCESS_TOKEN>"));
    if (token && call) return { token, call };
  }
  throw new Error("README.md has no ```sh block with the token and service curl commands");
}

/** Runs a README command line in bash, with its placeholders and port filled in. */
function sh(command, { port, scheme = "http", extra = "", ...values }) {
  let line = command.replace(/8787/g, String(port));
  for (const [k, v] of Object.entries(values)) line = line.replaceAll(`<${k}>`, v);
  if (scheme === "https") line = line.replaceAll("http://", "https://");
  line = line.replace(/^curl /, `curl -sS ${extra} `.replace(/\s+/g, " "));
  return runProgram("bash", ["-c", line]).then((r) => ({ ...r, line }));
}

const { token: TOKEN_CMD, call: CALL_CMD } = readmeCurlCommands();

for (const tls of [false, true]) {
  const scheme = tls ? "https" : "http";
  describe(`curl with the README's commands over ${scheme} (${RUNTIME})`, { skip: tls && RUNTIME !== "workers" && "TLS only on the workers runtime" }, () => {
    let gw, cred, extra;
    before(async () => {
      gw = await startGateway({ tls });
      await gw.createService("my-api");
      cred = await gw.createCredential("curl-cred");
      extra = tls ? `--cacert ${gw.caCertPath}` : "";
    });
    after(() => gw?.stop());

    it("obtains_a_token_and_calls_the_service", async () => {
      const t = await sh(TOKEN_CMD, { port: gw.port, scheme, extra, CLIENT_ID: cred.client_id, CLIENT_SECRET: cred.client_secret });
      assert.equal(t.code, 0, `${t.line}\n${t.stderr}`);
      const token = JSON.parse(t.stdout);
      assert.equal(token.token_type, "Bearer");
      assert.equal(token.expires_in, 3600);
      assert.equal(token.scope, "service:*");

      const c = await sh(CALL_CMD, { port: gw.port, scheme, extra, ACCESS_TOKEN: token.access_token });
      assert.equal(c.code, 0, `${c.line}\n${c.stderr}`);
      const echo = JSON.parse(c.stdout);
      assert.equal(echo.path, "/anything");
      assert.equal(echo.query, "x=1");
      assert.equal(echo.headers["x-isogate-user"], "root");
      assert.equal(echo.headers["x-isogate-service"], "my-api");
      assert.equal(echo.headers["x-forwarded-proto"], scheme);
      assert.equal(echo.headers.authorization, undefined);
    });

    it("wrong_secret_is_invalid_client", async () => {
      // As written in the README: curl exits 0 and prints the RFC 6749 §5.2 body.
      const plain = await sh(TOKEN_CMD, { port: gw.port, scheme, extra: `${extra} -w '\\n%{http_code}'`, CLIENT_ID: cred.client_id, CLIENT_SECRET: "wrong" });
      assert.equal(plain.code, 0, plain.stderr);
      const [body, status] = plain.stdout.trimEnd().split("\n");
      assert.equal(status, "401");
      assert.equal(JSON.parse(body).error, "invalid_client");
      // With --fail-with-body (how scripts make curl report HTTP errors): exit code 22.
      const failing = await sh(TOKEN_CMD, { port: gw.port, scheme, extra: `${extra} --fail-with-body`, CLIENT_ID: cred.client_id, CLIENT_SECRET: "wrong" });
      assert.equal(failing.code, 22, failing.stderr);
      assert.match(failing.stderr, /returned error: 401/);
      assert.equal(JSON.parse(failing.stdout).error, "invalid_client");
    });
  });
}
