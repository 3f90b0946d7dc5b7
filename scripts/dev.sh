#!/usr/bin/env bash
# One command: build, set up local D1 and secrets, start a demo origin and the gateway in
# workerd (Miniflare's server, scripts/dev-server.mjs: wrangler dev's runtime without its dev
# proxy, which hostile requests crash; see the README) at http://localhost:8787 with local D1,
# create service `my-api` and a first credential, and print how to use them. Ctrl-C stops
# everything.
#
# Environment (defaults in brackets), for running it beside another copy or from a test:
#   ISOGATE_PORT [8787], ISOGATE_DEMO_ORIGIN_PORT [9000]
#   ISOGATE_DEV_DIR [the repository]: where .dev.vars, the D1 state (.wrangler/state) and the
#     gateway log (.dev-server.log) live
#   ISOGATE_SKIP_BUILD=1: use the worker and CLI already built (ISOGATE_CLI names the CLI binary)
#   ISOGATE_DEV_SERVER=wrangler: run `wrangler dev` instead (to compare; 4.86 does not survive
#     tests/e2e/fuzz_blackbox.test.mjs), ISOGATE_WRANGLER naming another wrangler binary
#   ISOGATE_DEV_HOSTS=1: when my-api.localhost does not resolve to 127.0.0.1 for getaddrinfo
#     (Go, Node, Python), append "127.0.0.1 my-api.localhost" to /etc/hosts (with sudo when not
#     root); without it, dev.sh only prints that line
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/lib/long-step.sh
export WRANGLER_SEND_METRICS=false
PORT=${ISOGATE_PORT:-8787}
ORIGIN_PORT=${ISOGATE_DEMO_ORIGIN_PORT:-9000}
DEV_DIR=${ISOGATE_DEV_DIR:-$root}
STATE="$DEV_DIR/.wrangler/state"
DEV_VARS="$DEV_DIR/.dev.vars"
LOG="$DEV_DIR/.dev-server.log"
mkdir -p "$DEV_DIR"

if [ "${ISOGATE_SKIP_BUILD:-}" != 1 ] && { [ ! -d node_modules/wrangler ] || [ ! -x target/release/isogate ] \
  || [ ! -x "${ISOGATE_TOOLS_ROOT:-$HOME/.cache/isogate-tools}/bin/wasm-bindgen" ]; }; then
  echo "First run: dev.sh installs its tools and compiles the gateway and the CLI, 15-20 minutes on 2 cores" \
    "(each long step below says what it does); later runs take seconds." >&2
fi
[ -d node_modules/wrangler ] || long_step "installing npm packages (wrangler, workerd, binaryen, esbuild)" \
  "first run only: about a minute" npm ci --no-audit --no-fund --silent
[ "${ISOGATE_SKIP_BUILD:-}" = 1 ] \
  || echo "==> building the Workers gateway (Rust to wasm; minutes the first time, seconds after)" >&2
bash scripts/build-worker.sh
if [ -n "${ISOGATE_CLI:-}" ]; then
  ISOGATE=$ISOGATE_CLI
else
  [ "${ISOGATE_SKIP_BUILD:-}" = 1 ] || long_step "building the isogate CLI (cargo build --release -p isogate-cli)" \
    "minutes the first time, seconds after" cargo build --quiet --release -p isogate-cli
  ISOGATE="$root/target/release/isogate"
fi

# Local secrets: generated once, kept in .dev.vars (git-ignored), read by the gateway.
if [ ! -f "$DEV_VARS" ]; then
  key=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
  admin=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
  (umask 077 && printf 'ISOGATE_SIGNING_KEY=%s\nISOGATE_ADMIN_TOKEN=%s\n' "$key" "$admin" > "$DEV_VARS")
fi
export ISOGATE_ADMIN_TOKEN=$(sed -n 's/^ISOGATE_ADMIN_TOKEN=//p' "$DEV_VARS")
export ISOGATE_SERVER="http://localhost:$PORT"

node_modules/.bin/wrangler d1 migrations apply isogate --local --persist-to "$STATE" > /dev/null

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
node scripts/demo-origin.mjs "$ORIGIN_PORT" &
pids+=($!)
if [ "${ISOGATE_DEV_SERVER:-}" = wrangler ]; then
  # The old way, for comparison only: wrangler dev's proxy dies on hostile requests (README).
  vars=()
  while IFS='=' read -r name value; do [ -n "$name" ] && vars+=(--var "$name:$value"); done < "$DEV_VARS"
  ISOGATE_SKIP_BUILD=1 "${ISOGATE_WRANGLER:-node_modules/.bin/wrangler}" dev --local --ip 127.0.0.1 --port "$PORT" \
    --inspector-port 0 --persist-to "$STATE" "${vars[@]}" --var "ISOGATE_DOMAIN:localhost:$PORT" > "$LOG" 2>&1 &
else
  node scripts/dev-server.mjs --port "$PORT" --persist-to "$STATE" --dev-vars "$DEV_VARS" \
    --var "ISOGATE_DOMAIN=localhost:$PORT" > "$LOG" 2>&1 &
fi
pids+=($!)
for _ in $(seq 1 120); do
  curl -sf "http://localhost:$PORT/healthz" > /dev/null 2>&1 && break
  sleep 0.5
done
curl -sf "http://localhost:$PORT/healthz" > /dev/null || { echo "gateway did not start; see $LOG"; cat "$LOG"; exit 1; }

"$ISOGATE" get service my-api > /dev/null 2>&1 || "$ISOGATE" create service my-api --upstream "http://127.0.0.1:$ORIGIN_PORT"
cred="my-oauth-cred-$(date +%s)"
created=$("$ISOGATE" create cred --user root --type oauth2 "$cred")
echo "$created"
client_id=$(sed -n 's/^Client ID: //p' <<< "$created")
client_secret=$(sed -n 's/^Client Secret: //p' <<< "$created")

# Go, Node and Python look names up with getaddrinfo, which (unlike curl and browsers) need not
# map *.localhost to loopback (RFC 6761 §6.3; glibc does not): check what they will see, with
# Node's dns.lookup, which is getaddrinfo.
service_host=my-api.localhost
hosts_line="127.0.0.1 $service_host"
resolves_to_loopback() {
  node -e 'require("dns").lookup(process.argv[1], { all: true }, (e, a) =>
    process.exit(!e && a.some((x) => x.address === "127.0.0.1") ? 0 : 1))' "$1"
}
resolver_note=""
if ! resolves_to_loopback "$service_host"; then
  if [ "${ISOGATE_DEV_HOSTS:-}" = 1 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "==> adding \"$hosts_line\" to /etc/hosts (ISOGATE_DEV_HOSTS=1)" >&2
    printf '%s\n' "$hosts_line" | $sudo tee -a /etc/hosts > /dev/null
    resolves_to_loopback "$service_host" || resolver_note="
Note: /etc/hosts has \"$hosts_line\" now, and $service_host still does not resolve to 127.0.0.1
  (a resolver that does not read /etc/hosts?); Go, Node and Python clients will not reach it."
  else
    resolver_note="
Note: $service_host does not resolve to 127.0.0.1 for getaddrinfo, which Go, Node and Python
  use (curl and browsers map *.localhost themselves). For those clients, add this line to /etc/hosts
  (one per service you create), or rerun with ISOGATE_DEV_HOSTS=1 to have dev.sh add it:
    $hosts_line"
  fi
fi

cat <<MSG

Isogate is running on workerd (Miniflare, local D1) at http://localhost:$PORT
  demo origin:   http://127.0.0.1:$ORIGIN_PORT   (service my-api -> http://my-api.localhost:$PORT)
  admin CLI:     export ISOGATE_SERVER=$ISOGATE_SERVER ISOGATE_ADMIN_TOKEN=\$(sed -n 's/^ISOGATE_ADMIN_TOKEN=//p' $DEV_VARS)
                 $ISOGATE get creds
  gateway log:   $LOG

Try it:
  TOKEN=\$(curl -s -X POST -H "Content-Type: application/x-www-form-urlencoded" \\
    -d 'client_id=$client_id&client_secret=$client_secret&grant_type=client_credentials' \\
    http://localhost:$PORT/oauth2/token | sed -n 's/.*"access_token":"\\([^"]*\\)".*/\\1/p')
  curl -H "Authorization: Bearer \$TOKEN" "http://my-api.localhost:$PORT/anything?x=1"

From Go, Node or Python (README: Use it from your language, Trying them locally):
  export ISOGATE_ISSUER=http://localhost:$PORT ISOGATE_SERVICE_URL=http://$service_host:$PORT
  export CLIENT_ID=$client_id CLIENT_SECRET=$client_secret OAUTHLIB_INSECURE_TRANSPORT=1
$resolver_note
Press Ctrl-C to stop.
MSG
wait "${pids[1]}"
