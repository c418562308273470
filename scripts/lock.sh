#!/usr/bin/env bash
# Regenerate the hash-pinned locks in locks/ from requirements.txt (edited by
# hand) after an edit, with uv's resolver (uv pip compile --generate-hashes):
#   locks/cpu.txt      the stack
#   locks/cuda1Y.txt   the stack plus the CuPy for CUDA 1Y (setup_venv.sh --gpu)
#   locks/pip.txt      the pip that installs them
# Each lock is universal: it resolves every supported Python at once (a
# package whose newest release drops an older Python gets one pinned line
# per Python range, e.g. numpy 2.2.6 on 3.10, 2.4.6 on 3.11, 2.5.5 on 3.12+)
# with every platform's markers and wheel hashes, so one file serves each
# supported Python on Linux, macOS and Windows.
# and locks/wheel-gaps.txt, the packages without a wheel per Python and
# platform (below).
# usage: scripts/lock.sh [--upgrade | --wheels-only]
#   default: keep the locked versions that still fit; --wheels-only: only
#   redo locks/wheel-gaps.txt
# UV_SPEC overrides the uv used (installed into a throwaway venv).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source scripts/pythons.sh    # SUPPORTED_PYTHONS
UPGRADE=() WHEELS_ONLY=
case "${1:-}" in
  --upgrade) UPGRADE=(--upgrade) ;;
  --wheels-only) WHEELS_ONLY=1 ;;
  '') ;;
  *) echo "usage: scripts/lock.sh [--upgrade | --wheels-only]" >&2; exit 2 ;;
esac
TOOL=$(mktemp -d "${TMPDIR:-/tmp}/branchynet-lock.XXXXXX")
trap 'rm -rf "$TOOL"' EXIT
python3 -m venv "$TOOL" && "$TOOL/bin/pip" install --quiet "${UV_SPEC:-uv>=0.9,<1}"
compile() {   # compile OUT IN...
  local out=$1; shift
  "$TOOL/bin/uv" pip compile --quiet --universal --generate-hashes "${UPGRADE[@]}" \
    --build-constraints locks/build-constraints.txt --index-url https://pypi.org/simple \
    --custom-compile-command scripts/lock.sh -o "$out" "$@"
  echo "lock.sh: wrote $out"
}
OLDEST=${SUPPORTED_PYTHONS%% *}
if [ -z "$WHEELS_ONLY" ]; then
  compile locks/cpu.txt --python-version "$OLDEST" requirements.txt
  for cuda in 12 13; do
    compile "locks/cuda$cuda.txt" --python-version "$OLDEST" "locks/requirements-gpu-cuda$cuda.txt"
  done
  echo 'pip==26.3' | compile locks/pip.txt --python-version "$OLDEST" -
fi

# Which Pythons and platforms the CPU lock has wheels for: every pinned
# package but chainer (an sdist, built by the setup) must have a wheel for
# the Python's ABI. The gaps go to locks/wheel-gaps.txt, one line each:
#   PYTHON PLATFORM PACKAGE==VERSION
# for every supported Python and the next one (not supported, checked so that
# the setup can name what is missing there). uv names one missing package at
# a time: each is left out and the check repeated to find the next.
NEXT=3.$(( ${SUPPORTED_PYTHONS##*.} + 1 ))
# (macOS: 14 or later, where onnxruntime 1.32.0 has its arm64 wheels)
PLATFORMS="x86_64-manylinux_2_28 aarch64-manylinux_2_28 aarch64-apple-darwin x86_64-pc-windows-msvc"
export MACOSX_DEPLOYMENT_TARGET=14.0
GAPS=$TOOL/wheel-gaps.txt
{
  echo "# Written by scripts/lock.sh: pinned packages of locks/cpu.txt without a wheel"
  echo "# for a Python and platform (macOS: 14 and later), one line each:"
  echo "#   PYTHON PLATFORM PACKAGE==VERSION"
  echo "# The supported Pythons and the next one are checked. Read by scripts/setup_venv.sh."
} > "$GAPS"
for py in $SUPPORTED_PYTHONS $NEXT; do
  for plat in $PLATFORMS; do
    sed -n 's/^\([A-Za-z0-9_.-]*==[^ ]*\)\( ; .*\)\{0,1\} \\$/\1\2/p' locks/cpu.txt > "$TOOL/pins.txt"
    while :; do
      if "$TOOL/bin/uv" pip compile --quiet --no-deps --no-header --only-binary :all: --no-binary chainer \
           --python-version "$py" --python-platform "$plat" --index-url https://pypi.org/simple \
           "$TOOL/pins.txt" -o /dev/null 2>"$TOOL/err.txt"; then
        break
      fi
      missing=$(sed -n 's/.*Because \([A-Za-z0-9_.-]*\)==\([^ ]*\) has no wheels.*/\1==\2/p' "$TOOL/err.txt" | head -n1)
      [ -n "$missing" ] || { cat "$TOOL/err.txt" >&2; echo "lock.sh: the wheel check for Python $py on $plat failed" >&2; exit 1; }
      echo "$py $plat $missing" >> "$GAPS"
      grep -v -i "^${missing%%==*}==" "$TOOL/pins.txt" > "$TOOL/pins2.txt"; mv "$TOOL/pins2.txt" "$TOOL/pins.txt"
    done
  done
done
cp "$GAPS" locks/wheel-gaps.txt
echo "lock.sh: wrote locks/wheel-gaps.txt ($(grep -vc '^#' locks/wheel-gaps.txt) gaps):"
grep -v '^#' locks/wheel-gaps.txt | sed 's/^/  /' || true
