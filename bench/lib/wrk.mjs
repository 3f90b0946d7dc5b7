// One wrk run of a scenario, and what makes a round suspect. Errors are results: every run
// keeps its socket errors (connect, read, write), its timeouts and the count of each status,
// and a round is flagged (never hidden behind the median) when it had any of them, answered a
// status the scenario does not expect, or stalled.
import path from "node:path";
import { spawn } from "node:child_process";
import { ROOT, median } from "./util.mjs";
import { watchRound, explain } from "./machine.mjs";
import { SERVER_CPU } from "./proc.mjs";

/** Below this fraction of the scenario's median a round is flagged as a stall, errors or not. */
export const STALL_FRACTION = 0.5;

/**
 * Runs wrk (one thread, a timeout of 2/3 of the round) against scenario `s` ({ id, port(), path, host?, headers?, method?,
 * body?, expect }), pinned to `cpu` when given. Resolves the parsed summary plus `rps`,
 * `socket_errors` (connect + read + write), `unexpected` (answers whose status is not
 * `s.expect`), `machine` (what else used the CPUs and whether a server restarted during the
 * round: bench/lib/machine.mjs) and `flags` (why this round is suspect; empty when it is not).
 */
export function runWrk(s, { seconds, connections, cpu }) {
  return new Promise((resolve, reject) => {
    // wrk counts a timeout only while it runs: with a timeout longer than the round (its
    // default is 2 s; this was 5 s for 3 s rounds), a round in which every request stalled
    // reported 0 requests and no error at all. Whole seconds (wrk takes no fractions).
    const timeout = `${Math.max(1, Math.floor((seconds * 2) / 3))}s`;
    const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", timeout, "-s", path.join(ROOT, "bench/lib/wrk.lua")];
    for (const [k, v] of Object.entries(s.headers ?? {})) args.push("-H", `${k}: ${v}`);
    if (s.host) args.push("-H", `Host: ${s.host}`);
    args.push(`http://127.0.0.1:${s.port()}${s.path}`);
    const env = { ...process.env, BENCH_METHOD: s.method ?? "", BENCH_BODY: s.body ?? "" };
    const started = new Date().toISOString().slice(11, 23);
    const watch = watchRound({ serverCpu: SERVER_CPU });
    const child = cpu === undefined ? spawn("wrk", args, { env }) : spawn("taskset", ["-c", String(cpu), "wrk", ...args], { env });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      const machine = watch.stop();
      const line = out.split("\n").find((l) => l.startsWith("WRKJSON "));
      if (code !== 0 || !line) return reject(new Error(`wrk ${s.id} failed (${code}):\n${out}`));
      const r = JSON.parse(line.slice(8));
      r.rps = r.requests / (r.duration_us / 1e6);
      r.started = started;
      r.machine = machine;
      r.socket_errors = r.connect_errors + r.read_errors + r.write_errors;
      const answered = Object.values(r.statuses).reduce((a, b) => a + b, 0);
      r.unexpected = answered - (r.statuses[String(s.expect)] ?? 0);
      r.flags = flags(r);
      resolve(r);
    });
  });
}

/** Why a round's figures are suspect, from its own counts (the stall check needs the median). */
function flags(r) {
  const f = [];
  if (r.requests === 0) f.push("no answer");
  if (r.timeouts) f.push(`${r.timeouts} timeouts`);
  if (r.socket_errors) f.push(`${r.socket_errors} socket errors (${r.connect_errors} connect, ${r.read_errors} read, ${r.write_errors} write)`);
  if (r.unexpected) {
    const other = Object.entries(r.statuses).filter(([, n]) => n > 0).map(([st, n]) => `${n}× ${st}`).join(", ");
    f.push(`${r.unexpected} unexpected statuses (${other})`);
  }
  if (r.machine?.restarts.length) f.push(`server restarted: ${r.machine.restarts.join("; ")}`);
  return f;
}

/**
 * A scenario's rounds summarised: median throughput, the runs, and each suspect round with why
 * (its own errors, a server's restart, or a throughput under STALL_FRACTION of the median) and
 * what else used the machine's CPUs while it ran.
 */
export function summarizeRounds(rs) {
  const med = median(rs.map((r) => r.rps));
  const rounds = rs.map((r, i) => {
    const why = [...r.flags];
    if (r.requests > 0 && r.rps < STALL_FRACTION * med) why.push(`stall: ${(r.rps / med).toFixed(2)}× of the median`);
    // Only for a flagged round: what else ran (a restart is a flag of its own, above).
    if (why.length && r.machine) why.push(explain({ ...r.machine, restarts: [] })[0]);
    return { round: i + 1, started: r.started, rps: Math.round(r.rps), requests: r.requests, timeouts: r.timeouts, socket_errors: r.socket_errors, unexpected: r.unexpected, statuses: r.statuses, machine: r.machine, flags: why };
  });
  return {
    rps: med,
    rps_runs: rs.map((r) => Math.round(r.rps)),
    p50_us: median(rs.map((r) => r.p50_us)),
    p99_us: median(rs.map((r) => r.p99_us)),
    requests: rs.reduce((a, r) => a + r.requests, 0),
    timeouts: rs.reduce((a, r) => a + r.timeouts, 0),
    socket_errors: rs.reduce((a, r) => a + r.socket_errors, 0),
    unexpected: rs.reduce((a, r) => a + r.unexpected, 0),
    flagged: rounds.filter((r) => r.flags.length),
    // What processes outside the bench used during the rounds (CPUs, averaged per round), all
    // CPUs and the servers' own.
    other_cpus: rs.some((r) => r.machine) ? rs.map((r) => r.machine?.other_cpus ?? null) : undefined,
    other_on_server_cpu: rs.some((r) => r.machine?.server_cpu) ? rs.map((r) => r.machine?.server_cpu?.other ?? null) : undefined,
    rounds,
  };
}

