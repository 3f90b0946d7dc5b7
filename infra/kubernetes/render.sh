#!/usr/bin/env bash
# Prints Isogate's Kubernetes manifests for SpinKube with your values filled in, in the order
# they must be applied (the executor before the SpinApp that names it, then the Ingress):
#
#   export ISOGATE_IMAGE=ghcr.io/YOUR_USER/isogate:0.1.0   # what `spin registry push` pushed
#   export ISOGATE_DOMAIN=example.com                      # services answer at <name>.example.com
#   export ISOGATE_UPSTREAMS='https://*.internal.example.com'  # the origins services may reach
#   export ISOGATE_LIBSQL_URL=https://isogate-db.example.internal  # the shared libSQL server
#   export ISOGATE_INGRESS_CLASS=nginx                     # kubectl get ingressclass
#   bash infra/kubernetes/render.sh | kubectl apply -f -
#
# Optional: ISOGATE_FEDERATION_ISSUERS, the one allowed_outbound_hosts pattern for the hosts of
# federated credentials' issuers and private-key-jwt jwks_uris (README: workload identity
# federation), e.g. 'https://token.actions.githubusercontent.com' or 'https://*'; unset, only
# loopback (spin.toml's default), so no external issuer is reachable.
#
# ISOGATE_REPLICAS defaults to 2. Every other value must be set, and ISOGATE_IMAGE must be an
# image reference with a tag or digest: an empty value or a placeholder stops here instead of
# reaching the cluster as an InvalidImageName or an empty host. Secrets are never rendered:
# create them first with kubectl (README: SpinKube). CI renders these files with sample values
# and validates the result against the CRD schemas (infra/kubernetes/validate.py).
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
: "${ISOGATE_REPLICAS:=2}"
: "${ISOGATE_FEDERATION_ISSUERS:=http://127.0.0.1:*}"
names=(ISOGATE_IMAGE ISOGATE_DOMAIN ISOGATE_UPSTREAMS ISOGATE_LIBSQL_URL ISOGATE_INGRESS_CLASS ISOGATE_REPLICAS ISOGATE_FEDERATION_ISSUERS)
missing=()
for name in "${names[@]}"; do
  value=${!name:-}
  if [ -z "$value" ]; then
    missing+=("$name")
  elif [[ $value == *[\"\\$'\n']* ]]; then
    # Values go inside double-quoted YAML scalars.
    echo "render.sh: $name must not contain a double quote, a backslash or a newline" >&2
    exit 2
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "render.sh: set ${missing[*]} (see the top of $0)" >&2
  exit 2
fi
# The kubelet's grammar (distribution/reference): [host[:port]/]lowercase/path[:tag][@digest];
# anything else reaches the pods as InvalidImageName. A tag or digest names what was pushed.
component='[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*'
image_re="^([a-zA-Z0-9.-]+(:[0-9]+)?/)?$component(/$component)*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?\$"
if [[ ! $ISOGATE_IMAGE =~ $image_re ]] || [[ ! $ISOGATE_IMAGE =~ (:[A-Za-z0-9_][A-Za-z0-9._-]*|@sha256:[a-f0-9]{64})$ ]]; then
  echo "render.sh: ISOGATE_IMAGE=$ISOGATE_IMAGE is not the reference of a pushed image (registry/lowercase-path:tag," \
    "e.g. ghcr.io/alice/isogate:0.1.0; placeholders like <you> or YOUR_GITHUB_USER end as InvalidImageName)" >&2
  exit 2
fi
[[ $ISOGATE_REPLICAS =~ ^[1-9][0-9]*$ ]] || { echo "render.sh: ISOGATE_REPLICAS must be a positive integer" >&2; exit 2; }

for file in executor.yaml spinapp.yaml ingress.yaml; do
  text=$(< "$dir/$file")
  for name in "${names[@]}"; do
    # Quoted replacement: no pattern or & expansion of the value.
    text=${text//"\${$name}"/"${!name}"}
  done
  if [[ $text == *'${'* ]]; then
    echo "render.sh: $file has a \${...} that render.sh does not fill in" >&2
    exit 2
  fi
  printf -- '---\n%s\n' "$text"
done
