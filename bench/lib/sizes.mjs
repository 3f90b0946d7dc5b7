// Sizes of the deployable artifacts against budgets.
// Usage: node sizes.mjs <root> <wrangler-dry-run-outdir> [--check|--update] (bench/sizes.sh runs it)
//
// --check fails on: a missing artifact (the worker's files and the Spin component), a missing
// baseline file or a missing budget for any artifact, and any size over its budget.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const [root, wranglerOutDir, mode = ""] = process.argv.slice(2);
const baselinePath = path.join(root, "bench/baseline/sizes.json");
const outPath = path.join(root, "bench/results/sizes.json");
const KIB = 1024;
/** The issue's target: the worker's wasm at most 200 KB gzip (KiB, as wrangler counts). */
const WORKER_WASM_GZIP_TARGET = 200 * KIB;
/** The budget key of the whole worker upload (not a file). */
const WORKER_UPLOAD = "worker upload (wrangler deploy --dry-run)";
const strict = mode === "--check" || mode === "--update";
const ARTIFACTS = [
  { name: "worker wasm", file: "workers/build/index_bg.wasm", required: true },
  { name: "worker JS", file: "workers/build/index.js", required: true },
  // Required by --check and --update (CI builds it before the check); optional for a plain table.
  { name: "Spin component", file: "target/wasm32-wasip2/release/isogate_spin.wasm", required: strict },
];

const kib = (b) => `${(b / KIB).toFixed(1)} KiB`;
const sizesOf = (bytes) => ({ raw: bytes.length, gzip: zlib.gzipSync(bytes).length });
const sizes = {};
for (const a of ARTIFACTS) {
  const p = path.join(root, a.file);
  if (!fs.existsSync(p)) {
    if (a.required) {
      console.error(`missing ${a.file}: build first (bash scripts/build-worker.sh; cargo build -p isogate-spin --target wasm32-wasip2 --release)`);
      process.exit(1);
    }
    continue;
  }
  sizes[a.file] = sizesOf(fs.readFileSync(p));
}

// The whole worker upload, as wrangler counts it ("Total Upload: ... / gzip: ..."): the modules
// `wrangler deploy --dry-run --outdir DIR` writes (its bundle of workers/build/index.js, with
// wrangler's own additions, and the modules it imports: index_bg.wasm), concatenated with the
// main module last and gzipped as one blob, as wrangler's getSize does
// (src/deployment-bundle/bundle-reporter.ts). sizes.sh makes DIR; README.md and source maps
// there are not uploaded.
const uploadDir = path.resolve(wranglerOutDir);
const uploadModules = fs.readdirSync(uploadDir).filter((f) => f !== "README.md" && !f.endsWith(".map"));
if (!uploadModules.includes("index.js")) {
  console.error(`no index.js in ${uploadDir}: wrangler deploy --dry-run --outdir did not write the worker`);
  process.exit(1);
}
const uploadFiles = uploadModules.filter((f) => f !== "index.js").sort().concat("index.js");
const workerUpload = {
  ...sizesOf(Buffer.concat(uploadFiles.map((f) => fs.readFileSync(path.join(uploadDir, f))))),
  modules: uploadFiles,
  measured_with: "wrangler deploy --dry-run --outdir",
};
sizes[WORKER_UPLOAD] = { raw: workerUpload.raw, gzip: workerUpload.gzip };

const baselineExists = fs.existsSync(baselinePath);
const baseline = baselineExists ? JSON.parse(fs.readFileSync(baselinePath, "utf8")) : { budgets: {} };
const lines = ["| artifact | raw | gzip | raw budget | gzip budget |", "|---|---:|---:|---:|---:|"];
const over = [];
const noBudget = [];
const rows = [...ARTIFACTS.map((a) => ({ key: a.file, label: `${a.name} (\`${a.file}\`)` })),
  { key: WORKER_UPLOAD, label: `worker upload, as wrangler counts it (${workerUpload.modules.map((f) => `\`${f}\``).join(" + ")})` }];
for (const { key, label } of rows) {
  const s = sizes[key];
  if (!s) { lines.push(`| ${label} | not built | | | |`); continue; }
  const budget = baseline.budgets?.[key];
  for (const kind of ["raw", "gzip"]) {
    if (budget?.[kind] === undefined) noBudget.push(`${key} ${kind}`);
    else if (s[kind] > budget[kind]) over.push(`${key} ${kind}: ${s[kind]} bytes > budget ${budget[kind]} (${kib(s[kind])} > ${kib(budget[kind])})`);
  }
  lines.push(`| ${label} | ${kib(s.raw)} | ${kib(s.gzip)} | ${budget?.raw ? kib(budget.raw) : "—"} | ${budget?.gzip ? kib(budget.gzip) : "—"} |`);
}
console.log(lines.join("\n"));

const wasmGzip = sizes["workers/build/index_bg.wasm"].gzip;
const missBy = wasmGzip - WORKER_WASM_GZIP_TARGET;
const targetLine = missBy <= 0
  ? `worker wasm gzip ${kib(wasmGzip)}: target ≤ ${kib(WORKER_WASM_GZIP_TARGET)} met (${kib(-missBy)} to spare)`
  : `worker wasm gzip ${kib(wasmGzip)}: target ≤ ${kib(WORKER_WASM_GZIP_TARGET)} MISSED by ${kib(missBy)} (${(100 * missBy / WORKER_WASM_GZIP_TARGET).toFixed(1)}%)`;
console.log(`\n${targetLine}`);
const artifacts = Object.fromEntries(Object.entries(sizes).filter(([k]) => k !== WORKER_UPLOAD));
fs.writeFileSync(outPath, JSON.stringify({ artifacts, worker_upload: workerUpload, target: { worker_wasm_gzip: WORKER_WASM_GZIP_TARGET }, target_missed_by: Math.max(0, missBy) }, null, 2) + "\n");

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
    note: `Budgets in bytes: current size + 2%, rounded up to a KiB. The worker wasm's gzip budget is never above its target, 200 KiB (204800 bytes), while the build is under it. "${WORKER_UPLOAD}" is what wrangler uploads (the modules of wrangler deploy --dry-run --outdir), concatenated (index.js last) and gzipped as one, as wrangler's "Total Upload" counts it.`,
    updated: new Date().toISOString().slice(0, 10),
    target: { "workers/build/index_bg.wasm": { gzip: WORKER_WASM_GZIP_TARGET } },
    budgets,
  }, null, 2) + "\n");
  console.log(`budgets written: ${baselinePath}`);
} else if (mode === "--check") {
  const failures = [];
  if (!baselineExists) failures.push(`no budgets file ${baselinePath} (create it: bash bench/sizes.sh --update)`);
  else if (noBudget.length) failures.push(`no budget in ${path.relative(root, baselinePath)} for: ${noBudget.join(", ")} (bash bench/sizes.sh --update)`);
  if (over.length) failures.push(`over budget (if intended, reset the budgets: bash bench/sizes.sh --update):\n    ${over.join("\n    ")}`);
  if (failures.length) {
    console.error(`sizes --check FAILED:\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
  console.log("sizes: every artifact within its budget");
}
