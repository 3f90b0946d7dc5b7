#!/usr/bin/env bash
# Builds the Workers gateway (workers/build/index.js + index_bg.wasm) with worker-build,
# offline: wasm-bindgen, wasm-opt and esbuild come from .ci/install-tools.sh and npm, never
# from a download (see ../shared/TOOLCHAIN.md).
#
# Fails when the build fails, whatever an earlier build left behind: workers/build is removed
# first, worker-build's exit status is the script's, and the outputs must exist afterwards.
# WASM_BINDGEN_BIN / WASM_OPT_BIN / ESBUILD_BIN in the environment override the tools (e.g.
# WASM_BINDGEN_BIN=/bin/false to check that a broken build fails the run).
set -euo pipefail
[ "${ISOGATE_SKIP_BUILD:-}" = 1 ] && exit 0
root=$(cd "$(dirname "$0")/.." && pwd)
tools_bin=$(bash "$root/.ci/install-tools.sh" | tail -n 1)
[ -x "$root/node_modules/.bin/wasm-opt" ] || (cd "$root" && npm ci --no-audit --no-fund --silent)
cd "$root/workers"
export CARGO_TARGET_DIR="$root/target"
rm -rf build
status=0
WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$tools_bin/wasm-bindgen}" \
WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}" \
ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}" \
  "$tools_bin/worker-build" --release || status=$?
if [ "$status" -ne 0 ]; then
  echo "build-worker.sh: worker-build failed (exit $status)" >&2
  exit "$status"
fi
for f in build/index.js build/index_bg.wasm; do
  [ -s "$f" ] || { echo "build-worker.sh: worker-build exited 0 but did not write workers/$f" >&2; exit 1; }
done
# worker-build keeps the wasm's names section (function names for stack traces): ~90 KiB raw,
# ~26 KiB of the 200 KiB gzip target. Dropped here, code untouched (no optimisation pass; the
# features worker-build enables). ISOGATE_KEEP_WASM_NAMES=1 keeps them, for debugging a trap.
if [ "${ISOGATE_KEEP_WASM_NAMES:-}" != 1 ]; then
  features=()
  for feature in mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling; do
    features+=("--enable-$feature")
  done
  "${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}" "${features[@]}" --strip-debug \
    build/index_bg.wasm -o build/index_bg.wasm.stripped
  mv build/index_bg.wasm.stripped build/index_bg.wasm
fi
