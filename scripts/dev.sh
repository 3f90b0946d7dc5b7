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
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export WRANGLER_SEND_METRICS=false
PORT=${ISOGATE_PORT:-8787}
ORIGIN_PORT=${ISOGATE_DEMO_ORIGIN_PORT:-9000}
DEV_DIR=${ISOGATE_DEV_DIR:-$root}
STATE="$DEV_DIR/.wrangler/state"
DEV_VARS="$DEV_DIR/.dev.vars"
LOG="$DEV_DIR/.dev-server.log"
mkdir -p "$DEV_DIR"

[ -d node_modules/wrangler ] || npm ci --no-audit --no-fund --silent
bash scripts/build-worker.sh
if [ -n "${ISOGATE_CLI:-}" ]; then
  ISOGATE=$ISOGATE_CLI
else
  [ "${ISOGATE_SKIP_BUILD:-}" = 1 ] || cargo build --quiet --release -p isogate-cli
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

Press Ctrl-C to stop.
MSG
wait "${pids[1]}"
