// CPU profile of one scenario inside `workerd serve`, through its V8 inspector (Chrome DevTools
// protocol): where a worker's time goes, wasm functions included. A tool for optimizing, not
// part of the report: `BENCH_PROFILE=wd.isogate node bench/loopback.mjs` (workerd is then started
// with --inspector-addr) prints the functions with the most self time and writes the
// .cpuprofile (open it in Chrome DevTools).
import fs from "node:fs";
import { createRequire } from "node:module";
import { request } from "./util.mjs";

const require = createRequire(import.meta.url);
const WebSocket = require("ws");

async function inspectorSocket(port, name) {
  const targets = (await request(port, { path: "/json/list" })).json;
  const target = targets.find((t) => t.title?.includes(name) || t.id?.includes(name)) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  let id = 0;
  const pending = new Map();
  ws.on("message", (m) => {
    const msg = JSON.parse(m);
    if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
  });
  const send = (method, params = {}) => new Promise((resolve) => { const i = ++id; pending.set(i, resolve); ws.send(JSON.stringify({ id: i, method, params })); });
  return { send, close: () => ws.close(), targets };
}

/** Profiles `load()` (a promise) in the worker named `worker`; returns the top self-time rows. */
export async function profileWhile(inspectorPort, worker, load, outFile) {
  const cdp = await inspectorSocket(inspectorPort, worker);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
  await cdp.send("Profiler.start");
  await load();
  const { result } = await cdp.send("Profiler.stop");
  cdp.close();
  const profile = result.profile;
  fs.writeFileSync(outFile, JSON.stringify(profile));
  const self = new Map();
  const counts = new Map();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  let total = 0;
  for (const node of profile.nodes) {
    const n = counts.get(node.id) ?? 0;
    total += n;
    const f = node.callFrame;
    const key = `${f.functionName || "(anonymous)"} ${f.url ? f.url.split("/").pop() : ""}:${f.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + n);
  }
  return { total, rows: [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, n]) => `${(100 * n / total).toFixed(1).padStart(5)}%  ${k}`) };
}
