// Processes of the loopback benchmarks (bench/loopback.mjs, bench/spin.mjs): servers pinned to
// CPU 0 and the load generator to CPU 1 when there are two CPUs (and taskset), their output
// kept with the time of each line, and the check that a scenario answers as expected.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";
import { request } from "./util.mjs";
import { noteServerOutput } from "./machine.mjs";

export function hasCommand(c) {
  try { execFileSync("sh", ["-c", `command -v ${c}`], { stdio: "ignore" }); return true; } catch { return false; }
}

export const PIN = os.cpus().length >= 2 && hasCommand("taskset");
export const SERVER_CPU = PIN ? 0 : undefined;
export const LOAD_CPU = PIN ? 1 : undefined;

/**
 * Spawns a server process pinned to the server CPU; adds it to `children` for clean-up. With
 * `logFile`, everything it prints goes there, each chunk stamped with the time it arrived (to
 * line it up with the rounds, whose start times are in the results); `child.output()` keeps
 * only the first 64 KiB (start-up, errors): an audit line per request makes tens of MB a run.
 */
export function spawnPinned(children, cmd, args, { logFile, ...opts } = {}) {
  const child = SERVER_CPU === undefined ? spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts })
    : spawn("taskset", ["-c", String(SERVER_CPU), cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], ...opts });
  children.push(child);
  const log = logFile ? fs.createWriteStream(logFile, { flags: "a" }) : null;
  let head = "";
  const name = path.basename(cmd);
  const keep = (d) => {
    noteServerOutput(name, d);
    if (head.length < 65536) head += String(d).slice(0, 65536 - head.length);
    log?.write(`[${new Date().toISOString().slice(11, 23)}] ${d}`);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.output = () => head;
  child.exited = new Promise((r) => child.once("exit", () => { log?.end(); r(child.exitCode ?? child.signalCode); }));
  return child;
}

export async function stopChild(child) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    await child.exited;
    clearTimeout(t);
  }
}

/** Waits for a line on the child's stdout containing `"key"` and resolves it parsed as JSON. */
export function waitForJson(child, key, timeoutMs = 60_000) {
  return waitForLine(child, `"${key}"`, timeoutMs).then((line) => JSON.parse(line));
}

/** Waits for a line on the child's stdout containing `text` and resolves it. */
export function waitForLine(child, text, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${text}:\n${child.output()}`)), timeoutMs);
    child.stdout.on("data", (d) => {
      buf += d;
      for (const line of buf.split("\n")) {
        if (line.includes(text)) {
          clearTimeout(timer);
          resolve(line);
          return;
        }
      }
    });
    child.exited.then((code) => { clearTimeout(timer); reject(new Error(`exited ${code} before ${text}:\n${child.output()}`)); });
  });
}

/** One request of the scenario, checked: the right status, and the origin's body when forwarded. */
export async function check(s) {
  const r = await request(s.port(), { method: s.method ?? "GET", host: s.host, path: s.path, headers: { ...(s.headers ?? {}), ...(s.body ? { "content-type": "application/x-www-form-urlencoded" } : {}) }, body: s.body });
  if (r.status !== s.expect) throw new Error(`${s.id}: expected ${s.expect}, got ${r.status} ${r.body.slice(0, 200)}`);
  if (s.forwards && !r.body.includes("isogate-bench")) throw new Error(`${s.id}: response did not come from the origin: ${r.body.slice(0, 200)}`);
}
