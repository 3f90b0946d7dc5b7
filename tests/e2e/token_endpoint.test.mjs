// The token endpoint (RFC 6749 §4.4, §2.3.1, §3.2, §5.1, §5.2) and discovery, end to end in
// the real runtime.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startGateway, decodeJwt, RUNTIME } from "./harness.mjs";

describe(`token endpoint (${process.env.ISOGATE_RUNTIME ?? "workers"})`, () => {
  let gw, cred;
  /** Every secret and token sent or issued in these tests: none may appear in the runtime's log. */
  const secrets = [];
  /** A wrong secret nobody could guess, so that finding it anywhere means it was echoed. */
  const wrongSecret = () => { const s = `wrong-${crypto.randomBytes(18).toString("base64url")}`; secrets.push(s); return s; };
  /** The response (body and headers) carries none of `values`. */
  const assertNotEchoed = (r, values) => {
    const all = `${JSON.stringify(r.headers)}\n${r.text}`;
    for (const v of values) assert.ok(!all.includes(v), `response echoes ${v.slice(0, 12)}...:\n${all}`);
  };
  const basic = (id, secret) => "Basic " + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64");

  before(async () => {
    gw = await startGateway();
    await gw.createService("my-api");
    cred = await gw.createCredential("token-endpoint-cred");
    secrets.push(cred.client_secret);
  });
  after(() => gw?.stop());

  it("rfc6749_4_4_client_secret_post_issues_a_bearer_token", async () => {
    const r = await gw.token({ grant_type: "client_credentials", client_id: cred.client_id, client_secret: cred.client_secret });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.token_type, "Bearer");
    assert.equal(r.json.expires_in, 3600);
    assert.equal(r.json.scope, "service:*", "scope is returned when the request omitted it");
    assert.equal(r.json.refresh_token, undefined, "no refresh token for client credentials (§4.4.3)");
    assert.equal(r.headers["cache-control"], "no-store");
    assert.equal(r.headers["pragma"], "no-cache");
    assert.match(r.headers["content-type"], /^application\/json/);
  });

  it("rfc9068_access_token_is_an_at_jwt_with_the_required_claims", async () => {
    const token = await gw.accessToken(cred);
    const { header, payload } = decodeJwt(token);
    assert.equal(header.typ, "at+jwt");
    assert.equal(header.alg, "EdDSA");
    assert.ok(header.kid);
    assert.equal(payload.iss, `http://${gw.domain}`);
    assert.equal(payload.sub, "root");
    assert.equal(payload.client_id, cred.client_id);
    for (const c of ["aud", "exp", "iat", "jti", "scope"]) assert.ok(payload[c] !== undefined, c);
    assert.equal(payload.exp - payload.iat, 3600);
  });

  it("rfc6749_2_3_1_client_secret_basic_is_accepted_with_any_scheme_case", async () => {
    for (const scheme of ["Basic", "basic", "BASIC"]) {
      const auth = basic(cred.client_id, cred.client_secret).replace("Basic", scheme);
      const r = await gw.token("grant_type=client_credentials", { authorization: auth });
      assert.equal(r.status, 200, `${scheme}: ${r.text}`);
    }
  });

  it("a_credential_may_hold_many_live_tokens_at_once", async () => {
    const a = await gw.accessToken(cred);
    const b = await gw.accessToken(cred);
    assert.notEqual(a, b);
    for (const t of [a, b]) assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${t}` } })).status, 200);
  });

  it("rfc6749_5_2_wrong_secret_with_basic_is_401_invalid_client_with_a_basic_challenge", async () => {
    const wrong = wrongSecret();
    const r = await gw.token("grant_type=client_credentials", { authorization: basic(cred.client_id, wrong) });
    assert.equal(r.status, 401);
    assert.equal(r.json.error, "invalid_client");
    assert.match(r.headers["www-authenticate"], /^Basic realm="/);
    assert.equal(r.headers["cache-control"], "no-store");
    assertNotEchoed(r, [wrong, cred.client_secret, basic(cred.client_id, wrong).slice("Basic ".length)]);
  });

  it("rfc6749_5_2_wrong_secret_with_post_is_401_invalid_client", async () => {
    const wrong = wrongSecret();
    for (const form of [
      { grant_type: "client_credentials", client_id: cred.client_id, client_secret: wrong },
      { grant_type: "client_credentials", client_id: `no-such-${wrong}`, client_secret: cred.client_secret },
      { grant_type: "client_credentials", client_id: cred.client_id },
      { grant_type: "client_credentials" },
    ]) {
      const r = await gw.token(form);
      assert.equal(r.status, 401, JSON.stringify(form));
      assert.equal(r.json.error, "invalid_client");
      assertNotEchoed(r, [wrong, cred.client_secret]);
    }
  });

  const bad = [
    ["GET is 405", { method: "GET" }, 405, "invalid_request"],
    ["PUT is 405", { method: "PUT" }, 405, "invalid_request"],
    ["JSON content type", { type: "application/json", body: '{"grant_type":"client_credentials"}' }, 400, "invalid_request"],
    ["no content type", { type: null, body: "grant_type=client_credentials" }, 400, "invalid_request"],
    ["bad percent-encoding", { body: "grant_type=client_credentials&client_id=%zz&client_secret=x" }, 400, "invalid_request"],
    ["truncated percent-encoding", { body: "grant_type=client_credentials&client_id=%4" }, 400, "invalid_request"],
    ["repeated parameter (§3.2)", { body: "grant_type=client_credentials&grant_type=client_credentials&client_id=a&client_secret=b" }, 400, "invalid_request"],
    ["credentials in the query string", { query: "?client_id=a&client_secret=b", body: "grant_type=client_credentials" }, 400, "invalid_request"],
    ["bad base64 in Basic", { auth: "Basic !!!", body: "grant_type=client_credentials" }, 401, "invalid_client"],
    ["no colon in Basic", { auth: "Basic " + Buffer.from("nocolon").toString("base64"), body: "grant_type=client_credentials" }, 401, "invalid_client"],
    ["Bearer at the token endpoint", { auth: "Bearer x", body: "grant_type=client_credentials" }, 401, "invalid_client"],
    ["huge body", { body: "grant_type=client_credentials&x=" + "a".repeat(200_000) }, 413, "invalid_request"],
    ["binary body", { body: Buffer.from([0xff, 0xfe, 0x00, 0x80]) }, 400, "invalid_request"],
    ["missing grant_type", { body: "client_id=a&client_secret=b" }, 400, "invalid_request"],
  ];
  for (const [name, c, status, error] of bad) {
    it(`malformed_input_is_a_4xx_never_a_500: ${name}`, async () => {
      const headers = {};
      if (c.type !== null) headers["content-type"] = c.type ?? "application/x-www-form-urlencoded";
      if (c.auth) headers.authorization = c.auth;
      const r = await gw.root(`/oauth2/token${c.query ?? ""}`, { method: c.method ?? "POST", headers, body: c.body });
      assert.equal(r.status, status, r.text);
      assert.equal(r.json?.error, error);
      assert.ok(typeof r.json.error_description === "string");
      assert.equal(r.headers["cache-control"], "no-store");
      if (status === 405) assert.equal(r.headers.allow, "POST");
    });
  }

  it("basic_and_post_together_are_refused", async () => {
    const r = await gw.token({ grant_type: "client_credentials", client_id: cred.client_id, client_secret: cred.client_secret }, { authorization: basic(cred.client_id, cred.client_secret) });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, "invalid_request");
  });

  it("rfc6749_5_2_other_grant_types_are_unsupported", async () => {
    for (const grant of ["password", "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"]) {
      const r = await gw.token({ grant_type: grant, client_id: cred.client_id, client_secret: cred.client_secret });
      assert.equal(r.status, 400);
      assert.equal(r.json.error, "unsupported_grant_type", grant);
    }
  });

  it("rfc6749_3_3_requested_scope_only_narrows", async () => {
    const narrowed = await gw.token({ grant_type: "client_credentials", client_id: cred.client_id, client_secret: cred.client_secret, scope: "service:my-api" });
    assert.equal(narrowed.status, 200);
    assert.equal(narrowed.json.scope, undefined, "scope omitted when identical to the request (§5.1)");
    assert.equal(decodeJwt(narrowed.json.access_token).payload.scope, "service:my-api");

    const limited = await gw.createCredential("limited-cred", { scopes: ["service:my-api"] });
    const beyond = await gw.token({ grant_type: "client_credentials", client_id: limited.client_id, client_secret: limited.client_secret, scope: "service:*" });
    assert.equal(beyond.status, 400);
    assert.equal(beyond.json.error, "invalid_scope");
    const syntax = await gw.token({ grant_type: "client_credentials", client_id: cred.client_id, client_secret: cred.client_secret, scope: "admin" });
    assert.equal(syntax.json.error, "invalid_scope");
  });

  it("access_token_credentials_cannot_use_the_token_endpoint", async () => {
    const at = await gw.createCredential("at-cred", { type: "access-token" });
    const r = await gw.token({ grant_type: "client_credentials", client_id: at.client_id, client_secret: "anything" });
    assert.equal(r.status, 401);
    assert.equal(r.json.error, "invalid_client");
  });

  it("rfc8414_metadata_and_jwks_are_published", async () => {
    const meta = await gw.root("/.well-known/oauth-authorization-server");
    assert.equal(meta.status, 200);
    const iss = `http://${gw.domain}`;
    assert.equal(meta.json.issuer, iss);
    assert.equal(meta.json.token_endpoint, `${iss}/oauth2/token`);
    assert.deepEqual(meta.json.grant_types_supported, ["client_credentials"]);
    assert.deepEqual(meta.json.token_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "private_key_jwt"]);
    assert.ok(meta.json.scopes_supported.includes("service:*"));
    const jwks = await gw.root(new URL(meta.json.jwks_uri).pathname);
    assert.equal(jwks.status, 200);
    assert.match(jwks.headers["cache-control"], /max-age=\d+/);
    // The published key verifies an issued token.
    const token = await gw.accessToken(cred);
    const { header } = decodeJwt(token);
    const jwk = jwks.json.keys.find((k) => k.kid === header.kid);
    assert.ok(jwk, "token kid is in the JWKS");
    const key = crypto.createPublicKey({ key: jwk, format: "jwk" });
    const [h, p, s] = token.split(".");
    assert.ok(crypto.verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url")));
  });

  it("no_secret_sent_or_issued_appears_in_the_runtime_log", async () => {
    // The wrong-secret tests above ran in this runtime; also a successful exchange, whose token
    // joins the list.
    secrets.push(await gw.accessToken(cred));
    const log = gw.runtime.log();
    assert.ok(secrets.length >= 4, "the wrong-secret tests ran first");
    for (const s of secrets) assert.ok(!log.includes(s), `the ${RUNTIME} log contains a secret (${s.slice(0, 12)}...):\n${log}`);
  });
});
