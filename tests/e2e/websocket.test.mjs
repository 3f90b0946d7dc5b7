// WebSockets through the gateway, with a real client (npm `ws`) and the demo origin's `ws`
// echo server. Workers: connected through (a fetch with Upgrade: websocket, then a
// WebSocketPair relayed both ways) with the same checks and headers as any request, and closed
// with 1008 when the token expires or is revoked. Spin (wasi:http has no upgrade): 501
// websocket_unsupported after the token checks, never forwarded.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { startGateway, signJwt, decodeJwt, RUNTIME, CACHE_TTL_MS } from "./harness.mjs";

/**
 * Opens a WebSocket to service `name` of `gw` (127.0.0.1, with the service's Host: Node's
 * resolver does not map *.localhost). Resolves { socket, messages, closed } once open, or
 * { refused: { status, headers, body } } when the gateway answered the handshake with no upgrade.
 */
function connect(gw, name, path, { token, protocols = [], headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${gw.port}${path}`, protocols, {
      headers: { host: gw.serviceHost(name), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
    const messages = [];
    let closedResolve;
    const closed = new Promise((r) => (closedResolve = r));
    socket.on("message", (data, isBinary) => messages.push({ data: Buffer.from(data), isBinary }));
    socket.on("close", (code, reason) => closedResolve({ code, reason: reason.toString("utf8"), at: Date.now() }));
    socket.on("open", () => resolve({ socket, messages, closed }));
    socket.on("unexpected-response", (req, res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let json;
        try { json = JSON.parse(body); } catch { json = undefined; }
        resolve({ refused: { status: res.statusCode, headers: res.headers, body, json } });
        req.destroy();
      });
    });
    socket.on("error", (e) => { if (!socket.listenerCount("unexpected-response")) reject(e); });
  });
}

/** The next message, within `ms`. */
async function nextMessage(conn, ms = 5000) {
  const deadline = Date.now() + ms;
  const seen = conn.messages.length;
  while (conn.messages.length === seen) {
    if (Date.now() > deadline) throw new Error("no message");
    await new Promise((r) => setTimeout(r, 10));
  }
  return conn.messages[seen];
}

function within(promise, ms, what) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);
}

/** The audit lines the runtime printed, parsed. */
function auditLines(gw) {
  return gw.runtime.log().split("\n").map((l) => l.slice(l.indexOf("{"))).filter((l) => l.startsWith('{"log":"audit"')).map((l) => JSON.parse(l));
}

const origin = (gw, path) => gw.originRequests.filter((r) => r.url === path);

describe(`websockets (${RUNTIME})`, () => {
  let gw, cred;
  const revoke = (client, token, on = gw) => on.root("/oauth2/revoke", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: client.client_id, client_secret: client.client_secret, token }).toString(),
  });

  before(async () => {
    gw = await startGateway({ peer: RUNTIME === "workers" });
    await gw.createService("my-api");
    cred = await gw.createCredential("ws-cred");
  });
  after(() => gw?.stop());

  it("a_handshake_without_a_token_is_refused_401_before_any_upgrade", async () => {
    const r = await connect(gw, "my-api", "/ws/no-token");
    assert.ok(r.refused, "no WebSocket without a token");
    assert.equal(r.refused.status, 401);
    assert.match(r.refused.headers["www-authenticate"], /^Bearer realm=/);
    assert.equal(origin(gw, "/ws/no-token").length, 0, "the origin never saw it");
  });

  it("a_handshake_with_a_bad_token_is_refused_401_invalid_token_in_either_form", async () => {
    const token = await gw.accessToken(cred);
    const tampered = token.slice(0, -3) + (token.endsWith("AAA") ? "BBB" : "AAA");
    const { payload } = decodeJwt(token);
    const forged = signJwt("A".repeat(43), { alg: "EdDSA", typ: "at+jwt" }, payload);
    for (const [form, opts] of [
      ["tampered, header", { token: tampered }],
      ["foreign key, header", { token: forged }],
      ["tampered, subprotocol", { protocols: [`isogate.bearer.${tampered}`, "echo.v1"] }],
      ["garbage, subprotocol", { protocols: ["isogate.bearer.not-a-jwt"] }],
    ]) {
      const r = await connect(gw, "my-api", "/ws/bad-token", opts);
      assert.ok(r.refused, form);
      assert.equal(r.refused.status, 401, form);
      assert.match(r.refused.headers["www-authenticate"], /error="invalid_token"/, form);
    }
    const both = await connect(gw, "my-api", "/ws/bad-token", { token, protocols: [`isogate.bearer.${token}`] });
    assert.equal(both.refused?.status, 400, "a token in two places is two methods at once (RFC 6750 §2)");
    assert.equal(origin(gw, "/ws/bad-token").length, 0, "the origin never saw any of them");
  });

  if (RUNTIME === "spin") {
    it("spin_answers_a_websocket_handshake_501_websocket_unsupported_after_the_token_checks", async () => {
      const token = await gw.accessToken(cred);
      for (const opts of [{ token }, { protocols: [`isogate.bearer.${token}`, "echo.v1"] }]) {
        const r = await connect(gw, "my-api", "/ws/spin", opts);
        assert.ok(r.refused, "no WebSocket on Spin");
        assert.equal(r.refused.status, 501);
        assert.equal(r.refused.json.error, "websocket_unsupported");
        assert.match(r.refused.json.error_description, /wasi:http has no upgrade/);
        assert.equal(r.refused.headers["cache-control"], "no-store");
        assert.ok(r.refused.headers["x-request-id"]);
      }
      // What wasi:http leaves of a handshake (it hides Upgrade): a key alone is one too.
      const keyOnly = await gw.service("my-api", "/ws/spin", {
        headers: { authorization: `Bearer ${token}`, "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
      });
      assert.equal(keyOnly.status, 501, keyOnly.text);
      assert.equal(origin(gw, "/ws/spin").length, 0, "never forwarded");
      // The host's output may trail the answer a little.
      const spinLines = () => auditLines(gw).filter((l) => l.path === "/ws/spin");
      await within((async () => { while (spinLines().length < 3) await new Promise((r) => setTimeout(r, 20)); })(), 5000, "audit lines").catch(() => {});
      const lines = spinLines();
      assert.equal(lines.length, 3, gw.runtime.log());
      for (const line of lines) {
        assert.equal(line.outcome, "denied");
        assert.equal(line.reason, "websocket_unsupported");
        assert.equal(line.status, 501);
        assert.equal(line.credential, "ws-cred");
      }
    });
    return;
  }

  it("an_echo_round_trip_text_and_binary_reaches_the_origin_with_identity_and_no_token", async () => {
    const token = await gw.accessToken(cred);
    const conn = await connect(gw, "my-api", "/ws/echo?x=1", { token, headers: { "x-isogate-user": "admin", "x-forwarded-for": "6.6.6.6" } });
    assert.ok(!conn.refused, JSON.stringify(conn.refused));
    conn.socket.send("hello through the gateway");
    let m = await nextMessage(conn);
    assert.equal(m.isBinary, false);
    assert.equal(m.data.toString("utf8"), "hello through the gateway");
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    conn.socket.send(bytes);
    m = await nextMessage(conn);
    assert.equal(m.isBinary, true);
    assert.deepEqual(m.data, bytes);
    // What the origin saw, from its own side of the handshake.
    conn.socket.send("headers");
    const seen = JSON.parse((await nextMessage(conn)).data.toString("utf8"));
    assert.equal(seen.authorization, undefined, "the token is stripped");
    assert.equal(seen["x-isogate-user"], "root", "the verified user, not the client's claim");
    assert.equal(seen["x-isogate-service"], "my-api");
    assert.equal(seen["x-isogate-credential"], "ws-cred");
    assert.equal(seen["x-isogate-client-id"], cred.client_id);
    assert.equal(seen["x-isogate-token-id"], decodeJwt(token).payload.jti);
    assert.notEqual(seen["x-forwarded-for"], "6.6.6.6");
    assert.equal(seen.upgrade, "websocket");
    const assertion = decodeJwt(seen["x-isogate-assertion"]);
    assert.equal(assertion.header.typ, "isogate-assertion+jwt");
    assert.equal(assertion.payload.aud, `http://my-api.${gw.domain}`);
    assert.equal(assertion.payload.sub, "root");
    assert.ok(seen["x-request-id"]);
    assert.ok(!JSON.stringify(seen).includes(token), "the token is nowhere in the origin's view");
    const handshake = origin(gw, "/ws/echo?x=1");
    assert.equal(handshake.length, 1);
    assert.equal(handshake[0].upgrade, true);
    // Close codes both ways: the client's reaches the origin.
    conn.socket.close(4001, "client done");
    const closed = await within(conn.closed, 5000, "close");
    assert.equal(closed.code, 4001);
    await within((async () => { while (!gw.originWebSockets.find((w) => w.url === "/ws/echo?x=1")?.close) await new Promise((r) => setTimeout(r, 20)); })(), 5000, "origin close");
    assert.deepEqual(gw.originWebSockets.find((w) => w.url === "/ws/echo?x=1").close, { code: 4001, reason: "client done" });
    // The audit line, as for a forward: 101 from the origin, 101 to the client.
    const line = auditLines(gw).find((l) => l.path === "/ws/echo");
    assert.equal(line?.outcome, "forwarded", gw.runtime.log());
    assert.equal(line.status, 101);
    assert.equal(line.origin_status, 101);
    assert.equal(line.credential, "ws-cred");
  });

  it("the_origins_close_code_and_reason_reach_the_client", async () => {
    const token = await gw.accessToken(cred);
    const conn = await connect(gw, "my-api", "/ws/origin-closes", { token });
    conn.socket.send("close:4000:origin says bye");
    const closed = await within(conn.closed, 5000, "close");
    assert.deepEqual([closed.code, closed.reason], [4000, "origin says bye"]);
  });

  it("the_token_subprotocol_form_is_taken_stripped_and_the_origins_choice_answered", async () => {
    const token = await gw.accessToken(cred);
    const conn = await connect(gw, "my-api", "/ws/subprotocol", { protocols: [`isogate.bearer.${token}`, "echo.v1", "echo.v2"] });
    assert.ok(!conn.refused, JSON.stringify(conn.refused));
    assert.equal(conn.socket.protocol, "echo.v1", "the origin's choice (its first offered)");
    conn.socket.send("headers");
    const seen = JSON.parse((await nextMessage(conn)).data.toString("utf8"));
    assert.equal(seen["sec-websocket-protocol"], "echo.v1, echo.v2", "the application protocols only");
    assert.equal(seen.authorization, undefined);
    assert.equal(seen["x-isogate-credential"], "ws-cred");
    assert.ok(!JSON.stringify(seen).includes(token), "the token is nowhere in the origin's view");
    assert.equal(gw.originWebSockets.find((w) => w.url === "/ws/subprotocol").protocol, "echo.v1");
    conn.socket.close(1000);
    await conn.closed;
  });

  it("a_key_without_upgrade_websocket_is_refused_400_and_not_forwarded", async () => {
    const token = await gw.accessToken(cred);
    const r = await gw.service("my-api", "/ws/half-handshake", {
      headers: { authorization: `Bearer ${token}`, "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
    });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, "invalid_request");
    assert.equal(origin(gw, "/ws/half-handshake").length, 0);
  });

  it("an_open_connection_is_closed_1008_when_its_token_is_revoked_here_and_on_another_isolate", async () => {
    for (const where of ["this isolate", "another isolate"]) {
      const token = await gw.accessToken(cred);
      const keep = await gw.accessToken(cred);
      const conn = await connect(gw, "my-api", "/ws/revoked", { token });
      const other = await connect(gw, "my-api", "/ws/kept", { token: keep });
      conn.socket.send("ping");
      await nextMessage(conn);
      const r = await revoke(cred, token, where === "this isolate" ? gw : gw.peer);
      assert.equal(r.status, 200, r.text);
      const revokedAt = Date.now();
      // Bound: a check every cache lifetime, whose cached "not revoked" may be one lifetime old.
      const closed = await within(conn.closed, 2 * CACHE_TTL_MS + 2000, `close after revocation on ${where}`);
      assert.equal(closed.code, 1008);
      assert.equal(closed.reason, "token revoked");
      console.log(`# websocket closed ${closed.at - revokedAt} ms after its token was revoked on ${where} (cache TTL ${CACHE_TTL_MS} ms)`);
      other.socket.send("still here");
      assert.equal((await nextMessage(other)).data.toString("utf8"), "still here", "another token's connection stays open");
      other.socket.close(1000);
    }
  });

  it("an_open_connection_is_closed_1008_when_its_credential_is_deleted", async () => {
    const doomed = await gw.createCredential("ws-doomed");
    const conn = await connect(gw, "my-api", "/ws/deleted", { token: await gw.accessToken(doomed) });
    assert.ok(!conn.refused);
    await gw.delete("credential", "ws-doomed");
    const closed = await within(conn.closed, 2 * CACHE_TTL_MS + 2000, "close after deletion");
    assert.deepEqual([closed.code, closed.reason], [1008, "credential revoked"]);
  });
});

describe(`websockets with short-lived tokens (${RUNTIME})`, { skip: RUNTIME !== "workers" && "Spin carries no WebSocket" }, () => {
  let gw, cred;
  before(async () => {
    gw = await startGateway({ ISOGATE_TOKEN_TTL: "3s" });
    await gw.createService("my-api");
    cred = await gw.createCredential("ws-short");
  });
  after(() => gw?.stop());

  it("an_open_connection_is_closed_1008_when_its_token_expires", async () => {
    const token = await gw.accessToken(cred);
    const { exp } = decodeJwt(token).payload;
    const conn = await connect(gw, "my-api", "/ws/expiring", { token });
    assert.ok(!conn.refused, JSON.stringify(conn.refused));
    conn.socket.send("before expiry");
    assert.equal((await nextMessage(conn)).data.toString("utf8"), "before expiry");
    const closed = await within(conn.closed, 6000, "close at expiry");
    assert.deepEqual([closed.code, closed.reason], [1008, "token expired"]);
    // At its exp (whole seconds), not before, within the timer's precision.
    assert.ok(closed.at >= exp * 1000 - 50, `closed ${exp * 1000 - closed.at} ms before exp`);
    assert.ok(closed.at <= exp * 1000 + 1500, `closed ${closed.at - exp * 1000} ms after exp`);
  });
});
