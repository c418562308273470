#!/usr/bin/env bash
# Check that branchynet.compat lets Chainer 7.8.1 import and train on NumPy 2.
#
# usage: scripts/check_numpy2.sh [VENV_DIR]     (default: /tmp/branchynet-np2)
#        scripts/check_numpy2.sh --python PY    (checks only, with PY as is)
#
# The first form creates (or reuses) a throwaway venv OUTSIDE the repository
# with Python 3.11, NumPy 2 (NUMPY_SPEC, default 'numpy>=2,<3': the newest
# 2.x) and chainer 7.8.1 (built with setuptools>=70.1,<74 as build and install
# constraint, never numpy<2), plus matplotlib (MATPLOTLIB_SPEC). The second
# form uses an interpreter that already has numpy>=2 and chainer 7.8.1.
# Then: `import chainer` without the shim (expected to fail), and a CPU smoke
# run with branchynet.compat.patch_numpy_for_chainer() called first: chainer
# layers, Adam/MomentumSGD, npz save/load, a Trainer epoch with snapshot and
# resume, and the branchynet networks. The repository is put on PYTHONPATH
# (nothing is installed into it, nothing in it is written). Prints PASS/FAIL
# lines; exits non-zero on any FAIL. Not part of the fast test suite
# (tests/test_compat.py runs the checks when BRANCHYNET_NUMPY2_PYTHON is set).
set -euo pipefail

die() { echo "check_numpy2.sh: error: $*" >&2; exit 2; }
say() { echo "check_numpy2.sh: $*"; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=
case "${1:-}" in
  -h|--help) sed -n '2,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
  --python) [ $# -eq 2 ] || die "usage: scripts/check_numpy2.sh --python PYTHON"
            PY=$2 ;;
  *) [ $# -le 1 ] || die "usage: scripts/check_numpy2.sh [VENV_DIR]" ;;
esac

if [ -z "$PY" ]; then
  VENV=${1:-/tmp/branchynet-np2}
  mkdir -p "$(dirname "$VENV")"
  VENV=$(cd "$(dirname "$VENV")" && pwd)/$(basename "$VENV")
  case "$VENV/" in "$ROOT"/*) die "$VENV is inside the repository; use a path outside it" ;; esac
  PY=$VENV/bin/python
  if [ ! -x "$PY" ]; then
    BASE=${PYTHON:-python3.11}
    command -v "$BASE" >/dev/null 2>&1 || die "$BASE not found (set PYTHON=/path/to/python3.11)"
    say "creating $VENV with $BASE"
    "$BASE" -m venv "$VENV" || die "'$BASE -m venv $VENV' failed"
  fi
  CONS=$VENV/constraints-np2.txt
  echo 'setuptools>=70.1,<74' > "$CONS"
  export PIP_CONSTRAINT=$CONS PIP_BUILD_CONSTRAINT=$CONS PIP_DISABLE_PIP_VERSION_CHECK=1
  NUMPY_SPEC=${NUMPY_SPEC:-numpy>=2,<3}
  MATPLOTLIB_SPEC=${MATPLOTLIB_SPEC:-matplotlib==3.11.2}
  say "installing $NUMPY_SPEC, chainer 7.8.1 (constraint: setuptools>=70.1,<74)"
  "$PY" -m pip install --quiet --upgrade 'pip>=23.1,<26.4' || die "upgrading pip failed"
  "$PY" -m pip install --quiet "$NUMPY_SPEC" 'setuptools>=70.1,<74' filelock \
      protobuf typing_extensions six "$MATPLOTLIB_SPEC" || die "installing numpy and chainer's dependencies failed"
  "$PY" -m pip install --quiet --no-deps chainer==7.8.1 || die "installing chainer 7.8.1 failed"
fi
[ -x "$PY" ] || command -v "$PY" >/dev/null 2>&1 || die "no python at $PY"

fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

NPV=$("$PY" -c 'import numpy; print(numpy.__version__)') || die "numpy does not import with $PY"
say "python $("$PY" -c 'import sys; print(sys.version.split()[0])'), numpy $NPV"
if "$PY" -c 'import numpy, sys; sys.exit(int(numpy.__version__.split(".")[0]) < 2)'; then
  pass "numpy $NPV is 2.x"
else
  fail "numpy $NPV is not 2.x"
fi

# 1. Without the shim chainer does not import on NumPy 2 (informative).
if out=$(cd / && "$PY" -c 'import chainer' 2>&1); then
  echo "NOTE: import chainer works without the shim here (nothing to fix?)"
else
  pass "without the shim, import chainer fails: $(printf '%s\n' "$out" | tail -n 1)"
fi

# 2. With the shim: import and a CPU smoke run (scripts/check_numpy2.py).
set +e
(cd / && OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
   PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg "$PY" "$ROOT/scripts/check_numpy2.py" "$ROOT")
rc=$?
set -e
if [ $rc -eq 0 ]; then pass "smoke run with the shim (numpy $NPV)"; else fail "smoke run with the shim (numpy $NPV), exit $rc"; fi

if [ $fails -eq 0 ]; then
  echo "check_numpy2.sh: PASS (numpy $NPV)"
else
  echo "check_numpy2.sh: FAIL ($fails failed, numpy $NPV)"
  exit 1
fi
