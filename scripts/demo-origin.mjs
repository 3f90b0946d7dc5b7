// A demo origin (the "private service" behind the gateway), like httpbin's /anything:
//   any path      -> JSON echo of method, path, query, headers, and the body's length + sha256
//   /download?bytes=N[&seed=S] -> N deterministic bytes, streamed in 64 KiB chunks
//   /slow?ms=N    -> answers after N ms
//   WebSocket on any path (npm `ws`'s server) -> an echo: text as text, binary as binary; the
//                 text "headers" answers the handshake's headers as JSON, "close:CODE:REASON"
//                 makes the origin close with that code; it takes the first subprotocol offered
// Used by `scripts/dev.sh` and by the end-to-end tests. Listens on 127.0.0.1 only.
import http from "node:http";
import crypto from "node:crypto";
import { WebSocketServer } from "ws";

/** Deterministic pseudo-random bytes: block i is sha256(seed || i) repeated to 64 KiB. */
export function downloadChunk(seed, index, size) {
  const block = crypto.createHash("sha256").update(`${seed}:${index}`).digest();
  const out = Buffer.alloc(size);
  for (let o = 0; o < size; o += block.length) block.copy(out, o);
  return out;
}

export function expectedDownloadSha256(bytes, seed = "isogate") {
  const h = crypto.createHash("sha256");
  const CHUNK = 65536;
  for (let i = 0, sent = 0; sent < bytes; i++) {
    const n = Math.min(CHUNK, bytes - sent);
    h.update(downloadChunk(seed, i, n));
    sent += n;
  }
  return h.digest("hex");
}

/**
 * The request target's path and query. WHATWG's URL parser reads a target starting with "//"
 * as a host ("//%00/x" throws, "//x/y" loses "x"): those are split as sent instead.
 */
function parseTarget(target) {
  if (!target.startsWith("//")) return new URL(target, "http://origin");
  const q = target.indexOf("?");
  const pathname = q < 0 ? target : target.slice(0, q);
  const search = q < 0 ? "" : target.slice(q);
  return { pathname, search, searchParams: new URLSearchParams(search) };
}

export function startOrigin(port = 0, host = "127.0.0.1") {
  const server = http.createServer((req, res) => {
    // A client (the gateway) may go away mid-request, e.g. after a gateway timeout.
    handle(req, res).catch(() => res.destroy());
  });
  async function handle(req, res) {
    const url = parseTarget(req.url);
    if (url.pathname === "/download") {
      const bytes = Number(url.searchParams.get("bytes") ?? 0);
      const seed = url.searchParams.get("seed") ?? "isogate";
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(bytes) });
      const CHUNK = 65536;
      let i = 0, sent = 0;
      const pump = () => {
        while (sent < bytes) {
          const n = Math.min(CHUNK, bytes - sent);
          const ok = res.write(downloadChunk(seed, i++, n));
          sent += n;
          if (!ok) return res.once("drain", pump);
        }
        res.end();
      };
      return pump();
    }
    if (url.pathname === "/slow") {
      await new Promise((r) => setTimeout(r, Number(url.searchParams.get("ms") ?? 1000)));
    }
    const hash = crypto.createHash("sha256");
    let length = 0;
    for await (const chunk of req) {
      hash.update(chunk);
      length += chunk.length;
    }
    const body = JSON.stringify({
      method: req.method,
      path: url.pathname,
      query: url.search.slice(1),
      headers: req.headers,
      body: { length, sha256: hash.digest("hex") },
    }, null, 2);
    res.writeHead(200, { "content-type": "application/json", "x-origin": "demo" });
    res.end(body + "\n");
  }
  // Each WebSocket's handshake and how it ended: { url, headers, protocol, close: { code, reason } }.
  server.webSockets = [];
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => [...offered][0] ?? false });
  server.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head, (socketWs) => {
    const seen = { url: req.url, headers: req.headers, protocol: socketWs.protocol, close: undefined };
    server.webSockets.push(seen);
    socketWs.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString("utf8");
      if (text === "headers") return socketWs.send(JSON.stringify(req.headers));
      const close = /^close:(\d+):(.*)$/.exec(text);
      if (close) return socketWs.close(Number(close[1]), close[2]);
      socketWs.send(data, { binary: isBinary });
    });
    socketWs.on("close", (code, reason) => (seen.close = { code, reason: reason.toString("utf8") }));
    socketWs.on("error", () => {});
  }));
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] ?? 9000);
  const server = await startOrigin(port);
  console.log(`demo origin listening on http://127.0.0.1:${server.address().port}`);
}
