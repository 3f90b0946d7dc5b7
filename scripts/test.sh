#!/usr/bin/env bash
# Runs every test: the core's and CLI's Rust tests, then the end-to-end suite against the
# built gateway in real runtimes with real loopback origins and real OAuth2 client libraries.
# Installs what it needs (rustup targets, worker-build, wasm-bindgen-cli, npm and PyPI
# packages) on first run; later runs reuse them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export WRANGLER_SEND_METRICS=false
export CARGO_TARGET_DIR="$root/target"

step() { printf '\n==> %s\n' "$*"; }

step "tools (rustup targets, worker-build, wasm-bindgen-cli)"
bash .ci/install-tools.sh > /dev/null
step "npm packages"
[ -d node_modules/miniflare ] && [ -x node_modules/.bin/wasm-opt ] || npm ci --no-audit --no-fund --silent
step "python OAuth2 client libraries"
[ -x .venv-tests/bin/python ] || python3 -m venv .venv-tests
.venv-tests/bin/pip install --quiet --disable-pip-version-check -r tests/clients/python/requirements.txt

step "OAuth2 client libraries: Go, Node/TypeScript, Rust (apt, npm ci, builds)"
bash tests/clients/install.sh

step "unit and flow tests (core, cli)"
cargo test --quiet -p isogate-core -p isogate-cli

step "build: Workers gateway (worker-build) and CLI"
bash scripts/build-worker.sh 2>&1 | grep -E 'error|warning: unused|Done in' || true
test -s workers/build/index_bg.wasm
cargo build --quiet -p isogate-cli

step "build: Spin component (wasm32-wasip2) and the Spin test host"
cargo build --quiet -p isogate-spin --target wasm32-wasip2 --release
cargo build --quiet -p isogate-spin-host

step "benchmark guards: instructions per core operation (callgrind) and artifact sizes (bench/)"
bash bench/instructions.sh --check
bash bench/sizes.sh --check

step "Spin test host smoke test (KV, SQLite, variables, outbound HTTP, allow-list)"
bash tests/spin-host/smoke.sh

step "end-to-end on workerd (Miniflare)"
ISOGATE_RUNTIME=workers node --test --test-concurrency=1 tests/e2e/

step "end-to-end on Spin (the component in tests/spin-host)"
ISOGATE_RUNTIME=spin node --test --test-concurrency=1 tests/e2e/
