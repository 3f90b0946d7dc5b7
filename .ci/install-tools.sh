#!/usr/bin/env bash
# Installs the native tools the build needs, offline-safe (crates.io only), into a fixed
# root outside the clone so that reruns on the same machine skip them.
# See ../shared/TOOLCHAIN.md: worker-build would otherwise download wasm-bindgen/wasm-opt.
set -euo pipefail
TOOLS_ROOT="${ISOGATE_TOOLS_ROOT:-$HOME/.cache/isogate-tools}"
WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=0.2.130   # must equal wasm-bindgen in Cargo.lock (pinned in workers/Cargo.toml)
mkdir -p "$TOOLS_ROOT"

rustup target add wasm32-unknown-unknown wasm32-wasip2 >/dev/null
# scripts/test.sh runs `cargo fmt --check` and `cargo clippy -D warnings` before the tests.
rustup component add clippy rustfmt >/dev/null

installed_version() { "$TOOLS_ROOT/bin/$1" --version 2>/dev/null | awk '{print $2}'; }

if [ "$(installed_version worker-build)" != "$WORKER_BUILD_VERSION" ]; then
  cargo install --quiet --root "$TOOLS_ROOT" worker-build --version "$WORKER_BUILD_VERSION" --locked
fi
if [ "$(installed_version wasm-bindgen)" != "$WASM_BINDGEN_VERSION" ]; then
  # Not --locked: its lockfile names a webpki-roots release the registry mirror lacks.
  cargo install --quiet --root "$TOOLS_ROOT" wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
echo "$TOOLS_ROOT/bin"
