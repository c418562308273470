"""Benchmark: training-step and batch-1 inference times of each network.

Training: one joint step (phase 2, ``JointLoss(model)``: the shared trunk
once, all exit heads, their losses) against one main-only step (phase 1,
``JointLoss(model, main_only=True)``), one Adam step each at the same batch
size, in one process, interleaved (warm-up steps first, then alternating
timed steps). Prints the medians, their ratio (the extra cost of training
the branches) and what the experiment's reference schedule (phase-1 epochs
main-only, phase-2 epochs joint, the default validation split held out) would
take at that speed.

Inference (``--batch1 N``): the batch-1 profile of
:func:`branchynet.measurement.profiling.profile_paths` on N random inputs: the main
network alone and each exit path end to end. Weights are untrained; the
times do not depend on them because every path is forced.

Before anything, :func:`branchynet.utils.device.tune_malloc` is called, as the
``branchynet`` command does: it keeps glibc from handing Chainer's large
im2col buffers back to the kernel after every convolution, which otherwise
adds a page-zeroing cost to every step (``--no-tune-malloc`` shows it).

    python scripts/bench/bench_train_step.py [--experiments lenet_mnist,...]
        [--batch-size N (default: the reference recipe's)] [--repeats 5]
        [--warmup 2] [--batch1 20] [--device @numpy|@cupy:0]
        [--no-tune-malloc]
"""
import argparse
import math
import statistics
import time

import branchynet  # noqa: F401  (first: patches NumPy 2 before chainer)
import chainer
import numpy

from branchynet.utils.device import get_device, synchronize, tune_malloc
from branchynet.errors import BranchyNetError
from branchynet.experiments import EXPERIMENTS
from branchynet.networks.model import JointLoss
from branchynet.data import DATASETS
from branchynet.networks import INPUT_SHAPES, NETWORKS
from branchynet.measurement.profiling import profile_paths
from branchynet.training.settings import TrainSettings


def make_step(loss_link, device):
    """One training step of ``loss_link`` with its own Adam optimizer."""
    loss_link.to_device(device)
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(loss_link)

    def step(x, t):
        optimizer.update(loss_link, x, t)
        synchronize(device)
    return step


def bench_steps(network, shape, batch_size, repeats, warmup, device, seed=0):
    """Median seconds per step: ``(main_only, joint)``."""
    rng = numpy.random.RandomState(seed)
    x = device.send(rng.rand(batch_size, *shape).astype(numpy.float32))
    t = device.send(rng.randint(0, 10, batch_size).astype(numpy.int32))
    numpy.random.seed(seed)
    steps = {
        # two copies of the network, so that neither step's updates
        # change what the other one computes
        'main': make_step(JointLoss(NETWORKS[network](), main_only=True),
                          device),
        'joint': make_step(JointLoss(NETWORKS[network]()), device),
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


def bench_batch1(network, shape, n_samples, device, seed=0):
    """:class:`~branchynet.measurement.profiling.PathProfile` on random inputs."""
    model = NETWORKS[network]()
    model.to_device(device)
    x = numpy.random.RandomState(seed).rand(n_samples, *shape)
    return profile_paths(model, x.astype(numpy.float32), n_samples=n_samples,
                         n_warmup=max(2, n_samples // 5))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--experiments', default=','.join(EXPERIMENTS),
                        help='comma-separated, from: %s'
                        % ', '.join(EXPERIMENTS))
    parser.add_argument('--batch-size', type=int, default=0,
                        help='training batch size (default: each '
                        "experiment's reference recipe)")
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed steps of each kind (median reported)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed steps of each kind first')
    parser.add_argument('--batch1', type=int, default=20,
                        help='samples for the batch-1 inference profile '
                        '(0: skip it)')
    parser.add_argument('--device', default='@numpy',
                        help='Chainer device specifier')
    parser.add_argument('--no-tune-malloc', action='store_true',
                        help="leave glibc's malloc as it is")
    args = parser.parse_args()
    names = args.experiments.split(',')
    for name in names:
        if name not in EXPERIMENTS:
            parser.error('unknown experiment %r' % name)
    if args.batch_size < 0 or args.repeats <= 0 or args.warmup < 0 \
            or args.batch1 < 0:
        parser.error('batch size and repeats must be positive')
    try:
        device = get_device(args.device)
    except BranchyNetError as e:
        parser.error(str(e))
    tuned = not args.no_tune_malloc and tune_malloc()
    print('%s, median of %d interleaved steps after %d warm-up, malloc '
          'tuned: %s' % (device, args.repeats, args.warmup, tuned))
    print()
    print('| network | batch | main-only s/step | joint s/step | joint / main '
          '| reference schedule at this speed |')
    print('| --- | --- | --- | --- | --- | --- |')
    for name in names:
        experiment = EXPERIMENTS[name]
        recipe = experiment.recipe('reference')
        shape = INPUT_SHAPES[experiment.network]
        n_train = DATASETS[experiment.dataset].n_train
        batch = args.batch_size or recipe.batch_size
        main_s, joint_s = bench_steps(experiment.network, shape, batch,
                                      args.repeats, args.warmup, device)
        steps = math.ceil((n_train - TrainSettings.val_size) / batch)
        hours = steps * (recipe.epochs_main * main_s
                         + recipe.epochs_joint * joint_s) / 3600
        print('| %s | %d | %.3f | %.3f | %.2fx | %d + %d epochs x %d steps: '
              '%.1f h |' % (experiment.network, batch, main_s, joint_s,
                            joint_s / main_s, recipe.epochs_main,
                            recipe.epochs_joint, steps, hours), flush=True)
    if not args.batch1:
        return
    print()
    print('Batch-1 inference, trimmed mean ms per sample over %d samples '
          '(end to end; each exit path forced)' % args.batch1)
    print()
    print('| network | main network | exit paths |')
    print('| --- | --- | --- |')
    for name in names:
        experiment = EXPERIMENTS[name]
        shape = INPUT_SHAPES[experiment.network]
        profile = bench_batch1(experiment.network, shape, args.batch1, device)
        print('| %s | %.2f | %s |' % (
            experiment.network, profile.baseline_ms,
            ', '.join('%.2f' % ms for ms in profile.exit_ms)), flush=True)


if __name__ == '__main__':
    main()
