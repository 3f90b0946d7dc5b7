#!/usr/bin/env bash
# Instructions per core operation, counted by callgrind on a native release build of the
# core (bench/src/bin/ops.rs). Each operation runs N and 2N times in separate processes; the
# difference divided by N is the cost of one operation, with start-up and set-up cancelled.
# Counts are deterministic (fixed key, clock and inputs; portable SHA-256), so CI can assert
# on them, unlike timings.
#
#   bash bench/instructions.sh            # print the table
#   bash bench/instructions.sh --check    # ... and fail if an op fails, costs > 5% more or > 20% less than
#                                         #     bench/baseline/instructions.json, is missing from it (or it lists
#                                         #     an op not run), or validate_access_token > 1.2x signature_check_only,
#                                         #     or an *_after_revocation_flood op is not within 1% of its plain op,
#                                         #     or authorize_service_all_features is over its budget (1.5x 57k)
#   bash bench/instructions.sh --update   # ... and rewrite the baseline
#
# Writes bench/results/instructions.json. Installs valgrind with apt if it is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
case "$mode" in ""|--check|--update) ;; *) echo "usage: $0 [--check|--update]" >&2; exit 2 ;; esac
source "$root/bench/lib/apt.sh"
need_apt valgrind valgrind

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --quiet --release -p isogate-bench --bin ops)
# BENCH_OPS: another driver binary (e.g. a wrapper that fails, to check that the guard fails).
ops="${BENCH_OPS:-$CARGO_TARGET_DIR/release/ops}"
out="$root/bench/results"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/counts" "$work/logs"

# operation  N  (cheap operations run more often so that N dwarfs any per-process jitter)
plan="parse_token_request 2000
verify_client_secret 1000
issue_access_token 100
validate_access_token 100
signature_check_only 100
dpop_proof_check 100
dpop_proof_check_es256 100
decide_access 5000
plan_forward 2000
authorize_service 100
authorize_service_after_revocation_flood 100
authorize_service_refill 100
authorize_service_refill_after_revocation_flood 100
authorize_service_rate_limited 100
authorize_service_upstream_bearer 100
authorize_service_upstream_oauth2 100
authorize_service_lifecycle 100
authorize_service_with_policy 100
authorize_service_all_features 100
authorize_service_dpop 50
rule_evaluation 2000
rate_limit_check 2000
rate_limit_headers 2000
assertion_sign 100
assertion_cached 2000
client_assertion_eddsa 100
client_assertion_es256 100
client_assertion_rs256 100
client_assertion_claims 1000
token_endpoint 100
token_endpoint_resource 100
resource_metadata 2000
throttle_check 2000
token_throttled 1000
audit_line 2000
service_request 100
service_request_audit_off 100
service_request_all_features 100"

# One callgrind run of `ops OP N`: writes "OP N COUNT" to $work/counts/OP.N, or fails. callgrind prints
# its "Collected :" total even when the program exits non-zero or aborts, so the driver's own
# exit status (valgrind exits with the client's status, or dies of its signal) is checked first.
count() { # op iterations
  local log="$work/logs/$1.$2" status=0 c
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$ops" "$1" "$2" > /dev/null 2> "$log" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "ops $1 $2 failed under callgrind (exit $status):" >&2
    grep -v '^==[0-9]*==' "$log" | tail -n 20 >&2
    return 1
  fi
  c=$(sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' "$log")
  [ -n "$c" ] || { echo "ops $1 $2: no 'Collected :' line from callgrind" >&2; tail -n 20 "$log" >&2; return 1; }
  echo "$1 $2 $c" > "$work/counts/$1.$2"
}
export -f count; export ops work
# Two callgrind processes at a time (counts do not depend on load). xargs exits non-zero when
# any run failed.
echo "$plan" | awk '{print $1, $2; print $1, 2*$2}' | xargs -P 2 -L 1 bash -c 'count "$0" "$1"'
cat "$work"/counts/* > "$work/all"
node "$root/bench/lib/instructions.mjs" "$work/all" "$out/instructions.json" "$root/bench/baseline/instructions.json" "$mode"
