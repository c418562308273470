#!/usr/bin/env bash
# get_results.sh: reproduce the paper's results from nothing.
#
# usage: ./get_results.sh [--only NETWORK] [--quick] [--device SPEC] [--data-dir DIR]
#                         [--procs N [--hostfile FILE]]
#
# First, for every network that will run: its data (`branchynet data mnist`
# verifies or downloads MNIST; `branchynet data pcifar10` builds
# <data root>/pcifar10/data.npz from CIFAR-10), so that missing data stops
# the job at its start, not hours into it. Then for each of lenet_mnist,
# alexnet_cifar10, resnet_cifar10 (or only NETWORK):
#   train  `branchynet train NETWORK --out _models/NETWORK --resume`: finished
#          phases are skipped, an interrupted one resumes from its snapshot;
#          with --procs N under `mpiexec -n N` (ChainerMN, data parallel)
#   sweep  `branchynet sweep _models/NETWORK --out results/NETWORK`: latency and
#          threshold sweep (skipped when results/NETWORK/sweep.json is newer
#          than _models/NETWORK/branchynet.npz); on a GPU device (@cupy:N) the
#          folder is results/NETWORK_gpu, so CPU and GPU rows coexist
# then     `branchynet report --results results --figs _figs`: Table I, figures.
# Rerunning after an interruption continues where it stopped.
#
# options:
#   --only NETWORK   one of lenet_mnist, alexnet_cifar10, resnet_cifar10
#   --quick          a shortened schedule, about a minute for LeNet on a CPU
#                    (2 + 2 epochs at batch 64 on 8192 training images, 1000
#                    validation and 2000 test images): B-LeNet reaches about
#                    95%, most samples leaving at exit 1. A demonstration,
#                    not the paper's numbers; outputs go to _models/quick,
#                    results/quick, _figs/quick, never mixed with real ones
#   --device SPEC    Chainer device specifier (default @numpy; @cupy:0 for GPU 0)
#   --data-dir DIR   the data root holding mnist/, cifar10/, pcifar10/
#                    (default: $BRANCHYNET_DATA_ROOT, else datasets/data)
#   --procs N        train with N processes, 1 to 1024 (mpiexec -n N, ChainerMN's naive
#                    communicator on CPUs, pure_nccl on GPUs: one GPU per
#                    process); the batch size stays the global one
#   --hostfile FILE  with --procs: an Open MPI hostfile, to spread the
#                    processes over machines (see the README: the checkout,
#                    with _models/, and the data root at the same paths on
#                    every machine, on a shared file system)
#   --schedule S     the reference's training schedule: notebook (default:
#                    its notebooks, LeNet 100 + 100 epochs, ResNet batch 128)
#                    or script (its experiment_*.py: LeNet 50 + 100, ResNet
#                    batch 64); recorded with the run, a resume refuses a change
#   --allow-changed-settings
#                    let training resume (or skip a finished phase) when the
#                    settings differ from those the run started with, e.g.
#                    another --procs; by default that is refused
#   -h, --help       this help
#
# Outside the container image the script sets up (or reuses) .venv with
# scripts/setup_venv.sh (BRANCHYNET_VENV=DIR picks another venv); inside it
# (BRANCHYNET_IN_CONTAINER=1) it uses the image's `branchynet`.
set -euo pipefail

PROG=get_results.sh

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
usage_error() { echo "$PROG: error: $* (see ./$PROG --help)" >&2; exit 2; }

ONLY='' QUICK=0 DEVICE='@numpy' DATA_DIR='' PROCS=1 HOSTFILE='' ALLOW_CHANGED=() SCHEDULE=()
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --quick) QUICK=1 ;;
    --allow-changed-settings) ALLOW_CHANGED=(--allow-changed-settings) ;;
    --only) need_value "$@"; ONLY=$2; shift ;;
    --schedule) need_value "$@"; SCHEDULE=(--schedule "$2"); shift ;;
    --schedule=*) SCHEDULE=(--schedule "${1#*=}") ;;
    --only=*) ONLY=${1#*=}; [ -n "$ONLY" ] || usage_error "--only needs a value" ;;
    --device) need_value "$@"; DEVICE=$2; shift ;;
    --device=*) DEVICE=${1#*=} ;;
    --data-dir) need_value "$@"; DATA_DIR=$2; shift ;;
    --data-dir=*) DATA_DIR=${1#*=}; [ -n "$DATA_DIR" ] || usage_error "--data-dir needs a value" ;;
    --procs) need_value "$@"; PROCS=$2; shift ;;
    --procs=*) PROCS=${1#*=} ;;
    --hostfile) need_value "$@"; HOSTFILE=$2; shift ;;
    --hostfile=*) HOSTFILE=${1#*=} ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift
done
[ -n "$DEVICE" ] || usage_error "--device needs a value"
case "${SCHEDULE[1]:-notebook}" in notebook|script) ;;
  *) usage_error "--schedule is notebook or script, got '${SCHEDULE[1]}'" ;; esac
# digits only, and few of them, before any arithmetic: bash's test would
# print "integer expression expected" or wrap a huge number
MAX_PROCS=1024
case "$PROCS" in ''|*[!0-9]*) usage_error "--procs needs a positive integer, got '$PROCS'" ;; esac
if [ ${#PROCS} -gt 4 ] || [ $((10#$PROCS)) -lt 1 ] || [ $((10#$PROCS)) -gt $MAX_PROCS ]; then
  usage_error "--procs needs a positive integer up to $MAX_PROCS, got '$PROCS'"
fi
PROCS=$((10#$PROCS))
if [ -n "$HOSTFILE" ]; then
  [ "$PROCS" -gt 1 ] || usage_error "--hostfile needs --procs N with N > 1"
  [ -f "$HOSTFILE" ] || usage_error "--hostfile: no file '$HOSTFILE'"
  HOSTFILE=$(cd "$(dirname "$HOSTFILE")" && pwd)/$(basename "$HOSTFILE")
fi
TRAIN_PREFIX=() TRAIN_MPI=()
if [ "$PROCS" -gt 1 ]; then
  command -v mpiexec >/dev/null 2>&1 \
    || usage_error "--procs needs mpiexec (Open MPI: apt-get install openmpi-bin)"
  source "$(dirname "${BASH_SOURCE[0]}")/scripts/mpi.sh"
  mpi_launcher "$PROCS"
  TRAIN_PREFIX=("${MPI_LAUNCHER[@]}")
  [ -n "$HOSTFILE" ] && TRAIN_PREFIX+=(--hostfile "$HOSTFILE")
  case "$DEVICE" in *cupy*|*cuda*) TRAIN_MPI=(--communicator pure_nccl) ;;
                    *) TRAIN_MPI=(--communicator naive) ;; esac
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
  TRAIN_EXTRA=(--epochs-main 2 --epochs-joint 2 --batch-size 64 --train-limit 8192 --test-limit 2000 --val-size 1000)
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

if [ "${BRANCHYNET_IN_CONTAINER:-}" = 1 ]; then
  header "setup: inside the container image, using its branchynet"
  BRANCHYNET=$(command -v branchynet) \
    || { echo "$PROG: setup failed for the container (exit 127): no branchynet on PATH" >&2; exit 127; }
  # the image's Python, the one its branchynet was installed into
  PYTHON=$(dirname "$BRANCHYNET")/python
  [ -x "$PYTHON" ] || PYTHON=python3
else
  VENV=${BRANCHYNET_VENV:-$ROOT/.venv}
  header "setup: virtual environment $VENV"
  run setup "$VENV" "$ROOT/scripts/setup_venv.sh" "$VENV"
  BRANCHYNET=$VENV/bin/branchynet PYTHON=$VENV/bin/python
fi

# The experiments and the data set each needs, from the package
# (branchynet.experiments.EXPERIMENTS): NETWORKS[i] trains on DATASETS[i];
# without --only, those marked "full" (Experiment.in_full_job) run.
rc=0
EXPERIMENTS=$("$PYTHON" -c 'from branchynet.experiments import print_experiments; print_experiments()') || rc=$?
if [ "$rc" -ne 0 ] || [ -z "$EXPERIMENTS" ]; then
  echo "$PROG: setup failed for the experiments (exit $rc): $PYTHON cannot list them" >&2
  exit $((rc ? rc : 1))
fi
NETWORKS=() DATASETS=()
while read -r net dataset full; do
  # the full job leaves out those marked "only"; --only may name any
  [ -n "$ONLY" ] || [ "$full" != only ] || continue
  NETWORKS+=("$net") DATASETS+=("$dataset")
done <<< "$EXPERIMENTS"
if [ -n "$ONLY" ]; then
  found=''
  for i in "${!NETWORKS[@]}"; do
    if [ "${NETWORKS[$i]}" = "$ONLY" ]; then found=$i; fi
  done
  [ -n "$found" ] \
    || { echo "$PROG: error: unknown network '$ONLY' (choose from: ${NETWORKS[*]})" >&2; exit 2; }
  NETWORKS=("$ONLY") DATASETS=("${DATASETS[$found]}")
fi

header "get_results.sh: networks: ${NETWORKS[*]}; device $DEVICE; processes $PROCS; quick=$QUICK; data root $BRANCHYNET_DATA_ROOT"

# Every network's data first: missing data stops the job now, not hours in.
for i in "${!NETWORKS[@]}"; do
  net=${NETWORKS[$i]} dataset=${DATASETS[$i]}
  header "data: $dataset for $net"
  run data "$net" "$BRANCHYNET" data "$dataset"
done

for net in "${NETWORKS[@]}"; do
  models=$MODELS/$net results=$RESULTS/$net
  # GPU sweeps get their own folder so Table I keeps both the CPU and GPU rows
  case "$DEVICE" in *cupy*|*cuda*) results=$RESULTS/${net}_gpu ;; esac

  header "train: $net -> $models (${PROCS} process(es))"
  run train "$net" ${TRAIN_PREFIX[@]+"${TRAIN_PREFIX[@]}"} "$BRANCHYNET" train "$net" \
    --out "$models" --resume --device "$DEVICE" ${TRAIN_MPI[@]+"${TRAIN_MPI[@]}"} \
    ${ALLOW_CHANGED[@]+"${ALLOW_CHANGED[@]}"} ${SCHEDULE[@]+"${SCHEDULE[@]}"} \
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
