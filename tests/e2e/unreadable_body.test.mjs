// A request body cut off by its sender is unreadable, never judged as if it were complete: the
// same 400 invalid_request on every runtime, and nothing done with what arrived. (Drift fixed
// in #9: Spin used to hand the truncated bytes to the core, so a revocation cut off after
// `token=` answered 200 without revoking, and one cut off after a whole token revoked it.)
// Sent as an attacker would: raw TCP, a Content-Length larger than what is sent, then the
// socket half-closed or destroyed.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startGateway, RUNTIME } from "./harness.mjs";

/**
 * Writes `head` and `partialBody` on a new connection, then half-closes it (`end`: the peer
 * can still answer) or destroys it (`destroy`). Resolves with the answer parsed by its
 * framing ({ status, headers, body }; servers may keep the connection open), or null when the
 * connection closes without one.
 */
function sendCutOff(port, head, partialBody, then) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    let settled = false;
    const settle = (value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => {
      settled = true;
      socket.destroy();
      reject(new Error(`no answer and no close within 5 s; received ${JSON.stringify(received.toString("latin1"))}`));
    }, 5000);
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine, ...lines] = received.subarray(0, end).toString("latin1").split("\r\n");
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).trim().toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      const body = received.subarray(end + 4);
      if (body.length >= Number(headers["content-length"] ?? 0)) {
        settle({ status: Number(statusLine.split(" ")[1]), headers, body: body.toString("utf8") });
      }
    });
    socket.on("error", () => settle(null));
    socket.on("close", () => settle(null));
    socket.write(head + partialBody, () => {
      if (then === "end") socket.end();
      // Give the bytes time to arrive before the reset, so the gateway does start on the body.
      else setTimeout(() => socket.destroy(), 50);
    });
  });
}

describe(`a cut-off request body is unreadable (${RUNTIME})`, () => {
  let gw, cred;
  before(async () => {
    gw = await startGateway();
    await gw.createService("my-api");
    cred = await gw.createCredential("cut-off-cred");
  });
  after(() => gw?.stop());

  const callService = (token) => gw.service("my-api", "/", { headers: { authorization: `Bearer ${token}` } });

  /** A revocation of `token` whose head announces `fullBody` but whose body stops after `sent` bytes of it. */
  const cutOffRevocation = (fullBody, sent, then) => {
    const basic = Buffer.from(`${cred.client_id}:${cred.client_secret}`).toString("base64");
    const head = [
      "POST /oauth2/revoke HTTP/1.1",
      `Host: ${gw.domain}`,
      `Authorization: Basic ${basic}`,
      "Content-Type: application/x-www-form-urlencoded",
      `Content-Length: ${Buffer.byteLength(fullBody)}`,
      "",
      "",
    ].join("\r\n");
    return sendCutOff(gw.port, head, fullBody.slice(0, sent), then);
  };

  const assertUnreadable = (reply) => {
    assert.ok(reply, "a half-closed connection can still be answered");
    assert.equal(reply.status, 400, `a cut-off body is not judged: ${reply.body}`);
    assert.deepEqual(JSON.parse(reply.body), { error: "invalid_request", error_description: "the request body could not be read" });
  };

  it("revocation_cut_off_inside_the_token_answers_400_and_revokes_nothing", async () => {
    const token = await gw.accessToken(cred);
    assert.equal((await callService(token)).status, 200);
    // What arrives, `token=<first half>`, parses as a form naming an unknown token: judged as
    // complete it would be answered 200 (RFC 7009 §2.2), and the client told "revoked".
    const fullBody = `token=${token}&token_type_hint=access_token`;
    assertUnreadable(await cutOffRevocation(fullBody, "token=".length + (token.length >> 1), "end"));
    assert.equal((await callService(token)).status, 200, "the token still works");
    assert.equal((await gw.root("/healthz")).status, 200, "the gateway keeps serving");
  });

  it("revocation_cut_off_after_a_whole_token_revokes_nothing", async () => {
    const token = await gw.accessToken(cred);
    // What arrives, `token=<the whole token>`, is a valid revocation by itself; the sender
    // announced more and never sent it, so the request never happened.
    const fullBody = `token=${token}&token_type_hint=access_token`;
    assertUnreadable(await cutOffRevocation(fullBody, `token=${token}`.length, "end"));
    assert.equal((await callService(token)).status, 200, "the token still works");
  });

  it("revocation_whose_connection_is_reset_mid_body_revokes_nothing", async () => {
    const token = await gw.accessToken(cred);
    const fullBody = `token=${token}&token_type_hint=access_token`;
    // No answer can reach a reset connection; what matters is what the gateway did.
    await cutOffRevocation(fullBody, `token=${token}`.length, "destroy");
    assert.equal((await callService(token)).status, 200, "the token still works");
    // The same revocation, sent whole, still works: nothing is left in a bad state.
    const whole = await gw.root("/oauth2/revoke", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: cred.client_id, client_secret: cred.client_secret, token }).toString(),
    });
    assert.equal(whole.status, 200, whole.text);
    assert.equal((await callService(token)).status, 401, "revoked once sent whole");
  });

  it("nothing_secret_is_logged_for_a_cut_off_body", async (t) => {
    // Only the Spin host's output is captured by the harness (workerd's goes to this process).
    if (!gw.runtime.log) return t.skip(`the ${RUNTIME} runtime's log is not captured by the harness`);
    const log = gw.runtime.log();
    assert.ok(!log.includes(cred.client_secret), "no client secret in the log");
    assert.ok(!log.includes(gw.adminToken), "no admin token in the log");
    assert.ok(!/eyJ[\w-]{10,}/.test(log), "no token (or part of one) in the log");
  });
});
