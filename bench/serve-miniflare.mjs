// Serves Isogate, the pass-through worker and the peer from one workerd behind Miniflare's
// HTTP server (its entry worker routes on the Host header), as the e2e tests run Isogate.
// Run as a child process (so that it can be pinned with taskset); configuration comes as JSON
// in argv[2]: { port, originUrl, isogateSettings, peerBundle, persistDir?, workers?, migrate? }. Prints one JSON line
// { ready: true } once migrations are applied, and disposes Miniflare on SIGTERM.
import path from "node:path";
import { Miniflare } from "miniflare";
import { ROOT } from "./lib/util.mjs";
import { migrationStatements } from "./lib/setup.mjs";
import { COMPATIBILITY_DATE, peerSettings } from "./lib/workerd.mjs";

const { port, originUrl, isogateSettings, peerBundle, persistDir, workers = ["isogate", "pass", "peer"], migrate = true } = JSON.parse(process.argv[2]);
const modulesRules = [
  { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
  { type: "CompiledWasm", include: ["**/*.wasm"] },
];
const all = {
  // First: the fallback for hosts no route names.
  isogate: {
    name: "isogate", modules: true, modulesRules, compatibilityDate: COMPATIBILITY_DATE,
    scriptPath: path.join(ROOT, "workers/build/index.js"), modulesRoot: path.join(ROOT, "workers/build"),
    d1Databases: ["DB"], bindings: isogateSettings,
    routes: ["bench.localhost/*", "*.bench.localhost/*"],
  },
  pass: {
    name: "pass", modules: true, modulesRules, compatibilityDate: COMPATIBILITY_DATE,
    scriptPath: path.join(ROOT, "bench/workers/passthrough.mjs"), modulesRoot: path.join(ROOT, "bench/workers"),
    bindings: { ORIGIN_URL: originUrl }, routes: ["pass.localhost/*", "rewrite.localhost/*"],
  },
  peer: {
    name: "peer", modules: true, modulesRules, compatibilityDate: COMPATIBILITY_DATE,
    scriptPath: peerBundle, modulesRoot: path.dirname(peerBundle), kvNamespaces: ["OAUTH_KV"], bindings: peerSettings(originUrl),
    routes: ["localhost/*"],
  },
};
const mf = new Miniflare({
  host: "127.0.0.1",
  port,
  cf: false,
  ...(persistDir ? { d1Persist: path.join(persistDir, "d1"), kvPersist: path.join(persistDir, "kv") } : {}),
  workers: workers.map((w) => all[w]),
});
await mf.ready;
if (workers.includes("isogate") && migrate) {
  const db = await mf.getD1Database("DB", "isogate");
  for (const statement of migrationStatements()) await db.prepare(statement).run();
}
console.log(JSON.stringify({ ready: true }));
const stop = async () => { await mf.dispose(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
