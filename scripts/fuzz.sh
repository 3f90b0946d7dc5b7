#!/usr/bin/env bash
# Fuzzes the core's parsers with libFuzzer, on stable Rust (no nightly, no cargo-fuzz needed):
# the targets in fuzz/fuzz_targets are built with the coverage instrumentation libFuzzer
# needs (the same rustc flags cargo-fuzz passes, minus the sanitizer, which needs nightly; the
# core has no unsafe code) into target/fuzz, and run from the committed corpus fuzz/corpus/T.
#
#   bash scripts/fuzz.sh --ci [SECONDS]   every target for SECONDS each (default 5), from a copy of
#                                         its corpus; prints executions per target; fails on a crash
#   bash scripts/fuzz.sh TARGET [SECONDS] one target (default: until stopped), adding what it
#                                         finds to fuzz/corpus/TARGET; crashes in fuzz/artifacts/TARGET
#   bash scripts/fuzz.sh --list           the targets
#
# Extra libFuzzer flags go in FUZZ_FLAGS (e.g. FUZZ_FLAGS="-jobs=2 -workers=2").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="$root/target/fuzz"
triple=$(rustc -vV | sed -n 's/^host: //p')
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^isogate-fuzz$')

if [ "${1:-}" = --list ]; then
  echo "$targets"
  exit 0
fi

build() {
  # --target keeps the instrumentation off build scripts and proc macros.
  RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
--cfg fuzzing" \
    cargo build --quiet --profile fuzz -p isogate-fuzz --bins --target "$triple"
}
bin() { echo "$CARGO_TARGET_DIR/$triple/fuzz/$1"; }

if [ "${1:-}" = --ci ]; then
  seconds=${2:-5}
  build
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  failed=()
  printf '%-15s %12s %10s  %s\n' target executions exec/s "corpus (committed + new)"
  for t in $targets; do
    mkdir -p "$work/$t" "$work/artifacts-$t"
    status=0
    # New inputs go to the scratch dir; the committed corpus is only read.
    "$(bin "$t")" "$work/$t" "fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/artifacts-$t/" -print_final_stats=1 ${FUZZ_FLAGS:-} > "$work/$t.log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log" | tail -n 1)
    committed=$(find "fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
    found=$(find "$work/$t" -type f | wc -l)
    printf '%-15s %12s %10s  %s + %s\n' "$t" "${runs:-?}" "${rate:-?}" "$committed" "$found"
    if [ "$status" -ne 0 ]; then
      failed+=("$t")
      echo "--- $t failed (exit $status); the input is kept in fuzz/artifacts/$t:" >&2
      mkdir -p "fuzz/artifacts/$t"
      cp "$work/artifacts-$t/"* "fuzz/artifacts/$t/" 2>/dev/null || true
      grep -v '^#\|^INFO\|^stat::' "$work/$t.log" | tail -n 40 >&2
    fi
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: fuzz targets ${failed[*]} (replay: $(bin TARGET) fuzz/artifacts/TARGET/crash-...)" >&2
    exit 1
  fi
  exit 0
fi

t=${1:?usage: scripts/fuzz.sh --ci [SECONDS] | TARGET [SECONDS] | --list}
echo "$targets" | grep -qx "$t" || { echo "no fuzz target $t; targets: $(echo $targets)" >&2; exit 2; }
build
mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
exec "$(bin "$t")" "fuzz/corpus/$t" -artifact_prefix="fuzz/artifacts/$t/" -timeout=10 -rss_limit_mb=2048 \
  ${2:+-max_total_time=$2} ${FUZZ_FLAGS:-}
