#!/usr/bin/env bash
# get_results.sh: reproduce the paper's results from nothing.
#
# usage: ./get_results.sh [--only NETWORK] [--quick] [--device SPEC] [--data-dir DIR]
#
# For each of lenet_mnist, alexnet_cifar10, resnet_cifar10 (or only NETWORK):
#   data   CIFAR-10 networks: `branchynet data pcifar10` builds
#          <data root>/pcifar10/data.npz (skipped when it exists); MNIST is
#          fetched by train itself
#   train  `branchynet train NETWORK --out _models/NETWORK --resume`: finished
#          phases are skipped, an interrupted one resumes from its snapshot
#   sweep  `branchynet sweep _models/NETWORK --out results/NETWORK`: latency and
#          threshold sweep (skipped when results/NETWORK/sweep.json is newer
#          than _models/NETWORK/branchynet.npz); on a GPU device (@cupy:N) the
#          folder is results/NETWORK_gpu, so CPU and GPU rows coexist
# then     `branchynet report --results results --figs _figs`: Table I, figures.
# Rerunning after an interruption continues where it stopped.
#
# options:
#   --only NETWORK   one of lenet_mnist, alexnet_cifar10, resnet_cifar10
#   --quick          a few minutes per network (1+1 epochs, 2048 training and
#                    500 test samples); outputs go to _models/quick, results/quick,
#                    _figs/quick so they never mix with real results
#   --device SPEC    Chainer device specifier (default @numpy; @cupy:0 for GPU 0)
#   --data-dir DIR   the data root holding mnist/, cifar10/, pcifar10/
#                    (default: $BRANCHYNET_DATA_ROOT, else datasets/data)
#   -h, --help       this help
#
# Outside the container image the script sets up (or reuses) .venv with
# scripts/setup_venv.sh (BRANCHYNET_VENV=DIR picks another venv); inside it
# (BRANCHYNET_IN_CONTAINER=1) it uses the image's `branchynet`.
set -euo pipefail

PROG=get_results.sh
NETWORKS=(lenet_mnist alexnet_cifar10 resnet_cifar10)

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
usage_error() { echo "$PROG: error: $* (see ./$PROG --help)" >&2; exit 2; }

ONLY='' QUICK=0 DEVICE='@numpy' DATA_DIR=''
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --quick) QUICK=1 ;;
    --only) need_value "$@"; ONLY=$2; shift ;;
    --only=*) ONLY=${1#*=} ;;
    --device) need_value "$@"; DEVICE=$2; shift ;;
    --device=*) DEVICE=${1#*=} ;;
    --data-dir) need_value "$@"; DATA_DIR=$2; shift ;;
    --data-dir=*) DATA_DIR=${1#*=} ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift
done
[ -n "$DEVICE" ] || usage_error "--device needs a value"

if [ -n "$ONLY" ]; then
  case " ${NETWORKS[*]} " in
    *" $ONLY "*) NETWORKS=("$ONLY") ;;
    *) echo "$PROG: error: unknown network '$ONLY' (choose from: ${NETWORKS[*]})" >&2; exit 2 ;;
  esac
fi

# The data root, resolved against the caller's directory before we cd.
if [ -n "$DATA_DIR" ]; then
  mkdir -p "$DATA_DIR" 2>/dev/null || usage_error "--data-dir: cannot create '$DATA_DIR'"
  BRANCHYNET_DATA_ROOT=$(cd "$DATA_DIR" && pwd)
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"
export BRANCHYNET_DATA_ROOT=${BRANCHYNET_DATA_ROOT:-$ROOT/datasets/data}
export PYTHONUNBUFFERED=1

if [ "$QUICK" = 1 ]; then
  MODELS=_models/quick RESULTS=results/quick FIGS=_figs/quick
  TRAIN_EXTRA=(--epochs-main 1 --epochs-joint 1 --train-limit 2048 --test-limit 500 --val-size 500)
  SWEEP_EXTRA=(--quick)
else
  MODELS=_models RESULTS=results FIGS=_figs
  TRAIN_EXTRA=() SWEEP_EXTRA=()
fi
PROGRESS=()
[ -t 1 ] || PROGRESS=(--no-progress)

START=$SECONDS
stamp() { date '+%Y-%m-%d %H:%M:%S'; }
header() { printf '\n===== [%s] %s\n' "$(stamp)" "$*"; }
# run STAGE WHAT COMMAND...: run a stage; on failure say which and stop.
run() {
  local stage=$1 what=$2 t0=$SECONDS rc=0
  shift 2
  echo "+ $*"
  "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "$PROG: $stage failed for $what (exit $rc)" >&2
    exit "$rc"
  fi
  echo "----- [$(stamp)] $stage for $what done in $((SECONDS - t0)) s"
}

header "get_results.sh: networks: ${NETWORKS[*]}; device $DEVICE; quick=$QUICK; data root $BRANCHYNET_DATA_ROOT"
if [ "${BRANCHYNET_IN_CONTAINER:-}" = 1 ]; then
  header "setup: inside the container image, using its branchynet"
  BRANCHYNET=$(command -v branchynet) \
    || { echo "$PROG: setup failed for the container (exit 127): no branchynet on PATH" >&2; exit 127; }
else
  VENV=${BRANCHYNET_VENV:-$ROOT/.venv}
  header "setup: virtual environment $VENV"
  run setup "$VENV" "$ROOT/scripts/setup_venv.sh" "$VENV"
  BRANCHYNET=$VENV/bin/branchynet
fi

for net in "${NETWORKS[@]}"; do
  models=$MODELS/$net results=$RESULTS/$net
  # GPU sweeps get their own folder so Table I keeps both the CPU and GPU rows
  case "$DEVICE" in *cupy*|*cuda*) results=$RESULTS/${net}_gpu ;; esac
  case "$net" in
    *_cifar10)
      header "data: pcifar10 for $net"
      if [ -f "$BRANCHYNET_DATA_ROOT/pcifar10/data.npz" ]; then
        echo "$BRANCHYNET_DATA_ROOT/pcifar10/data.npz exists, skipping"
      else
        run data "$net" "$BRANCHYNET" data pcifar10
      fi ;;
  esac

  header "train: $net -> $models"
  run train "$net" "$BRANCHYNET" train "$net" --out "$models" --resume --device "$DEVICE" \
    ${PROGRESS[@]+"${PROGRESS[@]}"} ${TRAIN_EXTRA[@]+"${TRAIN_EXTRA[@]}"}

  header "sweep: $net -> $results"
  if [ -f "$results/sweep.json" ] && [ "$results/sweep.json" -nt "$models/branchynet.npz" ]; then
    echo "$results/sweep.json is newer than $models/branchynet.npz, skipping"
  else
    run sweep "$net" "$BRANCHYNET" sweep "$models" --out "$results" --device "$DEVICE" \
      ${SWEEP_EXTRA[@]+"${SWEEP_EXTRA[@]}"}
  fi
done

header "report: $RESULTS -> $FIGS"
run report "${NETWORKS[*]}" "$BRANCHYNET" report --results "$RESULTS" --figs "$FIGS"

header "all done in $((SECONDS - START)) s: models in $MODELS, results in $RESULTS, figures in $FIGS"
