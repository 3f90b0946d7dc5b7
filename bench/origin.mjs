// The origin behind every path: a minimal Node HTTP server answering every request with the
// same small JSON body, keep-alive. Minimal so that it is not the bottleneck of the slower
// paths, and the same for all of them. Usage: node bench/origin.mjs [port] (prints the port).
import http from "node:http";

const BODY = Buffer.from(JSON.stringify({ ok: true, origin: "isogate-bench", note: "a small fixed response body" }) + "\n");

export function startBenchOrigin(port = 0) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": BODY.length });
      res.end(BODY);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startBenchOrigin(Number(process.argv[2] ?? 0));
  console.log(JSON.stringify({ port: server.address().port }));
}
