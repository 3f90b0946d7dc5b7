// Builds the benchmark report (markdown) from bench/results/{instructions,sizes,loopback,spin,run}.json:
// every figure next to its baseline from the same run, and each target of the issue with the
// measured value and whether it is met. Usage: node bench/report.mjs <out.md>
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { ROOT } from "./lib/util.mjs";

const results = path.join(ROOT, "bench/results");
const read = (name) => {
  const p = path.join(results, name);
  return fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, "utf8")) : undefined;
};
const ins = read("instructions.json");
const sizes = read("sizes.json");
const lb = read("loopback.json");
const sp = read("spin.json");
const run = read("run.json") ?? {};
const out = process.argv[2] ?? path.join(results, "latest.md");

const sh = (cmd) => { try { return execFileSync("sh", ["-c", cmd], { encoding: "utf8", cwd: ROOT }).trim(); } catch { return ""; } };
const cpu = (fs.readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/) ?? [])[1] ?? os.cpus()[0]?.model ?? "unknown";
// The commit measured: recorded by run.sh when the run started (the report can be rebuilt later).
const commit = run.commit ?? sh("git rev-parse --short HEAD") + (sh("git status --porcelain -- core workers spin tests/spin-host bench Cargo.toml") ? " (with uncommitted changes)" : "");

const n0 = (x) => Math.round(x).toLocaleString("en-US");
const r2 = (x) => (x === undefined || x === null || Number.isNaN(x) ? "—" : `${x.toFixed(2)}×`);
const ms = (us) => `${(us / 1000).toFixed(2)} ms`;
const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;
const status = (ok) => (ok ? "met" : "**missed**");

const lines = [];
const p = (...l) => lines.push(...l);
p(`# Isogate benchmark: latest run`, "");
p(`- **Date**: ${(lb?.date ?? new Date().toISOString()).replace("T", " ").slice(0, 16)} UTC`);
p(`- **Machine**: ${cpu}, \`nproc\` ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${os.release()}; load average before the run ${run.loadavg_before ?? "?"}, after ${run.loadavg_after ?? "?"}${run.shared ? ` (${run.shared})` : ""}`);
p(`- **Software**: ${sh("rustc --version")}, Node ${process.version}, workerd ${lb?.config.workerd ?? "?"}, ${lb?.config.nginx ?? "nginx"}, ${sh("wrk -v 2>&1 | head -1 | cut -d' ' -f1-2")}, ${sh("valgrind --version")}`);
p(`- **Commit**: ${commit}`);
p(`- **Command**: \`bash bench/run.sh\`${run.seconds ? `, ${Math.round(run.seconds)} s in all (${Object.entries(run.steps ?? {}).map(([k, v]) => `${k} ${Math.round(v)} s`).join(", ")})` : ""}`);
if (lb) p(`- **Loopback method**: wrk, 1 thread, ${lb.config.connections} connections, ${lb.config.rounds} interleaved rounds × ${lb.config.seconds} s per scenario; throughputs are medians over the rounds and ratios are medians of the per-round ratios; latency: 1 connection, ${lb.config.latency_rounds ?? lb.config.rounds} × ${lb.config.latency_seconds} s. ${lb.config.pinned ? "Servers (origin, nginx, workerd) pinned to CPU 0, wrk to CPU 1" : "No CPU pinning (fewer than 2 CPUs or no taskset)"}. Every figure is a ratio against a baseline from the same run.`);
p("");

const T = lb?.throughput ?? {};
const L = lb?.latency ?? {};
const rps = (id) => T[id]?.rps;
// A ratio is the median of the per-round ratios: both scenarios of a round ran within seconds
// of each other (the order rotates, neighbours stay neighbours), so the machine's drift over
// the run cancels out better than in a ratio of two medians.
const medianOf = (xs) => { const s = [...xs].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const ratioIn = (table) => (a, b) => {
  const ra = table[a]?.rps_runs, rb = table[b]?.rps_runs;
  const ma = table[a]?.rps, mb = table[b]?.rps;
  if (!ra || !rb || ra.length !== rb.length) return ma && mb ? ma / mb : undefined;
  return medianOf(ra.map((x, i) => x / rb[i]));
};
const ratio = ratioIn(T);
const signedUs = (x) => (x < 0 ? `−${(-x).toFixed(0)}` : `+${x.toFixed(0)}`);
const usPerReq = (id) => (rps(id) ? 1e6 / rps(id) : undefined);

// Errors are results: a round with socket errors, timeouts, unexpected statuses or a stall is
// shown as such next to the median that would otherwise hide it (bench/lib/wrk.mjs).
const runsCell = (t) => t.rps_runs.map((x, i) => (t.rounds?.[i]?.flags.length ? `**${x}⚠**` : String(x))).join(", ");
// The req/s cell: the median, marked when a round is flagged, and a round at 0 req/s said
// outright (the median of five rounds would hide one).
const rpsCell = (t) => `${n0(t.rps)}${t.flagged?.length ? " ⚠" : ""}${t.rps_runs.some((x) => x === 0) ? ` (${t.rps_runs.filter((x) => x === 0).length} round(s) at 0)` : ""}`;
// Per scenario, always: unexpected statuses (for a scenario expecting 200, its non-2xx), socket
// errors (connect, read, write) and timeouts over all rounds; then each flagged round with why
// and what else ran during it (bench/lib/machine.mjs).
const errorsCell = (t) => {
  if (!t.rounds) return "not counted";
  const totals = `${n0(t.unexpected)} / ${n0(t.socket_errors)} / ${n0(t.timeouts)} in ${n0(t.requests)} answers`;
  if (!t.flagged.length) return totals;
  return [totals, ...t.flagged.map((r) => `round ${r.round} (${r.started} UTC, ${n0(r.rps)} req/s): ${r.flags.join("; ")}`)].join("<br>");
};
const ERRORS_HEADER = "unexpected status / socket errors / timeouts; flagged rounds";
const flaggedNote = (table) => {
  const f = Object.entries(table).filter(([, t]) => t.flagged?.length);
  if (!f.length) return "No round had a socket error, a timeout, an unexpected status, a server restart or a stall.";
  return `**${f.reduce((a, [, t]) => a + t.flagged.length, 0)} flagged round(s)** (⚠ in *runs*; a stall is a round under half the median; each says what processes outside the bench used during it, averaged over the round, and any server restart): ${f.map(([id, t]) => `\`${id}\` ${t.flagged.length}`).join(", ")}. The medians include them; the servers' logs of the run are in \`bench/results/*.log\`.`;
};
// What processes outside the bench used during the throughput rounds of a table (CPUs).
const otherLoad = (table) => {
  const xs = Object.values(table).flatMap((t) => t.other_cpus ?? []).filter((x) => x !== null);
  return xs.length ? { median: medianOf(xs), max: Math.max(...xs) } : null;
};
const loadNote = (table) => {
  const o = otherLoad(table);
  if (!o) return "";
  const onServer = Object.values(table).flatMap((t) => t.other_on_server_cpu ?? []).filter((x) => x !== null);
  const server = onServer.length ? `, ${medianOf(onServer).toFixed(2)} of them on the servers' CPU (at most ${Math.min(1, Math.max(...onServer)).toFixed(2)})` : "";
  return ` During the rounds, processes outside the bench used ${o.median.toFixed(2)} CPUs of the ${os.cpus().length} (median over the rounds; at most ${o.max.toFixed(2)})${server}.`;
};

// ---- Targets
p("## Targets", "", "| target | measured | status |", "|---|---|---|");
if (lb) {
  const d1 = lb.d1;
  p(`| service hot path: no D1 query per request with warm caches | workerd serve: ${d1.statements} D1 statements in ${n0(d1.requests)} forwarded requests (${d1.statements_per_request.toFixed(4)} per request: the cache refills once per 5 s TTL); core: \`ops authorize_service\` asserts 0 storage reads | ${status(d1.statements_per_request < 0.01)} |`);
}
if (ins) {
  const v = ins.ops.validate_access_token.instructions / ins.ops.signature_check_only.instructions;
  p(`| validation ≤ 1.2× the instructions of the signature check alone | ${n0(ins.ops.validate_access_token.instructions)} / ${n0(ins.ops.signature_check_only.instructions)} = ${r2(v)} | ${status(v <= 1.2)} |`);
}
if (lb) {
  for (const [pre, name] of [["mf.", "Miniflare"], ["wd.", "workerd serve"]]) {
    const f = ratio(`${pre}isogate`, `${pre}pass`);
    p(`| forwarding throughput ≥ 0.85× the pass-through worker (${name}) | ${n0(rps(`${pre}isogate`))} / ${n0(rps(`${pre}pass`))} req/s = ${r2(f)} | ${status(f >= 0.85)} |`);
  }
  for (const [pre, name] of [["mf.", "Miniflare"], ["wd.", "workerd serve"]]) {
    const f = ratio(`${pre}isogate`, `${pre}rewrite`);
    p(`| (reference, not a target) forwarding throughput vs a plain-JS proxy doing the same rewriting without a token check (${name}) | ${n0(rps(`${pre}isogate`))} / ${n0(rps(`${pre}rewrite`))} req/s = ${r2(f)}; the JS rewrite itself is ${r2(ratio(`${pre}rewrite`, `${pre}pass`))} of the pass-through | — |`);
  }
  for (const [pre, name] of [["mf.", "Miniflare"], ["wd.", "workerd serve"]]) {
    const added = L[`${pre}isogate`].p50_us - L[`${pre}pass`].p50_us;
    p(`| p50 latency added over the pass-through ≤ 0.2 ms (${name}) | ${ms(L[`${pre}isogate`].p50_us)} − ${ms(L[`${pre}pass`].p50_us)} = ${ms(added)} | ${status(added <= 200)} |`);
  }
  p(`| report Isogate/direct next to nginx/direct | nginx/direct ${r2(ratio("nginx", "direct"))}; Isogate/direct ${r2(ratio("mf.isogate", "direct"))} (Miniflare), ${r2(ratio("wd.isogate", "direct"))} (workerd serve) | reported |`);
  for (const [pre, name] of [["mf.", "Miniflare"], ["wd.", "workerd serve"]]) {
    const t = ratio(`${pre}token`, `${pre}healthz`);
    p(`| token endpoint ≥ 50% of the no-op route's throughput (${name}) | ${n0(rps(`${pre}token`))} / ${n0(rps(`${pre}healthz`))} req/s = ${r2(t)} | ${status(t >= 0.5)} |`);
  }
  for (const [pre, name] of [["mf.", "Miniflare; the peer's KV is Miniflare's"], ["wd.", "workerd serve; the peer's KV in memory"]]) {
    const a = ratio(`${pre}isogate`, `${pre}peer`);
    p(`| ahead of workers-oauth-provider on the bearer-validation path (${name}) | Isogate ${n0(rps(`${pre}isogate`))} vs peer ${n0(rps(`${pre}peer`))} req/s = ${r2(a)} | ${status(a > 1)} |`);
  }
}
if (sp) {
  const S = sp.throughput;
  const f = ratioIn(S)("spin.isogate", "spin.pass");
  const per = sp.per_request["spin.isogate"];
  p(`| (reference, not a target) forwarding throughput vs the pass-through component (Spin test host) | ${n0(S["spin.isogate"].rps)} / ${n0(S["spin.pass"].rps)} req/s = ${r2(f)} | — |`);
  if (per) p(`| (reported) SQLite statements per forwarded request (Spin test host: a fresh instance per request, as Spin gives a wasi:http 0.2 component) | ${per.sqlite_statements.toFixed(2)} in ${n0(per.requests)} forwarded requests, counted by the host | reported |`);
}
// Issue #14's budget: every per-request feature of a service on.
const BUDGET = { reference: 57_000, factor: 1.5, throughput: 0.9 };
if (ins?.ops.authorize_service_all_features) {
  const a = ins.ops.authorize_service_all_features.instructions;
  p(`| hot path with every per-request feature on (rate limit, 10-rule policy, bearer upstream auth, cached assertion, audit line) ≤ 1.5× the 57 k instructions of \`authorize_service\` (CI: \`bench/instructions.sh --check\`) | \`authorize_service_all_features\` ${n0(a)} = ${r2(a / BUDGET.reference)} of 57,000 (the plain path is ${n0(ins.ops.authorize_service.instructions)} today) | ${status(a <= BUDGET.reference * BUDGET.factor)} |`);
}
if (lb && T["wd.all_features"]) {
  const f = ratio("wd.all_features", "wd.isogate");
  p(`| forwarding throughput with every per-request feature on ≥ 0.9× plain forwarding, same run (workerd serve) | ${n0(rps("wd.all_features"))} / ${n0(rps("wd.isogate"))} req/s = ${r2(f)} | ${status(f >= BUDGET.throughput)} |`);
}
if (sp?.throughput["spin.all_features"]) {
  const f = ratioIn(sp.throughput)("spin.all_features", "spin.isogate");
  p(`| forwarding throughput with every per-request feature on ≥ 0.9× plain forwarding, same run (Spin test host) | ${n0(sp.throughput["spin.all_features"].rps)} / ${n0(sp.throughput["spin.isogate"].rps)} req/s = ${r2(f)} | ${status(f >= BUDGET.throughput)} |`);
}
if (sizes) {
  const g = sizes.artifacts["workers/build/index_bg.wasm"].gzip;
  p(`| worker ≤ 200 KB gzip (wasm; KiB as wrangler counts) | ${kib(g)} wasm; ${kib(sizes.worker_upload.gzip)} wasm + JS | ${g <= sizes.target.worker_wasm_gzip ? "met" : `**missed** by ${kib(g - sizes.target.worker_wasm_gzip)}`} |`);
}
p("");

// ---- Spin at a glance (in the README's summary; the full section is part 5)
if (sp) {
  const S = sp.throughput;
  const sr = ratioIn(S);
  const per = sp.per_request ?? {};
  p("## Spin at a glance", "", `The component in the project's Spin host (a fresh instance per request, as Spin gives a wasi:http 0.2 component; part 5 has every scenario, latency and cold start).`, "");
  p("| scenario | req/s | ratio | SQLite statements / request |", "|---|---:|---|---:|");
  const glance = (id, label, ratioText) => S[id] && p(`| ${label} | ${rpsCell(S[id])} | ${ratioText} | ${per[id] ? per[id].sqlite_statements.toFixed(2) : "—"} |`);
  glance("spin.pass", "pass-through component (the floor)", "baseline");
  glance("spin.isogate", "Isogate, valid token", `${r2(sr("spin.isogate", "spin.pass"))} of pass-through`);
  glance("spin.all_features", "Isogate, every per-request feature on", `${r2(sr("spin.all_features", "spin.isogate"))} of Isogate plain`);
  glance("spin.token", "Isogate token endpoint", `${r2(sr("spin.token", "spin.healthz"))} of the no-op route`);
  const c = sp.coldstart;
  if (c) p("", `Cold start (spawn to first proxied 200): ${c.isogate_ms.toFixed(0)} ms (pass-through ${c.pass_ms.toFixed(0)} ms), ${c.isogate_cached_ms?.toFixed(0) ?? "?"} ms with the compiled code cached, as \`spin up\` keeps it.`);
  p("");
}

// ---- Cost per feature on the hot path (in the README's summary)
if (ins) {
  const I = (op) => ins.ops[op]?.instructions;
  const base = I("authorize_service");
  p("## Cost per feature on the hot path", "", `What each feature adds to the warm service path (\`authorize_service\`, ${n0(base)} instructions: bearer, the remembered token, cached records, the scope decision, the forward plan, the cached assertion), as the difference of two \`ops\` operations (callgrind, deterministic; part 1), and its share of the hot-path budget (1.5 × 57,000 = ${n0(BUDGET.reference * BUDGET.factor)}).`, "");
  p("| feature | measured as | instructions added | alone | of the 57 k |", "|---|---|---:|---:|---:|");
  const feature = (label, op, minus, alone, note = "") => {
    if (I(op) === undefined || I(minus) === undefined) return;
    const d = I(op) - I(minus);
    const share = d / BUDGET.reference;
    p(`| ${label} | \`${op}\` − \`${minus}\`${note} | ${d < 0 ? "−" : "+"}${n0(Math.abs(d))} | ${alone && I(alone) !== undefined ? `\`${alone}\` ${n0(I(alone))}` : ""} | ${share >= 1 ? r2(share) : `${(share * 100).toFixed(1)}%`} |`);
  };
  feature("rate limit (counted in the isolate, as on Workers; on Spin one SQLite UPSERT)", "authorize_service_rate_limited", "authorize_service", "rate_limit_check");
  feature("10-rule policy (the matching rule last; the user's groups come with the credential)", "authorize_service_with_policy", "authorize_service", "rule_evaluation");
  feature("upstream auth, `bearer` (the runtime's secret set after the strip)", "authorize_service_upstream_bearer", "authorize_service");
  feature("upstream auth, `oauth2-client-credentials` (the origin's token cached)", "authorize_service_upstream_oauth2", "authorize_service");
  feature("credential lifecycle checks (rotated, in its grace, with a scope ceiling)", "authorize_service_lifecycle", "authorize_service");
  feature("audit line (`ISOGATE_AUDIT=all`, the default)", "service_request", "service_request_audit_off", "audit_line");
  if (I("assertion_cached") !== undefined) p(`| identity assertion, cached (every request after a token's first to a service; already inside \`authorize_service\`) | \`assertion_cached\` | (included) | ${n0(I("assertion_cached"))} | ${((I("assertion_cached") / BUDGET.reference) * 100).toFixed(1)}% |`);
  if (I("assertion_sign") !== undefined) p(`| identity assertion, signed (a token's first request to a service, once per token and service) | \`assertion_sign\` | +${n0(I("assertion_sign"))} once | | — |`);
  feature("DPoP proof (a client's opt-in: each request's proof checked, portable Ed25519, and recorded against replay)", "authorize_service_dpop", "authorize_service", "dpop_proof_check");
  feature("resource audience (RFC 8707 `resource` on the token endpoint; not the service path)", "token_endpoint_resource", "token_endpoint");
  feature("**every per-request feature on** (rate limit, policy, `bearer` upstream auth, cached assertion, audit line)", "authorize_service_all_features", "authorize_service");
  feature("the same, as a runtime runs it (`Gateway::start`, relay, audit line)", "service_request_all_features", "service_request");
  const a = I("authorize_service_all_features");
  if (a !== undefined) p("", `The budget: \`authorize_service_all_features\` ${n0(a)} instructions = ${r2(a / BUDGET.reference)} of 57,000 (≤ ${BUDGET.factor}×: ${a <= BUDGET.reference * BUDGET.factor ? "met" : "**missed**"}). The sum of the single features' differences is not exactly the whole: the audit line of \`authorize_service_all_features\` includes its request id, and inlining differs between operations.`);
  const thr = [];
  if (lb && T["wd.all_features"]) thr.push(`workerd serve ${r2(ratio("wd.all_features", "wd.isogate"))} (${n0(rps("wd.all_features"))} vs ${n0(rps("wd.isogate"))} req/s)`);
  if (sp?.throughput["spin.all_features"]) thr.push(`Spin test host ${r2(ratioIn(sp.throughput)("spin.all_features", "spin.isogate"))} (${n0(sp.throughput["spin.all_features"].rps)} vs ${n0(sp.throughput["spin.isogate"].rps)} req/s; SQLite statements per request ${sp.per_request?.["spin.all_features"]?.sqlite_statements.toFixed(2) ?? "?"} vs ${sp.per_request?.["spin.isogate"]?.sqlite_statements.toFixed(2) ?? "?"})`);
  if (thr.length) p("", `Throughput with every feature on, as a ratio to plain Isogate forwarding in the same run (median of per-round ratios; target ≥ ${BUDGET.throughput}×): ${thr.join("; ")}.`);
  // On Spin every request is a fresh instance: what the features add there is storage, shown
  // by statement (a rate limit is counted in SQLite, a write per request).
  const spinAll = sp?.per_request?.["spin.all_features"], spinPlain = sp?.per_request?.["spin.isogate"];
  if (spinAll && spinPlain) {
    const added = Object.entries(spinAll.sqlite_by_statement).map(([sql, n]) => [sql, n - (spinPlain.sqlite_by_statement[sql] ?? 0)]).filter(([, d]) => d > 0.005);
    p("", `On Spin the features add ${added.length ? added.map(([sql, d]) => `${d.toFixed(2)} × \`${sql.length > 90 ? `${sql.slice(0, 90)}…` : sql}\``).join(", ") : "no SQLite statement"} per request (the rate limit counts in SQLite: a fresh instance per request has no memory of its own).`);
  }
  p("");
}

// ---- Token endpoint per core, next to published anchors (in the README's summary)
if (lb || sp) {
  p("## Token endpoint per core, next to published anchors", "");
  p("| system | client-credentials grants/s | CPUs | per CPU | conditions |", "|---|---:|---:|---:|---|");
  const tokenRow = (label, t, conditions) => t && p(`| ${label} | ${n0(t.rps)} | 1 | ${n0(t.rps)} | ${conditions} |`);
  tokenRow("Isogate, `workerd serve`", T["wd.token"], "this run; loopback HTTP/1.1, keep-alive, 16 connections; D1 (the bench's SQLite Durable Object) in the same workerd process, one read per grant; Ed25519 signature in wasm");
  tokenRow("Isogate, Spin test host", sp?.throughput["spin.token"], "this run; a fresh instance per request; SQLite in a file, 2 statements per grant; Ed25519 in wasm (portable)");
  tokenRow("Isogate, Miniflare", T["mf.token"], "this run; Miniflare's D1 and its Node router in front");
  p("| Ory Hydra | 513 | 2 | 256 | published: ory/docs `docs/hydra/benchmark.md`; in-memory store; client secrets hashed with bcrypt, cost 8 |");
  p("| Keycloak | — | — | 120 | published sizing: Keycloak high-availability guide, *Concepts for sizing CPU and memory resources* (1 vCPU per 120 client-credentials grants/s, tested to 2,000/s; each client sends one request, so most of the CPU goes to new TLS connections; it also advises 150% headroom) |");
  p("", `How to read it. Isogate's figures are per core because the bench pins every server to CPU 0 and wrk to CPU 1: req/s of the token scenario is what one CPU sustains, but that CPU also runs the storage (the D1 shim, in the same workerd; the Spin host's SQLite) and holds the idle origin, and on this shared machine other processes had some of it (the load average and the other-processes figures above). No TLS here: plain HTTP on loopback over kept-alive connections, where Keycloak's guide says most of its CPU goes to new TLS connections (one request per client). The secret hash differs, on purpose: Isogate stores SHA-256 of a client secret it generated itself (256 random bits, which a slow hash would not make harder to guess), so a grant pays one SHA-256 (\`verify_client_secret\`, ${ins ? n0(ins.ops.verify_client_secret.instructions) : "about 17k"} instructions with the credential's checks); Hydra's figure pays bcrypt at cost 8 per grant, a hash made slow on purpose for secrets people choose. The anchors are other people's measurements on other machines, under their own conditions: a scale, not a race.`, "");
}

// ---- 1. Instructions
if (ins) {
  p("## 1. Instructions per core operation", "", `Native release build of \`core\` (${ins.profile}, ${ins.rustc}), \`valgrind --tool=callgrind\`, (count(2N) − count(N)) / N. Deterministic; CI checks them against \`bench/baseline/instructions.json\` (fails over +5%).`, "");
  const base = JSON.parse(fs.readFileSync(path.join(ROOT, "bench/baseline/instructions.json"), "utf8"));
  const sig = ins.ops.signature_check_only.instructions;
  p("| operation | instructions/op | vs signature check | baseline | vs baseline |", "|---|---:|---:|---:|---:|");
  for (const [op, { instructions }] of Object.entries(ins.ops)) {
    const b = base.ops[op]?.instructions;
    p(`| ${op} | ${n0(instructions)} | ${(instructions / sig).toFixed(3)} | ${b ? n0(b) : "—"} | ${b ? r2(instructions / b) : "—"} |`);
  }
  p("");
}

// ---- 2. Sizes
if (sizes) {
  const budgets = JSON.parse(fs.readFileSync(path.join(ROOT, "bench/baseline/sizes.json"), "utf8")).budgets;
  p("## 2. Artifact sizes", "", "gzip at zlib's default level, as wrangler reports it. Budgets in `bench/baseline/sizes.json` (CI fails past them).", "");
  p("| artifact | raw | gzip | gzip budget |", "|---|---:|---:|---:|");
  for (const [file, s] of Object.entries(sizes.artifacts)) p(`| \`${file}\` | ${kib(s.raw)} | ${kib(s.gzip)} | ${budgets[file] ? kib(budgets[file].gzip) : "—"} |`);
  if (!sizes.artifacts["target/wasm32-wasip2/release/isogate_spin.wasm"]) p("| `target/wasm32-wasip2/release/isogate_spin.wasm` | not built | | |");
  const uploadBudget = budgets["worker upload (wrangler deploy --dry-run)"];
  p(`| worker upload (wrangler deploy --dry-run: its bundle + the wasm, as wrangler counts it) | ${kib(sizes.worker_upload.raw)} | ${kib(sizes.worker_upload.gzip)} | ${uploadBudget ? kib(uploadBudget.gzip) : "—"} |`, "");
}

// ---- 3. Loopback
if (lb) {
  p("## 3. End to end on loopback", "", "Throughput (median req/s). *Server µs/req* = 1/throughput: the servers share one pinned CPU and are saturated, so this is the server-side CPU time per request (origin included on forwarding paths).", "");
  p(`| scenario | req/s | runs | server µs/req | ratio | ${ERRORS_HEADER} |`, "|---|---:|---|---:|---|---|");
  const row = (id, label, ratioText) => T[id] && p(`| ${label} | ${rpsCell(T[id])} | ${runsCell(T[id])} | ${usPerReq(id).toFixed(0)} | ${ratioText} | ${errorsCell(T[id])} |`);
  row("direct", "direct to the origin", "baseline");
  row("nginx", "nginx `proxy_pass`", `${r2(ratio("nginx", "direct"))} of direct`);
  for (const [pre, name] of [["mf.", "Miniflare server"], ["wd.", "`workerd serve`"]]) {
    row(`${pre}pass`, `${name}: JS pass-through worker`, `${r2(ratio(`${pre}pass`, "direct"))} of direct`);
    row(`${pre}rewrite`, `${name}: JS rewriting proxy (no token check)`, `${r2(ratio(`${pre}rewrite`, `${pre}pass`))} of pass-through; ${signedUs(usPerReq(`${pre}rewrite`) - usPerReq(`${pre}pass`))} µs/req over it`);
    row(`${pre}isogate`, `${name}: Isogate, valid token`, `${r2(ratio(`${pre}isogate`, `${pre}pass`))} of pass-through; ${r2(ratio(`${pre}isogate`, `${pre}rewrite`))} of the JS rewriting proxy; ${r2(ratio(`${pre}isogate`, "direct"))} of direct; ${signedUs(usPerReq(`${pre}isogate`) - usPerReq(`${pre}pass`))} µs/req over pass-through`);
    row(`${pre}all_features`, `${name}: Isogate, valid token, every per-request feature on (rate limit, 10-rule policy, bearer upstream auth, assertion, audit line)`, `${r2(ratio(`${pre}all_features`, `${pre}isogate`))} of Isogate plain; ${r2(ratio(`${pre}all_features`, `${pre}pass`))} of pass-through; ${signedUs(usPerReq(`${pre}all_features`) - usPerReq(`${pre}isogate`))} µs/req over Isogate plain`);
    row(`${pre}isogate_invalid`, `${name}: Isogate, bad signature (401)`, `${r2(ratio(`${pre}isogate_invalid`, `${pre}healthz`))} of the no-op route; ${signedUs(usPerReq(`${pre}isogate_invalid`) - usPerReq(`${pre}healthz`))} µs/req over it`);
    row(`${pre}healthz`, `${name}: Isogate \`GET /healthz\` (no-op)`, "baseline of the token endpoint");
    row(`${pre}token`, `${name}: Isogate token endpoint`, `${r2(ratio(`${pre}token`, `${pre}healthz`))} of the no-op route`);
    row(`${pre}token_bad_secret`, `${name}: Isogate token endpoint, wrong secret (401)`, `the D1 read, parse and hash: ${signedUs(usPerReq(`${pre}token_bad_secret`) - usPerReq(`${pre}healthz`))} µs/req over the no-op route; signing and the JSON answer: ${signedUs(usPerReq(`${pre}token`) - usPerReq(`${pre}token_bad_secret`))} µs/req more`);
    row(`${pre}peer`, `${name}: workers-oauth-provider, valid token`, `Isogate/peer ${r2(ratio(`${pre}isogate`, `${pre}peer`))}; peer ${r2(ratio(`${pre}peer`, `${pre}pass`))} of pass-through`);
  }
  p("", flaggedNote(T) + loadNote(T));
  p("", "Latency with one connection (median of the runs' percentiles):", "");
  p("| path | p50 | p99 | p50 added over direct | p99 added over direct | p50 added over pass-through |", "|---|---:|---:|---:|---:|---:|");
  const D = L.direct;
  const lrow = (id, label, pass) => L[id] && p(`| ${label} | ${ms(L[id].p50_us)} | ${ms(L[id].p99_us)} | ${ms(L[id].p50_us - D.p50_us)} | ${ms(L[id].p99_us - D.p99_us)} | ${pass ? ms(L[id].p50_us - L[pass].p50_us) : ""} |`);
  lrow("direct", "direct", null);
  lrow("nginx", "nginx", null);
  for (const [pre, name] of [["mf.", "Miniflare"], ["wd.", "workerd serve"]]) {
    lrow(`${pre}pass`, `${name}: pass-through`, null);
    lrow(`${pre}rewrite`, `${name}: JS rewriting proxy`, `${pre}pass`);
    lrow(`${pre}isogate`, `${name}: Isogate`, `${pre}pass`);
    lrow(`${pre}peer`, `${name}: workers-oauth-provider`, `${pre}pass`);
  }
  if (Object.values(L).some((t) => t.flagged?.length)) p("", `Latency runs: ${flaggedNote(L)}`);
  p("");
  const d1 = lb.d1;
  p(`D1 (workerd serve, counted by the D1 service): ${d1.statements} statements for ${n0(d1.requests)} forwarded requests; ${d1.statements_per_token.toFixed(2)} per token request (the credential is read from storage on every token request, by design).`, "");

  // ---- 4. Cold start
  const c = lb.coldstart;
  p("## 4. Cold start", "", "From spawning the runtime to the first successful proxied response (200 from the origin through the worker; Isogate with its D1 state on disk and a valid token, so the first request also fills its caches from D1). Medians.", "");
  p("| runtime | Isogate | JS pass-through | Isogate − pass-through |", "|---|---:|---:|---:|");
  p(`| \`workerd serve\` | ${c.wd_isogate_ms.toFixed(0)} ms | ${c.wd_pass_ms.toFixed(0)} ms | ${(c.wd_isogate_ms - c.wd_pass_ms).toFixed(0)} ms |`);
  p(`| Miniflare (Node start + Miniflare set-up + workerd) | ${c.mf_isogate_ms.toFixed(0)} ms | ${c.mf_pass_ms.toFixed(0)} ms | ${(c.mf_isogate_ms - c.mf_pass_ms).toFixed(0)} ms |`, "");
  p(`wasm instantiate (inside workerd, compiled module, stub imports, mean of 100): ${c.wasm_instantiate_ms.toFixed(2)} ms. For scale: Web Crypto Ed25519 verify in the same workerd: ${c.webcrypto_ed25519_verify_ms.toFixed(3)} ms per call.`, "");
}

// ---- 5. Spin
if (sp) {
  const S = sp.throughput;
  const SL = sp.latency;
  const sratio = ratioIn(S);
  const sus = (id) => (S[id]?.rps ? 1e6 / S[id].rps : undefined);
  p("## 5. Spin (the project's Spin host)", "");
  p(`Isogate's Spin component (\`${path.basename("target/wasm32-wasip2/release/isogate_spin.wasm")}\`, ${kib(sp.sizes.isogate_wasm)}) in \`tests/spin-host\` (wasmtime 47, built with \`--profile bench-host\`: optimized, as Spin ships), which gives every request a fresh instance, as Spin does for a wasi:http 0.2 component; SQLite and key-value in files. The floor is \`bench/spin-passthrough\` (${kib(sp.sizes.pass_wasm)}): the incoming request sent to the origin and its answer streamed back, nothing else. Same method as part 3: wrk, 1 thread, ${sp.config.connections} connections, ${sp.config.rounds} interleaved rounds × ${sp.config.seconds} s, ratios are medians of per-round ratios; ${sp.config.pinned ? "servers (origin, hosts) on CPU 0, wrk on CPU 1" : "no CPU pinning"}. The host is a test double for Spin's host interfaces, not Spin (no pooling allocator: see tests/spin-host/README.md).`, "");
  p(`| scenario | req/s | runs | server µs/req | ratio | ${ERRORS_HEADER} |`, "|---|---:|---|---:|---|---|");
  const srow = (id, label, ratioText) => S[id] && p(`| ${label} | ${rpsCell(S[id])} | ${runsCell(S[id])} | ${sus(id).toFixed(0)} | ${ratioText} | ${errorsCell(S[id])} |`);
  srow("direct", "direct to the origin", "baseline");
  srow("spin.pass", "pass-through component", `${r2(sratio("spin.pass", "direct"))} of direct`);
  srow("spin.isogate", "Isogate, valid token", `${r2(sratio("spin.isogate", "spin.pass"))} of pass-through; ${r2(sratio("spin.isogate", "direct"))} of direct; ${signedUs(sus("spin.isogate") - sus("spin.pass"))} µs/req over pass-through`);
  srow("spin.all_features", "Isogate, valid token, every per-request feature on (rate limit, 10-rule policy, bearer upstream auth, assertion, audit line)", `${r2(sratio("spin.all_features", "spin.isogate"))} of Isogate plain; ${r2(sratio("spin.all_features", "spin.pass"))} of pass-through; ${signedUs(sus("spin.all_features") - sus("spin.isogate"))} µs/req over Isogate plain`);
  srow("spin.isogate_invalid", "Isogate, bad signature (401)", `${r2(sratio("spin.isogate_invalid", "spin.healthz"))} of the no-op route; ${signedUs(sus("spin.isogate_invalid") - sus("spin.healthz"))} µs/req over it`);
  srow("spin.healthz", "Isogate `GET /healthz` (no-op)", "baseline of the token endpoint");
  srow("spin.token", "Isogate token endpoint", `${r2(sratio("spin.token", "spin.healthz"))} of the no-op route`);
  srow("spin.token_bad_secret", "Isogate token endpoint, wrong secret (401)", `the SQLite reads, parse and hash: ${signedUs(sus("spin.token_bad_secret") - sus("spin.healthz"))} µs/req over the no-op route; signing and the JSON answer: ${signedUs(sus("spin.token") - sus("spin.token_bad_secret"))} µs/req more`);
  p("", flaggedNote(S) + loadNote(S));
  p("", "Latency with one connection (median of the runs' percentiles):", "");
  p("| path | p50 | p99 | p50 added over direct | p50 added over pass-through |", "|---|---:|---:|---:|---:|");
  for (const [id, label] of [["direct", "direct"], ["spin.pass", "pass-through component"], ["spin.isogate", "Isogate, valid token"], ["spin.healthz", "Isogate `GET /healthz`"]]) {
    if (!SL[id]) continue;
    p(`| ${label} | ${ms(SL[id].p50_us)} | ${ms(SL[id].p99_us)} | ${ms(SL[id].p50_us - SL.direct.p50_us)} | ${id === "direct" || id === "spin.pass" ? "" : ms(SL[id].p50_us - SL["spin.pass"].p50_us)} |`);
  }
  if (Object.values(SL).some((t) => t.flagged?.length)) p("", `Latency runs: ${flaggedNote(SL)}`);
  p("", "What each request asked of the host, counted by it (`--stats-listen`): SQLite statements and key-value calls per request, and the component's instantiation (wasmtime `instantiate_async` of the pre-linked component, per request), mean under load (16 connections, the CPU saturated) and with one connection:", "");
  p("| scenario | SQLite statements / request | key-value calls / request | instantiation, loaded | instantiation, one connection |", "|---|---:|---:|---:|---:|");
  const us = (x) => (x === null || x === undefined ? "—" : `${x.toFixed(0)} µs`);
  for (const [id, t] of Object.entries(sp.per_request)) {
    if (!t) continue;
    p(`| \`${id}\` | ${t.sqlite_statements.toFixed(2)} | ${t.kv_ops.toFixed(2)} | ${us(t.instantiate_us)} | ${us(sp.per_request_one_connection[id]?.instantiate_us)} |`);
  }
  const fwd = sp.per_request["spin.isogate"];
  if (fwd) {
    p("", "The statements of a forwarded request (per request):", "");
    for (const [sql, n] of Object.entries(fwd.sqlite_by_statement)) p(`- ${n.toFixed(2)} × \`${sql}\``);
  }
  const c = sp.coldstart;
  if (c) {
    p("", "Cold start: from spawning the host to the first proxied 200 (the origin's body through the component; Isogate with its SQLite state on disk and a valid token, so the first request reads its records). Medians. Without a cache the host compiles the component with Cranelift at every start, and that is most of it; `spin up` keeps compiled components in a cache, which the last row does (`--compile-cache`, filled by an earlier start):", "");
    p("| component | spawn to first proxied 200 | of which compiling (or loading the compiled code) |", "|---|---:|---:|");
    p(`| Isogate | ${c.isogate_ms.toFixed(0)} ms | ${c.isogate_compile_ms?.toFixed(0) ?? "?"} ms |`);
    p(`| pass-through | ${c.pass_ms.toFixed(0)} ms | ${c.pass_compile_ms?.toFixed(0) ?? "?"} ms |`);
    p(`| Isogate − pass-through | ${(c.isogate_ms - c.pass_ms).toFixed(0)} ms | |`);
    if (c.isogate_cached_ms) p(`| Isogate, compiled code cached | ${c.isogate_cached_ms.toFixed(0)} ms | ${c.isogate_cached_load_ms?.toFixed(1) ?? "?"} ms |`);
  }
  p("");
}

fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, lines.join("\n") + "\n");
console.log(lines.join("\n"));
