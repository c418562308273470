#!/usr/bin/env bash
# ship_pretrained.sh: put a trained model into pretrained/ with the sweeps
# that `scripts/check_pretrained.sh` checks it against (how pretrained/ was
# made; see pretrained/README.md).
#
# usage: scripts/ship_pretrained.sh MODEL_DIR NAME [--data-dir DIR] [-- SWEEP_OPTIONS...]
#
#   copy    the model files of MODEL_DIR (a folder of `branchynet train`:
#           baseline*, branchynet.{npz,json}, settings.json; no snapshots)
#           to pretrained/NAME and write pretrained/NAME/SHA256SUMS
#   sweep   `branchynet sweep pretrained/NAME --out pretrained/results/NAME`
#           and the same with `--runtime onnxruntime` into
#           pretrained/results/NAME_onnxruntime (SWEEP_OPTIONS added to both)
# Time the sweeps on an idle machine: their latency columns are the ones
# the README quotes. An existing pretrained/NAME, or results of that NAME,
# are refused; a failure leaves none of them (rerun it).
# $BRANCHYNET_PRETRAINED names another folder to ship into, laid out as
# pretrained/ (default: this checkout's, recorded as the relative
# pretrained/NAME so that any clone finds it).
set -euo pipefail
PROG=ship_pretrained.sh
usage_error() { echo "$PROG: error: $* (usage: scripts/$PROG MODEL_DIR NAME [--data-dir DIR] [-- SWEEP_OPTIONS...])" >&2; exit 2; }
[ "${1:-}" != -h ] && [ "${1:-}" != --help ] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0; }
[ $# -ge 2 ] || usage_error "MODEL_DIR and NAME are needed"
MODEL=$1 NAME=$2; shift 2
DATA=()
if [ "${1:-}" = --data-dir ]; then [ $# -ge 2 ] || usage_error "--data-dir needs a value"; DATA=(--data-dir "$2"); shift 2; fi
if [ "${1:-}" = -- ]; then shift; elif [ $# -gt 0 ]; then usage_error "unknown argument '$1'"; fi
case "$NAME" in ''|*[!A-Za-z0-9_]*) usage_error "NAME is letters, digits and _, got '$NAME'" ;; esac
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FILES=(baseline.json baseline.npz baseline_after_joint.json baseline_after_joint.npz
       branchynet.json branchynet.npz settings.json)
for f in "${FILES[@]}"; do [ -f "$MODEL/$f" ] || usage_error "$MODEL/$f is missing (not a finished training folder)"; done
# the paths given, from the caller's folder (the work runs in $ROOT)
MODEL=$(cd "$MODEL" && pwd)
[ ${#DATA[@]} = 0 ] || { [ -d "${DATA[1]}" ] || usage_error "--data-dir ${DATA[1]} is not a folder"; DATA[1]=$(cd "${DATA[1]}" && pwd); }
PRETRAINED=pretrained
if [ -n "${BRANCHYNET_PRETRAINED:-}" ]; then
  [ ! -e "$BRANCHYNET_PRETRAINED" ] || [ -d "$BRANCHYNET_PRETRAINED" ] \
    || usage_error "\$BRANCHYNET_PRETRAINED $BRANCHYNET_PRETRAINED is not a folder"
  PRETRAINED=$(mkdir -p "$BRANCHYNET_PRETRAINED" 2>/dev/null && cd "$BRANCHYNET_PRETRAINED" && pwd) \
    || usage_error "cannot create \$BRANCHYNET_PRETRAINED $BRANCHYNET_PRETRAINED"
fi
DEST=$PRETRAINED/$NAME RESULTS=("$PRETRAINED/results/$NAME" "$PRETRAINED/results/${NAME}_onnxruntime")
cd "$ROOT"
for d in "$DEST" "${RESULTS[@]}"; do [ ! -e "$d" ] || usage_error "$d exists already"; done
BRANCHYNET=${BRANCHYNET:-$ROOT/.venv/bin/branchynet}
PY=${PYTHON:-$ROOT/.venv/bin/python}
# a failure leaves nothing half-shipped (a rerun starts again); results/ is
# removed too when this run made it and it is empty
shipped=0 made_results=0
[ -d "$PRETRAINED/results" ] || made_results=1
trap '[ $shipped = 1 ] || { rm -rf "$DEST.part" "$DEST" "${RESULTS[@]}"; [ $made_results = 0 ] || rmdir "$PRETRAINED/results" 2>/dev/null || true; }' EXIT
rm -rf "$DEST.part"     # left by a killed run
mkdir -p "$DEST.part"
for f in "${FILES[@]}"; do cp "$MODEL/$f" "$DEST.part/$f"; done
"$PY" -c 'import sys; from branchynet.utils.digest import write_manifest_text as w; sys.stdout.write(w(sys.argv[1], sys.argv[2:]))' \
  "$DEST.part" "${FILES[@]}" > "$DEST.part/SHA256SUMS"
mv "$DEST.part" "$DEST"
"$BRANCHYNET" sweep "$DEST" --out "${RESULTS[0]}" ${DATA[@]+"${DATA[@]}"} "$@"
"$BRANCHYNET" sweep "$DEST" --runtime onnxruntime --out "${RESULTS[1]}" ${DATA[@]+"${DATA[@]}"} "$@"
shipped=1
echo "$PROG: shipped $DEST; check it with scripts/check_pretrained.sh"
