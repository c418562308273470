#!/usr/bin/env bash
# Run the image with this checkout mounted at /work/branchynet (its workdir).
#
# usage: docker/shell.sh [cpu|gpu] [--jupyter PORT] [-- COMMAND...]
#   cpu (default) / gpu   which image: branchynet:cpu / branchynet:gpu
#   --jupyter PORT        publish PORT and start Jupyter Notebook on it (the
#                         image must be built with docker/build.sh ... --jupyter)
#   -- COMMAND...         run COMMAND instead of an interactive bash, e.g.
#                         docker/shell.sh gpu -- ./get_results.sh --device @cupy:0
# GPUs are passed (--gpus all) for the gpu image or whenever `docker info`
# lists an NVIDIA runtime. Files written to the mount belong to you (the
# container runs with your uid/gid). DOCKER=podman uses podman instead.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCKER=${DOCKER:-docker}
die() { echo "shell.sh: error: $*" >&2; exit 2; }

FLAVOR=cpu PORT='' CMD=()
while [ $# -gt 0 ]; do
  case "$1" in
    cpu|gpu) FLAVOR=$1 ;;
    --jupyter) [ $# -ge 2 ] || die "--jupyter needs a PORT"; PORT=$2; shift ;;
    --jupyter=*) PORT=${1#*=} ;;
    --) shift; CMD=("$@"); break ;;
    -h|--help) sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (see docker/shell.sh --help)" ;;
  esac
  shift
done
[ -z "$PORT" ] || [[ "$PORT" =~ ^[0-9]+$ ]] || die "--jupyter takes a port number, got '$PORT'"
[ -z "$PORT" ] || [ ${#CMD[@]} -eq 0 ] || die "--jupyter and a COMMAND cannot be combined"
command -v "$DOCKER" >/dev/null || die "'$DOCKER' not found (set DOCKER=podman to use podman)"
IMAGE=branchynet:$FLAVOR
"$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE; build it with docker/build.sh $FLAVOR"

ARGS=(--rm -v "$ROOT":/work/branchynet -w /work/branchynet)
if [ -t 0 ] && [ -t 1 ]; then ARGS+=(-it); else ARGS+=(-i); fi
if "$DOCKER" --version 2>/dev/null | grep -qi podman; then
  GPU_ARGS=(--device nvidia.com/gpu=all)   # podman: GPUs through CDI
  IS_PODMAN=1
else
  GPU_ARGS=(--gpus all) IS_PODMAN=0
fi
if [ "$IS_PODMAN" = 1 ] && [ "$(id -u)" != 0 ]; then
  ARGS+=(--userns=keep-id)                 # rootless podman: your uid inside too
else
  ARGS+=(--user "$(id -u):$(id -g)" -e HOME=/tmp)
fi
if [ "$FLAVOR" = gpu ] || "$DOCKER" info 2>/dev/null | grep -qi 'runtimes:.*nvidia'; then
  ARGS+=("${GPU_ARGS[@]}")
fi
# pass the data root through when set on the host and mountable
if [ -n "${BRANCHYNET_DATA_ROOT:-}" ] && [ -d "$BRANCHYNET_DATA_ROOT" ]; then
  ARGS+=(-v "$(cd "$BRANCHYNET_DATA_ROOT" && pwd)":/data -e BRANCHYNET_DATA_ROOT=/data)
fi
if [ -n "$PORT" ]; then
  "$DOCKER" run --rm --entrypoint sh "$IMAGE" -c 'command -v jupyter-notebook' >/dev/null 2>&1 \
    || die "$IMAGE has no Jupyter; rebuild with: docker/build.sh $FLAVOR --jupyter"
  ARGS+=(-p "$PORT:$PORT")
  CMD=(jupyter notebook --ip 0.0.0.0 --port "$PORT" --no-browser --notebook-dir /work/branchynet)
  [ "$(id -u)" != 0 ] || CMD+=(--allow-root)   # the container runs with your uid
fi
exec "$DOCKER" run "${ARGS[@]}" "$IMAGE" ${CMD[@]+"${CMD[@]}"}
