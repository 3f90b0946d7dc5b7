#!/usr/bin/env bash
# Runs every test: formatting and clippy, the core's and CLI's Rust tests, then the
# end-to-end suite against the built gateway in real runtimes with real loopback origins and
# real OAuth2 client libraries. Installs what it needs (rustup targets and components,
# wasm-bindgen-cli, npm and PyPI packages) on first run; later runs reuse them.
#
# Every step fails the run. Long, chatty steps (the builds) write their output to a log under
# $ISOGATE_CI_LOGS (default: a new temp dir) that is printed when the step fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export WRANGLER_SEND_METRICS=false
export CARGO_TARGET_DIR="$root/target"
logs=${ISOGATE_CI_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/isogate-ci.XXXXXX")}
mkdir -p "$logs"

step() { printf '\n==> %s\n' "$*"; }

# quiet NAME CMD...: runs CMD with its output in $logs/NAME.log; when CMD fails, prints the
# end of the log and fails the run with CMD's exit status.
quiet() {
  local name=$1 status=0
  shift
  "$@" > "$logs/$name.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    printf 'FAILED (exit %s): %s\n--- last 200 lines of %s ---\n' "$status" "$*" "$logs/$name.log" >&2
    tail -n 200 "$logs/$name.log" >&2
    exit "$status"
  fi
}

step "SpinKube manifests: rendered, validated against the committed CRD schemas, broken copies refused (infra/kubernetes)"
[ -x .venv-tests/bin/python ] || python3 -m venv .venv-tests
.venv-tests/bin/pip install --quiet --disable-pip-version-check -r infra/kubernetes/requirements.txt
.venv-tests/bin/python -m unittest infra/kubernetes/test_validate.py

step "tools (rustup targets and components, wasm-bindgen-cli)"
# Its progress (stderr) stays on screen: the first run compiles two tools for minutes each.
bash .ci/install-tools.sh > "$logs/install-tools.log"

step "format and lints (cargo fmt --check, cargo clippy -D warnings on every crate and target)"
# All four run (clippy with --keep-going: every crate that compiles is linted), so one CI run reports every problem; any failure fails the run here, before
# the long builds and the e2e suite.
lint_failed=()
lint() { # NAME CMD...
  local name=$1
  shift
  "$@" > "$logs/$name.log" 2>&1 || lint_failed+=("$name: exit $?: $*")
}
lint fmt cargo fmt --all --check
lint clippy-native cargo clippy --quiet --keep-going -p isogate-core -p isogate-cli -p isogate-bench -p isogate-spin-host -p isogate-fuzz --all-targets --all-features -- -D warnings
lint clippy-workers cargo clippy --quiet --keep-going -p isogate-workers --target wasm32-unknown-unknown --all-targets -- -D warnings
lint clippy-spin cargo clippy --quiet --keep-going -p isogate-spin -p isogate-spin-passthrough --target wasm32-wasip2 --all-targets -- -D warnings
if [ ${#lint_failed[@]} -gt 0 ]; then
  for name in fmt clippy-native clippy-workers clippy-spin; do
    [ -s "$logs/$name.log" ] || continue
    if [ "$name" = fmt ]; then
      printf '\n--- cargo fmt --all --check: files to format (run `cargo fmt --all`; diff in %s) ---\n' "$logs/fmt.log"
      sed -n 's/^Diff in \(.*\):[0-9]*:$/\1/p' "$logs/fmt.log" | sort | uniq -c
    else
      printf '\n--- %s (%s) ---\n' "$name" "$logs/$name.log"
      grep -E '^(error|warning)|^ +--> ' "$logs/$name.log" | head -n 60
      printf '(full output: %s)\n' "$logs/$name.log"
    fi
  done >&2
  echo >&2
  printf 'FAILED: %s\n' "${lint_failed[@]}" >&2
  exit 1
fi

step "npm packages"
[ -d node_modules/miniflare ] && [ -x node_modules/.bin/wasm-opt ] || npm ci --no-audit --no-fund --silent
step "python OAuth2 client libraries, and PyJWT for the Python origin"
[ -x .venv-tests/bin/python ] || python3 -m venv .venv-tests
.venv-tests/bin/pip install --quiet --disable-pip-version-check -r tests/clients/python/requirements.txt -r tests/origins/python/requirements.txt

step "OAuth2 client libraries: Go, Node/TypeScript, Rust (apt, npm ci, builds)"
bash tests/clients/install.sh

step "unit and flow tests (core, cli)"
cargo test --quiet -p isogate-core -p isogate-cli

step "fuzz targets (libFuzzer on stable, 5 s each from fuzz/corpus; executions per target)"
bash scripts/fuzz.sh --ci 5

step "build: Workers gateway (cargo, wasm-bindgen, wasm-opt, esbuild) and CLI"
# build-worker.sh removes workers/build first, so a failed build cannot leave an old wasm behind.
quiet build-worker bash scripts/build-worker.sh
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
