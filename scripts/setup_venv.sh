#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment with the pinned stack.
#
# usage: scripts/setup_venv.sh [--gpu] [VENV_DIR]   (default: .venv in the repository)
#
# --gpu also installs CuPy for CUDA 12 (cupy-cuda12x 13.6.0, the last CuPy
# that accepts the stack's numpy 1.26; BRANCHYNET_CUPY_SPEC overrides it), so
# that `--device @cupy:0` works on a host with an NVIDIA driver >= 525.
#
# Uses python3.11 (or `python3` when that is 3.11; override with PYTHON=...),
# upgrades pip, then installs `-r requirements.txt` and `-e .` with
# PIP_CONSTRAINT and PIP_BUILD_CONSTRAINT both set to the repository's
# constraints.txt (chainer 7.8.1 needs setuptools<74 and numpy<2, also in its
# isolated build environment). Idempotent: a stamp file in the venv holds the
# sha256 of requirements.txt + constraints.txt + setup.py (and the checkout's
# path); when it matches, the script only checks that the venv still works.
# Set BRANCHYNET_SETUP_FORCE=1 to reinstall anyway.
set -euo pipefail

die() { echo "setup_venv.sh: error: $*" >&2; exit 1; }
say() { echo "setup_venv.sh: $*"; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GPU=0
if [ "${1:-}" = --gpu ]; then GPU=1; shift; fi
[ $# -le 1 ] || die "usage: scripts/setup_venv.sh [--gpu] [VENV_DIR]"
case "${1:-}" in -h|--help) sed -n '2,18s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;; esac
VENV=${1:-$ROOT/.venv}
for f in requirements.txt constraints.txt setup.py; do
  [ -f "$ROOT/$f" ] || die "$ROOT/$f is missing"
done
mkdir -p "$(dirname "$VENV")" || die "cannot create the parent folder of $VENV"
VENV=$(cd "$(dirname "$VENV")" && pwd)/$(basename "$VENV")
STAMP=$VENV/.branchynet-setup.sha256
VPY=$VENV/bin/python

# Two setups at once (tests/run.sh in one terminal, get_results.sh in another)
# would create and pip-install into the same venv together and fail half-way
# with a misleading message. flock(1) on a file beside the venv makes the
# second wait for the first; it then finds the venv up to date. The lock goes
# with the process (fd 9), also when it is killed.
LOCK=$VENV.lock
if command -v flock >/dev/null 2>&1; then
  exec 9>"$LOCK" || die "cannot create the lock file $LOCK"
  if ! flock -n 9; then
    say "another setup_venv.sh is working on $VENV; waiting for it (lock $LOCK)"
    flock 9 || die "could not take the lock $LOCK"
  fi
else
  say "flock (util-linux) not found: two setups at once are not kept apart"
fi

# --gpu: CuPy into the venv (after the stack, with the same constraints)
gpu_extra() {
  [ "$GPU" = 1 ] || return 0
  if "$VPY" -c 'import cupy' 2>/dev/null; then
    say "CuPy $("$VPY" -c 'import cupy; print(cupy.__version__)') is installed"
  else
    local spec=${BRANCHYNET_CUPY_SPEC:-cupy-cuda12x==13.6.0}
    say "installing $spec"
    PIP_CONSTRAINT=$ROOT/constraints.txt "$VPY" -m pip install --quiet "$spec" \
      || die "installing $spec failed (see pip's messages above)"
  fi
  "$VPY" -c 'import cupy; print("setup_venv.sh: CuPy", cupy.__version__, "sees", cupy.cuda.runtime.getDeviceCount(), "GPU(s)")' \
    || say "CuPy is installed but sees no GPU here (no NVIDIA driver?); --device @cupy:0 needs one"
}

is_311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }

want=$( { printf '%s\n' "$ROOT"; cat "$ROOT/requirements.txt" "$ROOT/constraints.txt" "$ROOT/setup.py"; } \
        | sha256sum | cut -d' ' -f1)

# Fast path: the stamp matches and the venv's python, chainer and branchynet work.
if [ -z "${BRANCHYNET_SETUP_FORCE:-}" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
   && [ -x "$VENV/bin/branchynet" ] && is_311 "$VPY" \
   && "$VPY" -c 'import chainer, branchynet' 2>/dev/null; then
  say "$VENV is up to date (stamp matches), nothing to do"
  gpu_extra
  exit 0
fi

if [ -e "$VENV" ] && [ ! -x "$VPY" ] && [ -n "$(ls -A "$VENV" 2>/dev/null || echo x)" ]; then
  die "$VENV exists but is not a virtual environment (no bin/python); remove it or pick another VENV_DIR"
fi
if [ -x "$VPY" ]; then
  is_311 "$VPY" || die "$VENV uses $("$VPY" -V 2>&1), not Python 3.11; remove it (rm -rf $VENV) and rerun"
  say "reusing the existing venv $VENV"
else
  PY=${PYTHON:-}
  if [ -z "$PY" ]; then
    for cand in python3.11 python3; do
      if command -v "$cand" >/dev/null 2>&1 && is_311 "$cand"; then PY=$cand; break; fi
    done
  fi
  if [ -z "$PY" ] || ! is_311 "$PY"; then die "Python 3.11 is required (python3.11, or python3 being 3.11, or PYTHON=/path/to/python3.11); none found"; fi
  say "creating $VENV with $(command -v "$PY") ($("$PY" -V 2>&1))"
  if ! "$PY" -m venv "$VENV"; then
    # the Debian hint only when ensurepip (what python3.11-venv adds) is absent
    if "$PY" -c 'import ensurepip' 2>/dev/null; then
      die "'$PY -m venv $VENV' failed (see its message above)"
    fi
    die "'$PY -m venv $VENV' failed: $PY has no ensurepip (on Debian/Ubuntu: apt-get install python3.11-venv)"
  fi
fi

rm -f "$STAMP"
export PIP_CONSTRAINT=$ROOT/constraints.txt PIP_BUILD_CONSTRAINT=$ROOT/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK=1
say "PIP_CONSTRAINT=PIP_BUILD_CONSTRAINT=$PIP_CONSTRAINT"
# pip 23.1 to 26.3 are known to install chainer 7.8.1 with these constraints
PIP_SPEC=${BRANCHYNET_PIP_SPEC:-pip>=23.1,<26.4}
say "upgrading pip ($PIP_SPEC)"
"$VPY" -m pip install --quiet --upgrade "$PIP_SPEC" || die "upgrading pip in $VENV failed"
say "installing -r requirements.txt and -e . with $("$VPY" -m pip --version | cut -d' ' -f1-2)"
(cd "$ROOT" && "$VPY" -m pip install -r requirements.txt -e .) \
  || die "pip install -r requirements.txt -e . failed in $VENV (see pip's messages above)"
"$VPY" -c 'import chainer, numpy, branchynet; print("setup_venv.sh: chainer", chainer.__version__, "numpy", numpy.__version__)' \
  || die "the venv was installed but 'import chainer, branchynet' fails"
echo "$want" > "$STAMP"
gpu_extra
say "done: $VENV (activate with: source $VENV/bin/activate)"
