// Credential lifecycle (issue #13) end to end, through the `isogate` CLI, with real short
// lifetimes: rotation with a 3 s grace (the old secret works inside it and fails after it, from
// a raw socket; an access-token credential's old token likewise), disable/enable (a disabled
// credential's still-unexpired token refused at a service), a 3 s expiry, --max-uses under
// concurrent token requests, `get creds` (state, expiry, creation time, -o json), and a change
// reaching a second instance sharing storage within the cache TTL.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, RUNTIME, CACHE_TTL_MS } from "./harness.mjs";
import { rawExchange, requestHead } from "./rawhttp.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Waits until the clock is past `unixSecs` (a grace or an expiry, exclusive) by `margin` ms. */
const until = (unixSecs, margin = 300) => sleep(Math.max(0, unixSecs * 1000 + margin - Date.now()));

/** The audit lines printed so far. Concurrent instances (Spin's test host runs one per
 * request) may interleave their output: a line that does not parse is skipped. */
function auditLines(gw) {
  return gw.runtime.log().split("\n").filter((l) => l.startsWith('{"log":"audit"')).flatMap((l) => {
    try { return [JSON.parse(l)]; } catch { return []; }
  });
}

async function auditReason(gw, match, what) {
  for (let i = 0; i < 100; i++) {
    const found = auditLines(gw).find(match);
    if (found) return found.reason;
    await sleep(20);
  }
  assert.fail(`no audit line for ${what} in the ${RUNTIME} log`);
}

/** A token request as an attacker sends it: raw bytes on a socket, client_secret_post. */
async function rawTokenRequest(gw, clientId, secret) {
  const body = `grant_type=client_credentials&client_id=${encodeURIComponent(clientId)}&client_secret=${encodeURIComponent(secret)}`;
  const head = requestHead("POST", "/oauth2/token", [["Host", gw.domain], ["Content-Type", "application/x-www-form-urlencoded"],
    ["Content-Length", Buffer.byteLength(body)], ["Connection", "close"]]);
  const r = await rawExchange(gw.port, head + body);
  assert.equal(r.outcome, "answered", `raw token request: ${r.outcome}`);
  return r.answers[0];
}

/** A service request with a bearer token, raw. */
async function rawServiceRequest(gw, token, path = "/lifecycle-probe") {
  const head = requestHead("GET", path, [["Host", gw.serviceHost("my-api")], ["Authorization", `Bearer ${token}`], ["Connection", "close"]]);
  const r = await rawExchange(gw.port, head);
  assert.equal(r.outcome, "answered", `raw service request: ${r.outcome}`);
  return r.answers[0];
}

const json = (answer) => JSON.parse(answer.body.toString());

describe(`credential lifecycle (${RUNTIME})`, () => {
  let gw;
  before(async () => {
    gw = await startGateway({ peer: true, ISOGATE_AUTH_FAILURES_PER_MINUTE: "0" });
    await gw.createService("my-api");
  });
  after(() => gw?.stop());

  const reached = (path) => gw.originRequests.filter((r) => r.url.startsWith(path)).length;
  const bearer = (token, path = "/anything") => gw.service("my-api", path, { headers: { authorization: `Bearer ${token}` } });

  it("rotate_keeps_the_old_secret_for_the_grace_then_refuses_it_and_its_tokens", async () => {
    const old = await gw.createCredential("rot-cred");
    const before = await gw.accessToken(old);
    await sleep(1100); // the rotation falls in a later second than the old token's iat
    const rotated = await gw.cliJson(["rotate", "cred", "rot-cred", "--grace", "3s"]);
    assert.equal(rotated.client_id, old.client_id);
    assert.notEqual(rotated.client_secret, old.client_secret);
    assert.equal(rotated.credential.state, "rotating");
    const graceEnd = rotated.credential.grace_until;
    assert.ok(graceEnd - Math.floor(Date.now() / 1000) <= 3, "a 3 s grace");

    // Inside the grace: both secrets get tokens; the old one's expires with the grace.
    const r = await gw.token({ grant_type: "client_credentials", client_id: old.client_id, client_secret: old.client_secret });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.expires_in <= 3, `the old secret's token ends with the grace: ${r.json.expires_in}`);
    const duringGrace = r.json.access_token;
    const fresh = await gw.accessToken(rotated);
    for (const t of [before, duringGrace, fresh]) assert.equal((await bearer(t)).status, 200);
    const shown = await gw.cli(["get", "cred", "rot-cred"]);
    assert.match(shown.stdout, /\brotating\b/);

    // After it, as an attacker holding the old secret and its tokens sends them.
    await until(graceEnd);
    const refused = await rawTokenRequest(gw, old.client_id, old.client_secret);
    assert.equal(refused.status, 401);
    assert.equal(json(refused).error, "invalid_client");
    assert.match(refused.headers["www-authenticate"], /^Basic realm=/);
    assert.equal(await auditReason(gw, (l) => l.path === "/oauth2/token" && l.reason === "rotated", "the old secret"), "rotated");
    const seenBefore = reached("/lifecycle-probe");
    for (const t of [before, duringGrace]) {
      const a = await rawServiceRequest(gw, t);
      assert.equal(a.status, 401, "a token of the old secret after the grace");
      assert.match(a.headers["www-authenticate"], /invalid_token/);
    }
    assert.equal(reached("/lifecycle-probe"), seenBefore, "the origin saw none of them");
    // The new secret and its token go on working.
    assert.equal((await bearer(fresh)).status, 200);
    assert.equal((await bearer(await gw.accessToken(rotated))).status, 200);
    const listed = await gw.cliJson(["get", "cred", "rot-cred"]);
    assert.equal(listed.credential.state, "active");
  });

  it("rotate_an_access_token_credential_ends_the_old_token_after_the_grace", async () => {
    const created = await gw.createCredential("rot-bot", { type: "access-token" });
    const old = created.access_token;
    assert.equal((await bearer(old)).status, 200);
    const text = await gw.cli(["rotate", "cred", "rot-bot", "--grace", "3s"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Credential rot-bot successfully rotated$/m);
    assert.match(text.stdout, /^The previous access token works until \d{4}-\d\d-\d\dT/m);
    const fresh = text.stdout.match(/^Access Token: (\S+)$/m)?.[1];
    assert.ok(fresh && fresh !== old, text.stdout);
    assert.equal((await bearer(old)).status, 200, "inside the grace");
    assert.equal((await bearer(fresh)).status, 200);
    const { credential } = await gw.cliJson(["get", "cred", "rot-bot"]);
    await until(credential.grace_until);
    const seenBefore = reached("/lifecycle-probe");
    const a = await rawServiceRequest(gw, old);
    assert.equal(a.status, 401);
    assert.match(a.headers["www-authenticate"], /error="invalid_token"/);
    assert.equal(reached("/lifecycle-probe"), seenBefore);
    assert.equal((await bearer(fresh)).status, 200);
  });

  it("rotate_with_grace_0_refuses_the_old_secret_at_once", async () => {
    const old = await gw.createCredential("rot-now");
    const text = await gw.cli(["rotate", "cred", "rot-now", "--grace", "0"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^The previous secret no longer works$/m);
    const secret = text.stdout.match(/^Client Secret: (\S+)$/m)?.[1];
    assert.equal((await rawTokenRequest(gw, old.client_id, old.client_secret)).status, 401);
    assert.ok(await gw.accessToken({ client_id: old.client_id, client_secret: secret }));
  });

  it("a_disabled_credentials_unexpired_token_is_refused_at_the_service_until_enabled", async () => {
    const cred = await gw.createCredential("off-cred");
    const token = await gw.accessToken(cred);
    assert.equal((await bearer(token)).status, 200);
    const off = await gw.cli(["update", "cred", "off-cred", "--disable"]);
    assert.equal(off.code, 0, off.stderr);
    assert.match(off.stdout, /Credential off-cred successfully updated/);
    assert.match(off.stdout, /\bdisabled\b/);
    const seenBefore = reached("/lifecycle-probe");
    const a = await rawServiceRequest(gw, token);
    assert.equal(a.status, 401);
    assert.equal(json(a).error_description, "the credential behind this token is disabled");
    assert.equal(reached("/lifecycle-probe"), seenBefore, "never forwarded");
    assert.equal(await auditReason(gw, (l) => l.reason === "credential_disabled" && l.credential === "off-cred", "the disabled token"), "credential_disabled");
    const t = await rawTokenRequest(gw, cred.client_id, cred.client_secret);
    assert.equal(t.status, 401);
    assert.equal(json(t).error_description, "client authentication failed", "reads like any failure");

    await gw.cliJson(["update", "cred", "off-cred", "--enable"]);
    assert.equal((await bearer(token)).status, 200, "its token works again");
    assert.ok(await gw.accessToken(cred));
  });

  it("an_expired_credential_is_refused_at_the_token_endpoint_and_its_token_on_services", async () => {
    const cred = await gw.createCredential("short-cred", { expire_in: "3s" });
    const r = await gw.token({ grant_type: "client_credentials", client_id: cred.client_id, client_secret: cred.client_secret });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.expires_in <= 3);
    const token = r.json.access_token;
    assert.equal((await bearer(token)).status, 200);
    await until(cred.credential.expires_at);
    assert.equal((await rawTokenRequest(gw, cred.client_id, cred.client_secret)).status, 401);
    // The token's own exp has passed too, but within the verifier's 30 s leeway: it is the
    // credential's expiry that refuses it.
    const a = await rawServiceRequest(gw, token);
    assert.equal(a.status, 401);
    assert.equal(json(a).error_description, "the credential behind this token has expired");
    const listed = await gw.cliJson(["get", "cred", "short-cred"]);
    assert.equal(listed.credential.state, "expired");

    // update --expire-in gives it a new life (and a short one ends it again).
    await gw.cliJson(["update", "cred", "short-cred", "--expire-in", "2s"]);
    const again = await gw.accessToken(cred);
    assert.equal((await bearer(again)).status, 200);
    const { credential } = await gw.cliJson(["get", "cred", "short-cred"]);
    await until(credential.expires_at);
    assert.equal((await rawTokenRequest(gw, cred.client_id, cred.client_secret)).status, 401);
  });

  it("max_uses_is_counted_atomically_under_concurrent_token_requests", async () => {
    const boot = await gw.cliJson(["create", "cred", "boot-cred", "--user", "root", "--max-uses", "2"]);
    assert.equal(boot.credential.max_uses, 2);
    const answers = await Promise.all(Array.from({ length: 8 }, () => rawTokenRequest(gw, boot.client_id, boot.client_secret)));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 200, 401, 401, 401, 401, 401, 401], "exactly max_uses tokens");
    const token = json(answers.find((a) => a.status === 200)).access_token;
    assert.equal((await bearer(token)).status, 200, "the tokens it got stay valid");
    const table = await gw.cli(["get", "creds"]);
    assert.match(table.stdout, /^NAME\s+USER\s+TYPE\s+CLIENT ID\s+SCOPES\s+STATE\s+EXPIRES AT\s+CREATED AT\s+USES\s+INTROSPECT$/m);
    assert.match(table.stdout, /^boot-cred\s.*\bused-up\s+-\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+2\/2\s+no$/m);
    assert.equal(await auditReason(gw, (l) => l.reason === "uses_exhausted", "a spent use"), "uses_exhausted");
  });

  it("a_change_reaches_a_second_instance_within_the_cache_ttl", async () => {
    const cred = await gw.createCredential("peer-cred");
    const token = await gw.accessToken(cred);
    const onPeer = () => gw.peer.service("my-api", "/anything", { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await onPeer()).status, 200, "cached on the peer");
    const t0 = Date.now();
    await gw.cliJson(["update", "cred", "peer-cred", "--disable"]);
    let refusedAfter;
    while (Date.now() - t0 < CACHE_TTL_MS + 2000) {
      if ((await onPeer()).status === 401) { refusedAfter = Date.now() - t0; break; }
      await sleep(50);
    }
    assert.ok(refusedAfter !== undefined, "the peer refuses it");
    assert.ok(refusedAfter <= CACHE_TTL_MS + 500, `within the cache TTL (${refusedAfter} ms)`);
    console.log(`# ${RUNTIME}: a disabled credential refused on the second instance after ${refusedAfter} ms (cache TTL ${CACHE_TTL_MS} ms)`);
    // The token endpoint reads storage on every request: refused on the peer at once.
    const r = await gw.peer.token({ grant_type: "client_credentials", client_id: cred.client_id, client_secret: cred.client_secret });
    assert.equal(r.status, 401);
  });

  it("every_lifecycle_command_speaks_json_and_refuses_bad_input_clearly", async () => {
    await gw.createCredential("json-cred");
    const updated = await gw.cliJson(["update", "cred", "json-cred", "--scope", "service:my-api", "--expire-in", "30d"]);
    assert.deepEqual(updated.credential.scopes, ["service:my-api"]);
    assert.equal(updated.credential.state, "active");
    assert.ok(updated.credential.expires_at > Date.now() / 1000 + 29 * 86400);
    const listed = await gw.cliJson(["get", "creds"]);
    const view = listed.credentials.find((c) => c.name === "json-cred");
    for (const key of ["state", "expires_at", "created_at", "grace_until", "rotated_at", "max_uses", "uses"]) assert.ok(key in view, key);
    assert.ok(!JSON.stringify(listed).includes("secret"), "no secret in a listing");
    for (const [args, message] of [
      [["update", "cred", "json-cred"], /nothing to update/],
      [["update", "cred", "nobody", "--disable"], /does not exist \(HTTP 404\)/],
      [["rotate", "cred", "json-cred", "--grace", "40d"], /at most 31d \(HTTP 400\)/],
      [["create", "cred", "bad-uses", "--user", "root", "--type", "access-token", "--max-uses", "1"], /max_uses counts token requests: oauth2.*credentials only/],
    ]) {
      const out = await gw.cli(args);
      assert.notEqual(out.code, 0, args.join(" "));
      assert.match(out.stderr, message, args.join(" "));
    }
  });
});
