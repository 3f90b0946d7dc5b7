#!/usr/bin/env bash
# Installs and builds what the OAuth2 client tests (tests/e2e/clients_*.test.mjs) need, on a
# fresh Debian machine or again on one that has it all (then it takes about a second):
#   - Debian packages: golang-go, golang-golang-x-oauth2-dev (Go builds in GOPATH mode
#     against /usr/share/gocode: no Go module proxy is needed), openssl (the tests' throwaway
#     TLS certificates), curl, sqlite3 (the e2e suite reaches the Spin host's database);
#   - npm packages of tests/clients/node (npm ci, versions pinned in its package-lock.json),
#     and its TypeScript compiled by tsc into tests/clients/node/dist;
#   - the Go client  -> target/clients/isogate-client-go;
#   - the Rust client (tests/clients/rust, its own Cargo.lock) -> target/debug/isogate-client-rust;
#   - the origins that verify the signed identity assertion (tests/origins, run by
#     tests/e2e/assertion.test.mjs): npm ci in tests/origins/node (jose), and the Go one
#     (standard library only) -> target/origins/isogate-origin-go. The Python origin's PyPI
#     packages (tests/origins/python/requirements.txt) go into scripts/test.sh's venv.
# Each step is skipped when its output is newer than its inputs. Needs root (or sudo) for apt.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

# --- Debian packages ---
packages=(golang-go golang-golang-x-oauth2-dev openssl curl ca-certificates sqlite3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "clients: apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null \
    2> >(grep -v '^debconf: delaying package configuration' >&2)
fi

# newer_than OUT IN...: true when OUT exists and is newer than every IN (files or dirs' files).
newer_than() {
  local out=$1; shift
  [ -e "$out" ] || return 1
  [ -z "$(find "$@" -newer "$out" -print -quit 2>/dev/null)" ]
}

# --- Node/TypeScript clients ---
node_dir=tests/clients/node
if ! newer_than "$node_dir/node_modules/.package-lock.json" "$node_dir/package.json" "$node_dir/package-lock.json"; then
  echo "clients: npm ci in $node_dir"
  (cd "$node_dir" && npm ci --no-audit --no-fund --silent)
fi
if ! newer_than "$node_dir/dist/.built" "$node_dir/src" "$node_dir/tsconfig.json" "$node_dir/node_modules/.package-lock.json"; then
  echo "clients: tsc in $node_dir"
  rm -rf "$node_dir/dist"
  (cd "$node_dir" && ./node_modules/.bin/tsc -p .)
  touch "$node_dir/dist/.built"
fi

# --- Node origin (jose) ---
origin_node=tests/origins/node
if ! newer_than "$origin_node/node_modules/.package-lock.json" "$origin_node/package.json" "$origin_node/package-lock.json"; then
  echo "clients: npm ci in $origin_node"
  (cd "$origin_node" && npm ci --no-audit --no-fund --silent)
fi

# --- Go origin (GOPATH mode, standard library only) ---
origin_go=target/origins/isogate-origin-go
if ! newer_than "$origin_go" tests/origins/go; then
  echo "clients: go build -> $origin_go"
  mkdir -p target/origins
  (cd tests/origins/go && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= go build -o "$root/$origin_go" .)
fi

# --- Go client (GOPATH mode, Debian's golang.org/x/oauth2) ---
go_out=target/clients/isogate-client-go
if ! newer_than "$go_out" tests/clients/go; then
  echo "clients: go build -> $go_out"
  mkdir -p target/clients
  (cd tests/clients/go && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= go build -o "$root/$go_out" .)
fi

# --- Rust client (standalone crate, shares the repo's target/) ---
# cargo is its own up-to-date check (a no-op build takes a fraction of a second).
CARGO_TARGET_DIR="$root/target" cargo build --quiet --locked --manifest-path tests/clients/rust/Cargo.toml
