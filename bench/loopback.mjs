// End-to-end figures on loopback, each a ratio against a baseline measured in the same run.
//
// Servers (origin, nginx, workerd under Miniflare, plain `workerd serve`) are pinned to CPU 0
// and the load generator (wrk, one thread) to CPU 1 when the machine has two CPUs or more.
// Every throughput scenario runs BENCH_ROUNDS times for BENCH_SECONDS each, interleaved (the
// order rotates every round), and the median is kept; latency runs use one connection.
//
// Paths (one origin behind all of them: bench/origin.mjs):
//   direct           wrk -> origin
//   nginx            wrk -> nginx proxy_pass (keep-alive upstream) -> origin
//   mf.*             wrk -> Miniflare's server (its entry worker) -> worker in workerd -> origin
//   wd.*             wrk -> `workerd serve` socket -> worker -> origin (bench/lib/workerd.mjs)
// Workers: pass (plain JS `fetch(request)`), rewrite (plain JS doing a proxy's request and
// response rewriting, no token check: bench/workers/passthrough.mjs), isogate (valid token),
// all_features (wd. only: Isogate forwarding to a service with a rate limit, a 10-rule policy,
// bearer upstream auth, the assertion and the audit line), isogate_invalid (a token with a bad signature: full check, then 401), healthz (Isogate's
// no-op route), token (Isogate's token endpoint, client_secret_post), token_bad_secret (the
// same with a wrong secret: parse, D1 read, hash, 401; no signing), peer
// (@cloudflare/workers-oauth-provider validating its bearer token, then the same pass-through).
//
// Usage: node bench/loopback.mjs [out.json]   (bench/run.sh calls it; needs wrk, nginx, a built
// worker in workers/build/). Env: BENCH_SECONDS (3), BENCH_ROUNDS (5), BENCH_LATENCY_SECONDS (3),
// BENCH_LATENCY_ROUNDS (3),
// BENCH_CONNECTIONS (16).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";
import { ROOT, freePort, request, median, waitForPort } from "./lib/util.mjs";
import { writeWorkerdConfig, startWorkerd, WORKERD } from "./lib/workerd.mjs";
import { profileWhile } from "./lib/profile.mjs";
import { runWrk, summarizeRounds } from "./lib/wrk.mjs";
import { PIN, SERVER_CPU, LOAD_CPU, hasCommand, spawnPinned, stopChild, waitForJson, check } from "./lib/proc.mjs";
import { isogateSettings, setupIsogate, setupAllFeatures, setupPeer, migrationStatements, ISOGATE_DOMAIN, SERVICE_HOST, PEER_HOST, PASS_HOST, REWRITE_HOST, ALL_FEATURES_HOST, ALL_FEATURES_PATH } from "./lib/setup.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LATENCY_ROUNDS = Number(process.env.BENCH_LATENCY_ROUNDS ?? 3);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const COLD_REPEATS = Number(process.env.BENCH_COLD_REPEATS ?? 5);
// For quick iterations while optimizing (never used by bench/run.sh's report): only the
// scenarios whose id matches BENCH_ONLY (a regular expression), and no cold-start runs with
// BENCH_COLD_REPEATS=0.
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;
const outPath = process.argv[2] ?? path.join(ROOT, "bench/results/loopback.json");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "isogate-bench-"));
const children = [];
const log = (...a) => console.error("[loopback]", ...a);
const spawnServer = (cmd, args, opts) => spawnPinned(children, cmd, args, opts);

function buildPeer() {
  const out = path.join(tmp, "peer", "peer.js");
  execFileSync(path.join(ROOT, "node_modules/.bin/esbuild"), [
    path.join(ROOT, "bench/workers/peer.mjs"), "--bundle", "--format=esm", "--platform=browser",
    "--conditions=workerd,worker", "--external:cloudflare:*", `--outfile=${out}`, "--log-level=warning",
  ], { stdio: "inherit" });
  return out;
}

async function startNginx(originPort) {
  const dir = path.join(tmp, "nginx");
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream origin { server 127.0.0.1:${originPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
  fs.writeFileSync(path.join(dir, "nginx.conf"), conf);
  const nginx = hasCommand("nginx") ? "nginx" : "/usr/sbin/nginx";
  const child = spawnServer(nginx, ["-e", path.join(dir, "error.log"), "-p", dir, "-c", path.join(dir, "nginx.conf")]);
  await Promise.race([waitForPort(port, 10_000), child.exited.then((c) => { throw new Error(`nginx exited ${c}: ${child.output()}`); })]);
  return { child, port };
}

/** One wrk run of a scenario from the load CPU (bench/lib/wrk.mjs); warns about a suspect round. */
async function wrk(s, { seconds, connections }) {
  const r = await runWrk(s, { seconds, connections, cpu: LOAD_CPU });
  if (r.flags.length) log(`warning: ${s.id}: ${r.flags.join("; ")} (${r.requests} requests)`);
  return r;
}

async function main() {
  const started = Date.now();
  const peerBundle = buildPeer();
  const settings = isogateSettings();

  // Origin and nginx.
  const originChild = spawnServer("node", [path.join(ROOT, "bench/origin.mjs"), "0"]);
  const originPort = (await waitForJson(originChild, "port")).port;
  const originUrl = `http://127.0.0.1:${originPort}`;
  const nginx = await startNginx(originPort);

  // Miniflare (one workerd: Isogate, pass-through, peer), D1 persisted for the cold-start runs.
  const mfPort = await freePort();
  const mfPersist = path.join(tmp, "miniflare-state");
  const mfConfig = { port: mfPort, originUrl, isogateSettings: settings, peerBundle, persistDir: mfPersist };
  const mfLog = path.join(path.dirname(outPath), "miniflare.log");
  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  fs.rmSync(mfLog, { force: true });
  const mf = spawnServer("node", [path.join(ROOT, "bench/serve-miniflare.mjs"), JSON.stringify(mfConfig)], { logFile: mfLog });
  await waitForJson(mf, "ready");
  const mfIso = await setupIsogate(mfPort, settings, originUrl);
  const mfPeer = await setupPeer(mfPort);

  // Plain workerd serve (same three workers, one socket each; D1 via the d1-api module).
  const wdDir = path.join(tmp, "workerd");
  const wdPorts = { isogate: await freePort(), d1: await freePort(), pass: await freePort(), peer: await freePort() };
  const wdConfig = writeWorkerdConfig({ dir: wdDir, workers: ["isogate", "pass", "peer"], ports: wdPorts, originUrl, isogateSettings: settings, peerBundle });
  let wd = await startWorkerd(wdConfig, { cpu: SERVER_CPU, port: wdPorts.isogate });
  const mig = await request(wdPorts.d1, { method: "POST", path: "/execute", headers: { "content-type": "application/json" }, body: JSON.stringify(migrationStatements().map((sql) => ({ sql, params: [] }))) });
  if (mig.status !== 200 || !mig.body.includes('"success":true')) throw new Error(`workerd: migrations: ${mig.status} ${mig.body}`);
  const wdIso = await setupIsogate(wdPorts.isogate, settings, originUrl);
  await setupAllFeatures(wdPorts.isogate, settings, originUrl);
  const wdPeer = await setupPeer(wdPorts.peer);
  const d1Statements = async () => (await request(wdPorts.d1, { path: "/stats" })).json.statements;

  // A token with a bad signature: the last signature character changed.
  const tamper = (t) => t.slice(0, -2) + (t.at(-2) === "A" ? "B" : "A") + t.at(-1);
  const bearer = (t) => ({ authorization: `Bearer ${t}` });
  const scenarios = [
    { id: "direct", port: () => originPort, path: "/anything", expect: 200, forwards: true },
    { id: "nginx", port: () => nginx.port, path: "/anything", expect: 200, forwards: true },
  ];
  const paths = [
    { prefix: "mf.", portOf: () => () => mfPort, iso: mfIso, peer: mfPeer },
    { prefix: "wd.", portOf: (w) => () => wdPorts[w], iso: wdIso, peer: wdPeer },
  ];
  for (const { prefix, portOf, iso, peer } of paths) {
    scenarios.push(
      { id: `${prefix}pass`, port: portOf("pass"), host: PASS_HOST, path: "/anything", expect: 200, forwards: true },
      { id: `${prefix}rewrite`, port: portOf("pass"), host: REWRITE_HOST, path: "/anything?x=1", headers: bearer(iso.token), expect: 200, forwards: true },
      { id: `${prefix}isogate`, port: portOf("isogate"), host: SERVICE_HOST, path: "/anything?x=1", headers: bearer(iso.token), expect: 200, forwards: true },
      // Issue #14's budget: every per-request feature of a service on (bench/lib/setup.mjs),
      // on the lean path only (one more scenario behind Miniflare would cost the run 16 s).
      ...(prefix === "wd." ? [{ id: `${prefix}all_features`, port: portOf("isogate"), host: ALL_FEATURES_HOST, path: ALL_FEATURES_PATH, headers: bearer(iso.token), expect: 200, forwards: true }] : []),
      { id: `${prefix}isogate_invalid`, port: portOf("isogate"), host: SERVICE_HOST, path: "/anything?x=1", headers: bearer(tamper(iso.token)), expect: 401 },
      { id: `${prefix}healthz`, port: portOf("isogate"), host: ISOGATE_DOMAIN, path: "/healthz", expect: 200 },
      { id: `${prefix}token`, port: portOf("isogate"), host: ISOGATE_DOMAIN, path: "/oauth2/token", method: "POST", body: iso.tokenForm, expect: 200 },
      { id: `${prefix}token_bad_secret`, port: portOf("isogate"), host: ISOGATE_DOMAIN, path: "/oauth2/token", method: "POST", body: iso.badSecretForm, expect: 401 },
      { id: `${prefix}peer`, port: portOf("peer"), host: PEER_HOST, path: "/api/anything", headers: bearer(peer.token), expect: 200, forwards: true },
    );
  }
  if (ONLY) scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => ONLY.test(s.id)));
  for (const s of scenarios) await check(s);
  log(`set-up done in ${((Date.now() - started) / 1000).toFixed(1)} s; pinning: ${PIN ? "servers on CPU 0, wrk on CPU 1" : "none"}`);

  if (process.env.BENCH_PROFILE) {
    const s = scenarios.find((x) => x.id === process.env.BENCH_PROFILE);
    for (let i = 0; i < 2; i++) await wrk(s, { seconds: 1, connections: CONNECTIONS });
    const worker = s.id.includes("pass") ? "pass" : s.id.includes("peer") ? "peer" : "isogate";
    const out = path.join(ROOT, `bench/results/${s.id}.cpuprofile`);
    const { total, rows } = await profileWhile(Number(process.env.BENCH_INSPECTOR_PORT), worker, () => wrk(s, { seconds: SECONDS, connections: CONNECTIONS }), out);
    console.log(`${total} samples; written ${out}\n${rows.join("\n")}`);
    return;
  }

  // Warm-up (JIT, connection pools, caches), then interleaved rounds.
  for (const s of scenarios) await wrk(s, { seconds: 1, connections: CONNECTIONS });
  const runs = Object.fromEntries(scenarios.map((s) => [s.id, []]));
  const d1 = { requests: 0, statements: 0, token_requests: 0, token_statements: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const order = scenarios.map((_, i) => scenarios[(i + round * 5) % scenarios.length]);
    for (const s of order) {
      const before = s.id.startsWith("wd.isogate") || s.id.startsWith("wd.token") ? await d1Statements() : 0;
      const r = await wrk(s, { seconds: SECONDS, connections: CONNECTIONS });
      if (s.id === "wd.isogate") { d1.requests += r.requests; d1.statements += (await d1Statements()) - before; }
      if (s.id === "wd.token") { d1.token_requests += r.requests; d1.token_statements += (await d1Statements()) - before; }
      runs[s.id].push(r);
      log(`round ${round + 1}/${ROUNDS} ${s.id.padEnd(20)} ${Math.round(r.rps).toString().padStart(6)} req/s${r.flags.length ? `  FLAGGED: ${r.flags.join("; ")}` : ""}`);
    }
  }

  // Latency with one connection: service time, no queueing.
  const latencyIds = ["direct", "nginx", "mf.pass", "mf.rewrite", "mf.isogate", "mf.peer", "wd.pass", "wd.rewrite", "wd.isogate", "wd.peer"].filter((id) => scenarios.some((s) => s.id === id));
  const latencyRuns = Object.fromEntries(latencyIds.map((id) => [id, []]));
  for (let round = 0; round < LATENCY_ROUNDS; round++) {
    for (const id of latencyIds) {
      const r = await wrk(scenarios.find((s) => s.id === id), { seconds: LATENCY_SECONDS, connections: 1 });
      latencyRuns[id].push(r);
    }
  }
  log("latency runs done");

  // workerd serve's own output, for reading a flagged round (Miniflare's is streamed to
  // bench/results/miniflare.log as it comes).
  fs.copyFileSync(wd.logFile, path.join(path.dirname(outPath), "workerd.log"));
  await stopChild(mf);
  await wd.stop();

  const coldstart = COLD_REPEATS === 0 ? null : await coldStarts({ settings, originUrl, wdIso, mfIso, mfConfig, peerBundle });

  await stopChild(nginx.child);
  await stopChild(originChild);

  const summarize = summarizeRounds;
  const result = {
    date: new Date().toISOString(),
    config: { seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, latency_seconds: LATENCY_SECONDS, latency_rounds: LATENCY_ROUNDS, pinned: PIN, workerd: execFileSync(WORKERD, ["--version"], { encoding: "utf8" }).trim(), nginx: nginxVersion(), wrk: "wrk -t1" },
    throughput: Object.fromEntries(Object.entries(runs).map(([id, rs]) => [id, summarize(rs)])),
    latency: Object.fromEntries(Object.entries(latencyRuns).map(([id, rs]) => [id, summarize(rs)])),
    d1: { ...d1, statements_per_request: d1.requests ? d1.statements / d1.requests : null, statements_per_token: d1.token_requests ? d1.token_statements / d1.token_requests : null },
    coldstart,
    seconds_total: (Date.now() - started) / 1000,
  };
  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  fs.writeFileSync(outPath, JSON.stringify(result, null, 2) + "\n");
  log(`written ${outPath} (${result.seconds_total.toFixed(0)} s)`);
}

function nginxVersion() {
  try { return execFileSync("sh", ["-c", "nginx -v 2>&1 || /usr/sbin/nginx -v 2>&1"], { encoding: "utf8" }).trim(); } catch { return "nginx"; }
}

/** Polls until `fn()` resolves truthy; resolves the time it took since `t0` (ms). */
async function firstSuccess(t0, fn, timeoutMs = 30_000) {
  for (;;) {
    try { if (await fn()) return Number(process.hrtime.bigint() - t0) / 1e6; } catch { /* not up yet */ }
    if (Number(process.hrtime.bigint() - t0) / 1e6 > timeoutMs) throw new Error("cold start: no successful response in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Cold start: from spawning the runtime to the first successful proxied response (a 200 from the
 * origin through the worker), with the D1 state of the main run (persisted), so the first
 * request also pays the cache-filling D1 reads. Interleaved: Isogate, then the pass-through.
 * Plus wasm instantiation of Isogate's module inside workerd (a probe worker, mean of 100).
 */
async function coldStarts({ settings, originUrl, wdIso, mfIso, mfConfig, peerBundle }) {
  const out = { wd: { isogate: [], pass: [] }, mf: { isogate: [], pass: [] } };
  const proxied = (port, host, headers) => async () => {
    const r = await request(port, { host, path: "/anything", headers });
    return r.status === 200 && r.body.includes("isogate-bench");
  };
  for (let i = 0; i < COLD_REPEATS; i++) {
    for (const w of ["isogate", "pass"]) {
      const ports = { isogate: await freePort(), d1: await freePort(), pass: await freePort() };
      const config = writeWorkerdConfig({ dir: path.join(tmp, "workerd"), workers: [w], ports, originUrl, isogateSettings: settings, peerBundle });
      const t0 = process.hrtime.bigint();
      const child = SERVER_CPU === undefined ? spawn(WORKERD, ["serve", "--experimental", config], { stdio: "ignore" })
        : spawn("taskset", ["-c", String(SERVER_CPU), WORKERD, "serve", "--experimental", config], { stdio: "ignore" });
      const exited = new Promise((r) => child.once("exit", r));
      const ms = await firstSuccess(t0, w === "isogate"
        ? proxied(ports.isogate, SERVICE_HOST, { authorization: `Bearer ${wdIso.token}` })
        : proxied(ports.pass, PASS_HOST, {}));
      out.wd[w].push(ms);
      child.kill("SIGTERM");
      await exited;
    }
  }
  // Miniflare: fewer repeats (each is a Node process plus Miniflare's own set-up).
  for (let i = 0; i < Math.min(3, COLD_REPEATS); i++) {
    for (const w of ["isogate", "pass"]) {
      const port = await freePort();
      const cfg = { ...mfConfig, port, workers: [w], migrate: false };
      const t0 = process.hrtime.bigint();
      const child = spawnServer("node", [path.join(ROOT, "bench/serve-miniflare.mjs"), JSON.stringify(cfg)]);
      const ms = await firstSuccess(t0, w === "isogate"
        ? proxied(port, SERVICE_HOST, { authorization: `Bearer ${mfIso.token}` })
        : proxied(port, PASS_HOST, {}), 60_000);
      out.mf[w].push(ms);
      await stopChild(child);
    }
  }
  // wasm instantiation inside workerd.
  const probeDir = path.join(tmp, "probe");
  fs.mkdirSync(probeDir, { recursive: true });
  fs.copyFileSync(path.join(ROOT, "workers/build/index_bg.wasm"), path.join(probeDir, "index_bg.wasm"));
  fs.copyFileSync(path.join(ROOT, "bench/workers/instantiate-probe.mjs"), path.join(probeDir, "probe.mjs"));
  const probePort = await freePort();
  fs.writeFileSync(path.join(probeDir, "config.capnp"), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (services = [(name = "probe", worker = .probe)], sockets = [(name = "probe", address = "127.0.0.1:${probePort}", http = (), service = "probe")]);
const probe :Workerd.Worker = (modules = [(name = "probe.mjs", esModule = embed "probe.mjs"), (name = "index_bg.wasm", wasm = embed "index_bg.wasm")], compatibilityDate = "2025-09-01");
`);
  const probe = await startWorkerd(path.join(probeDir, "config.capnp"), { cpu: SERVER_CPU, port: probePort });
  const inst = [];
  const webcryptoVerify = [];
  for (let i = 0; i < 5; i++) {
    inst.push((await request(probePort, { path: "/instantiate?n=100" })).json.instantiate_ms);
    webcryptoVerify.push((await request(probePort, { path: "/ed25519?n=500" })).json.verify_ms);
  }
  await probe.stop();
  const med = (xs) => (xs.length ? median(xs) : null);
  return {
    wd_isogate_ms: med(out.wd.isogate), wd_pass_ms: med(out.wd.pass),
    mf_isogate_ms: med(out.mf.isogate), mf_pass_ms: med(out.mf.pass),
    runs: out,
    wasm_instantiate_ms: median(inst),
    wasm_instantiate_runs: inst,
    webcrypto_ed25519_verify_ms: median(webcryptoVerify),
  };
}

try {
  await main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  for (const c of children) await stopChild(c).catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
}
