#!/usr/bin/env bash
# Artifact sizes, raw and gzip (zlib's default level, as wrangler reports "gzip"): the worker's
# wasm and JS (workers/build/, from scripts/build-worker.sh), the whole worker upload as
# wrangler counts it (the modules of `wrangler deploy --dry-run`, which bundles and uploads
# nothing else), and the Spin component (target/wasm32-wasip2/release/isogate_spin.wasm;
# required by --check and --update). Sizes are deterministic for a given build, so CI checks
# them against budgets; --check fails on a missing artifact, budgets file or budget entry.
#
#   bash bench/sizes.sh            # print the table
#   bash bench/sizes.sh --check    # ... and fail when an artifact is over its budget (bench/baseline/sizes.json)
#   bash bench/sizes.sh --update   # ... and reset the budgets to the current sizes + 2%
#                                  #     (never above the target for the worker's wasm, unless it is already over)
#
# Writes bench/results/sizes.json. Builds nothing: build first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
case "$mode" in ""|--check|--update) ;; *) echo "usage: $0 [--check|--update]" >&2; exit 2 ;; esac
mkdir -p "$root/bench/results"
upload=$(mktemp -d)
trap 'rm -rf "$upload"' EXIT
# What wrangler would upload, without building (ISOGATE_SKIP_BUILD: wrangler.toml's build
# command is scripts/build-worker.sh) or contacting Cloudflare. Its output is shown on failure.
status=0
(cd "$root" && ISOGATE_SKIP_BUILD=1 WRANGLER_SEND_METRICS=false node_modules/.bin/wrangler deploy --dry-run --outdir "$upload/out") > "$upload/wrangler.log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  cat "$upload/wrangler.log" >&2
  echo "sizes.sh: wrangler deploy --dry-run failed (exit $status)" >&2
  exit "$status"
fi
node "$root/bench/lib/sizes.mjs" "$root" "$upload/out" "$mode"
