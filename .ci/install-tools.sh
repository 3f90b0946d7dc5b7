#!/usr/bin/env bash
# Installs the native tools the build needs, offline-safe (crates.io only), into a fixed
# root outside the clone so that reruns on the same machine skip them.
# See ../shared/TOOLCHAIN.md. The worker is built without worker-build (scripts/build-worker.sh
# drives wasm-bindgen, wasm-opt and esbuild itself), so only wasm-bindgen-cli is compiled here.
set -euo pipefail
TOOLS_ROOT="${ISOGATE_TOOLS_ROOT:-$HOME/.cache/isogate-tools}"
WASM_BINDGEN_VERSION=0.2.130   # must equal wasm-bindgen in Cargo.lock (pinned in workers/Cargo.toml)
mkdir -p "$TOOLS_ROOT"
# Progress goes to stderr: stdout is the one line scripts/build-worker.sh reads.
source "$(dirname "$0")/../scripts/lib/long-step.sh"

missing_targets=$(comm -13 <(rustup target list --installed | sort) <(printf '%s\n' wasm32-unknown-unknown wasm32-wasip2))
if [ -n "$missing_targets" ]; then
  long_step "adding rustup targets $(echo $missing_targets)" "first run only: a download, about a minute" \
    rustup target add $missing_targets > /dev/null
fi
# scripts/test.sh runs `cargo fmt --check` and `cargo clippy -D warnings` before the tests.
rustup --quiet component add clippy rustfmt >/dev/null

# `wasm-bindgen --version` prints its name, then the version.
installed_version() { "$TOOLS_ROOT/bin/$1" --version 2>/dev/null | awk '{print $NF}'; }

if [ "$(installed_version wasm-bindgen)" != "$WASM_BINDGEN_VERSION" ]; then
  # Not --locked: its lockfile names a webpki-roots release the registry mirror lacks.
  long_step "compiling wasm-bindgen-cli $WASM_BINDGEN_VERSION from crates.io" \
    "first run only: about 6-7 minutes on 2 cores; installed into $TOOLS_ROOT" \
    cargo install --quiet --root "$TOOLS_ROOT" wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
echo "$TOOLS_ROOT/bin"
