// Sizes of the deployable artifacts against budgets. Usage: node sizes.mjs <root> [--check|--update]
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const [root, mode = ""] = process.argv.slice(2);
const baselinePath = path.join(root, "bench/baseline/sizes.json");
const outPath = path.join(root, "bench/results/sizes.json");
const KIB = 1024;
/** The target: the worker's wasm at most 200 KB gzip (KiB, as wrangler counts). */
const WORKER_WASM_GZIP_TARGET = 200 * KIB;
const ARTIFACTS = [
  { name: "worker wasm", file: "workers/build/index_bg.wasm", required: true },
  { name: "worker JS", file: "workers/build/index.js", required: true },
  { name: "Spin component", file: "target/wasm32-wasip2/release/isogate_spin.wasm", required: false },
];

const kib = (b) => `${(b / KIB).toFixed(1)} KiB`;
const sizes = {};
for (const a of ARTIFACTS) {
  const p = path.join(root, a.file);
  if (!fs.existsSync(p)) {
    if (a.required) {
      console.error(`missing ${a.file}: build first (bash scripts/build-worker.sh)`);
      process.exit(1);
    }
    continue;
  }
  const bytes = fs.readFileSync(p);
  sizes[a.file] = { raw: bytes.length, gzip: zlib.gzipSync(bytes).length };
}
// What wrangler reports as the upload ("Total Upload: ... / gzip: ..."): all modules together.
const upload = Buffer.concat(["workers/build/index_bg.wasm", "workers/build/index.js"].map((f) => fs.readFileSync(path.join(root, f))));
const workerUpload = { raw: upload.length, gzip: zlib.gzipSync(upload).length };

const baseline = fs.existsSync(baselinePath) ? JSON.parse(fs.readFileSync(baselinePath, "utf8")) : { budgets: {} };
const lines = ["| artifact | raw | gzip | gzip budget |", "|---|---:|---:|---:|"];
const over = [];
for (const a of ARTIFACTS) {
  const s = sizes[a.file];
  if (!s) { lines.push(`| ${a.name} (\`${a.file}\`) | not built | | |`); continue; }
  const budget = baseline.budgets?.[a.file];
  for (const kind of ["raw", "gzip"]) {
    if (budget?.[kind] !== undefined && s[kind] > budget[kind]) over.push(`${a.file} ${kind}: ${s[kind]} bytes > budget ${budget[kind]} (${kib(s[kind])} > ${kib(budget[kind])})`);
  }
  lines.push(`| ${a.name} (\`${a.file}\`) | ${kib(s.raw)} | ${kib(s.gzip)} | ${budget?.gzip ? kib(budget.gzip) : "—"} |`);
}
lines.push(`| worker upload (wasm + JS, as wrangler counts it) | ${kib(workerUpload.raw)} | ${kib(workerUpload.gzip)} | |`);
console.log(lines.join("\n"));

const wasmGzip = sizes["workers/build/index_bg.wasm"].gzip;
const missBy = wasmGzip - WORKER_WASM_GZIP_TARGET;
const targetLine = missBy <= 0
  ? `worker wasm gzip ${kib(wasmGzip)}: target ≤ ${kib(WORKER_WASM_GZIP_TARGET)} met (${kib(-missBy)} to spare)`
  : `worker wasm gzip ${kib(wasmGzip)}: target ≤ ${kib(WORKER_WASM_GZIP_TARGET)} MISSED by ${kib(missBy)} (${(100 * missBy / WORKER_WASM_GZIP_TARGET).toFixed(1)}%)`;
console.log(`\n${targetLine}`);
fs.writeFileSync(outPath, JSON.stringify({ artifacts: sizes, worker_upload: workerUpload, target: { worker_wasm_gzip: WORKER_WASM_GZIP_TARGET }, target_missed_by: Math.max(0, missBy) }, null, 2) + "\n");

if (mode === "--update") {
  // Budget: the current size + 2%, rounded up to a whole KiB, so that growth is a decision
  // (an --update in the same commit) rather than drift. For the worker's wasm (gzip) it is
  // never above the target while the build is under it; when the build is over, the budget only
  // stops it from growing further, and the line above says by how much the target is missed.
  const budget = (bytes) => Math.ceil((bytes * 1.02) / KIB) * KIB;
  const budgets = {};
  for (const [file, s] of Object.entries(sizes)) budgets[file] = { raw: budget(s.raw), gzip: budget(s.gzip) };
  const w = budgets["workers/build/index_bg.wasm"];
  if (wasmGzip <= WORKER_WASM_GZIP_TARGET) w.gzip = Math.min(w.gzip, WORKER_WASM_GZIP_TARGET);
  fs.writeFileSync(baselinePath, JSON.stringify({
    note: "Budgets in bytes: current size + 2%, rounded up to a KiB. The worker wasm's gzip budget is never above its target, 200 KiB (204800 bytes), while the build is under it.",
    updated: new Date().toISOString().slice(0, 10),
    target: { "workers/build/index_bg.wasm": { gzip: WORKER_WASM_GZIP_TARGET } },
    budgets,
  }, null, 2) + "\n");
  console.log(`budgets written: ${baselinePath}`);
} else if (mode === "--check") {
  if (over.length) {
    console.error(`over budget:\n  ${over.join("\n  ")}\nif intended, reset the budgets: bash bench/sizes.sh --update`);
    process.exit(1);
  }
  console.log("sizes: within budget");
}
