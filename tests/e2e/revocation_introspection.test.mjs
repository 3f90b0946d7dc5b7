// RFC 7009 revocation and RFC 7662 introspection, end to end in the real runtime.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "./harness.mjs";

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
    resourceServer = await gw.createCredential("resource-server");
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
    assert.deepEqual(meta.revocation_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post"]);
    assert.deepEqual(meta.introspection_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post"]);
  });
});
