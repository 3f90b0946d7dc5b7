// Per-credential rate limits on services (`isogate create service ... --rate-limit 5/s`), as a
// client over its limit sends them: the 429s and their fields (Retry-After, and the
// RateLimit-Policy / RateLimit fields of draft-ietf-httpapi-ratelimit-headers-11), another
// credential untouched, the limit over once the window passes, forged tokens spending nothing,
// and what the limit means across instances: per isolate on Workers (counted in its memory),
// per deployment on Spin (counted in the shared SQLite).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startGateway, decodeJwt, signJwt, RUNTIME } from "./harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bearer = (token) => ({ authorization: `Bearer ${token}` });

/** RFC 8941 List of one Item: a String (the policy's name) with integer parameters. */
const SF_ONE_ITEM = /^"([a-z0-9_-]+)"((?:;[a-z]+=\d+)+)$/;
function sfParams(value) {
  const m = SF_ONE_ITEM.exec(value ?? "");
  assert.ok(m, `not a Structured Field list of one named item: ${value}`);
  return { name: m[1], ...Object.fromEntries(m[2].slice(1).split(";").map((p) => p.split("=")).map(([k, v]) => [k, Number(v)])) };
}

/** Checks one 429 of a `quota`-per-`windowSecs` limit field by field; returns its Retry-After. */
function assertRateLimited(r, quota, windowSecs) {
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json?.error, "rate_limited", r.text);
  assert.match(r.json.error_description, /Retry-After/);
  assert.match(r.headers["content-type"], /^application\/json/);
  assert.equal(r.headers["cache-control"], "no-store");
  assert.equal(r.headers["www-authenticate"], undefined, "the token is good: no challenge");
  // RFC 9110 §10.2.3 delay-seconds, within the window.
  assert.match(r.headers["retry-after"], /^[1-9]\d*$/);
  const retryAfter = Number(r.headers["retry-after"]);
  assert.ok(retryAfter <= windowSecs, `Retry-After ${retryAfter} within the ${windowSecs} s window`);
  // draft §3: RateLimit-Policy: "default";q=<quota>;w=<window seconds>.
  assert.equal(r.headers["ratelimit-policy"], `"default";q=${quota};w=${windowSecs}`);
  assert.deepEqual(sfParams(r.headers["ratelimit-policy"]), { name: "default", q: quota, w: windowSecs });
  // draft §4: RateLimit: "default";r=0;t=<seconds left>, the same instant as Retry-After (§6).
  assert.deepEqual(sfParams(r.headers.ratelimit), { name: "default", r: 0, t: retryAfter });
  return retryAfter;
}

describe(`rate limits (${RUNTIME})`, () => {
  let gw;
  before(async () => { gw = await startGateway({ peer: true }); });
  after(() => gw?.stop());

  it("rate_limit_5_per_s_burst_of_20_gets_429s_with_the_rate_limit_headers_and_another_credential_is_not_affected", async (t) => {
    const svc = await gw.createService("limited", { rate_limit: "5/s" });
    assert.equal(svc.rate_limit, "5/s");
    const a = await gw.createCredential("burst-a");
    const b = await gw.createCredential("burst-b");
    const [tokenA, tokenB] = [await gw.accessToken(a), await gw.accessToken(b)];
    const reachedOrigin = () => gw.originRequests.filter((q) => q.headers["x-isogate-service"] === "limited").length;

    // All at once, each credential's first request among them (the caches make no request wait
    // on another's storage read: see concurrency.test.mjs).
    const burstOf = (token, n) =>
      Promise.all(Array.from({ length: n }, () => gw.service("limited", "/anything", { headers: bearer(token) })));
    const before = reachedOrigin();
    const started = Date.now();
    const burst = await burstOf(tokenA, 20);
    const elapsed = Date.now() - started;
    const ok = burst.filter((r) => r.status === 200).length;
    const limited = burst.filter((r) => r.status === 429);
    assert.equal(ok + limited.length, 20, `only 200s and 429s: ${burst.map((r) => r.status)}`);
    // 5 per window; a burst that straddles the end of the credential's window gets at most 5
    // more (the documented fixed-window bound).
    const windows = Math.ceil(elapsed / 1000) + 1;
    assert.ok(ok >= 5 && ok <= 5 * windows && ok <= 10, `${ok} admitted in ${elapsed} ms`);
    assert.ok(limited.length >= 10, `${limited.length} refused`);
    for (const r of limited) assert.equal(assertRateLimited(r, 5, 1), 1);
    t.diagnostic(`burst of 20 in ${elapsed} ms: ${ok} forwarded, ${limited.length} answered 429`);
    assert.equal(reachedOrigin() - before, ok, "no refused request reached the origin");

    // Another credential on the same service, at once: its own full quota.
    const other = await burstOf(tokenB, 5);
    assert.deepEqual(other.map((r) => r.status), [200, 200, 200, 200, 200]);

    // After the window passes, the first credential works again.
    await sleep(1000 * Number(limited.at(-1).headers["retry-after"]) + 50);
    assert.equal((await gw.service("limited", "/anything", { headers: bearer(tokenA) })).status, 200);
  });

  /** Spends `cred`'s quota on `client` until the 429, in a window with at least 5 s left. */
  async function exhaust(client, service, token, quota) {
    for (;;) {
      const statuses = [];
      let r;
      for (let i = 0; i <= quota; i++) {
        r = await client.service(service, "/", { headers: bearer(token) });
        statuses.push(r.status);
      }
      assert.deepEqual(statuses, [...Array(quota).fill(200), 429], `${quota} admitted, then refused`);
      const left = assertRateLimited(r, quota, 60);
      if (left >= 5) return;
      await sleep(1000 * left + 50); // too close to the window's end: start in the next one
    }
  }

  it("a_credential_gets_n_per_isolate_on_workers_and_n_per_deployment_on_spin", async () => {
    await gw.createService("per-minute", { rate_limit: "5/m" });
    const c = await gw.createCredential("two-instances");
    const token = await gw.accessToken(c);
    await exhaust(gw, "per-minute", token, 5);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await gw.peer.service("per-minute", "/", { headers: bearer(token) })).status);
    if (RUNTIME === "workers") {
      // The second isolate counts in its own memory: K isolates admit up to K×N.
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    } else {
      // Spin counts in the deployment's SQLite, which the second instance shares: N in all.
      assert.deepEqual(statuses, [429, 429, 429, 429, 429, 429]);
    }
  });

  it("requests_with_forged_or_tampered_tokens_spend_none_of_the_credentials_quota", async () => {
    // An attacker who knows the credential's client id (it is not a secret) but holds no
    // valid token cannot make the gateway refuse the real client: refused tokens are never
    // counted.
    await gw.createService("guarded", { rate_limit: "5/m" });
    const victim = await gw.createCredential("victim");
    const token = await gw.accessToken(victim);
    const { header, payload } = decodeJwt(token);
    const forged = signJwt(crypto.randomBytes(32).toString("base64url"), header, payload);
    const [h, p, s] = token.split(".");
    const tampered = `${h}.${p}.${s.slice(0, -2)}${s.at(-2) === "A" ? "B" : "A"}${s.at(-1)}`;
    for (let i = 0; i < 15; i++) {
      for (const t of [forged, tampered]) {
        const r = await gw.service("guarded", "/", { headers: bearer(t) });
        assert.equal(r.status, 401, r.text);
        assert.equal(r.json.error, "invalid_token");
      }
    }
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await gw.service("guarded", "/", { headers: bearer(token) })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200], "the real client keeps its whole quota");
  });

  it("a_service_without_a_limit_is_not_limited", async () => {
    await gw.createService("unlimited");
    const c = await gw.createCredential("unlimited-cred");
    const token = await gw.accessToken(c);
    const burst = await Promise.all(Array.from({ length: 30 }, () => gw.service("unlimited", "/", { headers: bearer(token) })));
    assert.deepEqual([...new Set(burst.map((r) => r.status))], [200]);
    assert.equal(burst[0].headers.ratelimit, undefined);
  });
});
