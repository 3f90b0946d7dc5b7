// Small helpers shared by the loopback harness.
import http from "node:http";
import net from "node:net";

// The same helpers as the end-to-end tests (a free loopback port, the repository root).
export { ROOT, freePort } from "../../tests/e2e/harness.mjs";

/** Resolves once 127.0.0.1:port accepts a connection (polls every 5 ms). */
export async function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One HTTP request to 127.0.0.1:port. Resolves { status, headers, body (string), json }. */
export function request(port, { method = "GET", host, path: p = "/", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: p, headers: { ...(host ? { host } : {}), ...headers }, agent: false, setHost: !host });
    req.on("error", reject);
    req.on("response", (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => {
        let json;
        try { json = JSON.parse(data); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: data, json });
      });
    });
    req.end(body);
  });
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
