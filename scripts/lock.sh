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
# usage: scripts/lock.sh [--upgrade]   (default: keep the locked versions that still fit)
# UV_SPEC overrides the uv used (installed into a throwaway venv).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source scripts/pythons.sh    # SUPPORTED_PYTHONS
UPGRADE=()
case "${1:-}" in
  --upgrade) UPGRADE=(--upgrade) ;;
  '') ;;
  *) echo "usage: scripts/lock.sh [--upgrade]" >&2; exit 2 ;;
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
compile locks/cpu.txt --python-version "$OLDEST" requirements.txt
for cuda in 12 13; do
  compile "locks/cuda$cuda.txt" --python-version "$OLDEST" "locks/requirements-gpu-cuda$cuda.txt"
done
echo 'pip==26.3' | compile locks/pip.txt --python-version "$OLDEST" -
