// Turns callgrind totals for N and 2N iterations into instructions per operation, writes them
// as JSON, prints a markdown table, and with --check / --update compares with or rewrites the
// baseline. Usage: node instructions.mjs <counts> <out.json> <baseline.json> [--check|--update]
import fs from "node:fs";
import { execFileSync } from "node:child_process";

export const TOLERANCE = 0.05; // CI fails when an operation costs more than 5% over its baseline
/** CI fails when an operation costs more than 20% under its baseline: a real improvement is
 * recorded with --update; an unexplained drop more often means the operation stopped doing its work. */
export const DROP_TOLERANCE = 0.2;
/** The target: validating a token costs at most 1.2x the signature check alone (enforced by --check). */
export const VALIDATE_OVER_SIGNATURE_TARGET = 1.2;
/** Issue #10: 10,000 revocations by another client cost a service request nothing: each
 * flood op equals its plain op within 1% (enforced by --check). */
export const FLOOD_PAIRS = [
  ["authorize_service_after_revocation_flood", "authorize_service"],
  ["authorize_service_refill_after_revocation_flood", "authorize_service_refill"],
];
export const FLOOD_TOLERANCE = 0.01;
/** Issue #14: with every per-request feature of a service on (rate limit, 10-rule policy,
 * upstream auth, the cached assertion, the audit line), the warm service path stays within
 * 1.5x of the 57k instructions `authorize_service` cost when the budget was set (enforced by
 * --check; the budget is absolute, so the plain path's own growth counts against it). */
export const HOT_PATH_BUDGET = { op: "authorize_service_all_features", reference: 57_000, factor: 1.5 };
export const ORDER = [
  "parse_token_request", "verify_client_secret", "issue_access_token", "validate_access_token",
  "signature_check_only", "dpop_proof_check", "dpop_proof_check_es256",
  "decide_access", "plan_forward", "authorize_service",
  "authorize_service_after_revocation_flood", "authorize_service_refill",
  "authorize_service_refill_after_revocation_flood", "authorize_service_rate_limited",
  "authorize_service_upstream_bearer", "authorize_service_upstream_oauth2",
  "authorize_service_lifecycle", "authorize_service_with_policy", "authorize_service_all_features",
  "authorize_service_dpop", "rule_evaluation",
  "rate_limit_check", "rate_limit_headers", "assertion_sign", "assertion_cached",
  "client_assertion_eddsa", "client_assertion_es256", "client_assertion_rs256", "client_assertion_claims",
  "token_endpoint", "token_endpoint_resource", "resource_metadata", "throttle_check", "token_throttled",
  "audit_line", "service_request", "service_request_audit_off", "service_request_all_features",
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
console.log(`\nvalidate_access_token / signature_check_only = ${v.toFixed(3)}× (target ≤ ${VALIDATE_OVER_SIGNATURE_TARGET}×: ${v <= VALIDATE_OVER_SIGNATURE_TARGET ? "met" : "MISSED"})`);
const floodMisses = [];
for (const [flood, plain] of FLOOD_PAIRS) {
  const r = ops[flood].instructions / ops[plain].instructions;
  const met = Math.abs(r - 1) <= FLOOD_TOLERANCE;
  if (!met) floodMisses.push(`${flood} / ${plain} = ${r.toFixed(4)}x, not within ${FLOOD_TOLERANCE * 100}% of 1`);
  console.log(`${flood} / ${plain} = ${r.toFixed(4)}× (target 1 ± ${FLOOD_TOLERANCE}: ${met ? "met" : "MISSED"})`);
}
const budgetLimit = HOT_PATH_BUDGET.reference * HOT_PATH_BUDGET.factor;
const budgetNow = ops[HOT_PATH_BUDGET.op].instructions;
const budgetMet = budgetNow <= budgetLimit;
console.log(`${HOT_PATH_BUDGET.op} = ${fmt(budgetNow)} = ${(budgetNow / HOT_PATH_BUDGET.reference).toFixed(3)}× of ${fmt(HOT_PATH_BUDGET.reference)} (budget ≤ ${HOT_PATH_BUDGET.factor}× = ${fmt(budgetLimit)}: ${budgetMet ? "met" : "MISSED"})`);

if (mode === "--update") {
  fs.writeFileSync(baselinePath, JSON.stringify({ ...result, updated: new Date().toISOString().slice(0, 10) }, null, 2) + "\n");
  console.log(`baseline written: ${baselinePath}`);
} else if (mode === "--check") {
  if (!fs.existsSync(baselinePath) || !baseline.ops || Object.keys(baseline.ops).length === 0) {
    console.error(`no baseline at ${baselinePath}; run with --update`);
    process.exit(1);
  }
  const failures = [];
  const missing = ORDER.filter((op) => !(baseline.ops[op]?.instructions > 0));
  if (missing.length) failures.push(`not in the baseline (run --update and commit it): ${missing.join(", ")}`);
  const notRun = Object.keys(baseline.ops).filter((op) => !ORDER.includes(op));
  if (notRun.length) failures.push(`in the baseline but not measured (remove them with --update, or measure them): ${notRun.join(", ")}`);
  if (regressions.length) failures.push(`instruction count regressions over ${TOLERANCE * 100}% (if intended: bash bench/instructions.sh --update):\n    ${regressions.join("\n    ")}`);
  const drops = ORDER.filter((op) => baseline.ops[op]?.instructions > 0 && ops[op].instructions < baseline.ops[op].instructions * (1 - DROP_TOLERANCE))
    .map((op) => `${op}: ${fmt(ops[op].instructions)} vs baseline ${fmt(baseline.ops[op].instructions)} (${((ops[op].instructions / baseline.ops[op].instructions - 1) * 100).toFixed(1)}%)`);
  if (drops.length) failures.push(`instruction counts over ${DROP_TOLERANCE * 100}% below the baseline: check that the operation still does its work; if it is a real improvement, record it with bash bench/instructions.sh --update:\n    ${drops.join("\n    ")}`);
  if (!(v <= VALIDATE_OVER_SIGNATURE_TARGET)) failures.push(`target missed: validate_access_token / signature_check_only = ${v.toFixed(3)}x > ${VALIDATE_OVER_SIGNATURE_TARGET}x`);
  for (const miss of floodMisses) failures.push(`target missed: ${miss}`);
  if (!budgetMet) failures.push(`hot-path budget missed: ${HOT_PATH_BUDGET.op} costs ${fmt(budgetNow)} instructions, over ${HOT_PATH_BUDGET.factor}x the ${fmt(HOT_PATH_BUDGET.reference)} of authorize_service when the budget was set (limit ${fmt(budgetLimit)}, by ${fmt(budgetNow - budgetLimit)}): a per-request feature got dearer; find which with the per-feature ops (authorize_service_rate_limited, _with_policy, _upstream_bearer, audit_line, assertion_cached)`);
  if (failures.length) {
    console.error(`instructions --check FAILED:\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
  const faster = ORDER.filter((op) => ops[op].instructions < baseline.ops[op].instructions * (1 - TOLERANCE));
  if (faster.length) console.log(`cheaper than the baseline by over ${TOLERANCE * 100}%: ${faster.join(", ")} (consider --update)`);
  console.log(`instructions: every operation within +${TOLERANCE * 100}% / -${DROP_TOLERANCE * 100}% of the baseline; validate/signature ${v.toFixed(3)}x <= ${VALIDATE_OVER_SIGNATURE_TARGET}x; ${HOT_PATH_BUDGET.op} ${(budgetNow / HOT_PATH_BUDGET.reference).toFixed(2)}x of ${fmt(HOT_PATH_BUDGET.reference)} <= ${HOT_PATH_BUDGET.factor}x`);
}
