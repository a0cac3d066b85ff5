#!/usr/bin/env bash
# Blue-green rollout of the API on top of deploy/k8s/blue-green (docs/operations.md
# "Deploying"). Two API Deployments, servanda-api-blue and servanda-api-green; the Service
# servanda-api selects the live one by its `colour` label.
#
#   blue-green.sh [options] deploy <tag>   migrate, roll the idle colour to <tag>, wait until it
#                                          is ready, smoke-check it, switch the Service to it,
#                                          then roll the export worker and the frontend.
#                                          The old colour keeps running for a rollback.
#   blue-green.sh [options] rollback       switch the Service back to the previous colour and
#                                          undo the worker's and frontend's last rollout.
#   blue-green.sh [options] status         print the live colour.
#
# Options:
#   -n, --namespace NS   default servanda-prod
#   --registry R         image prefix (default $SERVANDA_REGISTRY or "servanda")
#   --dry-run            print the kubectl commands instead of running them (no cluster
#                        needed; the live colour is then --active, default blue)
#   --active COLOUR      the live colour for --dry-run
set -euo pipefail

usage() {
  sed -n '2,21p' "$0" >&2
  exit 2
}

namespace=servanda-prod
registry="${SERVANDA_REGISTRY:-servanda}"
dry_run=0
assumed_active=blue
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--namespace) [ $# -ge 2 ] || usage; namespace="$2"; shift 2 ;;
    --registry) [ $# -ge 2 ] || usage; registry="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --active) [ $# -ge 2 ] || usage; assumed_active="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -ge 1 ] || usage
action="${args[0]}"

here="$(cd "$(dirname "$0")" && pwd)"
overlay="$here/blue-green"
KUBECTL="${KUBECTL:-kubectl}"
ANNOTATION=servanda.de/previous-colour

# Print (dry run) or run one command; arguments are shell-quoted in the printout so it can be
# pasted.
run() {
  if [ "$dry_run" = 1 ]; then
    local out=() arg
    for arg in "$@"; do out+=("$(printf '%q' "$arg")"); done
    echo "${out[*]}"
  else
    "$@"
  fi
}

# `kubectl kustomize <dir> | kubectl apply -f -`, with the images set to <registry>/<name>:<tag>
# through a throw-away kustomization (kustomize takes no image overrides on the command line).
apply_with_tag() {
  local dir="$1" tag="$2" tmp rel
  tmp="$(mktemp -d)"
  rel="$(realpath --relative-to="$tmp" "$dir")"
  cat >"$tmp/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $rel
images:
  - {name: servanda/api, newName: $registry/api, newTag: "$tag"}
  - {name: servanda/export-worker, newName: $registry/export-worker, newTag: "$tag"}
  - {name: servanda/frontend, newName: $registry/frontend, newTag: "$tag"}
YAML
  if [ "$dry_run" = 1 ]; then
    # The directory is kept, so the printed command can be run (or rendered) as it stands.
    echo "$KUBECTL kustomize $tmp | $KUBECTL -n $namespace apply -f -   # ${dir#"$here"/} with images :$tag"
  else
    "$KUBECTL" kustomize "$tmp" | "$KUBECTL" -n "$namespace" apply -f -
    rm -rf "$tmp"
  fi
}

live_colour() {
  if [ "$dry_run" = 1 ]; then
    echo "$assumed_active"
    return
  fi
  "$KUBECTL" -n "$namespace" get service servanda-api -o jsonpath='{.spec.selector.colour}'
}

other() { if [ "$1" = blue ]; then echo green; else echo blue; fi; }

check_colour() {
  case "$1" in
    blue|green) ;;
    *) echo "error: the Service servanda-api selects colour '$1', expected blue or green" >&2; exit 1 ;;
  esac
}

switch_to() {
  local target="$1" previous="$2"
  run "$KUBECTL" -n "$namespace" patch service servanda-api --type merge \
    -p "{\"metadata\":{\"annotations\":{\"$ANNOTATION\":\"$previous\"}},\"spec\":{\"selector\":{\"colour\":\"$target\"}}}"
}

# The smoke check runs inside a pod of the colour (the image has Python, no curl): the schema
# is at its head (/health/startup) and the database answers (/health/ready).
SMOKE='import sys, urllib.request
for path in ("/health/startup", "/health/ready", "/health/live"):
    with urllib.request.urlopen("http://127.0.0.1:3000" + path, timeout=5) as answer:
        if answer.status != 200:
            sys.exit(path + " answered " + str(answer.status))
print("smoke check passed")'

case "$action" in
  status)
    [ ${#args[@]} -eq 1 ] || usage
    live="$(live_colour)"; check_colour "$live"
    echo "live colour: $live (idle: $(other "$live"))"
    ;;
  deploy)
    [ ${#args[@]} -eq 2 ] || usage
    tag="${args[1]}"
    live="$(live_colour)"; check_colour "$live"
    idle="$(other "$live")"
    echo "# live colour: $live; deploying $tag to $idle" >&2
    # 1. migrations first (they must stay compatible with the live release).
    run "$KUBECTL" -n "$namespace" delete job servanda-migrate --ignore-not-found
    apply_with_tag "$overlay/migrate" "$tag"
    run "$KUBECTL" -n "$namespace" wait --for=condition=complete job/servanda-migrate --timeout=900s
    # 2. the idle colour on the new images, and wait until every pod is ready.
    apply_with_tag "$overlay/$idle" "$tag"
    run "$KUBECTL" -n "$namespace" rollout status "deployment/servanda-api-$idle" --timeout=600s
    # 3. smoke check inside the idle colour.
    run "$KUBECTL" -n "$namespace" exec "deployment/servanda-api-$idle" -c api -- python -c "$SMOKE"
    # 4. switch; the live colour becomes the rollback target and keeps running.
    switch_to "$idle" "$live"
    # 5. worker and frontend follow the new API (plain rolling updates).
    run "$KUBECTL" -n "$namespace" set image deployment/servanda-export-worker "export-worker=$registry/export-worker:$tag"
    run "$KUBECTL" -n "$namespace" set image deployment/servanda-frontend "frontend=$registry/frontend:$tag"
    run "$KUBECTL" -n "$namespace" rollout status deployment/servanda-export-worker --timeout=600s
    run "$KUBECTL" -n "$namespace" rollout status deployment/servanda-frontend --timeout=300s
    echo "# live colour: $idle ($tag); $live kept for rollback: $0 rollback" >&2
    ;;
  rollback)
    [ ${#args[@]} -eq 1 ] || usage
    live="$(live_colour)"; check_colour "$live"
    previous="$(other "$live")"
    echo "# live colour: $live; rolling back to $previous" >&2
    # The previous colour must still be ready before traffic goes back to it.
    run "$KUBECTL" -n "$namespace" rollout status "deployment/servanda-api-$previous" --timeout=120s
    switch_to "$previous" "$live"
    run "$KUBECTL" -n "$namespace" rollout undo deployment/servanda-export-worker
    run "$KUBECTL" -n "$namespace" rollout undo deployment/servanda-frontend
    echo "# live colour: $previous" >&2
    ;;
  *) usage ;;
esac
