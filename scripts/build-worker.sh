#!/usr/bin/env bash
# Builds the Workers gateway (workers/build/index.js + index_bg.wasm), offline: cargo, then
# wasm-bindgen (the CLI .ci/install-tools.sh installs, the crate's exact version), wasm-opt and
# esbuild (npm); never a download (see ../shared/TOOLCHAIN.md).
#
# The same steps worker-build took, with our own entry (workers/src/entry.js) in place of its
# shim, which wrapped every request's `fetch` in Proxies and an `async` function:
#   1. cargo build --release --target wasm32-unknown-unknown (release profile: opt-level z, lto)
#   2. wasm-bindgen --target module, with the abort handler and reset function, so that after a
#      trap the next request gets a freshly instantiated module (workers/src/entry.rs)
#   3. wasm-opt -O, names section dropped (see below)
#   4. esbuild bundles entry.js with wasm-bindgen's JS into build/index.js; the wasm stays a
#      separate module, build/index_bg.wasm (imported as a compiled module)
#
# Fails when the build fails, whatever an earlier build left behind: workers/build is removed
# first, any failing step fails the script (and removes it again), and the outputs must exist
# afterwards.
# WASM_BINDGEN_BIN / WASM_OPT_BIN / ESBUILD_BIN in the environment override the tools (e.g.
# WASM_BINDGEN_BIN=/bin/false to check that a broken build fails the run).
set -euo pipefail
[ "${ISOGATE_SKIP_BUILD:-}" = 1 ] && exit 0
root=$(cd "$(dirname "$0")/.." && pwd)
tools_bin=$(bash "$root/.ci/install-tools.sh" | tail -n 1)
[ -x "$root/node_modules/.bin/wasm-opt" ] || (cd "$root" && npm ci --no-audit --no-fund --silent)
wasm_bindgen="${WASM_BINDGEN_BIN:-$tools_bin/wasm-bindgen}"
wasm_opt="${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}"
esbuild="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
export CARGO_TARGET_DIR="$root/target"
cd "$root/workers"
rm -rf build
# A failed step leaves no workers/build at all (no wasm without its index.js).
fail() { echo "build-worker.sh: $*" >&2; rm -rf build; exit 1; }

# 1. WASM_BINDGEN_USE_JS_SYS as worker-build set it (wasm-bindgen's macro then uses js_sys's
# futures), so the code is the same as it built.
WASM_BINDGEN_USE_JS_SYS=1 cargo build --quiet --lib --release --target wasm32-unknown-unknown \
  || fail "cargo build failed"

# 2. Into build/bindgen: index.js (the glue, importing ./index_bg.wasm) and index_bg.wasm.
"$wasm_bindgen" "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/isogate_workers.wasm" \
  --out-dir build/bindgen --out-name index --target module --no-typescript \
  --experimental-reset-state-function --force-enable-abort-handler \
  || fail "wasm-bindgen failed"

# 3. The features workerd supports (worker-build's list: no newer binaryen encodings). The
# names section (function names for stack traces: ~90 KiB raw, ~26 KiB of the 200 KiB gzip
# target) is dropped unless ISOGATE_KEEP_WASM_NAMES=1 (for debugging a trap).
features=()
for feature in mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling; do
  features+=("--enable-$feature")
done
names=--strip-debug
[ "${ISOGATE_KEEP_WASM_NAMES:-}" = 1 ] && names=--debuginfo
"$wasm_opt" -O "${features[@]}" "$names" build/bindgen/index_bg.wasm -o build/index_bg.wasm \
  || fail "wasm-opt failed"

# 4. wasm-bindgen's module target imports the wasm as a source phase import (`import source`);
# workerd, wrangler and Miniflare take a plain import of a CompiledWasm module.
sed -i 's/^import source /import /' build/bindgen/index.js
grep -q '^import [A-Za-z_$]* from "./index_bg.wasm";' build/bindgen/index.js \
  || fail "wasm-bindgen's index.js does not import ./index_bg.wasm as expected"
cp src/entry.js build/entry.js
# (wasm-bindgen lists its glue.js snippet twice in the imports object: harmless, silenced.)
"$esbuild" build/entry.js --bundle --format=esm --minify --log-level=warning --log-override:duplicate-object-key=silent \
  --external:./index_bg.wasm '--external:cloudflare:*' --outfile=build/index.js \
  || fail "esbuild failed"
rm -rf build/bindgen build/entry.js
for f in build/index.js build/index_bg.wasm; do
  [ -s "$f" ] || fail "did not write workers/$f"
done
