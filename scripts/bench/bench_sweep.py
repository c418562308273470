"""Benchmark: our one-pass sweep against the reference's re-run per vector.

The reference evaluated each threshold vector by running the test set at
batch size 1 once per vector. Ours records entropies and predictions in one
batched pass, profiles each exit path's batch-1 latency once, and evaluates
the whole grid from those. Both run here, on the same trained model, grid
and samples, in one process; the script checks that accuracies and exit
counts are identical and prints the speed ratio. Where they are not (ONNX
Runtime's arithmetic differs from Chainer's in the last bits), it lists
every sample decided otherwise and checks that the two entropies straddle
its threshold within float error.

``--runtime onnxruntime`` runs our records pass and profile on ONNX Runtime
(the model exported in memory; the export and the session creation are
timed as part of ours); the reference's method stays what it was, Chainer
at batch size 1.

    python scripts/bench/bench_sweep.py _models/lenet_mnist [--samples 10000]
        [--runtime chainer|onnxruntime] [--threads 1]
"""
import argparse
import os
import sys
import time

import numpy

from branchynet.utils.device import tune_malloc
from branchynet.measurement.evaluation import evaluation_split
from branchynet.experiments import get_experiment, load_trained
from branchynet.exits.inference import choose_exits, early_exit_one, exit_records
from branchynet.measurement.profiling import profile_paths
from branchynet.runtimes import RUNTIMES, make_runtime
from branchynet.measurement.sweep import evaluate_thresholds, threshold_grid


def reference_method(model, x, y, thresholds):
    """One batch-1 pass over ``x`` per threshold vector, timed as a whole.

    Returns:
        tuple: accuracy ``(V,)``, exit counts ``(V, K)`` and every sample's
        ``(prediction, exit)`` int ``(V, N, 2)``.
    """
    accuracy, counts, outcomes = [], [], []
    for t in thresholds:
        o = numpy.array([early_exit_one(model, x[i:i + 1], t)
                         for i in range(len(x))])
        accuracy.append((o[:, 0] == y).mean())
        counts.append(numpy.bincount(o[:, 1], minlength=model.n_exits))
        outcomes.append(o)
    return numpy.array(accuracy), numpy.array(counts), numpy.array(outcomes)


def disagreements(model, x, entropies, predictions, thresholds, outcomes):
    """The samples that leave elsewhere (or answer otherwise) in our records
    than in the reference's runs, with how near their entropy is to the
    threshold that decided.

    Returns:
        list of dict: vector index, sample, both entropies at the deciding
        exit, the threshold.
    """
    rows = []
    for v, t in enumerate(thresholds):
        exits = choose_exits(entropies, t)
        ours = predictions[numpy.arange(len(x)), exits]
        for i in numpy.flatnonzero((exits != outcomes[v, :, 1])
                                   | (ours != outcomes[v, :, 0])):
            k = min(exits[i], outcomes[v, i, 1])
            theirs, _ = exit_records(model, x[i:i + 1])
            rows.append({'vector': v, 'sample': int(i), 'exit': int(k),
                         'threshold': float(t[k]),
                         'entropy_ours': float(entropies[i, k]),
                         'entropy_reference': float(theirs[0, k])})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model_dir')
    parser.add_argument('--samples', type=int, default=0,
                        help='first N test samples (0: all)')
    parser.add_argument('--profile-samples', type=int, default=200)
    parser.add_argument('--data-dir', default='auto')
    parser.add_argument('--runtime', choices=RUNTIMES, default='chainer',
                        help='runtime of our records pass and profile')
    parser.add_argument('--threads', type=int, default=1,
                        help='ONNX Runtime intra-op threads')
    args = parser.parse_args()
    tune_malloc()
    model, info = load_trained(os.path.join(args.model_dir, 'branchynet'))
    x, y = evaluation_split(info, 'test', args.data_dir)
    if args.samples:
        x, y = x[:args.samples], y[:args.samples]
    grid = get_experiment(info['settings']['experiment']).grid
    thresholds = threshold_grid(grid, model.n_exits)
    print('%s: %d threshold vectors, %d test samples'
          % (info['network'], len(thresholds), len(y)))

    start = time.perf_counter()
    runtime = make_runtime(model, info['network'], args.runtime,
                           threads=args.threads)
    entropies, predictions = runtime.exit_records(x)
    profile = profile_paths(runtime, x, args.profile_samples)
    ours = evaluate_thresholds(entropies, predictions, y, thresholds,
                               profile.exit_ms)
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    ref_accuracy, ref_counts, outcomes = reference_method(model, x, y,
                                                          thresholds)
    ref_s = time.perf_counter() - start

    same = (numpy.array_equal(ref_accuracy, ours['accuracy'])
            and numpy.array_equal(ref_counts, ours['exit_counts']))
    print('ours (%s: one pass + profile + grid): %8.2f s'
          % (args.runtime, ours_s))
    print('reference (batch-1 re-run per vector): %8.2f s' % ref_s)
    print('speed-up: %.0fx; identical accuracies and exit counts: %s'
          % (ref_s / ours_s, 'yes' if same else 'NO'))
    if same:
        return 0
    rows = disagreements(model, x, entropies, predictions, thresholds,
                         outcomes)
    print('%d sample decisions of %d differ:'
          % (len(rows), outcomes[..., 0].size))
    for r in rows:
        print('  vector %(vector)d, sample %(sample)d, exit %(exit)d: T = '
              '%(threshold)g, entropy %(entropy_ours).7g here, '
              '%(entropy_reference).7g in the reference run' % r)
    # acceptable only when the two runs' entropies straddle the threshold
    # by float error (the runtimes' arithmetic differs in the last bits)
    explained = all(
        min(r['entropy_ours'], r['entropy_reference']) < r['threshold']
        <= max(r['entropy_ours'], r['entropy_reference'])
        and abs(r['entropy_ours'] - r['entropy_reference']) < 1e-5
        for r in rows)
    print('every difference is a sample whose entropy lies within float '
          'error (1e-5) of its threshold: %s' % ('yes' if explained else 'NO'))
    return 0 if explained else 1


if __name__ == '__main__':
    sys.exit(main())
