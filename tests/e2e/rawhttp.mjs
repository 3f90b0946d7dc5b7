// Raw HTTP/1.1 over TCP, for tests written as an attacker sends requests: bytes exactly as
// given (no client library normalising them), answers read by their framing (servers may keep
// the connection open after `Connection: close`), and every way a connection can end reported.
import net from "node:net";

/**
 * Sends `parts` on a new connection to 127.0.0.1:`port` and reads the answers.
 * `parts`: a Buffer/string, or an array of them and numbers (a number pauses that many ms,
 * which makes slow, partial requests).
 * Options:
 *   timeoutMs: give up after this long (default 10000): `outcome` "timeout";
 *   then: after writing, "wait" for the answer (default), "end" (half-close, still reading),
 *         or "destroy" (reset; resolves at once with outcome "sent");
 *   answers: how many answers to wait for (default 1; pipelined requests want more);
 *   head: the request is HEAD (its answer has no body).
 * Resolves { outcome, answers: [{ status, headers, body }], ms }; outcome is "answered"
 * (all wanted answers arrived), "closed" (the server closed first), "reset" (ECONNRESET or
 * EPIPE) or "timeout". Never rejects.
 */
export function rawExchange(port, parts, { timeoutMs = 10000, then = "wait", answers: wanted = 1, head = false } = {}) {
  const list = Array.isArray(parts) ? parts : [parts];
  return new Promise((resolve) => {
    const t0 = Date.now();
    const socket = net.connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    let settled = false;
    const answers = [];
    const settle = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ outcome, answers, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => settle("timeout"), timeoutMs);
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk]);
      for (;;) {
        const parsed = parseAnswer(received, head);
        if (!parsed) break;
        received = received.subarray(parsed.length);
        // Interim answers (100 Continue) are not answers.
        if (parsed.answer.status >= 200 || parsed.answer.status === 101) answers.push(parsed.answer);
        if (answers.length >= wanted) return settle("answered");
      }
    });
    socket.on("end", () => {
      // An answer framed by the close (no length, not chunked) ends here.
      const status = statusOf(received);
      const end = received.indexOf("\r\n\r\n");
      if (status && end >= 0) {
        const headers = headersOf(received.subarray(0, end));
        if (headers["content-length"] === undefined && headers["transfer-encoding"] === undefined) {
          answers.push({ status, headers, body: received.subarray(end + 4) });
        }
      }
      settle(answers.length >= wanted ? "answered" : "closed");
    });
    socket.on("error", (e) => settle(answers.length >= wanted ? "answered" : e.code === "ECONNRESET" || e.code === "EPIPE" ? "reset" : `error ${e.code}`));
    socket.on("close", () => settle(answers.length >= wanted ? "answered" : "closed"));
    (async () => {
      for (const part of list) {
        if (settled) return;
        if (typeof part === "number") await new Promise((r) => setTimeout(r, part));
        else await new Promise((r) => socket.write(part, () => r()));
      }
      if (then === "end") socket.end();
      if (then === "destroy") setTimeout(() => settle("sent"), 20);
    })().catch(() => {});
  });
}

function statusOf(buf) {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf.subarray(0, 16).toString("latin1"));
  return m ? Number(m[1]) : undefined;
}

function headersOf(headBuf) {
  const headers = {};
  for (const line of headBuf.toString("latin1").split("\r\n").slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) {
      const name = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
  }
  return headers;
}

/** One complete answer at the start of `buf` ({ answer, length }), or undefined for now. */
function parseAnswer(buf, head) {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const status = statusOf(buf);
  if (!status) return undefined;
  const headers = headersOf(buf.subarray(0, end));
  const start = end + 4;
  const bodyless = head || status < 200 || status === 204 || status === 304;
  if (bodyless) return { answer: { status, headers, body: Buffer.alloc(0) }, length: start };
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const chunks = [];
    let at = start;
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.subarray(at, lineEnd).toString("latin1"), 16);
      if (Number.isNaN(size)) return undefined;
      if (size === 0) {
        const trailerEnd = buf.indexOf("\r\n\r\n", lineEnd);
        const plainEnd = buf.subarray(lineEnd, lineEnd + 4).toString("latin1") === "\r\n\r\n";
        const stop = plainEnd ? lineEnd + 4 : trailerEnd < 0 ? -1 : trailerEnd + 4;
        if (stop < 0) return undefined;
        return { answer: { status, headers, body: Buffer.concat(chunks) }, length: stop };
      }
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      chunks.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    if (buf.length < start + length) return undefined;
    return { answer: { status, headers, body: buf.subarray(start, start + length) }, length: start + length };
  }
  return undefined; // framed by the close: see the "end" handler
}

/** A request head: request line, then `headers` ([name, value] pairs or "raw line" strings), CRLFs. */
export function requestHead(method, target, headers) {
  const lines = [`${method} ${target} HTTP/1.1`];
  for (const h of headers) lines.push(typeof h === "string" ? h : `${h[0]}: ${h[1]}`);
  return lines.join("\r\n") + "\r\n\r\n";
}
