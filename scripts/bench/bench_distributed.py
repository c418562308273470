"""One process against two (ChainerMN) at the same global batch: step and
epoch time, from one interleaved run.

usage: python scripts/bench/bench_distributed.py [--train-limit 10752] [--rounds 2]

Runs ``branchynet train lenet_mnist`` on a subset for 2 + 1 epochs, alone
(one process, its BLAS using every core, then one thread) and under
``mpiexec -n 2 --communicator naive`` (one BLAS thread per process),
alternately, ROUNDS times each, with the same global batch (512). The time of phase 1's second
epoch (the first pays for warm-up) is read from each run's log; a step is
that epoch's time over its updates. No test pass (``--eval-every 0``).
Prints a Markdown table and the ratio of medians.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BRANCHYNET = os.path.join(os.path.dirname(sys.executable), 'branchynet')


def run(procs, out, train_limit, threads):
    """One training run; returns (epoch-2 seconds, updates in it)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads),
               OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
    cmd = [BRANCHYNET, 'train', 'lenet_mnist', '--out', out, '--epochs-main',
           '2', '--epochs-joint', '1', '--train-limit', str(train_limit),
           '--eval-every', '0', '--no-progress']
    if procs > 1:
        cmd = (['mpiexec', '--oversubscribe', '-n', str(procs)]
               + sum((['-x', k] for k in ('OMP_NUM_THREADS',
                                          'OPENBLAS_NUM_THREADS',
                                          'BRANCHYNET_DATA_ROOT')
                      if k in env), [])
               + cmd + ['--communicator', 'naive'])
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, 'phase1', 'log')) as f:
        log = json.load(f)
    seconds = log[1]['elapsed_time'] - log[0]['elapsed_time']
    updates = log[1]['iteration'] - log[0]['iteration']
    return seconds, updates


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train-limit', type=int, default=10752,
                        help='training images (default 10752: 21 steps of '
                             '512 an epoch)')
    parser.add_argument('--rounds', type=int, default=2)
    args = parser.parse_args()
    cores = os.cpu_count()
    configs = [(1, cores), (1, 1), (2, 1)]
    results = {c: [] for c in configs}
    work = tempfile.mkdtemp(prefix='bench_distributed.')
    try:
        for r in range(args.rounds):
            for procs, threads in configs:
                out = os.path.join(work, '%d_%d' % (procs, r))
                results[(procs, threads)].append(
                    run(procs, out, args.train_limit, threads))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print('| processes | BLAS threads each | epoch s (median of %d) | '
          'updates | s per step |' % args.rounds)
    print('| --- | --- | --- | --- | --- |')
    step = {}
    for (procs, threads), runs in results.items():
        epoch = statistics.median(s for s, _ in runs)
        updates = runs[0][1]
        step[procs, threads] = epoch / updates
        print('| %d | %d | %.1f | %d | %.3f |' % (procs, threads, epoch,
                                                 updates, epoch / updates))
    for config in configs[:2]:
        print('step time, 2 processes / 1 process with %d thread(s): %.2f'
              % (config[1], step[2, 1] / step[config]))


if __name__ == '__main__':
    main()
