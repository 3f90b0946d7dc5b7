#!/usr/bin/env bash
# Builds the smoke component (spin-sdk 5.2, wasm32-wasip2) and runs isogate-spin-host's tests
# against it. Extra arguments go to `cargo test`, e.g. `tests/spin-host/smoke.sh -- --nocapture`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi

# The component is its own workspace (not an Isogate member) with its own Cargo.lock.
cargo build --locked --release --target wasm32-wasip2 \
    --manifest-path "$here/smoke-component/Cargo.toml"

component="$CARGO_TARGET_DIR/wasm32-wasip2/release/isogate_spin_host_smoke.wasm"
test -f "$component" || { echo "smoke.sh: $component was not built" >&2; exit 1; }

cd "$root"
SMOKE_COMPONENT="$component" cargo test -p isogate-spin-host "$@"
