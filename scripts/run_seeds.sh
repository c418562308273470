#!/usr/bin/env bash
# run_seeds.sh: LeNet + B-LeNet over seeds (issue 21 item 4), one after the
# other, then the spread of the LeNet row (scripts/seed_spread.py).
#
# usage: scripts/run_seeds.sh [--seeds N] [--first S] [--schedule notebook|script]
#                             [--procs N] [--models DIR] [--results DIR]
#                             [--device SPEC] [--quick]
#
# For each seed S in FIRST .. FIRST+N-1:
#   train  `branchynet train lenet_mnist --seed S --schedule SCHEDULE
#          --out MODELS/seedS --resume` (under `mpiexec -n PROCS` with
#          ChainerMN's naive communicator when PROCS > 1): a finished seed is
#          skipped, an interrupted one resumes from its last snapshot (run the
#          same command again); a changed schedule or --procs is refused
#   sweep  `branchynet sweep MODELS/seedS --out RESULTS/seedS` (skipped when
#          its sweep.json is newer than the model)
# then `python scripts/seed_spread.py RESULTS --json RESULTS/spread.json`:
# each seed's row, then mean, sd and range, and where the paper lies.
#
# options:
#   --seeds N        how many seeds (default 3)
#   --first S        the first seed (default 0)
#   --schedule S     notebook (default) or script, see `branchynet train --help`
#   --procs N        processes per training (default 2; 1: no mpiexec)
#   --models DIR     default _models/seeds_SCHEDULE
#   --results DIR    default results_compare/seeds_SCHEDULE (outside results/, so
#                    `branchynet report` does not take every seed into Table I)
#   --device SPEC    default @numpy
#   --quick          a tiny run to try the script (1 + 1 epochs at batch 64 on
#                    2048 images, sweep --quick): seconds per seed, not the
#                    paper's numbers; defaults go to _models/seeds_quick and
#                    results_compare/seeds_quick
#   -h, --help       this help
#
# $BRANCHYNET (default .venv/bin/branchynet) and $PYTHON (default
# .venv/bin/python) pick the programs.
set -euo pipefail
PROG=run_seeds.sh
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
usage_error() { echo "$PROG: error: $* (see scripts/$PROG --help)" >&2; exit 2; }
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value"; }
count() {  # count NAME VALUE MIN MAX: digits only, in range
  case "$2" in ''|*[!0-9]*) usage_error "$1 needs an integer, got '$2'" ;; esac
  [ ${#2} -le 6 ] && [ $((10#$2)) -ge "$3" ] && [ $((10#$2)) -le "$4" ] \
    || usage_error "$1 needs an integer in [$3, $4], got '$2'"
}

SEEDS=3 FIRST=0 SCHEDULE=notebook PROCS=2 MODELS='' RESULTS='' DEVICE='@numpy' QUICK=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --seeds) need_value "$@"; SEEDS=$2; shift ;;
    --first) need_value "$@"; FIRST=$2; shift ;;
    --schedule) need_value "$@"; SCHEDULE=$2; shift ;;
    --procs) need_value "$@"; PROCS=$2; shift ;;
    --models) need_value "$@"; MODELS=$2; shift ;;
    --results) need_value "$@"; RESULTS=$2; shift ;;
    --device) need_value "$@"; DEVICE=$2; shift ;;
    --quick) QUICK=1 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift
done
count --seeds "$SEEDS" 1 1000
count --first "$FIRST" 0 100000
count --procs "$PROCS" 1 64
SEEDS=$((10#$SEEDS)) FIRST=$((10#$FIRST)) PROCS=$((10#$PROCS))
case "$SCHEDULE" in notebook|script) ;;
  *) usage_error "--schedule is notebook or script, got '$SCHEDULE'" ;; esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BRANCHYNET=${BRANCHYNET:-$ROOT/.venv/bin/branchynet}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
TAG=$SCHEDULE TRAIN_EXTRA=() SWEEP_EXTRA=()
if [ "$QUICK" = 1 ]; then
  TAG=quick
  TRAIN_EXTRA=(--epochs-main 1 --epochs-joint 1 --batch-size 64 --train-limit 2048 --val-size 500 --test-limit 500)
  SWEEP_EXTRA=(--quick)
fi
MODELS=${MODELS:-_models/seeds_$TAG}
RESULTS=${RESULTS:-results_compare/seeds_$TAG}
PREFIX=() MPI=()
if [ "$PROCS" -gt 1 ]; then
  command -v mpiexec >/dev/null 2>&1 \
    || usage_error "--procs $PROCS needs mpiexec (Open MPI), or pass --procs 1"
  source "$(dirname "${BASH_SOURCE[0]}")/mpi.sh"
  mpi_launcher "$PROCS"
  PREFIX=("${MPI_LAUNCHER[@]}")
  MPI=(--communicator naive)
fi
PROGRESS=()
[ -t 1 ] || PROGRESS=(--no-progress)
export PYTHONUNBUFFERED=1

for ((seed = FIRST; seed < FIRST + SEEDS; seed++)); do
  models=$MODELS/seed$seed results=$RESULTS/seed$seed
  echo "===== [$(date '+%F %T')] seed $seed ($SCHEDULE, $PROCS process(es)): train -> $models"
  ${PREFIX[@]+"${PREFIX[@]}"} "$BRANCHYNET" train lenet_mnist --seed "$seed" \
    --schedule "$SCHEDULE" --out "$models" --resume --device "$DEVICE" \
    ${MPI[@]+"${MPI[@]}"} ${PROGRESS[@]+"${PROGRESS[@]}"} \
    ${TRAIN_EXTRA[@]+"${TRAIN_EXTRA[@]}"} \
    || { echo "$PROG: training failed for seed $seed; run the same command again to resume" >&2; exit 1; }
  if [ -f "$results/sweep.json" ] && [ "$results/sweep.json" -nt "$models/branchynet.npz" ]; then
    echo "$results/sweep.json is newer than $models/branchynet.npz, skipping the sweep"
  else
    echo "===== [$(date '+%F %T')] seed $seed: sweep -> $results"
    "$BRANCHYNET" sweep "$models" --out "$results" --device "$DEVICE" \
      ${SWEEP_EXTRA[@]+"${SWEEP_EXTRA[@]}"} \
      || { echo "$PROG: sweep failed for seed $seed" >&2; exit 1; }
  fi
done

echo "===== [$(date '+%F %T')] the spread over $RESULTS"
"$PYTHON" "$ROOT/scripts/seed_spread.py" "$RESULTS" --json "$RESULTS/spread.json"
