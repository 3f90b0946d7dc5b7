// Spin on loopback: Isogate's Spin component in the project's Spin host (tests/spin-host), by the
// same method as bench/loopback.mjs for Workers, each figure a ratio against a baseline from
// the same run.
//
// The host is built optimized (`cargo build -p isogate-spin-host --profile bench-host`: Spin is
// a release build) and gives every request a fresh instance, as Spin does for a wasi:http 0.2
// component. Servers (origin, hosts) are pinned to CPU 0, wrk (one thread) to CPU 1; every
// scenario runs BENCH_ROUNDS rounds of BENCH_SECONDS, interleaved (the order rotates).
//
// Scenarios (one origin behind all of them: bench/origin.mjs):
//   direct                 wrk -> origin
//   spin.pass              a minimal pass-through component (bench/spin-passthrough): the
//                          incoming request sent to the origin, its answer streamed back: the floor
//   spin.isogate           Isogate forwarding with a valid token
//   spin.all_features      the same to a service with every per-request feature on (a rate
//                          limit, a 10-rule policy, bearer upstream auth, the assertion, the
//                          audit line: bench/lib/setup.mjs), issue #14's budget
//   spin.isogate_invalid   Isogate rejecting a token with a bad signature (full check, 401)
//   spin.healthz           Isogate's no-op route (GET /healthz)
//   spin.token             Isogate's token endpoint (client_secret_post)
//   spin.token_bad_secret  the same with a wrong secret (parse, SQLite read, hash, 401; no signing)
// Measured by the host (--stats-listen): SQLite statements (by text) and key-value calls per
// request of each scenario, and the time of each instantiation. Cold start: from spawning the
// host to the first proxied 200 (Isogate with its SQLite state on disk and a valid token).
//
// Usage: node bench/spin.mjs [out.json]  (bench/run.sh calls it after building; needs wrk).
// Env: BENCH_SECONDS (3), BENCH_ROUNDS (5), BENCH_LATENCY_SECONDS (3), BENCH_LATENCY_ROUNDS (3),
// BENCH_CONNECTIONS (16), BENCH_COLD_REPEATS (5), BENCH_ONLY (a regular expression over ids),
// BENCH_SPIN_HOST (the host binary; default target/bench-host/isogate-spin-host).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, freePort, request, median } from "./lib/util.mjs";
import { runWrk, summarizeRounds } from "./lib/wrk.mjs";
import { PIN, SERVER_CPU, LOAD_CPU, spawnPinned, stopChild, waitForJson, waitForLine, check } from "./lib/proc.mjs";
import { isogateSettings, setupIsogate, setupAllFeatures, ISOGATE_DOMAIN, SERVICE_HOST, PASS_HOST, ALL_FEATURES_HOST, ALL_FEATURES_PATH } from "./lib/setup.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LATENCY_ROUNDS = Number(process.env.BENCH_LATENCY_ROUNDS ?? 3);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const COLD_REPEATS = Number(process.env.BENCH_COLD_REPEATS ?? 5);
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;
const HOST = process.env.BENCH_SPIN_HOST ?? path.join(ROOT, "target/bench-host/isogate-spin-host");
const ISOGATE_WASM = path.join(ROOT, "target/wasm32-wasip2/release/isogate_spin.wasm");
const PASS_WASM = path.join(ROOT, "target/wasm32-wasip2/release/isogate_spin_passthrough.wasm");
const outPath = process.argv[2] ?? path.join(ROOT, "bench/results/spin.json");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "isogate-bench-spin-"));
const children = [];
const log = (...a) => console.error("[spin]", ...a);

/**
 * Starts the Spin host on `component`; resolves { child, port, statsPort, compileMs, stats() }.
 * `variables` are Spin variables; state (SQLite, key-value) in files under `dir` when given.
 */
async function startHost(component, { variables, dir, statsPort, logFile }) {
  const port = await freePort();
  const args = ["--component", component, "--listen", `127.0.0.1:${port}`, "--allowed-outbound-host", "http://127.0.0.1:*"];
  if (dir) args.push("--sqlite-file", path.join(dir, "db.sqlite"), "--kv-file", path.join(dir, "kv.sqlite"));
  if (statsPort) args.push("--stats-listen", `127.0.0.1:${statsPort}`);
  for (const [k, v] of Object.entries(variables)) args.push("--variable", `${k.toLowerCase()}=${v}`);
  const child = spawnPinned(children, HOST, args, { logFile });
  await waitForLine(child, "listening on");
  const compileMs = compiledMs(child);
  const stats = statsPort ? async () => (await request(statsPort, { path: "/" })).json : null;
  return { child, port, compileMs, stats };
}

/** How long the host took to compile the component (its start-up line `compiled PATH in N ms`). */
function compiledMs(child) {
  const m = child.output().match(/compiled \S+ in ([\d.]+) ms/); // also "loaded compiled"
  return m ? Number(m[1]) : null;
}

/** One wrk run of a scenario from the load CPU; warns about a suspect round. */
async function wrk(s, { seconds, connections }) {
  const r = await runWrk(s, { seconds, connections, cpu: LOAD_CPU });
  if (r.flags.length) log(`warning: ${s.id}: ${r.flags.join("; ")} (${r.requests} requests)`);
  return r;
}

/** What the host counted between two readings (its totals since start). */
function delta(after, before) {
  const d = {};
  for (const k of ["requests", "instantiations", "instantiate_ns", "sqlite_statements", "kv_ops"]) d[k] = after[k] - before[k];
  d.sqlite_by_statement = {};
  for (const [sql, n] of Object.entries(after.sqlite_by_statement)) {
    const m = n - (before.sqlite_by_statement[sql] ?? 0);
    if (m) d.sqlite_by_statement[sql] = m;
  }
  return d;
}

function addTo(total, d) {
  for (const k of ["requests", "instantiations", "instantiate_ns", "sqlite_statements", "kv_ops"]) total[k] = (total[k] ?? 0) + d[k];
  total.sqlite_by_statement ??= {};
  for (const [sql, n] of Object.entries(d.sqlite_by_statement)) total.sqlite_by_statement[sql] = (total.sqlite_by_statement[sql] ?? 0) + n;
}

/** Per request: statements, key-value calls, mean instantiation time (µs). */
function perRequest(t) {
  if (!t?.requests) return null;
  return {
    requests: t.requests,
    sqlite_statements: t.sqlite_statements / t.requests,
    kv_ops: t.kv_ops / t.requests,
    instantiate_us: t.instantiations ? t.instantiate_ns / t.instantiations / 1000 : null,
    sqlite_by_statement: Object.fromEntries(Object.entries(t.sqlite_by_statement).map(([sql, n]) => [sql, n / t.requests])),
  };
}

async function main() {
  const started = Date.now();
  for (const f of [HOST, ISOGATE_WASM, PASS_WASM]) if (!fs.existsSync(f)) throw new Error(`${f} is not built (bench/run.sh builds it)`);
  const settings = isogateSettings();

  const originChild = spawnPinned(children, "node", [path.join(ROOT, "bench/origin.mjs"), "0"]);
  const originPort = (await waitForJson(originChild, "port")).port;
  const originUrl = `http://127.0.0.1:${originPort}`;

  const isoDir = path.join(tmp, "isogate-state");
  fs.mkdirSync(isoDir);
  // The hosts' output (the component's audit lines and errors) in bench/results/spin-host.log.
  const hostLog = path.join(path.dirname(outPath), "spin-host.log");
  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  fs.rmSync(hostLog, { force: true });
  const iso = await startHost(ISOGATE_WASM, { variables: settings, dir: isoDir, statsPort: await freePort(), logFile: hostLog });
  const pass = await startHost(PASS_WASM, { variables: { origin: `127.0.0.1:${originPort}` }, statsPort: await freePort(), logFile: hostLog });
  const setup = await setupIsogate(iso.port, settings, originUrl);
  await setupAllFeatures(iso.port, settings, originUrl);

  const tamper = (t) => t.slice(0, -2) + (t.at(-2) === "A" ? "B" : "A") + t.at(-1);
  const bearer = (t) => ({ authorization: `Bearer ${t}` });
  const isoPort = () => iso.port;
  let scenarios = [
    { id: "direct", port: () => originPort, path: "/anything", expect: 200, forwards: true },
    { id: "spin.pass", port: () => pass.port, host: PASS_HOST, path: "/anything", expect: 200, forwards: true, host_stats: pass },
    { id: "spin.isogate", port: isoPort, host: SERVICE_HOST, path: "/anything?x=1", headers: bearer(setup.token), expect: 200, forwards: true, host_stats: iso },
    { id: "spin.all_features", port: isoPort, host: ALL_FEATURES_HOST, path: ALL_FEATURES_PATH, headers: bearer(setup.token), expect: 200, forwards: true, host_stats: iso },
    { id: "spin.isogate_invalid", port: isoPort, host: SERVICE_HOST, path: "/anything?x=1", headers: bearer(tamper(setup.token)), expect: 401, host_stats: iso },
    { id: "spin.healthz", port: isoPort, host: ISOGATE_DOMAIN, path: "/healthz", expect: 200, host_stats: iso },
    { id: "spin.token", port: isoPort, host: ISOGATE_DOMAIN, path: "/oauth2/token", method: "POST", body: setup.tokenForm, expect: 200, host_stats: iso },
    { id: "spin.token_bad_secret", port: isoPort, host: ISOGATE_DOMAIN, path: "/oauth2/token", method: "POST", body: setup.badSecretForm, expect: 401, host_stats: iso },
  ];
  if (ONLY) scenarios = scenarios.filter((s) => ONLY.test(s.id));
  for (const s of scenarios) await check(s);
  log(`set-up done in ${((Date.now() - started) / 1000).toFixed(1)} s; pinning: ${PIN ? "servers on CPU 0, wrk on CPU 1" : "none"}`);

  /** A wrk run with the host's counts around it (added to `into[s.id]`). */
  const counted = async (s, opts, into) => {
    const before = s.host_stats ? await s.host_stats.stats() : null;
    const r = await wrk(s, opts);
    if (before) addTo((into[s.id] ??= {}), delta(await s.host_stats.stats(), before));
    return r;
  };

  for (const s of scenarios) await wrk(s, { seconds: 1, connections: CONNECTIONS });
  const runs = Object.fromEntries(scenarios.map((s) => [s.id, []]));
  const hostCounts = {};
  for (let round = 0; round < ROUNDS; round++) {
    const order = scenarios.map((_, i) => scenarios[(i + round * 3) % scenarios.length]);
    for (const s of order) {
      const r = await counted(s, { seconds: SECONDS, connections: CONNECTIONS }, hostCounts);
      runs[s.id].push(r);
      log(`round ${round + 1}/${ROUNDS} ${s.id.padEnd(22)} ${Math.round(r.rps).toString().padStart(6)} req/s${r.flags.length ? `  FLAGGED: ${r.flags.join("; ")}` : ""}`);
    }
  }

  // Latency with one connection (service time, no queueing); instantiation timed here too,
  // with the CPU not saturated.
  const latencyIds = ["direct", "spin.pass", "spin.isogate", "spin.healthz"].filter((id) => scenarios.some((s) => s.id === id));
  const latencyRuns = Object.fromEntries(latencyIds.map((id) => [id, []]));
  const latencyCounts = {};
  for (let round = 0; round < LATENCY_ROUNDS; round++) {
    for (const id of latencyIds) latencyRuns[id].push(await counted(scenarios.find((s) => s.id === id), { seconds: LATENCY_SECONDS, connections: 1 }, latencyCounts));
  }
  log("latency runs done");
  await stopChild(iso.child);
  await stopChild(pass.child);

  const coldstart = COLD_REPEATS === 0 ? null : await coldStarts({ settings, isoDir, originPort, token: setup.token });
  await stopChild(originChild);

  const result = {
    date: new Date().toISOString(),
    config: { seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, latency_seconds: LATENCY_SECONDS, latency_rounds: LATENCY_ROUNDS, pinned: PIN, host: path.relative(ROOT, HOST) },
    sizes: { isogate_wasm: fs.statSync(ISOGATE_WASM).size, pass_wasm: fs.statSync(PASS_WASM).size },
    compile_ms: { isogate: iso.compileMs, pass: pass.compileMs },
    throughput: Object.fromEntries(Object.entries(runs).map(([id, rs]) => [id, summarizeRounds(rs)])),
    latency: Object.fromEntries(Object.entries(latencyRuns).map(([id, rs]) => [id, summarizeRounds(rs)])),
    per_request: Object.fromEntries(Object.entries(hostCounts).map(([id, t]) => [id, perRequest(t)])),
    per_request_one_connection: Object.fromEntries(Object.entries(latencyCounts).map(([id, t]) => [id, perRequest(t)])),
    coldstart,
    seconds_total: (Date.now() - started) / 1000,
  };
  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  fs.writeFileSync(outPath, JSON.stringify(result, null, 2) + "\n");
  log(`written ${outPath} (${result.seconds_total.toFixed(0)} s)`);
}

/** Polls until `fn()` resolves truthy; resolves the time it took since `t0` (ms). */
async function firstSuccess(t0, fn, timeoutMs = 60_000) {
  for (;;) {
    try { if (await fn()) return Number(process.hrtime.bigint() - t0) / 1e6; } catch { /* not up yet */ }
    if (Number(process.hrtime.bigint() - t0) / 1e6 > timeoutMs) throw new Error("cold start: no successful response in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Cold start: from spawning the host to the first proxied 200 (the origin's body through the
 * component), Isogate with the SQLite state of the main run and a valid token, the
 * pass-through, and Isogate again with its compiled code cached, interleaved. The port is chosen beforehand, so the clock includes the host's
 * start, its compilation of the component and the first instantiation.
 */
async function coldStarts({ settings, isoDir, originPort, token }) {
  const out = { isogate: [], pass: [], isogate_cached: [], isogate_compile_ms: [], pass_compile_ms: [], isogate_cached_compile_ms: [] };
  // `isogate_cached`: the compiled code of an earlier start kept (--compile-cache), as
  // `spin up` keeps it; filled by the first such start, before the timed ones.
  const cache = path.join(tmp, "compile-cache");
  const proxied = (port, host, headers) => async () => {
    const r = await request(port, { host, path: "/anything", headers });
    return r.status === 200 && r.body.includes("isogate-bench");
  };
  for (let i = -1; i < COLD_REPEATS; i++) {
    for (const w of i < 0 ? ["isogate_cached"] : ["isogate", "pass", "isogate_cached"]) {
      const port = await freePort();
      const args = w !== "pass"
        ? ["--component", ISOGATE_WASM, "--sqlite-file", path.join(isoDir, "db.sqlite"), "--kv-file", path.join(isoDir, "kv.sqlite"),
          ...Object.entries(settings).flatMap(([k, v]) => ["--variable", `${k.toLowerCase()}=${v}`])]
        : ["--component", PASS_WASM, "--variable", `origin=127.0.0.1:${originPort}`];
      args.push("--listen", `127.0.0.1:${port}`, "--allowed-outbound-host", "http://127.0.0.1:*");
      if (w === "isogate_cached") args.push("--compile-cache", cache);
      const t0 = process.hrtime.bigint();
      const child = spawnPinned(children, HOST, args);
      const ms = await firstSuccess(t0, w !== "pass" ? proxied(port, SERVICE_HOST, { authorization: `Bearer ${token}` }) : proxied(port, PASS_HOST, {}));
      const compile = compiledMs(child);
      await stopChild(child);
      if (i < 0) continue; // the priming start
      out[w].push(ms);
      if (compile !== null) out[`${w}_compile_ms`].push(compile);
    }
  }
  const med = (xs) => (xs.length ? median(xs) : null);
  return {
    isogate_ms: med(out.isogate), pass_ms: med(out.pass), isogate_cached_ms: med(out.isogate_cached),
    isogate_compile_ms: med(out.isogate_compile_ms), pass_compile_ms: med(out.pass_compile_ms), isogate_cached_load_ms: med(out.isogate_cached_compile_ms),
    runs: out,
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
