// Upgrading a live deployment to stable user ids (infra/migrations/0003) in the real runtime:
// a database created by 0001 + 0002 and filled as the previous release filled it (users, a
// disabled one, services open / for one user / naming a user deleted since, every kind of
// credential, a revoked token) keeps every row, and the gateway works on it at once.
//   Workers: the real `wrangler d1 migrations apply --local` applies 0001 + 0002, then, on the
//            upgrade, only 0003 (wrangler's own d1_migrations ledger), on the D1 state that
//            Miniflare then serves the built worker from.
//   Spin:    an SQLite file made by 0001 + 0002; the component applies 0003 itself on first
//            use; then `spin up --sqlite @0001 @0002 @0003` (the README's start) replays every
//            file on it and changes nothing.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway, runProgram, decodeJwt, signJwt, ROOT, RUNTIME } from "./harness.mjs";

const MIGRATIONS = path.join(ROOT, "infra/migrations");
const OLD = ["0001_init.sql", "0002_revoked_tokens.sql"];
const SECRET = "old-deployment-secret-0123456789abcdefghijk";
const hash = crypto.createHash("sha256").update(`isogate-secret-v1:${SECRET}`).digest("hex");
const REVOKED_JTI = crypto.randomBytes(16).toString("base64url");
const FAR = 4102444800; // 2100-01-01
/** Where the old services pointed; each test gateway has its own origin, so the test points
 * them there (a row changed by the test, after checking it came through intact). */
const OLD_ORIGIN = "http://127.0.0.1:9";

/** Checks the services' upstreams came through the upgrade, then points them at gw's origin. */
async function pointServicesAtTheOrigin(gw, from = OLD_ORIGIN) {
  // Any storage use applies what the database lacks (Spin's component does it on first use).
  assert.equal((await gw.admin("GET", "users")).status, 200);
  assert.deepEqual(await gw.runtime.rows("SELECT name, upstream FROM isogate_services ORDER BY name"),
    [["alice-api", `${from}/base`], ["carol-api", from], ["open-api", from]]);
  await gw.runtime.sql(`UPDATE isogate_services SET upstream = replace(upstream, '${from}', '${gw.originUrl}')`);
  gw.previousOrigin = gw.originUrl;
}

// What the previous release wrote. dave was deleted: his name stayed in carol-api's policy and
// (as no release could leave it, but a database may hold anything) one credential of his.
const FILL = `
INSERT INTO users (name, enabled, created_at) VALUES ('alice', 1, 1700000100), ('bob', 0, 1700000200), ('carol', 1, 1700000300);
INSERT INTO services (name, upstream, allowed_users, created_at) VALUES
  ('open-api', '${OLD_ORIGIN}', '[]', 1700000400),
  ('alice-api', '${OLD_ORIGIN}/base', '["alice"]', 1700000500),
  ('carol-api', '${OLD_ORIGIN}', '["carol","dave"]', 1700000600);
INSERT INTO credentials (client_id, name, user_name, kind, secret_hash, scopes, expires_at, enabled, created_at) VALUES
  ('aaaa-aaaa', 'alice-cred', 'alice', 'oauth2', '${hash}', '', NULL, 1, 1700000700),
  ('bbbb-bbbb', 'bob-cred', 'bob', 'oauth2', '${hash}', 'service:open-api', NULL, 1, 1700000800),
  ('cccc-cccc', 'carol-cred', 'carol', 'oauth2', '${hash}', '', ${FAR}, 1, 1700000900),
  ('dddd-dddd', 'dave-cred', 'dave', 'oauth2', '${hash}', '', NULL, 1, 1700001000);
INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES ('${REVOKED_JTI}', 'aaaa-aaaa', ${FAR});
`;

const wrangler = (dir, args) => runProgram(path.join(ROOT, "node_modules/.bin/wrangler"), args, {
  cwd: dir, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
});

/** A D1 state dir made by wrangler as a deployment of the previous release had it. */
async function oldD1(dir) {
  const config = (migrations) => fs.writeFileSync(path.join(dir, "wrangler.toml"), [
    'name = "isogate-upgrade-test"', 'compatibility_date = "2025-09-01"', "[[d1_databases]]",
    'binding = "DB"', 'database_name = "isogate"', 'database_id = "isogate"', `migrations_dir = ${JSON.stringify(migrations)}`, "",
  ].join("\n"));
  const old = path.join(dir, "old-migrations");
  fs.mkdirSync(old);
  for (const f of OLD) fs.copyFileSync(path.join(MIGRATIONS, f), path.join(old, f));
  config(old);
  const persist = ["--local", "--persist-to", path.join(dir, "state")];
  const first = await wrangler(dir, ["d1", "migrations", "apply", "isogate", ...persist]);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  fs.writeFileSync(path.join(dir, "fill.sql"), FILL);
  const fill = await wrangler(dir, ["d1", "execute", "isogate", ...persist, "--file", "fill.sql"]);
  assert.equal(fill.code, 0, fill.stdout + fill.stderr);
  // The upgrade, as a deployment runs it: the repository's migrations directory.
  config(MIGRATIONS);
  const upgrade = await wrangler(dir, ["d1", "migrations", "apply", "isogate", ...persist]);
  assert.equal(upgrade.code, 0, upgrade.stdout + upgrade.stderr);
  assert.match(upgrade.stdout, /0003_stable_user_ids\.sql/);
  assert.doesNotMatch(upgrade.stdout, /0001_init\.sql|0002_revoked_tokens\.sql/, "wrangler applies only what it lacks");
  return path.join(dir, "state");
}

/** An SQLite file made by 0001 + 0002 and filled, as `spin up --sqlite` left it. */
async function oldSqlite(dir) {
  const file = path.join(dir, "db.sqlite");
  const script = [...OLD.map((f) => fs.readFileSync(path.join(MIGRATIONS, f), "utf8")), FILL].join("\n");
  fs.writeFileSync(path.join(dir, "old.sql"), script);
  const r = await runProgram("sqlite3", ["-bail", file, `.read ${path.join(dir, "old.sql")}`]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

/** Every row is there, with ids, and the gateway serves on it. */
async function assertUpgraded(gw) {
  const users = (await gw.cliJson(["get", "users"])).users.map(({ id, name, enabled }) => ({ id, name, enabled }));
  assert.deepEqual(users, [
    { id: 2, name: "alice", enabled: true },
    { id: 3, name: "bob", enabled: false },
    { id: 4, name: "carol", enabled: true },
    { id: 1, name: "root", enabled: true },
  ]);
  const services = (await gw.cliJson(["get", "services"])).services.map(({ name, allowed_user_ids, allowed_users }) => ({ name, allowed_user_ids, allowed_users }));
  assert.deepEqual(services, [
    { name: "alice-api", allowed_user_ids: [2], allowed_users: ["alice"] },
    { name: "carol-api", allowed_user_ids: [4, 0], allowed_users: ["carol", "dave"] },
    { name: "open-api", allowed_user_ids: [], allowed_users: [] },
  ]);
  const creds = (await gw.cliJson(["get", "creds"])).credentials.map(({ name, user, user_id, client_id }) => [name, user, user_id, client_id]);
  assert.deepEqual(creds, [
    ["alice-cred", "alice", 2, "aaaa-aaaa"],
    ["bob-cred", "bob", 3, "bbbb-bbbb"],
    ["carol-cred", "carol", 4, "cccc-cccc"],
    ["dave-cred", "dave", 0, "dddd-dddd"],
  ]);
  assert.deepEqual(await gw.runtime.rows("SELECT jti FROM revoked_tokens"), [[REVOKED_JTI]]);
  assert.deepEqual(await gw.runtime.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'services', 'credentials')"), []);

  const client = (id) => ({ client_id: id, client_secret: SECRET });
  const call = async (service, token) => (await gw.service(service, "/", { headers: { authorization: `Bearer ${token}` } })).status;
  const alice = await gw.accessToken(client("aaaa-aaaa"));
  assert.equal(await call("alice-api", alice), 200, "the old secret and the old policy");
  assert.equal(await call("open-api", alice), 200);
  assert.equal(await call("carol-api", alice), 403);
  assert.equal(await call("carol-api", await gw.accessToken(client("cccc-cccc"))), 200);
  // The token revoked before the upgrade stays revoked.
  const model = decodeJwt(alice);
  assert.equal(await call("alice-api", signJwt(gw.seed, model.header, { ...model.payload, jti: REVOKED_JTI })), 401);
  // A disabled user stays disabled; the credential of a user already gone stays unusable.
  for (const id of ["bbbb-bbbb", "dddd-dddd"]) {
    const r = await gw.token({ grant_type: "client_credentials", client_id: id, client_secret: SECRET });
    assert.equal(r.status, 401, id);
  }
}

describe(`upgrade from the 0001 + 0002 schema (${RUNTIME})`, () => {
  let dir, gw;
  const seed = crypto.randomBytes(32).toString("base64url");
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "isogate-upgrade-")); });
  after(async () => {
    await gw?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("an_old_database_keeps_every_row_and_the_gateway_serves_on_it_at_once", async () => {
    const state = RUNTIME === "spin" ? await oldSqlite(dir) : await oldD1(dir);
    gw = await startGateway({ state, migrate: false, ISOGATE_SIGNING_KEY: seed });
    await pointServicesAtTheOrigin(gw);
    await assertUpgraded(gw);
    // Dave, created again, is not the dave of carol-api's policy.
    await gw.createUser("dave");
    const dave = await gw.createCredential("dave-2", { user: "dave" });
    assert.equal((await gw.service("carol-api", "/", { headers: { authorization: `Bearer ${await gw.accessToken(dave)}` } })).status, 403);
    await gw.delete("credential", "dave-2");
    await gw.delete("user", "dave");
  });

  // The README's `spin up` and spin.toml's comment say they apply every migration up front:
  // a migration added without them would leave a database the component then upgrades on
  // first use (it works, but the documented command is no longer what it claims).
  it("readme_spin_up_and_spin_toml_name_every_migration_file_in_order", () => {
    const every = fs.readdirSync(MIGRATIONS).filter((f) => f.endsWith(".sql")).sort();
    const named = (text) => [...text.matchAll(/--sqlite @infra\/migrations\/(\d{4}_\w+\.sql)/g)].map((m) => m[1]);
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const spinUp = readme.slice(readme.indexOf("spin up --sqlite"));
    assert.deepEqual(named(spinUp.slice(0, spinUp.indexOf("```"))), every, "README's spin up");
    assert.deepEqual(named(fs.readFileSync(path.join(ROOT, "spin.toml"), "utf8")), every, "spin.toml's comment");
  });

  it("spin_up_sqlite_with_every_migration_file_replayed_on_the_upgraded_database_changes_nothing", { skip: RUNTIME !== "spin" && "spin up --sqlite is Spin's" }, async () => {
    const previous = gw.previousOrigin;
    await gw.stop();
    gw = undefined;
    const every = fs.readdirSync(MIGRATIONS).filter((f) => f.endsWith(".sql")).sort().map((f) => path.join(MIGRATIONS, f));
    gw = await startGateway({ state: dir, ISOGATE_SIGNING_KEY: seed, sqliteInit: every });
    await pointServicesAtTheOrigin(gw, previous);
    await assertUpgraded(gw);
  });
});
