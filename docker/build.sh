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
# scripts/setup_venv.sh --gpu does (scripts/cuda.sh; BRANCHYNET_CUDA=12|13
# chooses by hand); 13 on a host without nvidia-smi.
source scripts/cuda.sh
gpu_args() {  # sets GPU_ARGS
  local major base
  major=$(cuda_major 13 2>&1) || die "$major"
  case "$major" in
    12) base=nvidia/cuda:12.9.1-runtime-ubuntu24.04 ;;
    13) base=nvidia/cuda:13.0.1-runtime-ubuntu24.04 ;;
  esac
  GPU_ARGS=(--build-arg "CUDA=$major" --build-arg "BASE=$base")
}
build() {  # build FLAVOR DOCKERFILE
  local args=()
  if [ "$1" = gpu ]; then gpu_args; args=("${GPU_ARGS[@]}"); fi
  echo "build.sh: building branchynet:$1 from $2 ${args[*]}"
  "$DOCKER" build -f "$2" -t "branchynet:$1" ${args[@]+"${args[@]}"} ${EXTRA[@]+"${EXTRA[@]}"} . \
    || { echo "build.sh: building branchynet:$1 failed" >&2; exit 1; }
}
case "$WHAT" in
  cpu) build cpu docker/Dockerfile ;;
  gpu) build gpu docker/Dockerfile.gpu ;;
  all) build cpu docker/Dockerfile; build gpu docker/Dockerfile.gpu ;;
esac
