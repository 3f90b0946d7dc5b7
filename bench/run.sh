#!/usr/bin/env bash
# The benchmark, in one command: bash bench/run.sh
#
# Installs what it needs (apt: wrk, nginx, valgrind; npm: the root packages and the peer in
# bench/package.json), builds the worker (scripts/build-worker.sh) and the native ops driver,
# then measures:
#   1. instructions per core operation (callgrind)      bench/instructions.sh
#   2. artifact sizes against budgets                    bench/sizes.sh
#   3. end to end on loopback (wrk, nginx, workerd)      bench/loopback.mjs
#   4. cold start and wasm instantiation                 (part of 3)
#   5. Spin: the component in the project's Spin host    bench/spin.mjs
#      (the same wrk method; a pass-through component as the floor; SQLite statements,
#      instantiation and cold start counted by the host)
# and prints the report, writing it to bench/results/latest.md (git-ignored) and
# bench/LATEST.md (committed), the "Latest results" section of bench/README.md, and its
# summary (date, machine, targets) to the Performance section of the root README.md.
# Takes ~12-15 minutes on 2 cores (the first time, ~7 more to build the Spin host). Every figure is a ratio against a baseline from the same
# run; nothing here asserts timings (CI runs only the deterministic --check parts).
#
# Env: BENCH_SKIP_BUILD=1 (use workers/build and the Spin builds as they are), BENCH_SECONDS, BENCH_ROUNDS,
# BENCH_LATENCY_SECONDS, BENCH_CONNECTIONS, BENCH_COLD_REPEATS (see bench/loopback.mjs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$PATH:/usr/sbin:/sbin"
export WRANGLER_SEND_METRICS=false
export CARGO_TARGET_DIR="$root/target"
source bench/lib/apt.sh

declare -A took
t_all=$(date +%s)
# The commit measured, for the report (with a mark when the measured code differs from it).
commit="$(git rev-parse --short HEAD)$( [ -n "$(git status --porcelain -- core workers spin tests/spin-host bench Cargo.toml)" ] && echo ' (with uncommitted changes)' || true)"
step() { printf '\n==> %s\n' "$*" >&2; t_step=$(date +%s); }
done_step() { took[$1]=$(( $(date +%s) - t_step )); }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(loadavg)

step "tools (apt: wrk, nginx, valgrind; npm)"
need_apt wrk wrk
need_apt nginx nginx
need_apt valgrind valgrind
need_apt taskset util-linux || echo "bench: taskset unavailable: servers and wrk will not be pinned to CPUs" >&2
[ -d node_modules/miniflare ] && [ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund --silent
[ -d bench/node_modules/@cloudflare/workers-oauth-provider ] || (cd bench && npm ci --no-audit --no-fund --silent)
done_step tools

mkdir -p bench/results
step "build: worker (scripts/build-worker.sh)"
if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  # The build's output goes to a log, shown when it fails; its exit status fails the run
  # (build-worker.sh removes workers/build first: no old wasm is measured after a failed build).
  status=0
  bash scripts/build-worker.sh > bench/results/build.log 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 200 bench/results/build.log >&2
    echo "bench: the worker build failed (exit $status); full log: bench/results/build.log" >&2
    exit "$status"
  fi
fi
test -s workers/build/index_bg.wasm || { echo "no workers/build/index_bg.wasm" >&2; exit 1; }
done_step build

step "build: Spin (the component, the pass-through component, the Spin host optimized)"
if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  status=0
  {
    cargo build -p isogate-spin -p isogate-spin-passthrough --target wasm32-wasip2 --release &&
      cargo build -p isogate-spin-host --profile bench-host
  } > bench/results/build-spin.log 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 200 bench/results/build-spin.log >&2
    echo "bench: the Spin build failed (exit $status); full log: bench/results/build-spin.log" >&2
    exit "$status"
  fi
fi
done_step build_spin

step "1. instructions per core operation (callgrind)"
bash bench/instructions.sh
done_step instructions

step "2. artifact sizes"
bash bench/sizes.sh
done_step sizes

step "3+4. loopback end to end and cold start (wrk, nginx, workerd)"
node bench/loopback.mjs bench/results/loopback.json 2> >(grep -v 'CIMD' >&2)
done_step loopback

step "5. Spin on loopback (wrk, the Spin host)"
node bench/spin.mjs bench/results/spin.json
done_step spin

# Run metadata for the report.
steps_json=$(for k in tools build build_spin instructions sizes loopback spin; do printf '"%s": %s,' "$k" "${took[$k]}"; done)
printf '{"seconds": %s, "steps": {%s}, "loadavg_before": "%s", "loadavg_after": "%s", "commit": "%s"}\n' \
  "$(( $(date +%s) - t_all ))" "${steps_json%,}" "$load_before" "$(loadavg)" "$commit" > bench/results/run.json

step "report"
node bench/report.mjs bench/results/latest.md
cp bench/results/latest.md bench/LATEST.md
node bench/lib/readme-section.mjs bench/README.md bench/results/latest.md
node bench/lib/readme-section.mjs README.md bench/results/latest.md --summary
echo >&2
echo "written: bench/results/latest.md, bench/LATEST.md, bench/README.md (Latest results), README.md (Performance: the summary)" >&2
