// Services as OAuth 2.0 protected resources, end to end in the real runtime: each service's
// RFC 9728 metadata (answered by the gateway, never forwarded), the resource_metadata
// parameter of its challenges (RFC 9728 §5.1), and RFC 8707 resource indicators (a token bound
// to some services is refused at the others, before the origin sees anything). The discovery
// is made with openid-client v6 and its oauth4webapi (resourceDiscoveryRequest,
// processResourceDiscoveryResponse), as a workload would.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { startGateway, decodeJwt, runProgram, ROOT, RUNTIME } from "./harness.mjs";
import { rawExchange, requestHead } from "./rawhttp.mjs";

const METADATA = "/.well-known/oauth-protected-resource";
const NODE_MODULES = path.join(ROOT, "tests/clients/node/node_modules");

/** A fetch that reaches `gw` on loopback whatever the host name (no DNS for *.localhost). */
function viaGateway(gw) {
  return async (url, options = {}) => {
    const u = new URL(url);
    const headers = Object.fromEntries(new Headers(options.headers).entries());
    let body = options.body;
    if (body instanceof URLSearchParams) body = body.toString();
    else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) body = Buffer.from(body);
    const method = options.method ?? "GET";
    const r = await gw.request(u.host, u.pathname + u.search, { method, headers, body });
    const out = new Headers();
    for (const [name, value] of Object.entries(r.headers)) out.set(name, Array.isArray(value) ? value.join(", ") : value);
    const empty = method === "HEAD" || r.status === 204 || r.status === 304;
    return new Response(empty ? null : r.body, { status: r.status, headers: out });
  };
}

describe(`protected resources: RFC 9728 metadata, RFC 8707 resource indicators (${RUNTIME})`, () => {
  let gw, cred;
  const bearer = (t) => ({ authorization: `Bearer ${t}` });
  const tokenFor = async (resources, extra = {}) => {
    const form = new URLSearchParams({ grant_type: "client_credentials", client_id: cred.client_id, client_secret: cred.client_secret, ...extra });
    for (const r of resources) form.append("resource", r);
    return gw.token(form.toString());
  };

  before(async () => {
    gw = await startGateway();
    await gw.createService("my-api");
    await gw.createService("other");
    await gw.createService("third");
    cred = await gw.createCredential("prm-cred");
  });
  after(() => gw?.stop());

  it("rfc9728_3_metadata_of_a_known_service_without_a_token_and_not_forwarded", async () => {
    const before = gw.originRequests.length;
    const r = await gw.service("my-api", METADATA);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers["content-type"], /^application\/json/);
    assert.deepEqual(r.json, {
      authorization_servers: [gw.issuer],
      bearer_methods_supported: ["header"],
      dpop_signing_alg_values_supported: ["EdDSA", "Ed25519", "ES256"],
      resource: gw.serviceUrl("my-api"),
      scopes_supported: ["service:my-api"],
    });
    // A token, even a bad one, changes nothing; other methods are refused, not forwarded.
    assert.equal((await gw.service("my-api", METADATA, { headers: bearer("x.y.z") })).status, 200);
    const post = await gw.service("my-api", METADATA, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(gw.originRequests.length, before, "the origin saw a metadata request");
  });

  it("rfc9728_3_an_unknown_service_has_no_metadata_404", async () => {
    const r = await gw.service("nope", METADATA);
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error, "not_found");
  });

  it("rfc9728_5_1_a_401_challenge_carries_resource_metadata", async () => {
    const url = `${gw.serviceUrl("my-api")}${METADATA}`;
    for (const headers of [{}, bearer("not-a-token")]) {
      const r = await gw.service("my-api", "/x", { headers });
      assert.equal(r.status, 401, r.text);
      assert.match(r.headers["www-authenticate"], /^Bearer realm="isogate"/);
      assert.ok(r.headers["www-authenticate"].includes(`resource_metadata="${url}"`), r.headers["www-authenticate"]);
    }
  });

  it("rfc8707_2_a_resource_bound_token_works_at_its_service", async () => {
    const r = await tokenFor([gw.serviceUrl("my-api")]);
    assert.equal(r.status, 200, r.text);
    assert.equal(decodeJwt(r.json.access_token).payload.aud, gw.serviceUrl("my-api"));
    const call = await gw.service("my-api", "/bound", { headers: bearer(r.json.access_token) });
    assert.equal(call.status, 200, call.text);
    assert.equal(call.json.headers["x-isogate-service"], "my-api");
  });

  it("rfc8707_2_a_resource_bound_token_is_refused_at_another_service_raw_socket_origin_never_sees_it", async () => {
    const token = (await tokenFor([gw.serviceUrl("my-api")])).json.access_token;
    const before = gw.originRequests.length;
    const { outcome, answers } = await rawExchange(gw.port, requestHead("GET", "/steal?x=1", [
      ["Host", gw.serviceHost("other")], ["Authorization", `Bearer ${token}`], ["Connection", "close"],
    ]));
    assert.equal(outcome, "answered");
    const [answer] = answers;
    assert.equal(answer.status, 401);
    const body = JSON.parse(answer.body.toString("utf8"));
    assert.equal(body.error, "invalid_token");
    assert.equal(body.error_description, "the access token is for another resource");
    assert.match(answer.headers["www-authenticate"], /error="invalid_token"/);
    assert.ok(answer.headers["www-authenticate"].includes(`resource_metadata="${gw.serviceUrl("other")}${METADATA}"`));
    assert.equal(gw.originRequests.length, before, "the origin saw the refused request");
  });

  it("rfc8707_2_multiple_resources_give_an_array_audience_good_at_each", async () => {
    const mine = gw.serviceUrl("my-api");
    const other = gw.serviceUrl("other");
    const r = await tokenFor([mine, `${other}/`]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(decodeJwt(r.json.access_token).payload.aud, [mine, other]);
    for (const name of ["my-api", "other"]) {
      assert.equal((await gw.service(name, "/", { headers: bearer(r.json.access_token) })).status, 200, name);
    }
    const third = await gw.service("third", "/", { headers: bearer(r.json.access_token) });
    assert.equal(third.status, 401);
    assert.equal(third.json.error, "invalid_token");
    // Introspection shows the audience (RFC 7662 §2.2).
    const form = new URLSearchParams({ client_id: cred.client_id, client_secret: cred.client_secret, token: r.json.access_token });
    const i = await gw.root("/oauth2/introspect", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() });
    assert.equal(i.json.active, true, i.text);
    assert.deepEqual(i.json.aud, [mine, other]);
  });

  it("rfc8707_2_unknown_or_malformed_resources_are_400_invalid_target", async () => {
    const mine = gw.serviceUrl("my-api");
    const cases = [
      ["fragment", [`${mine}#x`]],
      ["query", [`${mine}?a=1`]],
      ["path", [`${mine}/v1`]],
      ["another scheme", [mine.replace(/^http/, "ftp")]],
      ["another host", ["https://my-api.evil.example"]],
      ["unknown service", [gw.serviceUrl("nope")]],
      ["too many", Array(11).fill(mine)],
    ];
    for (const [name, resources] of cases) {
      const r = await tokenFor(resources);
      assert.equal(r.status, 400, `${name}: ${r.text}`);
      assert.equal(r.json.error, "invalid_target", name);
      assert.equal(r.headers["cache-control"], "no-store");
    }
    // Without resource: today's audience, the issuer.
    const plain = await tokenFor([]);
    assert.equal(decodeJwt(plain.json.access_token).payload.aud, gw.issuer);
    // Advertised in the authorization server metadata.
    const meta = await gw.root("/.well-known/oauth-authorization-server");
    assert.equal(meta.json.resource_indicators_supported, true);
  });

  it("readme_curl_commands_fetch_the_metadata_and_a_bound_token", async () => {
    // The README's own lines (section "Protected resources"), port and placeholders filled in.
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Protected resources: metadata and audience-restricted tokens"));
    const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
      .flatMap(([, block]) => block.replace(/\\\n\s*/g, "").split("\n"))
      .filter((l) => l.startsWith("curl "));
    const run = async (needle) => {
      const line = commands.find((c) => c.includes(needle));
      assert.ok(line, `README has no curl line with ${needle}`);
      const filled = line.replaceAll("8787", String(gw.port)).replaceAll("<CLIENT_ID>", cred.client_id).replaceAll("<CLIENT_SECRET>", cred.client_secret);
      const r = await runProgram("bash", ["-c", filled]);
      assert.equal(r.code, 0, `${filled}: ${r.stderr}`);
      return JSON.parse(r.stdout);
    };
    assert.deepEqual(await run("oauth-protected-resource"), {
      authorization_servers: [gw.issuer], bearer_methods_supported: ["header"],
      dpop_signing_alg_values_supported: ["EdDSA", "Ed25519", "ES256"], resource: gw.serviceUrl("my-api"), scopes_supported: ["service:my-api"],
    });
    const token = await run("resource=");
    assert.equal(decodeJwt(token.access_token).payload.aud, gw.serviceUrl("my-api"));
  });

  it("rfc9728_discovery_with_openid_client_v6_from_the_challenge_to_a_bound_token", async () => {
    const entry = (name) => path.join(NODE_MODULES, name, "build/index.js");
    assert.ok(fs.existsSync(entry("openid-client")), `${entry("openid-client")} is missing: run bash tests/clients/install.sh`);
    const client = await import(pathToFileURL(entry("openid-client")));
    const oauth = await import(pathToFileURL(entry("oauth4webapi")));
    // Workers: over HTTPS with a throwaway CA (the library's default); the Spin test host serves
    // plain HTTP only, which the library takes with allowInsecureRequests.
    const tls = RUNTIME === "workers";
    const g = tls ? await startGateway({ tls: { names: ["my-api", "other"] } }) : gw;
    try {
      if (tls) {
        await g.createService("my-api");
        await g.createService("other");
      }
      const c = tls ? await g.createCredential("oidc-prm") : cred;
      const fetch = viaGateway(g);
      // What the library needs here and not in production: a fetch to loopback (no DNS for
      // *.localhost), and on Spin plain HTTP.
      const options = { [oauth.customFetch]: fetch, ...(tls ? {} : { [oauth.allowInsecureRequests]: true }) };
      const asOptions = { [client.customFetch]: fetch, ...(tls ? {} : { execute: [client.allowInsecureRequests] }) };
      const service = new URL(g.serviceUrl("my-api"));
      const { client_id: clientId, client_secret: clientSecret } = c;
      // 1. A call without a usable token: the library reports the challenge and its
      //    resource_metadata (RFC 9728 §5.1).
      let metadataUrl;
      try {
        await oauth.protectedResourceRequest("not-a-token", "GET", new URL("/x", service), undefined, undefined, options);
        assert.fail("a bad token was accepted");
      } catch (e) {
        assert.ok(e instanceof oauth.WWWAuthenticateChallengeError, String(e));
        assert.equal(e.cause[0].scheme, "bearer");
        assert.equal(e.cause[0].parameters.error, "invalid_token");
        metadataUrl = e.cause[0].parameters.resource_metadata;
      }
      assert.equal(metadataUrl, `${g.serviceUrl("my-api")}${METADATA}`);
      // 2. The metadata by the library's RFC 9728 discovery (the same URL, §3.1), its
      //    authorization server by RFC 8414 discovery, a token for this resource only (RFC 8707).
      // --- the README's example ---
      const response = await oauth.resourceDiscoveryRequest(service, options);
      const rs = await oauth.processResourceDiscoveryResponse(service, response);
      const config = await client.discovery(new URL(rs.authorization_servers[0]), clientId, undefined, client.ClientSecretPost(clientSecret), asOptions);
      const token = await client.clientCredentialsGrant(config, { resource: rs.resource, scope: rs.scopes_supported.join(" ") });
      const answer = await client.fetchProtectedResource(config, token.access_token, new URL("/discovered", service), "GET");
      // --- end of the README's example ---
      assert.deepEqual(rs.authorization_servers, [g.issuer]);
      assert.deepEqual(rs.scopes_supported, ["service:my-api"]);
      assert.equal(config.serverMetadata().resource_indicators_supported, true);
      assert.equal(decodeJwt(token.access_token).payload.aud, rs.resource);
      assert.equal(answer.status, 200);
      // 3. Good at the service, refused at the other one.
      await assert.rejects(
        client.fetchProtectedResource(config, token.access_token, new URL(`${g.serviceUrl("other")}/x`), "GET"),
        (e) => e instanceof client.WWWAuthenticateChallengeError && e.cause[0].parameters.error === "invalid_token",
      );
    } finally {
      if (tls) await g.stop();
    }
  });
});
