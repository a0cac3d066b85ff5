#!/usr/bin/env bash
# Build (and optionally push) the three images with the tags of blueprint §5.3:
#
#   deploy/build-images.sh dev                -> <registry>/api:dev-<sha>  and  :latest
#   deploy/build-images.sh rc 0.1.0           -> <registry>/api:rc-0.1.0        (stage)
#   deploy/build-images.sh release 0.1.0      -> <registry>/api:0.1.0           (prod)
#
# Images: api (Dockerfile.api), export-worker (Dockerfile.export-worker), frontend
# (Dockerfile.frontend), all built from the repository root. Options:
#   --registry R   image prefix (default $SERVANDA_REGISTRY or "servanda")
#   --push         push every tag after building
#   --dry-run      print the commands instead of running them
# The engine is $CONTAINER_ENGINE, else docker, else podman. `latest` is the dev line only
# (§5.3: "Latest (dev)"); releases never move it.
set -euo pipefail

usage() {
  echo "usage: $0 [--registry R] [--push] [--dry-run] dev | rc <version> | release <semver>" >&2
  exit 2
}

registry="${SERVANDA_REGISTRY:-servanda}"
push=0
dry_run=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --registry) [ $# -ge 2 ] || usage; registry="$2"; shift 2 ;;
    --push) push=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -ge 1 ] || usage

root="$(cd "$(dirname "$0")/.." && pwd)"
semver='^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'

case "${args[0]}" in
  dev)
    [ ${#args[@]} -eq 1 ] || usage
    sha="${GIT_SHA:-$(git -C "$root" rev-parse --short=7 HEAD)}"
    tags=("dev-${sha}" "latest")
    ;;
  rc|release)
    [ ${#args[@]} -eq 2 ] || usage
    version="${args[1]#v}"
    if ! [[ "$version" =~ $semver ]]; then
      echo "error: '${args[1]}' is not a semantic version (MAJOR.MINOR.PATCH)" >&2
      exit 2
    fi
    if [ "${args[0]}" = rc ]; then tags=("rc-${version}"); else tags=("${version}"); fi
    ;;
  *) usage ;;
esac

engine="${CONTAINER_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v docker >/dev/null 2>&1; then engine=docker
  elif command -v podman >/dev/null 2>&1; then engine=podman
  elif [ "$dry_run" = 1 ]; then engine=docker
  else echo "error: no container engine (docker or podman) found; set CONTAINER_ENGINE" >&2; exit 1
  fi
fi

run() {
  if [ "$dry_run" = 1 ]; then
    printf '%s\n' "$*"
  else
    "$@"
  fi
}

for image in api export-worker frontend; do
  tag_args=()
  for tag in "${tags[@]}"; do tag_args+=(-t "${registry}/${image}:${tag}"); done
  run "$engine" build -f "deploy/docker/Dockerfile.${image}" "${tag_args[@]}" "$root"
  if [ "$push" = 1 ]; then
    for tag in "${tags[@]}"; do run "$engine" push "${registry}/${image}:${tag}"; done
  fi
done
