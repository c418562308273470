"""Benchmark: our one-pass sweep against the reference's re-run per vector.

The reference evaluated each threshold vector by running the test set at
batch size 1 once per vector. Ours records entropies and predictions in one
batched pass, profiles each exit path's batch-1 latency once, and evaluates
the whole grid from those. Both run here, on the same trained model, grid
and samples, in one process; the script checks that accuracies and exit
counts are identical and prints the speed ratio.

``--runtime onnxruntime`` runs our records pass and profile on ONNX Runtime
(the model exported in memory; the export and the session creation are
timed as part of ours); the reference's method stays what it was, Chainer
at batch size 1.

    python scripts/bench_sweep.py _models/lenet_mnist [--samples 10000]
        [--runtime chainer|onnxruntime] [--threads 1]
"""
import argparse
import os
import sys
import time

import numpy

from branchynet.device import tune_malloc
from branchynet.evaluation import evaluation_split
from branchynet.experiments import EXPERIMENTS
from branchynet.inference import early_exit_one
from branchynet.profiling import profile_paths
from branchynet.runtime import RUNTIMES, make_runtime
from branchynet.serialization import load_model
from branchynet.sweep import evaluate_thresholds, threshold_grid


def reference_method(model, x, y, thresholds):
    """One batch-1 pass over ``x`` per threshold vector, timed as a whole."""
    accuracy, counts = [], []
    for t in thresholds:
        outcomes = numpy.array([early_exit_one(model, x[i:i + 1], t)
                                for i in range(len(x))])
        accuracy.append((outcomes[:, 0] == y).mean())
        counts.append(numpy.bincount(outcomes[:, 1],
                                     minlength=model.n_exits))
    return numpy.array(accuracy), numpy.array(counts)


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
    model, info = load_model(os.path.join(args.model_dir, 'branchynet'))
    x, y = evaluation_split(info, 'test', args.data_dir)
    if args.samples:
        x, y = x[:args.samples], y[:args.samples]
    grid = EXPERIMENTS[info['settings']['experiment']].grid
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
    ref_accuracy, ref_counts = reference_method(model, x, y, thresholds)
    ref_s = time.perf_counter() - start

    same = (numpy.array_equal(ref_accuracy, ours['accuracy'])
            and numpy.array_equal(ref_counts, ours['exit_counts']))
    print('ours (%s: one pass + profile + grid): %8.2f s'
          % (args.runtime, ours_s))
    print('reference (batch-1 re-run per vector): %8.2f s' % ref_s)
    print('speed-up: %.0fx; identical accuracies and exit counts: %s'
          % (ref_s / ours_s, 'yes' if same else 'NO'))
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main())
