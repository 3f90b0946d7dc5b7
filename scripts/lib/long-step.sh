# long_step WHAT ESTIMATE CMD...: runs CMD after saying on stderr what it does and about how
# long it takes, then every 30 s that it is still at it, and at the end how long it took; CMD's
# exit status is long_step's. For the steps that are minutes of silence otherwise (compiling a
# tool from source with `cargo install --quiet`, `npm ci --silent`), so that nobody wonders
# whether the first run hung. Sourced by scripts/dev.sh and .ci/install-tools.sh.
long_step() {
  local what=$1 estimate=$2 start status=0 ticker
  shift 2
  start=$(date +%s)
  printf '==> %s (%s)\n' "$what" "$estimate" >&2
  (
    while sleep 30; do
      elapsed=$(($(date +%s) - start))
      printf '    ... still %s: %dm%02ds so far\n' "$what" $((elapsed / 60)) $((elapsed % 60)) >&2
    done
  ) &
  ticker=$!
  "$@" || status=$?
  kill "$ticker" 2> /dev/null || true
  wait "$ticker" 2> /dev/null || true
  local elapsed=$(($(date +%s) - start))
  if [ "$status" -eq 0 ]; then
    printf '    done in %dm%02ds\n' $((elapsed / 60)) $((elapsed % 60)) >&2
  else
    printf '    FAILED (exit %s) after %dm%02ds: %s\n' "$status" $((elapsed / 60)) $((elapsed % 60)) "$*" >&2
  fi
  return "$status"
}
