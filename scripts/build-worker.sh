#!/usr/bin/env bash
# Builds the Workers gateway (workers/build/index.js + index_bg.wasm) with worker-build,
# offline: wasm-bindgen, wasm-opt and esbuild come from .ci/install-tools.sh and npm, never
# from a download (see ../shared/TOOLCHAIN.md).
set -euo pipefail
[ "${ISOGATE_SKIP_BUILD:-}" = 1 ] && exit 0
root=$(cd "$(dirname "$0")/.." && pwd)
tools_bin=$(bash "$root/.ci/install-tools.sh" | tail -n 1)
[ -x "$root/node_modules/.bin/wasm-opt" ] || (cd "$root" && npm ci --no-audit --no-fund --silent)
cd "$root/workers"
export CARGO_TARGET_DIR="$root/target"
WASM_BINDGEN_BIN="$tools_bin/wasm-bindgen" \
WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt" \
ESBUILD_BIN="$root/node_modules/.bin/esbuild" \
  "$tools_bin/worker-build" --release
