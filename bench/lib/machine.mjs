// Why a round stalled: what the rest of the machine did while it ran, and whether a server
// restarted. bench/lib/wrk.mjs samples this around every wrk run.
//
// CPU: the machine's busy time (/proc/stat: user, nice, system, irq, softirq) minus the
// bench's own (this process and every descendant: the servers, Miniflare's workerd, wrk;
// utime + stime + cutime + cstime from /proc/<pid>/stat, so a child that exited and was reaped
// during the round, as wrk is, still counts, through its parent's cutime/cstime). What is left
// is what other processes used: another build, a test suite, a neighbour. Steal (time the
// hypervisor gave to other guests) is kept apart.
//
// Restarts: the bench's server processes (pid and name) before and after the round (a pid gone,
// a new one with a server's name), and lines in the servers' output that say a process
// restarted or crashed (bench/lib/proc.mjs collects them as they arrive).
import fs from "node:fs";
import { execFileSync } from "node:child_process";

const HZ = (() => {
  try { return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100; } catch { return 100; }
})();

/** Lines of the servers' output that tell of a restart or a crash: `{ at, server, line }`. */
export const serverNotes = [];
// Whole words, and never in an audit line (its random request id can spell anything).
const NOTE = /\b(restart(ed|ing)?|crash(ed)?|panick(ed|ing)|segfault|uncaught|fatal|out of memory|killed)\b/i;
const AUDIT_LINE = /^\s*\{"log":"audit"/;
const MAX_NOTES = 1000;

/** Called with each chunk a server prints (bench/lib/proc.mjs, bench/lib/workerd.mjs). */
export function noteServerOutput(server, chunk) {
  if (serverNotes.length >= MAX_NOTES || !NOTE.test(chunk)) return;
  for (const line of String(chunk).split("\n")) {
    if (NOTE.test(line) && !AUDIT_LINE.test(line) && serverNotes.length < MAX_NOTES) serverNotes.push({ at: new Date().toISOString().slice(11, 23), server, line: line.trim().slice(0, 200) });
  }
}

/** Busy, iowait and steal ticks of the whole machine, and busy ticks of each CPU. */
function machineTicks() {
  // cpu[N] user nice system idle iowait irq softirq steal guest guest_nice (guest is in user)
  const perCpu = [];
  let all;
  for (const line of fs.readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = line.match(/^cpu(\d*)\s+(.*)$/);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    const t = { busy: f[0] + f[1] + f[2] + f[5] + f[6], iowait: f[4], steal: f[7] ?? 0 };
    if (m[1] === "") all = t;
    else perCpu[Number(m[1])] = t.busy;
  }
  return { ...all, perCpu };
}

/** Every process: pid -> { ppid, comm, start (its start time: a reused pid is another process),
 * own (utime + stime), ticks (own + cutime + cstime) }. */
function processes() {
  const all = new Map();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${name}/stat`, "utf8"); } catch { continue; } // gone meanwhile
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const f = stat.slice(close + 2).split(" "); // f[0] is field 3 (state)
    const own = Number(f[11]) + Number(f[12]);
    all.set(Number(name), { ppid: Number(f[1]), comm, start: f[19], own, ticks: own + Number(f[13]) + Number(f[14]) });
  }
  return all;
}

/** This process and its descendants, from `processes()`. */
function benchTree(all) {
  const children = new Map();
  for (const [pid, p] of all) (children.get(p.ppid) ?? children.set(p.ppid, []).get(p.ppid)).push(pid);
  const tree = new Map();
  const todo = [process.pid];
  while (todo.length) {
    const pid = todo.pop();
    if (tree.has(pid) || !all.has(pid)) continue;
    tree.set(pid, all.get(pid));
    todo.push(...(children.get(pid) ?? []));
  }
  return tree;
}

function sample() {
  const m = machineTicks();
  const all = processes();
  const tree = benchTree(all);
  let bench = 0;
  for (const p of tree.values()) bench += p.ticks;
  return { t: process.hrtime.bigint(), busy: m.busy, iowait: m.iowait, steal: m.steal, perCpu: m.perCpu, bench, tree, all, notes: serverNotes.length };
}

/** The load generator and helpers the bench runs per round: not servers, never a "restart". */
const TRANSIENT = new Set(["wrk", "taskset", "sh", "getconf"]);

/**
 * Starts watching a round; `stop()` resolves what happened during it: `other_cpus` (CPUs'
 * worth of time used by processes outside the bench, averaged over the round), `bench_cpus`,
 * `steal_cpus`, and `restarts` (sentences: "workerd (pid 123) exited", "workerd started (pid
 * 456)", or a server's own line).
 */
export function watchRound({ serverCpu } = {}) {
  const a = sample();
  return {
    stop() {
      const b = sample();
      const seconds = Number(b.t - a.t) / 1e9;
      const cpus = (ticks) => Math.max(0, ticks / HZ / seconds);
      const restarts = [];
      for (const [pid, p] of a.tree) if (!b.tree.has(pid) && pid !== process.pid && !TRANSIENT.has(p.comm)) restarts.push(`${p.comm} (pid ${pid}) exited`);
      for (const [pid, p] of b.tree) if (!a.tree.has(pid) && !TRANSIENT.has(p.comm)) restarts.push(`${p.comm} started (pid ${pid})`);
      for (const n of serverNotes.slice(a.notes, b.notes)) restarts.push(`${n.server} at ${n.at}: "${n.line}"`);
      // The servers' CPU (they are pinned to it, wrk and this driver are not on it): what it
      // spent, and how much of that the servers did not (every descendant but wrk, which was
      // born and reaped within the round and so is only in this process's cutime).
      let server;
      if (serverCpu !== undefined && a.perCpu[serverCpu] !== undefined) {
        let servers = 0;
        for (const [pid, p] of b.tree) if (pid !== process.pid) servers += p.ticks - (a.tree.get(pid)?.ticks ?? 0);
        const busy = b.perCpu[serverCpu] - a.perCpu[serverCpu];
        server = { cpu: serverCpu, busy: Number(cpus(busy).toFixed(2)), other: Number(cpus(busy - servers).toFixed(2)) };
      }
      return {
        seconds: Number(seconds.toFixed(3)),
        server_cpu: server,
        top_other: topOther(a, b, seconds),
        other_cpus: Number(cpus(b.busy - a.busy - (b.bench - a.bench)).toFixed(2)),
        bench_cpus: Number(cpus(b.bench - a.bench).toFixed(2)),
        steal_cpus: Number(cpus(b.steal - a.steal).toFixed(2)),
        // Idle time with a disk request outstanding: a server waiting on storage (the D1 shim's
        // and the Spin host's SQLite files) shows here, not as CPU used.
        iowait_cpus: Number(cpus(b.iowait - a.iowait).toFixed(2)),
        restarts,
      };
    },
  };
}

/**
 * The processes outside the bench that used the most CPU during the round, by name (digits and
 * the CPU suffix of kernel threads dropped: "kworker/0:1" is "kworker"), at least 0.05 CPUs
 * each, at most three. Processes that started and ended within the round are in the total,
 * not here.
 */
function topOther(a, b, seconds) {
  const byName = new Map();
  for (const [pid, p] of b.all) {
    if (b.tree.has(pid) || a.tree.has(pid)) continue;
    // Its own time only: a shell's cutime jumps by a whole build's CPU when it reaps it.
    const before = a.all.get(pid);
    const d = p.own - (before?.start === p.start ? before.own : 0);
    if (d <= 0) continue;
    const name = p.comm.replace(/\/.*$/, "").replace(/[-_:]?\d+$/, "");
    byName.set(name, (byName.get(name) ?? 0) + d);
  }
  return [...byName].map(([name, d]) => ({ name, cpus: Number((d / HZ / seconds).toFixed(2)) }))
    .filter((x) => x.cpus >= 0.05).sort((x, y) => y.cpus - x.cpus).slice(0, 3);
}

/** A flagged round's context, as the report says it: what else ran, what restarted. */
export function explain(machine) {
  if (!machine) return [];
  const extra = [`the bench ${machine.bench_cpus.toFixed(1)}`];
  if (machine.steal_cpus >= 0.05) extra.push(`steal ${machine.steal_cpus.toFixed(1)}`);
  if (machine.iowait_cpus >= 0.05) extra.push(`waiting on disk ${machine.iowait_cpus.toFixed(1)}`);
  if (machine.top_other?.length) extra.unshift(`most: ${machine.top_other.map((x) => `${x.name} ${x.cpus.toFixed(1)}`).join(", ")}`);
  const s = machine.server_cpu;
  let why;
  if (s) {
    // The servers share one pinned CPU: what matters is what else ran on it, and whether it
    // was idle (then the servers waited, on storage, a lock or a timer, rather than lacked CPU).
    const idle = 1 - s.busy;
    why = [`other processes used ${machine.other_cpus.toFixed(1)} CPUs during the round, ${Math.min(s.other, 1).toFixed(1)} of the servers' CPU ${s.cpu} (${extra.join(", ")}${idle >= 0.3 ? `; CPU ${s.cpu} was ${(idle * 100).toFixed(0)}% idle: the servers waited rather than lacked CPU` : ""})`];
  } else {
    why = [`other processes used ${machine.other_cpus.toFixed(1)} CPUs during the round (${extra.join(", ")})`];
  }
  if (machine.restarts.length) why.push(`restarts: ${machine.restarts.join("; ")}`);
  return why;
}
