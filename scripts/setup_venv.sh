#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment from the hash-pinned lock.
#
# usage: scripts/setup_venv.sh [--gpu] [--dry-run] [VENV_DIR]   (default: .venv in the repository)
#
# --dry-run prints the Python and the lock it would use, and changes nothing.
#
# Python: the newest supported interpreter found on PATH (python3.X for each
# supported X, then python3; a newer, unsupported one is passed over);
# PYTHON=/path/to/python picks one. Supported: the versions in
# scripts/pythons.sh (setup.py says the same). With none, one line names the
# Pythons found, what is missing for them (locks/wheel-gaps.txt) and advice.
#
# Installs pip from locks/pip.txt, then every package from locks/cpu.txt
# (--gpu: locks/cuda12.txt or locks/cuda13.txt, the stack plus the CuPy that
# matches the CUDA version nvidia-smi reports; BRANCHYNET_CUDA=12|13 chooses by
# hand) with --require-hashes, from wheels only, then the checkout itself
# (editable). chainer 7.8.1 is an sdist: pip builds it with
# locks/build-constraints.txt. The locks are generated from requirements.txt
# by scripts/lock.sh.
#
# Idempotent: a stamp file in the venv holds the sha256 of the lock used, the
# other install inputs and the checkout's path; when it matches, the script
# only checks that the venv still works. BRANCHYNET_SETUP_FORCE=1 reinstalls.
# A venv made with an unsupported Python, or with another Python than
# PYTHON=, is refused in one line (remove it and rerun).
set -euo pipefail

die() { echo "setup_venv.sh: error: $*" >&2; exit 1; }
say() { echo "setup_venv.sh: $*"; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=pythons.sh
source "$ROOT/scripts/pythons.sh"
GPU=0 DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --gpu) GPU=1 ;;
    --dry-run) DRY=1 ;;
    -h|--help) sed -n '2,26s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) die "unknown option $1 (usage: scripts/setup_venv.sh [--gpu] [--dry-run] [VENV_DIR])" ;;
    *) break ;;
  esac
  shift
done
[ $# -le 1 ] || die "usage: scripts/setup_venv.sh [--gpu] [--dry-run] [VENV_DIR]"
VENV=${1:-$ROOT/.venv}
for f in locks/cpu.txt locks/pip.txt locks/build-constraints.txt setup.py; do
  [ -f "$ROOT/$f" ] || die "$ROOT/$f is missing"
done
LO=${SUPPORTED_PYTHONS%% *} HI=${SUPPORTED_PYTHONS##* }
RANGE="$LO to $HI"
NEWEST_FIRST='' NAMES=''
for v in $SUPPORTED_PYTHONS; do NEWEST_FIRST="$v $NEWEST_FIRST" NAMES="python$v $NAMES"; done
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
if [ "$DRY" = 1 ]; then :
elif command -v flock >/dev/null 2>&1; then
  exec 9>"$LOCK" || die "cannot create the lock file $LOCK"
  if ! flock -n 9; then
    say "another setup_venv.sh is working on $VENV; waiting for it (lock $LOCK)"
    flock 9 || die "could not take the lock $LOCK"
  fi
else
  say "flock (util-linux) not found: two setups at once are not kept apart"
fi

# The minor version ("3.12") of interpreter $1, or nothing when it does not run
# (a pyenv shim for a version that is not active exits non-zero).
py_minor() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true; }
is_supported() { case " $SUPPORTED_PYTHONS " in *" $1 "*) [ -n "$1" ] ;; *) return 1 ;; esac; }

# Why Python $1 cannot run the project, in words, from locks/wheel-gaps.txt
# (written by scripts/lock.sh): "onnxruntime 1.32.0 publishes no wheel for
# Python 3.15", or nothing when it names no missing wheel there.
wheel_gap() {
  local plat py p pkg pkgs=''
  [ "$(uname -s 2>/dev/null)" = Linux ] || return 0
  case "$(uname -m 2>/dev/null)" in
    x86_64|amd64) plat=x86_64-manylinux ;;
    aarch64|arm64) plat=aarch64-manylinux ;;
    *) return 0 ;;
  esac
  [ -f "$ROOT/locks/wheel-gaps.txt" ] || return 0
  while read -r py p pkg; do
    [ "$py" = "$1" ] || continue
    case "$p" in "$plat"*) pkgs="$pkgs, ${pkg/==/ }" ;; esac
  done < "$ROOT/locks/wheel-gaps.txt"
  [ -z "$pkgs" ] || echo "${pkgs#, } publishes no wheel for Python $1"
}

# What stands in the way, and advice that works on this machine, for one
# without a supported Python: why the Pythons found do not do (too new: the
# wheels missing there, from locks/wheel-gaps.txt; too old), then the
# Debian/Ubuntu package of a supported Python that apt can install (python3
# itself when its candidate is supported, else python3.X), or else where to
# get one.
advice() {   # advice FOUND_VERSIONS...
  local v f cand policy newest='' oldest='' why='' gap
  for f in "$@"; do
    if [ "${f#3.}" -gt "${HI#3.}" ]; then
      { [ -z "$newest" ] || [ "${f#3.}" -gt "${newest#3.}" ]; } && newest=$f
    elif [ "${f#3.}" -lt "${LO#3.}" ]; then
      { [ -z "$oldest" ] || [ "${f#3.}" -lt "${oldest#3.}" ]; } && oldest=$f
    fi
  done
  if [ -n "$newest" ]; then
    gap=$(wheel_gap "$newest")
    why="the project does not run on Python $newest yet${gap:+ ($gap)}; "
  elif [ -n "$oldest" ]; then
    why="Python $oldest is too old for the project; "
  fi
  if command -v apt-cache >/dev/null 2>&1; then
    policy=$(apt-cache policy python3 2>/dev/null)
    cand=$(echo "$policy" | sed -n 's/^ *Candidate: \([0-9]*\.[0-9]*\).*/\1/p')
    if is_supported "$cand"; then
      if echo "$policy" | grep -q "^ *Installed: $cand"; then
        # installed, but another python3 comes first on PATH
        echo "${why}Debian's Python $cand is installed: PYTHON=/usr/bin/python3"; return
      fi
      echo "${why}install Debian's Python $cand: apt-get install python3 python3-venv"; return
    fi
    for v in $NEWEST_FIRST; do
      cand=$(apt-cache policy "python$v" 2>/dev/null | sed -n 's/^ *Candidate: //p')
      if [ -n "$cand" ] && [ "$cand" != '(none)' ]; then
        echo "${why}install Debian's Python $v beside it: apt-get install python$v python$v-venv"; return
      fi
    done
  fi
  if [ -n "$newest" ]; then
    echo "${why}install Python $HI or older (python.org, pyenv or uv) and set PYTHON=/path/to/python$HI"
  elif [ -n "$oldest" ]; then
    echo "${why}install Python $LO to $HI (python.org, pyenv or uv) and set PYTHON=/path/to/python3.X"
  else
    echo "install Python $LO to $HI (on Debian/Ubuntu: apt-get install python3 python3-venv; else python.org) or set PYTHON=/path/to/python3.X"
  fi
}

# The newest supported interpreter on PATH (or PYTHON=, which must be supported).
find_python() {
  if [ -n "${PYTHON:-}" ]; then
    local v gap; v=$(py_minor "$PYTHON")
    [ -n "$v" ] || die "PYTHON=$PYTHON does not run"
    if ! is_supported "$v"; then
      gap=$(wheel_gap "$v")
      die "PYTHON=$PYTHON is Python $v; supported: $RANGE${gap:+ ($gap)}"
    fi
    echo "$PYTHON"; return
  fi
  local best='' best_v='' cand v m found='' found_v=()
  # python3.X for every supported X, newest first, then plain python3
  for cand in $NAMES python3; do
    command -v "$cand" >/dev/null 2>&1 || continue
    v=$(py_minor "$cand")
    is_supported "$v" || continue
    if [ -z "$best" ] || [ "${v#3.}" -gt "${best_v#3.}" ]; then best=$cand best_v=$v; fi
  done
  if [ -z "$best" ]; then
    # what is there instead: python3 and any python3.X, with its version
    for ((m = 30; m >= 0; m--)); do
      cand=python3.$m
      command -v "$cand" >/dev/null 2>&1 || continue
      v=$(py_minor "$cand"); [ -n "$v" ] || continue
      found="$found, $cand ($v)"; found_v+=("$v")
    done
    if command -v python3 >/dev/null 2>&1; then
      v=$(py_minor python3)
      if [ -n "$v" ]; then found="$found, python3 ($v)"; found_v+=("$v"); fi
    fi
    found=${found#, }
    die "no supported Python found (needs $RANGE; found ${found:-none}): $(advice "${found_v[@]}")"
  fi
  echo "$best"
}

# Which lock: cpu, or the CUDA lock that matches the driver (--gpu).
# shellcheck source=cuda.sh
source "$ROOT/scripts/cuda.sh"
LOCKNAME=cpu
if [ "$GPU" = 1 ]; then
  major=$(cuda_major 2>&1) || die "--gpu: $major"
  LOCKNAME=cuda$major
fi

# What a venv installed from lock $1 must match: the checkout's path and every install input.
want_for() {
  { printf '%s\n' "$ROOT"; cat "$ROOT/locks/$1.txt" "$ROOT/locks/pip.txt" \
      "$ROOT/locks/build-constraints.txt" "$ROOT/setup.py"; } | sha256sum | cut -d' ' -f1
}
stamp_ok() {
  [ -f "$STAMP" ] || return 1
  local have; have=$(cat "$STAMP")
  [ "$have" = "$(want_for "$LOCKNAME")" ] && return 0
  # a GPU venv is also a CPU venv: the CUDA locks are the CPU lock plus CuPy
  [ "$GPU" = 0 ] && { [ "$have" = "$(want_for cuda12)" ] || [ "$have" = "$(want_for cuda13)" ]; }
}

if [ -e "$VENV" ] && [ ! -x "$VPY" ] && [ -n "$(ls -A "$VENV" 2>/dev/null || echo x)" ]; then
  die "$VENV exists but is not a virtual environment (no bin/python); remove it or pick another VENV_DIR"
fi
if [ -x "$VPY" ]; then
  have_v=$(py_minor "$VPY")
  [ -n "$have_v" ] || die "$VENV's python no longer runs (its interpreter was removed or moved); remove it (rm -rf $VENV) and rerun"
  is_supported "$have_v" || die "$VENV uses Python $have_v, which is not supported ($RANGE); remove it (rm -rf $VENV) and rerun"
  if [ -n "${PYTHON:-}" ] && [ "$(py_minor "$PYTHON")" != "$have_v" ]; then
    die "$VENV uses Python $have_v, but PYTHON=$PYTHON is $(py_minor "$PYTHON"); remove it (rm -rf $VENV) or pick another VENV_DIR"
  fi
  if [ "$DRY" = 1 ]; then say "would reuse $VENV (Python $have_v) and install locks/$LOCKNAME.txt"; exit 0; fi
  # Fast path: the stamp matches and the venv's chainer and branchynet work.
  if [ -z "${BRANCHYNET_SETUP_FORCE:-}" ] && stamp_ok && [ -x "$VENV/bin/branchynet" ] \
     && "$VPY" -c 'import branchynet.compat as c; c.write_startup_hook()' 2>/dev/null \
     && "$VPY" -c 'import chainer, branchynet' 2>/dev/null; then
    say "$VENV is up to date (Python $have_v, stamp matches), nothing to do"
    exit 0
  fi
  say "reusing the existing venv $VENV (Python $have_v)"
else
  PY=$(find_python)
  if [ "$DRY" = 1 ]; then say "would create $VENV with $PY (Python $(py_minor "$PY")) and install locks/$LOCKNAME.txt"; exit 0; fi
  say "creating $VENV with $(command -v "$PY") ($("$PY" -V 2>&1))"
  if ! "$PY" -m venv "$VENV"; then
    # the Debian hint only when ensurepip (what python3.X-venv adds) is absent
    if "$PY" -c 'import ensurepip' 2>/dev/null; then
      die "'$PY -m venv $VENV' failed (see its message above)"
    fi
    die "'$PY -m venv $VENV' failed: $PY has no ensurepip (on Debian/Ubuntu: apt-get install python3-venv)"
  fi
fi

rm -f "$STAMP"
export PIP_DISABLE_PIP_VERSION_CHECK=1
say "installing pip from locks/pip.txt"
"$VPY" -m pip install --quiet --require-hashes -r "$ROOT/locks/pip.txt" || die "installing pip in $VENV failed"
say "installing locks/$LOCKNAME.txt (hash-checked) with $("$VPY" -m pip --version | cut -d' ' -f1-2)"
# Wheels only, but for chainer (an sdist): a package without a wheel for this
# Python is named in one line instead of being built from source for long
# minutes and failing there. pip's stderr is kept and shown unless that line
# says it all.
PIPLOG=$VENV/.branchynet-pip.log
if ! PIP_BUILD_CONSTRAINT=$ROOT/locks/build-constraints.txt \
  "$VPY" -m pip install --require-hashes --no-deps --only-binary :all: --no-binary chainer \
  -r "$ROOT/locks/$LOCKNAME.txt" 2>"$PIPLOG"; then
  missing=$(sed -n 's/^ERROR: No matching distribution found for \([^ ]*\).*/\1/p' "$PIPLOG" | head -n1)
  if [ -n "$missing" ] && grep -q '(from versions: ' "$PIPLOG" \
     && ! grep -qiE 'Retrying|connection|ProxyError|SSLError|Could not fetch URL' "$PIPLOG"; then
    die "${missing/==/ } publishes no wheel for Python $(py_minor "$VPY") on $(uname -s) $(uname -m): use another Python of $RANGE (rm -rf $VENV; PYTHON=/path/to/python3.X)"
  fi
  cat "$PIPLOG" >&2
  die "pip install -r locks/$LOCKNAME.txt failed in $VENV (see pip's messages above)"
fi
cat "$PIPLOG" >&2
# The checkout itself, built with the setuptools the lock just installed.
(cd "$ROOT" && "$VPY" -m pip install --quiet --no-deps --no-build-isolation -e .) \
  || die "pip install -e . failed in $VENV (see pip's messages above)"
# a plain `import chainer` first (a network file, a notebook) works on NumPy 2
# too: a .pth file imports branchynet at start-up (branchynet.compat)
"$VPY" -c 'import branchynet.compat as c; c.write_startup_hook()' \
  || die "could not write branchynet's start-up file into $VENV"
"$VPY" -c 'import sys, chainer, branchynet, numpy; print("setup_venv.sh: Python %d.%d.%d" % sys.version_info[:3], "numpy", numpy.__version__, "chainer", chainer.__version__)' \
  || die "the venv was installed but 'import branchynet' (which imports chainer) fails"
if [ "$GPU" = 1 ]; then
  "$VPY" -c 'import cupy; print("setup_venv.sh: CuPy", cupy.__version__, "sees", cupy.cuda.runtime.getDeviceCount(), "GPU(s)")' \
    || say "CuPy is installed but sees no GPU here; --device @cupy:0 needs one"
fi
want_for "$LOCKNAME" > "$STAMP"
say "done: $VENV (activate with: source $VENV/bin/activate)"
