#!/usr/bin/env bash
# Build the project's images from the repository root.
#
# usage: docker/build.sh [cpu|gpu|all] [--jupyter] [extra `docker build` options...]
#   cpu (default)  docker/Dockerfile      -> branchynet:cpu
#   gpu            docker/Dockerfile.gpu  -> branchynet:gpu
#   all            both
#   --jupyter      also install Jupyter Notebook (for docker/shell.sh --jupyter)
# DOCKER=podman docker/build.sh uses podman instead of docker.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DOCKER=${DOCKER:-docker}
die() { echo "build.sh: error: $*" >&2; exit 2; }

WHAT=cpu
case "${1:-}" in
  cpu|gpu|all) WHAT=$1; shift ;;
  -h|--help) sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
esac
EXTRA=()
for a in "$@"; do
  case "$a" in
    --jupyter) EXTRA+=(--build-arg WITH_JUPYTER=1) ;;
    *) EXTRA+=("$a") ;;
  esac
done
command -v "$DOCKER" >/dev/null || die "'$DOCKER' not found (set DOCKER=podman to use podman)"

# The GPU image's CUDA (12 or 13) follows the host driver, as
# scripts/setup_venv.sh --gpu does; BRANCHYNET_CUDA=12|13 chooses by hand.
gpu_args() {
  local v=${BRANCHYNET_CUDA:-}
  if [ -z "$v" ] && command -v nvidia-smi >/dev/null 2>&1; then
    v=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\).*/\1/p' | head -n1)
  fi
  case "${v:-13}" in
    12) echo "--build-arg CUDA=12 --build-arg BASE=nvidia/cuda:12.9.1-runtime-ubuntu24.04" ;;
    *) echo "--build-arg CUDA=13 --build-arg BASE=nvidia/cuda:13.0.1-runtime-ubuntu24.04" ;;
  esac
}
build() {  # build FLAVOR DOCKERFILE
  local args=()
  [ "$1" = gpu ] && read -r -a args <<< "$(gpu_args)"
  echo "build.sh: building branchynet:$1 from $2 ${args[*]}"
  "$DOCKER" build -f "$2" -t "branchynet:$1" ${args[@]+"${args[@]}"} ${EXTRA[@]+"${EXTRA[@]}"} . \
    || { echo "build.sh: building branchynet:$1 failed" >&2; exit 1; }
}
case "$WHAT" in
  cpu) build cpu docker/Dockerfile ;;
  gpu) build gpu docker/Dockerfile.gpu ;;
  all) build cpu docker/Dockerfile; build gpu docker/Dockerfile.gpu ;;
esac
