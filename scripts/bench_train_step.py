"""Benchmark: one joint training step against one main-only step, on CPU.

Phase 2 trains every exit (``JointLoss(model)``: the shared trunk once, all
exit heads, their losses); phase 1 trains the main network alone
(``JointLoss(model, main_only=True)``). This times one Adam step of each at
the same batch size, in one process, interleaved (warm-up steps first, then
alternating timed steps), and prints the medians and their ratio: the extra
cost of training the branches.

Before anything, :func:`branchynet.cpu.tune_malloc` is called, as the
``branchynet`` command does: it keeps glibc from handing Chainer's large
im2col buffers back to the kernel after every convolution, which otherwise
adds a page-zeroing cost to every step (see ``branchynet/cpu.py``).

    python scripts/bench_train_step.py [--networks b_lenet,b_alexnet]
        [--batch-size 512] [--repeats 5] [--warmup 2]
"""
import argparse
import statistics
import time

import branchynet  # noqa: F401  (first: patches NumPy 2 before chainer)
import chainer
import numpy

from branchynet.cpu import tune_malloc
from branchynet.model import JointLoss
from branchynet.networks import NETWORKS

#: input shape of one sample per network
INPUT_SHAPES = {
    'b_lenet': (1, 28, 28),
    'b_alexnet': (3, 32, 32),
    'b_resnet110': (3, 32, 32),
}


def make_step(loss_link):
    """One training step of ``loss_link`` with its own Adam optimizer."""
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(loss_link)

    def step(x, t):
        optimizer.update(loss_link, x, t)
    return step


def bench(name, batch_size, repeats, warmup, seed=0):
    """Median seconds per step: ``(main_only, joint)``."""
    rng = numpy.random.RandomState(seed)
    x = rng.rand(batch_size, *INPUT_SHAPES[name]).astype(numpy.float32)
    t = rng.randint(0, 10, batch_size).astype(numpy.int32)
    numpy.random.seed(seed)
    steps = {
        # two copies of the network, so that neither step's updates
        # change what the other one computes
        'main': make_step(JointLoss(NETWORKS[name](), main_only=True)),
        'joint': make_step(JointLoss(NETWORKS[name]())),
    }
    times = {'main': [], 'joint': []}
    with chainer.using_config('train', True):
        for _ in range(warmup):
            for step in steps.values():
                step(x, t)
        for _ in range(repeats):
            for key, step in steps.items():
                start = time.perf_counter()
                step(x, t)
                times[key].append(time.perf_counter() - start)
    return statistics.median(times['main']), statistics.median(times['joint'])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--networks', default='b_lenet,b_alexnet',
                        help='comma-separated, from: %s'
                        % ', '.join(INPUT_SHAPES))
    parser.add_argument('--batch-size', type=int, default=512)
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed steps of each kind (median reported)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed steps of each kind first')
    args = parser.parse_args()
    networks = args.networks.split(',')
    for name in networks:
        if name not in INPUT_SHAPES:
            parser.error('unknown network %r' % name)
    if args.batch_size <= 0 or args.repeats <= 0 or args.warmup < 0:
        parser.error('batch size and repeats must be positive')
    tuned = tune_malloc()
    print('CPU (numpy), batch size %d, median of %d interleaved steps after '
          '%d warm-up, malloc tuned: %s'
          % (args.batch_size, args.repeats, args.warmup, tuned))
    print()
    print('| network | main-only s/step | joint s/step | joint / main |')
    print('| --- | --- | --- | --- |')
    for name in networks:
        main_s, joint_s = bench(name, args.batch_size, args.repeats,
                                args.warmup)
        print('| %s | %.3f | %.3f | %.2fx |'
              % (name, main_s, joint_s, joint_s / main_s), flush=True)


if __name__ == '__main__':
    main()
