#!/usr/bin/env bash
# Artifact sizes, raw and gzip (zlib's default level, as wrangler reports "gzip"): the worker's
# wasm and JS (workers/build/, from scripts/build-worker.sh) and the Spin component
# (target/wasm32-wasip2/release/isogate_spin.wasm) when it has been built. Sizes are
# deterministic for a given build, so CI checks them against budgets.
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
node "$root/bench/lib/sizes.mjs" "$root" "$mode"
