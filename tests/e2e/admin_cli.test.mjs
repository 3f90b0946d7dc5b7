// The admin API and the `isogate` CLI driving it, end to end.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway } from "./harness.mjs";

describe(`admin API and CLI (${process.env.ISOGATE_RUNTIME ?? "workers"})`, () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(() => gw?.stop());

  it("the_admin_api_refuses_every_request_without_the_admin_credential", async () => {
    // Each wrong credential from its own address: ten from one address would be throttled (429,
    // tests/e2e/throttled_guessing.test.mjs), and the CLI's address must stay clean.
    let n = 0;
    for (const [method, path] of [["GET", "users"], ["POST", "users"], ["GET", "credentials"], ["DELETE", "users/root"], ["POST", "credentials"], ["GET", "services"]]) {
      for (const auth of [undefined, "Bearer wrong", `Basic ${gw.adminToken}`, `Bearer ${gw.adminToken}x`]) {
        const headers = auth ? { authorization: auth } : {};
        const r = await gw.root(`/admin/v1/${path}`, { method, headers, body: method === "POST" ? "{}" : undefined, localAddress: `127.0.9.${++n}` });
        assert.equal(r.status, 401, `${method} ${path} ${auth}`);
        assert.match(r.headers["www-authenticate"], /^Bearer realm=/);
      }
    }
    assert.equal((await gw.admin("GET", "users/root")).status, 200, "root exists after set-up");
  });

  it("cli_seed_flow_creates_a_service_and_an_oauth2_credential_like_octeliumctl", async () => {
    const svc = await gw.cli(["create", "service", "my-api", "--upstream", gw.originUrl]);
    assert.equal(svc.code, 0, svc.stderr);
    assert.match(svc.stdout, /Service my-api successfully created/);
    const cred = await gw.cli(["create", "cred", "--user", "root", "--type", "oauth2", "my-oauth-cred"]);
    assert.equal(cred.code, 0, cred.stderr);
    assert.match(cred.stdout, /^Credential my-oauth-cred successfully created$/m);
    const id = cred.stdout.match(/^Client ID: (\S+)$/m)?.[1];
    const secret = cred.stdout.match(/^Client Secret: (\S+)$/m)?.[1];
    assert.ok(id && secret, cred.stdout);
    assert.ok(Buffer.from(secret, "base64url").length >= 16, "secret carries at least 128 bits");
    const token = await gw.accessToken({ client_id: id, client_secret: secret });
    assert.equal((await gw.service("my-api", "/anything?x=1", { headers: { authorization: `Bearer ${token}` } })).status, 200);

    // Shown once: never again in get output, JSON or text.
    for (const args of [["get", "creds"], ["get", "cred", "my-oauth-cred"], ["get", "creds", "-o", "json"]]) {
      const out = await gw.cli(args);
      assert.equal(out.code, 0, out.stderr);
      assert.ok(out.stdout.includes("my-oauth-cred"));
      assert.ok(!out.stdout.includes(secret), args.join(" "));
    }
  });

  it("cli_every_command_speaks_json_with_o_json", async () => {
    const user = await gw.cli(["create", "user", "carol", "-o", "json"]);
    assert.equal(user.code, 0, user.stderr);
    assert.equal(JSON.parse(user.stdout).user.name, "carol");
    const at = await gw.cli(["create", "credential", "--user", "carol", "--type", "access-token", "--expire-in", "30d", "--scope", "service:my-api", "carol-at", "-o", "json"]);
    assert.equal(at.code, 0, at.stderr);
    const created = JSON.parse(at.stdout);
    assert.ok(created.access_token);
    assert.deepEqual(created.credential.scopes, ["service:my-api"]);
    const list = JSON.parse((await gw.cli(["get", "users", "-o", "json"])).stdout);
    assert.deepEqual(list.users.map((u) => u.name).sort(), ["carol", "root"]);
    const services = JSON.parse((await gw.cli(["get", "services", "-o", "json"])).stdout);
    assert.ok(services.services.some((s) => s.name === "my-api"));
    const del = await gw.cli(["delete", "creds", "carol-at", "-o", "json"]);
    assert.equal(del.code, 0);
    assert.equal(JSON.parse(del.stdout).deleted.credential, "carol-at");
    // The rest: create/get one/get all/delete of each kind, and keygen.
    const json = async (...args) => {
      const r = await gw.cli([...args, "-o", "json"]);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      return JSON.parse(r.stdout);
    };
    assert.equal((await json("create", "service", "json-svc", "--upstream", gw.originUrl)).service.name, "json-svc");
    assert.equal((await json("get", "service", "json-svc")).service.upstream, gw.originUrl);
    assert.equal((await json("get", "user", "carol")).user.name, "carol");
    const oauth = await json("create", "cred", "--user", "carol", "--type", "oauth2", "carol-oauth");
    assert.ok(oauth.client_id && oauth.client_secret && oauth.credential.name === "carol-oauth");
    assert.equal((await json("get", "cred", "carol-oauth")).credential.user, "carol");
    assert.ok((await json("get", "creds")).credentials.some((c) => c.name === "carol-oauth"));
    assert.match(JSON.stringify((await json("delete", "service", "json-svc")).deleted), /json-svc/);
    assert.match(JSON.stringify((await json("delete", "user", "carol")).deleted), /carol/);
    const key = await json("keygen");
    assert.equal(Buffer.from(key.signing_key, "base64url").length, 32);
    assert.ok(key.public_key && key.kid);
  });

  it("cli_shows_rate_limits_on_services_in_text_and_json", async () => {
    const created = await gw.cli(["create", "service", "rl-svc", "--upstream", gw.originUrl, "--rate-limit", "100/s"]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /Service rl-svc successfully created/);
    await gw.createService("rl-none");
    // Text: a RATE LIMIT column, "-" for a service without one (then UPSTREAM AUTH and RULES, "-" too).
    const list = await gw.cli(["get", "services"]);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split("\n");
    assert.match(lines[0], /^NAME\s+UPSTREAM\s+ALLOWED USERS\s+RATE LIMIT\s+UPSTREAM AUTH\s+RULES$/);
    assert.match(lines.find((l) => l.startsWith("rl-svc ")), /\s100\/s\s+-\s+-$/);
    assert.match(lines.find((l) => l.startsWith("rl-none ")), /\s-\s+-\s+-$/);
    const one = await gw.cli(["get", "service", "rl-svc"]);
    assert.match(one.stdout.trim().split("\n")[1], /^rl-svc\s.*\s100\/s\s+-\s+-$/);
    // JSON: the canonical limit, null without one.
    assert.equal((await gw.cliJson(["get", "service", "rl-svc"])).service.rate_limit, "100/s");
    assert.equal((await gw.cliJson(["get", "service", "rl-none"])).service.rate_limit, null);
    const all = (await gw.cliJson(["get", "services"])).services;
    assert.equal(all.find((x) => x.name === "rl-svc").rate_limit, "100/s");
    assert.equal((await gw.cliJson(["create", "service", "rl-min", "--upstream", gw.originUrl, "--rate-limit", "20/m"])).service.rate_limit, "20/m");
    // A malformed limit is refused by the gateway, and nothing is created.
    for (const bad of ["0/s", "100/d", "100", "1.5/s", "100/second"]) {
      const r = await gw.cli(["create", "service", "rl-bad", "--upstream", gw.originUrl, "--rate-limit", bad]);
      assert.equal(r.code, 1, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /^Error: a rate limit is N\/s, N\/m or N\/h .*\(HTTP 400\)/, bad);
    }
    assert.ok(!(await gw.cliJson(["get", "services"])).services.some((x) => x.name === "rl-bad"));
  });

  it("cli_text_access_token_output_and_revocation_by_delete", async () => {
    const at = await gw.cli(["create", "cred", "--user", "root", "--type", "access-token", "direct"]);
    assert.equal(at.code, 0, at.stderr);
    const token = at.stdout.match(/^Access Token: (\S+)$/m)?.[1];
    assert.ok(token, at.stdout);
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${token}` } })).status, 200);
    const del = await gw.cli(["delete", "cred", "direct"]);
    assert.match(del.stdout, /Credential direct successfully deleted/);
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${token}` } })).status, 401);
  });

  it("cli_reads_the_admin_token_from_a_file_and_warns_when_it_is_on_the_command_line", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "isogate-cli-"));
    try {
      const file = path.join(dir, "admin-token");
      fs.writeFileSync(file, `${gw.adminToken}\n`, { mode: 0o600 });
      // --token-file, with nothing in the environment.
      const fromFile = await gw.cli(["get", "users", "-o", "json", "--token-file", file], { ISOGATE_ADMIN_TOKEN: "" });
      assert.equal(fromFile.code, 0, fromFile.stderr);
      assert.ok(JSON.parse(fromFile.stdout).users.some((u) => u.name === "root"));
      assert.equal(fromFile.stderr, "", "no warning for a file");
      // It wins over the environment.
      const overEnv = await gw.cli(["get", "users", "--token-file", file], { ISOGATE_ADMIN_TOKEN: "wrong" });
      assert.equal(overEnv.code, 0, overEnv.stderr);
      // The environment variable alone: no warning either.
      const fromEnv = await gw.cli(["get", "users"]);
      assert.deepEqual([fromEnv.code, fromEnv.stderr], [0, ""]);
      // --token works, and warns: a command line is visible in ps and shell history.
      const onCommandLine = await gw.cli(["get", "users", "--token", gw.adminToken], { ISOGATE_ADMIN_TOKEN: "" });
      assert.equal(onCommandLine.code, 0, onCommandLine.stderr);
      assert.match(onCommandLine.stdout, /^NAME\s+ID\s+ENABLED\s+GROUPS$/m);
      assert.equal(onCommandLine.stderr,
        "warning: --token puts the admin token in the process list and shell history; set ISOGATE_ADMIN_TOKEN or use --token-file PATH instead\n");
      assert.ok(!onCommandLine.stderr.includes(gw.adminToken));
      // A file that cannot be read, or both at once, is a usage error.
      const missing = await gw.cli(["get", "users", "--token-file", path.join(dir, "nope")], { ISOGATE_ADMIN_TOKEN: "" });
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /^Error: cannot read --token-file .*nope/m);
      const both = await gw.cli(["get", "users", "--token", "x", "--token-file", file]);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /give the admin credential once/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("cli_errors_are_clear_and_exit_non_zero", async () => {
    // Every refused command exits 1 (2 for a usage error) with one "Error: ..." line naming the
    // cause and the HTTP status, and prints nothing on stdout.
    const refused = async (args, stderr, env) => {
      const r = await gw.cli(args, env);
      assert.equal(r.code, 1, `isogate ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, stderr, args.join(" "));
      assert.match(r.stderr, /^Error: /, args.join(" "));
      assert.equal(r.stdout, "", args.join(" "));
    };
    await refused(["create", "user", "root"], /user "root" already exists \(HTTP 409\)/);
    await refused(["delete", "service", "nope"], /does not exist \(HTTP 404\)/);
    await refused(["create", "service", "x", "--upstream", "ftp://nope"], /http:\/\/ or https:\/\/.*\(HTTP 400\)/);
    await refused(["create", "cred", "--user", "nobody", "--type", "oauth2", "x"], /user "nobody" does not exist \(HTTP 400\)/);
    await refused(["create", "cred", "--user", "root", "--type", "no-such-type", "x"], /\(HTTP 400\)/);
    await refused(["get", "users"], /HTTP 401/, { ISOGATE_ADMIN_TOKEN: "wrong" });
    const noToken = await gw.cli(["get", "users"], { ISOGATE_ADMIN_TOKEN: "" });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /no admin credential/);
    // The raw API refuses a malformed body.
    const badJson = await gw.root("/admin/v1/users", { method: "POST", headers: { authorization: `Bearer ${gw.adminToken}` }, body: "{not json" });
    assert.equal(badJson.status, 400);
    // The refused creations left nothing behind.
    const names = async (kind) => (await gw.cliJson(["get", kind]))[kind].map((x) => x.name);
    assert.ok(!(await names("services")).includes("x"), "service x was not created");
    assert.ok(!(await names("credentials")).includes("x"), "credential x was not created");
    assert.ok(!(await names("users")).includes("nobody"));
  });
});
