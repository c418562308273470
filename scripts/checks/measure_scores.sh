#!/usr/bin/env bash
# The exit-score measurements of one trained experiment (issue 13):
#   1. the comparison of every exit score x rule (`branchynet compare`), and
#      from it each score at the accuracy of the sweep's choice (by default
#      the paper's rule: entropy, knee), with ms and exit shares;
#   2. the wall time of `branchynet compare`, and of the records pass it
#      reuses (as the sweep measured it, from sweep.json);
#   3. the out-of-distribution table for the built-in transforms of the test
#      set (inverted, noise, rotated), every score matched to the exit
#      shares of the sweep's chosen thresholds.
#
# Usage: scripts/checks/measure_scores.sh [MODEL_DIR] [RESULTS_DIR]
#   defaults: _models/lenet_mnist and results/<name of MODEL_DIR>.
#   The sweep is run first when RESULTS_DIR holds no records with logits
#   (extra sweep options in $SWEEP_ARGS, e.g. "--quick"). Everything printed
#   is also saved under $OUT (default RESULTS_DIR/scores); the comparison
#   figure goes to $FIGS (default _figs).
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:-_models/lenet_mnist}
RESULTS=${2:-results/$(basename "$MODEL")}
OUT=${OUT:-$RESULTS/scores}
PY=${PY:-.venv/bin/python}
BN=("$PY" -m branchynet)

if ! "$PY" - "$RESULTS/records.npz" <<'EOF' 2>/dev/null
import sys
import zipfile
sys.exit('test_logits.npy' not in zipfile.ZipFile(sys.argv[1]).namelist())
EOF
then
  echo "== no records with logits in $RESULTS: branchynet sweep $MODEL"
  # shellcheck disable=SC2086
  "${BN[@]}" sweep "$MODEL" --out "$RESULTS" ${SWEEP_ARGS:-}
fi
mkdir -p "$OUT"

echo "== branchynet compare $MODEL --results $RESULTS"
start=$(date +%s.%N)
"${BN[@]}" compare "$MODEL" --results "$RESULTS" --figs "${FIGS:-_figs}" \
  > "$OUT/compare.txt"
echo "$start $(date +%s.%N)" | awk '{printf "%.2f\n", $2 - $1}' \
  > "$OUT/compare_wall_s.txt"
cat "$OUT/compare.txt"

"$PY" - "$RESULTS" "$OUT/compare_wall_s.txt" <<'EOF' | tee "$OUT/summary.md"
import json
import os
import sys

results, wall = sys.argv[1], sys.argv[2]
result = json.load(open(os.path.join(results, 'compare.json')))
sweep = json.load(open(os.path.join(results, 'sweep.json')))
first = result['rows'][0]
print('\n== each score at the accuracy of the sweep\'s choice (%s, %s; '
      'tuning accuracy %.2f%%), tuned on the %s split, reported on %d '
      'test samples\n' % (first['score'], first['rule'][7:],
                          100 * first['tune_accuracy'], result['tuned_on'],
                          result['n_test']))
print('| score | rule | T | acc % (tune) | acc % | exit % | ms | gain |')
print('| --- | --- | --- | --- | --- | --- | --- | --- |')
for row in [first] + [r for r in result['rows'][1:]
                      if r['rule'] == 'accuracy']:
    if row['thresholds'] is None:
        print('| %s | %s | - | - | - | - | - | - |' % (row['score'],
                                                        row['rule']))
        continue
    print('| %s | %s | %s | %.2f | %.2f | %s | %.3f | %.2fx |' % (
        row['score'], row['rule'],
        ', '.join('%.4g' % t for t in row['thresholds']),
        100 * row['tune_accuracy'], 100 * row['accuracy'],
        ', '.join('%.1f' % (100 * f) for f in row['exit_fractions']),
        row['ms'], row['gain']))
print('\nbaseline %.3f ms; device %s, runtime %s' % (
    result['baseline_ms'], sweep['device'], sweep.get('runtime', 'chainer')))
print('wall time of `branchynet compare` (whole command): %s s; its '
      'comparison alone: %.2f s; the records pass it reuses (sweep): %.2f s '
      'for %d + %d samples (tuning + test; the test split once when tuned '
      'on it)' % (open(wall).read().strip(), result['seconds'],
                  sweep['seconds']['records'], sweep['n_tune'],
                  sweep['n_test']))
EOF

read -r SCORE T < <("$PY" - "$RESULTS/sweep.json" <<'EOF'
import json
import sys
s = json.load(open(sys.argv[1]))
t = s['sweep_tune'][s['chosen_index']]['thresholds']
print(s.get('score', 'entropy'), ','.join(repr(v) for v in t))
EOF
)
for source in inverted noise rotated; do
  echo "== branchynet evaluate $MODEL/branchynet --score $SCORE -t=$T --ood $source"
  "${BN[@]}" evaluate "$MODEL/branchynet" --score "$SCORE" -t="$T" \
    --ood "$source" | tee "$OUT/ood_$source.txt"
done
echo "saved in $OUT"
