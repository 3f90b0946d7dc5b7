// scripts/dev.sh as a newcomer runs it: the lines it prints to try work as pasted (the curl
// pair, and the `export` lines that drive the Go program of tests/clients), and it says whether
// Go, Node and Python can reach my-api.localhost, which getaddrinfo need not resolve (RFC 6761
// §6.3; glibc does not), printing the exact /etc/hosts line when they cannot. dev.sh runs the
// Workers gateway, so this runs on the workers runtime only.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dns from "node:dns/promises";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, runProgram, CLI, ROOT, RUNTIME } from "./harness.mjs";

const GO_CLIENT = process.env.ISOGATE_GO_CLIENT ?? path.join(ROOT, "target/clients/isogate-client-go");

/** The indented lines after `heading` up to the next blank line, as printed. */
function block(out, heading) {
  const start = out.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `dev.sh printed no "${heading}":\n${out}`);
  const rest = out.slice(start + heading.length + 2);
  return rest.slice(0, rest.indexOf("\n\n"));
}

describe("scripts/dev.sh", { skip: RUNTIME !== "workers" && "dev.sh runs the Workers gateway" }, () => {
  let child, dir, port, out = "";
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "isogate-dev-"));
    port = await freePort();
    const env = { ...process.env, ISOGATE_PORT: String(port), ISOGATE_DEMO_ORIGIN_PORT: String(await freePort()),
      ISOGATE_DEV_DIR: dir, ISOGATE_SKIP_BUILD: "1", ISOGATE_CLI: CLI };
    delete env.ISOGATE_DEV_HOSTS; // never let a test edit /etc/hosts
    child = spawn("bash", [path.join(ROOT, "scripts/dev.sh")], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dev.sh did not start in 120 s:\n${out}`)), 120000);
      child.stdout.on("data", () => out.includes("Press Ctrl-C to stop.") && (clearTimeout(timer), resolve()));
      child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`dev.sh exited ${code}:\n${out}`)); });
    });
  });
  after(async () => {
    if (child?.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(-child.pid, "SIGTERM");
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("try_it_lines_work_as_pasted", async () => {
    const lines = block(out, "Try it:");
    const { code, stdout, stderr } = await runProgram("bash", ["-c", lines]);
    assert.equal(code, 0, `${lines}\n${stderr}`);
    const echo = JSON.parse(stdout);
    assert.equal(echo.path, "/anything");
    assert.equal(echo.query, "x=1");
    assert.equal(echo.headers["x-isogate-user"], "root");
    assert.equal(echo.headers["x-isogate-service"], "my-api");
    assert.equal(echo.headers.authorization, undefined);
  });

  it("export_lines_drive_the_language_programs", async () => {
    const lines = block(out, "From Go, Node or Python (README: Use it from your language, Trying them locally):");
    const env = await runProgram("bash", ["-c", `${lines}\nenv`]);
    assert.equal(env.code, 0, env.stderr);
    const vars = Object.fromEntries(env.stdout.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    assert.equal(vars.ISOGATE_ISSUER, `http://localhost:${port}`);
    assert.equal(vars.ISOGATE_SERVICE_URL, `http://my-api.localhost:${port}`);
    assert.equal(vars.CLIENT_ID, /^Client ID: (.*)$/m.exec(out)?.[1]);
    assert.equal(vars.CLIENT_SECRET, /^Client Secret: (.*)$/m.exec(out)?.[1]);
    assert.equal(vars.OAUTHLIB_INSECURE_TRANSPORT, "1");
    assert.ok(fs.existsSync(GO_CLIENT), `${GO_CLIENT} is missing: run bash tests/clients/install.sh`);
    const go = await runProgram("bash", ["-c", `${lines}\nexec "$0"`, GO_CLIENT]);
    assert.equal(go.code, 0, `${go.stdout}\n${go.stderr}`);
    assert.match(go.stdout, /all go client checks passed/);
  });

  it("says_whether_getaddrinfo_reaches_the_service_and_prints_the_hosts_line", async () => {
    // What Go, Node and Python see: Node's dns.lookup is getaddrinfo.
    const addresses = await dns.lookup("my-api.localhost", { all: true }).catch(() => []);
    const reachable = addresses.some((a) => a.address === "127.0.0.1");
    if (reachable) {
      assert.doesNotMatch(out, /does not resolve/);
    } else {
      assert.match(out, /Note: my-api\.localhost does not resolve to 127\.0\.0\.1 for getaddrinfo/);
      assert.match(out, /\n {4}127\.0\.0\.1 my-api\.localhost\n/);
      assert.match(out, /ISOGATE_DEV_HOSTS=1/);
    }
    assert.doesNotMatch(out, /adding .* to \/etc\/hosts/);
  });
});
