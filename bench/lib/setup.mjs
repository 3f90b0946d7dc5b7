// Set-up through each system's own API: Isogate's admin API and token endpoint; the peer's
// client creation, authorization and token endpoints (authorization code with PKCE).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ROOT, request } from "./util.mjs";

export const ISOGATE_DOMAIN = "bench.localhost";
export const SERVICE_HOST = `my-api.${ISOGATE_DOMAIN}`;
export const PEER_HOST = "localhost";
export const PASS_HOST = "pass.localhost";
export const REWRITE_HOST = "rewrite.localhost";
/** The service with every per-request feature on (issue #14's budget): setupAllFeatures. */
export const ALL_FEATURES_SERVICE = "all-features";
export const ALL_FEATURES_HOST = `${ALL_FEATURES_SERVICE}.${ISOGATE_DOMAIN}`;
/** The path its scenario requests: admitted by the last of the 10 rules. */
export const ALL_FEATURES_PATH = "/anything/items?x=1";
/** The runtime's secret that the service's `bearer` upstream auth sends to the origin. */
const ORIGIN_SECRET_NAME = "BENCH_ORIGIN_TOKEN";

/** The shared migrations (infra/migrations), split into statements as the e2e harness does. */
export function migrationStatements() {
  const dir = path.join(ROOT, "infra/migrations");
  return fs.readdirSync(dir).filter((f) => f.endsWith(".sql")).sort().flatMap((f) =>
    fs.readFileSync(path.join(dir, f), "utf8").split("\n").map((l) => l.replace(/--.*$/, "")).join("\n")
      .split(/;\s*\n/).map((s) => s.trim()).filter(Boolean));
}

/**
 * Isogate's settings for the bench: fixed domain; keys fresh per run unless given. Throttled
 * guessing is off: the wrong-secret scenario is a guessing attack from one address at
 * thousands per second, which the default limits lock out after 10 failures (and then, past
 * 100 from the address, every token request from it, the valid ones of the token scenario
 * included: all 429). Off, the scenario keeps measuring what a wrong secret costs (the read,
 * the hash, the 401); a throttled guess is `ops token_throttled` in part 1.
 */
export function isogateSettings({ seed, adminToken } = {}) {
  return {
    ISOGATE_DOMAIN,
    ISOGATE_SIGNING_KEY: seed ?? crypto.randomBytes(32).toString("base64url"),
    ISOGATE_ADMIN_TOKEN: adminToken ?? crypto.randomBytes(32).toString("base64url"),
    ISOGATE_AUTH_FAILURES_PER_MINUTE: "0",
    ISOGATE_AUTH_FAILURES_PER_MINUTE_PER_ADDRESS: "0",
    ISOGATE_AUTH_FAILURES_PER_MINUTE_PER_CLIENT: "0",
    // The origin's own credential of the all-features service (a Workers binding, a Spin
    // variable: the runtime's secret store).
    [ORIGIN_SECRET_NAME]: crypto.randomBytes(24).toString("base64url"),
    // The audit log at its default (every decision) unless BENCH_ISOGATE_AUDIT says otherwise
    // (off, denials), to see what the line costs.
    ...(process.env.BENCH_ISOGATE_AUDIT ? { ISOGATE_AUDIT: process.env.BENCH_ISOGATE_AUDIT } : {}),
  };
}

const adminApi = (port, settings) => (p, json, method = "POST") => request(port, {
  method, host: ISOGATE_DOMAIN, path: `/admin/v1/${p}`,
  headers: { authorization: `Bearer ${settings.ISOGATE_ADMIN_TOKEN}`, "content-type": "application/json" },
  body: JSON.stringify(json),
});

/** Creates service `my-api` (upstream: the origin) and a credential; returns a valid token. */
export async function setupIsogate(port, settings, originUrl) {
  const admin = adminApi(port, settings);
  const svc = await admin("services", { name: "my-api", upstream: originUrl });
  if (svc.status !== 201) throw new Error(`isogate: create service: ${svc.status} ${svc.body}`);
  const cred = await admin("credentials", { name: `bench-${crypto.randomBytes(4).toString("hex")}`, user: "root", type: "oauth2" });
  if (cred.status !== 201) throw new Error(`isogate: create credential: ${cred.status} ${cred.body}`);
  const form = tokenForm(cred.json.client_id, cred.json.client_secret);
  const tok = await request(port, { method: "POST", host: ISOGATE_DOMAIN, path: "/oauth2/token", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form });
  if (tok.status !== 200) throw new Error(`isogate: token: ${tok.status} ${tok.body}`);
  return { clientId: cred.json.client_id, clientSecret: cred.json.client_secret, tokenForm: form, badSecretForm: tokenForm(cred.json.client_id, "wrong-" + cred.json.client_secret), token: tok.json.access_token };
}

/**
 * The service of the hot-path budget, through the admin API as an operator would make it
 * (`isogate create service all-features --rate-limit ... --upstream-auth bearer:... --deny ...
 * --allow ...`): a rate limit no round reaches (counted, never refusing), `bearer` upstream auth
 * (the origin gets the runtime's secret), the 10-rule policy of `ops
 * authorize_service_with_policy` (nine rules missing the request on different conditions, the
 * last admitting it: the token's user `root` is put in group `finance`), the identity assertion
 * (every forward has it), the audit log at the settings' level (all, by default). The users,
 * groups and credential the rules name are created first (rules hold ids).
 */
export async function setupAllFeatures(port, settings, originUrl) {
  const admin = adminApi(port, settings);
  const must = async (what, r, status = 201) => { if (r.status !== status) throw new Error(`isogate: ${what}: ${r.status} ${r.body}`); return r; };
  for (const name of ["finance", "ops", "contractors"]) await must(`create group ${name}`, await admin("groups", { name }));
  for (const name of ["ci", "alice", "bob"]) await must(`create user ${name}`, await admin("users", { name }));
  await must("add root to finance", await admin("groups/finance", { add: ["root"] }, "PATCH"), 200);
  await must("create credential old-deploy", await admin("credentials", { name: "old-deploy", user: "root", type: "oauth2" }));
  const rules = [
    "deny paths=/admin/*",
    "deny methods=DELETE,PATCH",
    "deny credential=old-deploy",
    "allow group=ops methods=POST,PUT paths=/deploy",
    "allow user=ci methods=GET paths=/reports/*",
    "deny paths=/anything/secret,/anything/*/private",
    "allow scope=service:payroll",
    "deny group=contractors",
    "allow user=alice,bob paths=/anything",
    "allow group=finance methods=GET,HEAD paths=/anything/*",
  ];
  await must("create service all-features", await admin("services", {
    name: ALL_FEATURES_SERVICE, upstream: originUrl, rate_limit: "1000000/s", upstream_auth: `bearer:${ORIGIN_SECRET_NAME}`, rules,
  }));
}

export const tokenForm = (clientId, clientSecret) =>
  new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }).toString();

/** A confidential client of the peer, authorized for user "bench"; returns its access token. */
export async function setupPeer(port) {
  const client = await request(port, { method: "POST", host: PEER_HOST, path: "/bench/client" });
  if (client.status !== 200) throw new Error(`peer: create client: ${client.status} ${client.body}`);
  const { clientId, clientSecret } = client.json;
  const verifier = crypto.randomBytes(32).toString("base64url");
  const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
  const redirectUri = "http://localhost/callback";
  const q = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: redirectUri, scope: "read", state: "s", code_challenge: challenge, code_challenge_method: "S256" });
  const auth = await request(port, { host: PEER_HOST, path: `/authorize?${q}` });
  if (auth.status !== 302) throw new Error(`peer: authorize: ${auth.status} ${auth.body}`);
  const code = new URL(auth.headers.location).searchParams.get("code");
  const form = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, client_id: clientId, client_secret: clientSecret, code_verifier: verifier });
  const tok = await request(port, { method: "POST", host: PEER_HOST, path: "/oauth/token", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() });
  if (tok.status !== 200) throw new Error(`peer: token: ${tok.status} ${tok.body}`);
  return { token: tok.json.access_token };
}
