#!/usr/bin/env bash
# One command: build, set up local D1 and secrets, start a demo origin and the gateway under
# `wrangler dev` (workerd, local D1) at http://localhost:8787, create service `my-api` and a
# first credential, and print how to use them. Ctrl-C stops everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export WRANGLER_SEND_METRICS=false
PORT=${ISOGATE_PORT:-8787}
ORIGIN_PORT=${ISOGATE_DEMO_ORIGIN_PORT:-9000}

[ -d node_modules/wrangler ] || npm ci --no-audit --no-fund --silent
bash scripts/build-worker.sh
cargo build --quiet --release -p isogate-cli
ISOGATE="$root/target/release/isogate"

# Local secrets: generated once, kept in .dev.vars (git-ignored), read by wrangler dev.
if [ ! -f .dev.vars ]; then
  key=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
  admin=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
  printf 'ISOGATE_SIGNING_KEY=%s\nISOGATE_ADMIN_TOKEN=%s\n' "$key" "$admin" > .dev.vars
  chmod 600 .dev.vars
fi
export ISOGATE_ADMIN_TOKEN=$(sed -n 's/^ISOGATE_ADMIN_TOKEN=//p' .dev.vars)
export ISOGATE_SERVER="http://localhost:$PORT"

node_modules/.bin/wrangler d1 migrations apply isogate --local > /dev/null

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
node scripts/demo-origin.mjs "$ORIGIN_PORT" &
pids+=($!)
ISOGATE_SKIP_BUILD=1 node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port "$PORT" \
  --var "ISOGATE_DOMAIN:localhost:$PORT" > .wrangler-dev.log 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  curl -sf "http://localhost:$PORT/healthz" > /dev/null 2>&1 && break
  sleep 0.5
done
curl -sf "http://localhost:$PORT/healthz" > /dev/null || { echo "gateway did not start; see .wrangler-dev.log"; exit 1; }

"$ISOGATE" get service my-api > /dev/null 2>&1 || "$ISOGATE" create service my-api --upstream "http://127.0.0.1:$ORIGIN_PORT"
cred="my-oauth-cred-$(date +%s)"
created=$("$ISOGATE" create cred --user root --type oauth2 "$cred")
echo "$created"
client_id=$(sed -n 's/^Client ID: //p' <<< "$created")
client_secret=$(sed -n 's/^Client Secret: //p' <<< "$created")

cat <<MSG

Isogate is running on workerd (wrangler dev, local D1) at http://localhost:$PORT
  demo origin:   http://127.0.0.1:$ORIGIN_PORT   (service my-api -> http://my-api.localhost:$PORT)
  admin CLI:     export ISOGATE_SERVER=$ISOGATE_SERVER ISOGATE_ADMIN_TOKEN=\$(sed -n 's/^ISOGATE_ADMIN_TOKEN=//p' .dev.vars)
                 $ISOGATE get creds
  gateway log:   .wrangler-dev.log

Try it:
  TOKEN=\$(curl -s -X POST -H "Content-Type: application/x-www-form-urlencoded" \\
    -d 'client_id=$client_id&client_secret=$client_secret&grant_type=client_credentials' \\
    http://localhost:$PORT/oauth2/token | sed -n 's/.*"access_token":"\\([^"]*\\)".*/\\1/p')
  curl -H "Authorization: Bearer \$TOKEN" "http://my-api.localhost:$PORT/anything?x=1"

Press Ctrl-C to stop.
MSG
wait "${pids[1]}"
