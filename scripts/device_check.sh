#!/usr/bin/env bash
# device_check.sh: the GPU checks, as one command for a machine with an
# NVIDIA GPU (CUDA 13, Python 3.12 with numpy 2 and CuPy 14 preinstalled, no
# internet). Finishes within 8 minutes: each stage has its own time limit,
# 480 s in all.
#
# usage: scripts/device_check.sh [--cpu] [OUT_DIR]
#   --cpu    dry run on the CPU (@numpy; a 1 + 1 epoch schedule on 2048
#            images instead of the reference's 50 + 100): checks that every
#            stage runs, on any machine with the pinned stack
#   OUT_DIR  where the results go (default: $OUT, else ./_device_check)
#
# Stages, each logged to OUT_DIR/log.txt:
#   1. GPU-marked tests (tests/test_gpu.py): each network's forward and
#      backward on @cupy:0 equal to the CPU's, the batched early exit equal
#      to batch size 1, the profiler waiting for the device; plus the compat
#      and network tests under this Python/NumPy; then (not with --cpu)
#      scripts/device_check_hostile.sh: the loading and hostile-input tests
#      on this stack, @cupy:0 evaluate, a bad GPU id, CuPy hidden, npz into
#      CuPy arrays
#   2. train lenet_mnist on @cupy:0 with the reference schedule (50 + 100
#      epochs, batch 512; test set every 10 epochs and at the end)
#   3. sweep it with GPU timing (a temporary results/lenet_mnist_cupy0;
#      its table1.md and a tarball of the results come back in OUT_DIR)
#   4. time training steps of B-AlexNet and B-ResNet-110
#      (scripts/bench/bench_train_step.py, random data)
#   5. Table I and figures, then every figure into OUT_DIR/figures.pdf
# Outputs: log.txt, table1.md, figures.pdf, results.tar.gz (sweep.json,
# model JSONs, training logs) in OUT_DIR.
#
# What must travel with the checkout (both in folders git ignores; list
# them in .git/info/exclude, then name them in the device tool's `carry`):
#   .whl/     chainer 7.8.1 as a wheel. It is a pure-Python sdist; build the
#             wheel here with the project's build constraint:
#               PIP_BUILD_CONSTRAINT=$PWD/locks/build-constraints.txt \
#               .venv/bin/pip wheel --no-deps chainer==7.8.1 -w .whl
#             (its dependencies numpy, six, filelock, protobuf,
#             typing_extensions are on that machine already, as are
#             matplotlib, scipy, pytest, hypothesis, onnx, onnxruntime).
#   .device/data/mnist/   the four MNIST .gz files:
#               mkdir -p .device/data/mnist
#               cp ../shared/data/mnist/*.gz .device/data/mnist/
# The script installs the wheels into /tmp/site (pip --no-index --target)
# and puts the checkout on PYTHONPATH; branchynet.compat lets chainer 7.8.1
# import on Python 3.12 with NumPy 2. It does not run setup_venv.sh --gpu as
# a user would: that machine has no network, and the locked stack's wheels
# (cupy-cuda13x alone is larger) exceed what may travel with the checkout
# (64 MiB), so it uses the NumPy 2 / CuPy 14 stack the machine already has.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CPU=0
if [ "${1:-}" = --cpu ]; then CPU=1; shift; fi
case "${1:-}" in -h|--help) sed -n '2,39s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;; esac
DEST=${1:-${OUT:-$ROOT/_device_check}}
mkdir -p "$DEST" || { echo "device_check.sh: error: cannot create $DEST" >&2; exit 2; }
DEST=$(cd "$DEST" && pwd)
WORK=$(mktemp -d /tmp/device_check.XXXXXX)
LOG=$DEST/log.txt
: > "$LOG"
cd "$ROOT"

say() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOG"; }
fails=0
# stage NAME SECONDS COMMAND...: run with a time limit, log, count failures
stage() {
  local name=$1 limit=$2 t0=$SECONDS rc
  shift 2
  say "=== $name (limit ${limit}s): $*"
  timeout --signal=INT --kill-after=20 "$limit" "$@" >> "$LOG" 2>&1
  rc=$?
  say "--- $name: exit $rc in $((SECONDS - t0)) s"
  [ $rc -eq 0 ] || fails=$((fails + 1))
  return 0
}

if [ "$CPU" = 1 ]; then
  PY=${PYTHON:-$ROOT/.venv/bin/python}
  DEVICE=@numpy
  TRAIN_EXTRA=(--epochs-main 1 --epochs-joint 1 --train-limit 2048 --test-limit 1000 --val-size 1000)
  SWEEP_EXTRA=(--quick)
  BENCH_EXTRA=(--repeats 1 --warmup 0 --batch1 2 --batch-size 8)
  export BRANCHYNET_DATA_ROOT=${BRANCHYNET_DATA_ROOT:-$ROOT/datasets/data}
else
  PY=${PYTHON:-python3}
  DEVICE=@cupy:0
  TRAIN_EXTRA=(--eval-every 10)
  SWEEP_EXTRA=()
  BENCH_EXTRA=(--repeats 5 --warmup 2 --batch1 20)
  export BRANCHYNET_DATA_ROOT=$ROOT/.device/data
  if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --upgrade --target /tmp/site .whl/*.whl >> "$LOG" 2>&1 \
      || { say "installing .whl/*.whl failed"; exit 1; }
    export PYTHONPATH=/tmp/site
  fi
fi
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
say "device_check.sh: device $DEVICE, python $("$PY" -V 2>&1), data root $BRANCHYNET_DATA_ROOT, out $DEST"
"$PY" - >> "$LOG" 2>&1 <<'EOF'
import numpy, sys
from branchynet.compat import import_chainer
print('stand-ins used to import chainer:', import_chainer() or 'none')
import chainer
print('python', sys.version.split()[0], 'numpy', numpy.__version__,
      'chainer', chainer.__version__)
try:
    import cupy
    print('cupy', cupy.__version__, 'devices',
          cupy.cuda.runtime.getDeviceCount(),
          cupy.cuda.runtime.getDeviceProperties(0)['name'].decode())
except Exception as e:                     # the --cpu dry run
    print('cupy: not usable here (%s)' % e)
EOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >> "$LOG" 2>&1

MODELS=$WORK/lenet_mnist
RESULTS=$WORK/results
FIGS=$WORK/figs
stage tests 60 "$PY" -m pytest -q -p no:cacheprovider tests/test_gpu.py \
  tests/test_compat.py tests/test_networks.py tests/test_records.py
[ "$CPU" = 1 ] || stage hostile 60 env OUT="$DEST" bash scripts/device_check_hostile.sh
stage train 210 "$PY" -m branchynet train lenet_mnist --device "$DEVICE" \
  --out "$MODELS" --no-progress "${TRAIN_EXTRA[@]}"
stage sweep 60 "$PY" -m branchynet sweep "$MODELS" --device "$DEVICE" \
  --out "$RESULTS/lenet_mnist_${DEVICE//[@:]/}" ${SWEEP_EXTRA[@]+"${SWEEP_EXTRA[@]}"}
stage bench 45 "$PY" scripts/bench/bench_train_step.py --device "$DEVICE" \
  --experiments alexnet_cifar10,resnet_cifar10 "${BENCH_EXTRA[@]}"
stage report 25 "$PY" -m branchynet report --results "$RESULTS" --figs "$FIGS"
stage figures 20 "$PY" scripts/checks/figures_to_pdf.py "$DEST/figures.pdf" \
  "$FIGS" "$MODELS"

cp "$RESULTS/table1.md" "$DEST/" 2>/dev/null
tar -czf "$DEST/results.tar.gz" -C "$WORK" --exclude='*.npz' \
  --exclude='snapshot_iter_*' results lenet_mnist 2>> "$LOG"
say "device_check.sh: $fails stage(s) failed; outputs in $DEST"
[ $fails -eq 0 ]
