// Marshalling between workerd's Fetch objects and the Rust adapter (src/lib.rs), shaped so that
// each step is one call across the wasm boundary instead of one per header and per string.
// No decisions here: what to forward, strip, add or answer is decided in Rust (isogate-core).
//
// Headers travel as one string, "name\0value\0name\0value\0": Fetch forbids NUL in header
// names and values, so the separator cannot occur inside either.

/** Every header of `headers`, in iteration order (names lower-case, as Fetch gives them). */
function headerBlob(headers) {
  let blob = "";
  for (const [name, value] of headers) blob += name + "\0" + value + "\0";
  return blob;
}

/** The request head as "method\0url\0" followed by its header blob. */
export function requestHead(request) {
  return request.method + "\0" + request.url + "\0" + headerBlob(request.headers);
}

/** A Headers object from a blob; a pair the runtime refuses is dropped (it accepted it inbound). */
function headersFrom(blob) {
  const headers = new Headers();
  const parts = blob.split("\0");
  for (let i = 0; i + 1 < parts.length; i += 2) {
    try {
      headers.append(parts[i], parts[i + 1]);
    } catch {
      // dropped
    }
  }
  return headers;
}

// What became of a fetch, as `forward` reports it to `relay`: Rust's typed UpstreamOutcome at
// this edge (src/lib.rs has the same constants).
const RESPONDED = 0; // the value is the origin's Response
const TIMED_OUT = 1; // no response head within the timeout
const UNREACHABLE = 2; // the value is the runtime's words for the failure
const UNSENDABLE = 3; // the runtime would not even build the request (the value: its words)

/**
 * Fetches the origin, the incoming body streamed through (never buffered) exactly when the
 * core's plan says so (`withBody`; the plan's headers carry a Content-Length only then), redirects
 * passed back to the client rather than followed, and hands the outcome to `relay(record, kind,
 * value, session, env, status, headers)` (Rust), which decides the client's response; `record`
 * is the forward's audit record as Rust made it into a string, handed back untouched. With an
 * origin's Response come its status and its header blob, in the same call: the one crossing
 * into Rust per answer. The timeout covers the wait for the
 * response head only: once it arrives the timer is cleared and the body streams as long as it
 * takes. Returns a Promise of relay's Response (or relay's Response itself when the request
 * cannot even be built). A WebSocket handshake is a plan with `upgrade: websocket` among its
 * headers: workerd's fetch then opens the origin's WebSocket (its own key and version), and
 * `session` (the core's, carried as a string; empty for other requests) and `env` go back to
 * `relay` for `upgrade`.
 */
export function forward(request, url, method, headers, withBody, timeoutMs, record, session, env, relay) {
  const controller = new AbortController();
  let outbound;
  try {
    outbound = new Request(url, {
      method,
      headers: headersFrom(headers),
      body: withBody ? request.body : null,
      redirect: "manual",
      signal: controller.signal,
    });
  } catch (e) {
    // A method the runtime refuses to send (CONNECT, TRACE) or an unusable URL.
    return relay(record, UNSENDABLE, String(e), session, env, 0, "");
  }
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  return fetch(outbound).then(
    (response) => {
      clearTimeout(timer);
      return relay(record, RESPONDED, response, session, env, response.status, headerBlob(response.headers));
    },
    (e) => {
      clearTimeout(timer);
      return controller.signal.aborted
        ? relay(record, TIMED_OUT, null, session, env, 0, "")
        : relay(record, UNREACHABLE, String(e), session, env, 0, "");
    },
  );
}

/**
 * The client's Response for the origin's `upstream` as Rust's `Relay::Pass` says: `status`, the
 * header blob `headers` (the origin's, filtered by the core), and the origin's body streamed
 * through when `withBody`. The body is taken here rather than read across the boundary.
 */
export function relayOrigin(upstream, status, withBody, headers) {
  return new Response(withBody ? upstream.body : null, { status, headers: headersFrom(headers) });
}

/**
 * An origin's token request (isogate-core's upstream_auth: a POST the core built), for the
 * core's `OriginSecrets::fetch_token`: resolves to [status, the first `maxBytes` bytes of the
 * body], or rejects with the runtime's words (never a header: they hold the client secret).
 */
export async function tokenFetch(url, headers, body, timeoutMs, maxBytes) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: headersFrom(headers),
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw e?.name === "TimeoutError" ? "timed out" : String(e?.message ?? e);
  }
  const reader = response.body?.getReader();
  const chunks = [];
  let size = 0;
  while (reader && size < maxBytes) {
    const { done, value } = await reader.read().catch(() => ({ done: true }));
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  if (reader && size >= maxBytes) reader.cancel().catch(() => {});
  const bytes = new Uint8Array(Math.min(size, maxBytes));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
  }
  return [response.status, bytes];
}

/**
 * The client's side of a WebSocket the origin accepted (Rust's Relay::Upgrade): a
 * WebSocketPair whose server end and the origin's socket (`upstream.webSocket`) relay each
 * other's messages as they come (text as text, binary as binary) and each other's close (code
 * and reason; 1005/1006, which no endpoint may send, become a plain close). While it is open,
 * `check(env, session)` (Rust: the core's Gateway::check_connection) runs at once and then
 * when it says: it resolves the milliseconds to the next check, or [code, reason] to close
 * both sides with (1008 for an expired or revoked token). Returns the 101 Response.
 */
export function upgrade(upstream, headers, env, session, check) {
  const origin = upstream.webSocket;
  const [client, server] = Object.values(new WebSocketPair());
  origin.accept();
  server.accept();
  let open = true;
  let timer;
  const end = (code, reason) => {
    if (!open) return;
    open = false;
    clearTimeout(timer);
    closeSocket(server, code, reason);
    closeSocket(origin, code, reason);
  };
  const pass = (to) => (event) => {
    try {
      to.send(event.data);
    } catch {
      end(1011, "");
    }
  };
  server.addEventListener("message", pass(origin));
  origin.addEventListener("message", pass(server));
  for (const socket of [server, origin]) {
    socket.addEventListener("close", (event) => end(event.code, event.reason));
    socket.addEventListener("error", () => end(1011, ""));
  }
  const recheck = () =>
    check(env, session).then(
      (next) => {
        if (!open) return;
        if (typeof next === "number") timer = setTimeout(recheck, next);
        else end(next[0], next[1]);
      },
      () => end(1011, ""),
    );
  recheck();
  return new Response(null, { status: 101, webSocket: client, headers: headersFrom(headers) });
}

/** Closes `socket` with `code` and `reason` where an endpoint may send them, else plainly. */
function closeSocket(socket, code, reason) {
  try {
    if (code === 1005 || code === 1006 || code === 1015) socket.close();
    else socket.close(code, reason);
  } catch {
    // already closed
  }
}

/** A Response with `body` (a ReadableStream, a Uint8Array, or null). */
export function respond(status, headers, body) {
  return new Response(body, { status, headers: headersFrom(headers) });
}

/**
 * At most `limit + 1` bytes of the request body: enough for the core to tell "too large"
 * without the isolate ever holding an unbounded body. Rejects when the stream fails (the
 * client went away, or sent less than its Content-Length): Rust makes that Body::Unreadable,
 * so a cut-off body is never judged as if it were complete.
 *
 * A body longer than that is read on, up to `drainLimit` more bytes thrown away, before the
 * answer (isogate-core's step::DRAIN_LIMIT_BYTES): a body that is started on and then
 * cancelled half way is what `wrangler dev`'s proxy (4.86) cannot survive (503 "Your worker
 * restarted mid-request", then stalls, then the server dies), and draining keeps the
 * connection. Only a body that goes on past that is cancelled.
 */
export async function readBounded(request, limit, drainLimit) {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  while (size <= limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  if (size > limit) await drain(reader, size - limit - 1, drainLimit).catch(() => {});
  const body = new Uint8Array(Math.min(size, limit + 1));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, body.length - offset);
    body.set(part, offset);
    offset += part.length;
    if (offset === body.length) break;
  }
  return body;
}

/**
 * `respond(status, headers, body)`, once what is left of a request body the answer does not
 * need has been read and thrown away: at most `atMost` bytes (isogate-core's
 * step::Leftover::Drain), whatever remains then cancelled. Resolves in every case: a body that
 * fails to arrive needs no release.
 */
export async function respondAfterDrain(request, atMost, status, headers, body) {
  if (request.body && !request.bodyUsed) await drain(request.body.getReader(), 0, atMost).catch(() => {});
  return respond(status, headers, body);
}

/** Reads from `reader` until its end or `atMost` bytes past `already`; cancels it if it goes on. */
async function drain(reader, already, atMost) {
  let size = already;
  while (size <= atMost) {
    const { done, value } = await reader.read();
    if (done) return;
    size += value.byteLength;
  }
  await reader.cancel();
}

// Ed25519 through Web Crypto (native code in workerd), for the core's `Ed25519` capability.
// The byte arguments are views of wasm memory: Web Crypto copies them when called. Every
// function is async, so that any failure is a rejected promise (Rust sees an Err), never an
// exception thrown through wasm.

export async function importSigningKey(pkcs8) {
  return crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
}

export async function importVerifyingKey(raw) {
  return crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
}

export async function ed25519Sign(key, message) {
  return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, message));
}

export async function ed25519Verify(key, signature, message) {
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

/**
 * A GET of a public document (an external issuer's OIDC discovery document or JWKS, for the
 * core's `OriginSecrets::fetch_document`): resolves to [status, the first `maxBytes` bytes of
 * the body, Cache-Control or null]; redirects are not followed. Rejects with the runtime's
 * words.
 */
export async function documentFetch(url, timeoutMs, maxBytes) {
  let response;
  try {
    response = await fetch(url, { headers: { accept: "application/json" }, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw e?.name === "TimeoutError" ? "timed out" : String(e?.message ?? e);
  }
  const body = new Uint8Array(await response.arrayBuffer()).subarray(0, maxBytes);
  return [response.status, body, response.headers.get("cache-control")];
}

// Client assertions (private_key_jwt), for the core's `JwsVerifier`: the key arrives as the
// JSON of its required JWK members, built by the core from a parsed key (never a member a
// client chose), and is imported for this one check. Resolves false for anything Web Crypto
// refuses.
const JWS_ALGORITHMS = {
  EdDSA: [{ name: "Ed25519" }, { name: "Ed25519" }],
  ES256: [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
  RS256: [{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }],
};

export async function jwsVerify(alg, jwk, signature, message) {
  const [importParams, verifyParams] = JWS_ALGORITHMS[alg];
  try {
    const key = await crypto.subtle.importKey("jwk", JSON.parse(jwk), importParams, false, ["verify"]);
    return await crypto.subtle.verify(verifyParams, key, signature, message);
  } catch {
    return false;
  }
}

// D1, for the core's `SqlDb`: `params` is an Array of null, numbers and strings.

/** Rows as arrays of column values (D1's `raw()`). */
export async function d1Query(db, sql, params) {
  return db.prepare(sql).bind(...params).raw();
}

/** How many rows the statement changed. */
export async function d1Execute(db, sql, params) {
  const result = await db.prepare(sql).bind(...params).run();
  return result.meta?.changes ?? 0;
}

/** Statements ([sql, params] pairs) in one transaction (D1's `batch()`). */
export async function d1Batch(db, statements) {
  await db.batch(statements.map(([sql, params]) => db.prepare(sql).bind(...params)));
}
