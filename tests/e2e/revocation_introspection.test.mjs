// RFC 7009 revocation and RFC 7662 introspection, end to end in the real runtime.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startGateway, decodeJwt, signJwt } from "./harness.mjs";

describe(`revocation and introspection (${process.env.ISOGATE_RUNTIME ?? "workers"})`, () => {
  let gw, cred, resourceServer;
  const post = (path, client, form) => gw.root(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: client.client_id, client_secret: client.client_secret, ...form }).toString(),
  });

  before(async () => {
    gw = await startGateway();
    await gw.createService("my-api");
    cred = await gw.createCredential("rev-cred");
    resourceServer = await gw.createCredential("resource-server", { can_introspect: true });
  });
  after(() => gw?.stop());

  it("rfc7009_revoked_access_token_is_refused_by_services", async () => {
    const token = await gw.accessToken(cred);
    const keep = await gw.accessToken(cred);
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${token}` } })).status, 200);
    const r = await post("/oauth2/revoke", cred, { token, token_type_hint: "access_token" });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers["cache-control"], "no-store");
    const after = await gw.service("my-api", "/", { headers: { authorization: `Bearer ${token}` } });
    assert.equal(after.status, 401);
    assert.match(after.headers["www-authenticate"], /error="invalid_token"/);
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${keep}` } })).status, 200, "other tokens keep working");
  });

  it("rfc7009_unknown_tokens_answer_200_and_foreign_tokens_are_refused", async () => {
    assert.equal((await post("/oauth2/revoke", cred, { token: "not-a-token" })).status, 200);
    const theirs = await gw.accessToken(resourceServer);
    const r = await post("/oauth2/revoke", cred, { token: theirs });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, "unauthorized_client");
    const wrong = await post("/oauth2/revoke", { ...cred, client_secret: "wrong" }, { token: theirs });
    assert.equal(wrong.status, 401);
  });

  it("rfc7662_introspection_describes_active_tokens_and_says_only_active_false_otherwise", async () => {
    const token = await gw.accessToken(cred, { scope: "service:my-api" });
    const active = await post("/oauth2/introspect", resourceServer, { token });
    assert.equal(active.status, 200);
    assert.equal(active.json.active, true);
    assert.equal(active.json.scope, "service:my-api");
    assert.equal(active.json.client_id, cred.client_id);
    assert.equal(active.json.sub, "root");
    await post("/oauth2/revoke", cred, { token });
    for (const t of [token, "garbage"]) {
      const inactive = await post("/oauth2/introspect", resourceServer, { token: t });
      assert.deepEqual(inactive.json, { active: false });
    }
    const unauth = await gw.root("/oauth2/introspect", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `token=${token}` });
    assert.equal(unauth.status, 401);
  });

  it("rfc8414_metadata_lists_revocation_and_introspection", async () => {
    const meta = (await gw.root("/.well-known/oauth-authorization-server")).json;
    assert.equal(meta.revocation_endpoint, `http://${gw.domain}/oauth2/revoke`);
    assert.equal(meta.introspection_endpoint, `http://${gw.domain}/oauth2/introspect`);
    assert.deepEqual(meta.revocation_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "private_key_jwt"]);
    assert.deepEqual(meta.introspection_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "private_key_jwt"]);
  });
});

describe(`key rotation (${process.env.ISOGATE_RUNTIME ?? "workers"})`, () => {
  // The "old" key: its public half is published through ISOGATE_EXTRA_PUBLIC_KEYS.
  const oldSeed = crypto.randomBytes(32).toString("base64url");
  const publicX = (seed) => {
    const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(seed, "base64url")]);
    return crypto.createPublicKey(crypto.createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })).export({ format: "jwk" }).x;
  };
  // RFC 7638 thumbprint, as the gateway computes its kids.
  const kidOf = (x) => crypto.createHash("sha256").update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest("base64url");
  let gw, cred;

  before(async () => {
    gw = await startGateway({ ISOGATE_EXTRA_PUBLIC_KEYS: publicX(oldSeed) });
    await gw.createService("my-api");
    cred = await gw.createCredential("rotation-cred");
  });
  after(() => gw?.stop());

  it("tokens_of_a_published_extra_key_keep_validating_and_the_jwks_lists_both_keys", async () => {
    const current = decodeJwt(await gw.accessToken(cred));
    const jwks = (await gw.root("/oauth2/jwks")).json.keys.map((k) => k.kid);
    assert.deepEqual(jwks.sort(), [current.header.kid, kidOf(publicX(oldSeed))].sort());
    const oldToken = signJwt(oldSeed, { ...current.header, kid: kidOf(publicX(oldSeed)) }, current.payload);
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${oldToken}` } })).status, 200);
    const strangerSeed = crypto.randomBytes(32).toString("base64url");
    const stranger = signJwt(strangerSeed, { ...current.header, kid: kidOf(publicX(strangerSeed)) }, current.payload);
    assert.equal((await gw.service("my-api", "/", { headers: { authorization: `Bearer ${stranger}` } })).status, 401);
  });
});
