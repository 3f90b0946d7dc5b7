// Turns callgrind totals for N and 2N iterations into instructions per operation, writes them
// as JSON, prints a markdown table, and with --check / --update compares with or rewrites the
// baseline. Usage: node instructions.mjs <counts> <out.json> <baseline.json> [--check|--update]
import fs from "node:fs";
import { execFileSync } from "node:child_process";

export const TOLERANCE = 0.05; // CI fails when an operation costs more than 5% over its baseline
export const ORDER = [
  "parse_token_request", "verify_client_secret", "issue_access_token", "validate_access_token",
  "signature_check_only", "decide_access", "plan_forward", "authorize_service", "token_endpoint",
];

const [countsPath, outPath, baselinePath, mode = ""] = process.argv.slice(2);
const runs = {};
for (const line of fs.readFileSync(countsPath, "utf8").trim().split("\n")) {
  const [op, n, count] = line.trim().split(/\s+/);
  (runs[op] ??= {})[Number(n)] = Number(count);
}
const ops = {};
for (const op of ORDER) {
  const r = runs[op];
  if (!r) throw new Error(`no counts for ${op}`);
  const [n, n2] = Object.keys(r).map(Number).sort((a, b) => a - b);
  if (n2 !== 2 * n) throw new Error(`${op}: expected runs of N and 2N iterations, got ${n} and ${n2}`);
  ops[op] = { instructions: Math.round((r[n2] - r[n]) / n), n };
}
const rustc = execFileSync("rustc", ["--version"], { encoding: "utf8" }).trim();
const result = { tool: "valgrind --tool=callgrind (instructions executed)", rustc, profile: "release (opt-level z, lto)", ops };
fs.writeFileSync(outPath, JSON.stringify(result, null, 2) + "\n");

const baseline = fs.existsSync(baselinePath) ? JSON.parse(fs.readFileSync(baselinePath, "utf8")) : { ops: {} };
const fmt = (x) => x.toLocaleString("en-US");
const lines = ["| operation | instructions/op | baseline | vs baseline |", "|---|---:|---:|---:|"];
const regressions = [];
for (const op of ORDER) {
  const now = ops[op].instructions;
  const base = baseline.ops?.[op]?.instructions;
  const ratio = base ? now / base : undefined;
  if (ratio !== undefined && ratio > 1 + TOLERANCE) regressions.push(`${op}: ${fmt(now)} vs baseline ${fmt(base)} (+${((ratio - 1) * 100).toFixed(1)}%)`);
  lines.push(`| ${op} | ${fmt(now)} | ${base ? fmt(base) : "—"} | ${ratio ? `${ratio.toFixed(3)}×` : "—"} |`);
}
console.log(lines.join("\n"));
const v = ops.validate_access_token.instructions / ops.signature_check_only.instructions;
console.log(`\nvalidate_access_token / signature_check_only = ${v.toFixed(3)}× (target ≤ 1.2×: ${v <= 1.2 ? "met" : "MISSED"})`);

if (mode === "--update") {
  fs.writeFileSync(baselinePath, JSON.stringify({ ...result, updated: new Date().toISOString().slice(0, 10) }, null, 2) + "\n");
  console.log(`baseline written: ${baselinePath}`);
} else if (mode === "--check") {
  if (!baseline.ops || Object.keys(baseline.ops).length === 0) {
    console.error(`no baseline at ${baselinePath}; run with --update`);
    process.exit(1);
  }
  const missing = ORDER.filter((op) => !baseline.ops[op]);
  if (missing.length) console.error(`not in the baseline (run --update): ${missing.join(", ")}`);
  if (regressions.length) {
    console.error(`instruction count regressions over ${TOLERANCE * 100}%:\n  ${regressions.join("\n  ")}`);
    console.error("if intended, rewrite the baseline: bash bench/instructions.sh --update");
    process.exit(1);
  }
  const faster = ORDER.filter((op) => baseline.ops[op] && ops[op].instructions < baseline.ops[op].instructions * (1 - TOLERANCE));
  if (faster.length) console.log(`cheaper than the baseline by over ${TOLERANCE * 100}%: ${faster.join(", ")} (consider --update)`);
  console.log(`instructions: no regression over ${TOLERANCE * 100}%`);
}
