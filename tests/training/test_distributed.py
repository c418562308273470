"""Data-parallel training with ChainerMN, two processes under mpiexec.

Skipped where ``mpiexec`` or mpi4py is missing (.ci/run installs Open MPI).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy
import pytest

from branchynet.training.distributed import Workers, get_workers
from branchynet.errors import BranchyNetError
from helpers import CLI_WRAPPER, REPO, files_in

MPIEXEC = shutil.which('mpiexec')
try:
    import mpi4py  # noqa: F401
    HAVE_MPI4PY = True
except ImportError:
    HAVE_MPI4PY = False
needs_mpi = pytest.mark.skipif(
    not (MPIEXEC and HAVE_MPI4PY), reason='needs mpiexec and mpi4py '
    '(apt-get install openmpi-bin; pip install mpi4py)')

N_TRAIN, N_TEST, VAL, BATCH = 64, 16, 8, 8


def mpiexec(n, args, env=None, timeout=240):
    """Run ``python ARGS`` on ``n`` processes (as root too, as in CI)."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT='1',
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1', OMP_NUM_THREADS='1',
               **(env or {}))
    cmd = [MPIEXEC, '--oversubscribe', '-n', str(n)]
    for name in ('BRANCHYNET_DATA_ROOT', 'TEST_MNIST_SHA256', 'TEST_KILL',
                 'TEST_KILL_RANK', 'OMP_NUM_THREADS', 'PYTHONPATH'):
        if name in env:
            cmd += ['-x', name]
    return subprocess.run(cmd + [sys.executable] + args, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope='module')
def data(tmp_path_factory, tiny_mnist):
    root = tmp_path_factory.mktemp('root')
    _, checksums = tiny_mnist(root / 'mnist', N_TRAIN, N_TEST)
    return {'BRANCHYNET_DATA_ROOT': str(root),
            'TEST_MNIST_SHA256': json.dumps(checksums)}


def train_args(out, *extra):
    return ['-c', CLI_WRAPPER, 'train', 'lenet_mnist', '--out', str(out),
            '--epochs-main', '3', '--epochs-joint', '3', '--batch-size',
            str(BATCH), '--val-size', str(VAL), '--no-progress',
            '--communicator', 'naive'] + list(extra)


def weights(out, role):
    with numpy.load(str(out / (role + '.npz'))) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.fixture(scope='module')
def two_process_run(tmp_path_factory, data):
    out = tmp_path_factory.mktemp('mpi') / 'out'
    proc = mpiexec(2, train_args(out), data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc


@needs_mpi
def test_two_processes_train_and_write_one_model(two_process_run):
    out, proc = two_process_run
    # rank 0 alone prints, logs and writes the models
    assert proc.stdout.count('models saved in') == 1
    assert '2 processes (ChainerMN)' in proc.stdout
    files = files_in(out)
    for role in ('baseline', 'branchynet', 'baseline_after_joint'):
        assert files.count(role + '.npz') == 1
    # every rank keeps its own snapshots (its shard's order and generators):
    # 28 samples a rank at 4 a step, 7 steps an epoch, the last two epochs
    for phase in ('phase1', 'phase2'):
        for folder in (phase, phase + '/rank1'):
            assert [f for f in files if f.startswith(folder + '/snapshot')] \
                == [folder + '/snapshot_iter_14', folder + '/snapshot_iter_21']
    assert not any(f.startswith('phase1/rank1/') and f.endswith('.png')
                   for f in files)
    with open(out / 'branchynet.json') as f:
        assert json.load(f)['settings']['batch_size'] == BATCH


# One update of B-LeNet's phase 2 on a global batch of all 16 samples, with
# the reference's optimizers; each rank takes its share through training's
# own MPIWorkers.shard and local_batch. Writes the weights.
ONE_STEP = textwrap.dedent('''
    import sys
    import branchynet, numpy, chainer  # branchynet first: NumPy 2 shim
    from branchynet.training.distributed import Workers, get_workers
    from branchynet.experiments import get_experiment
    from branchynet.networks.model import JointLoss
    from branchynet.networks import b_lenet
    from branchynet.training.settings import resolve_settings
    from branchynet.training.trainer import phase2_targets
    from branchynet.training.updater import JointUpdater, setup_optimizers
    out, communicator = sys.argv[1], sys.argv[2]
    workers = get_workers(communicator) if communicator != 'none' \\
        else Workers()
    rng = numpy.random.RandomState(0)
    x = rng.rand(16, 1, 28, 28).astype(numpy.float32)
    t = (numpy.arange(16) % 10).astype(numpy.int32)
    share = workers.shard(chainer.datasets.TupleDataset(x, t), 0)
    n = workers.local_batch(16)
    numpy.random.seed(0)
    model = b_lenet()
    head = b_lenet().exits[-1]
    settings = resolve_settings('lenet_mnist', batch_size=16)
    optimizers, _ = setup_optimizers(
        get_experiment('lenet_mnist').recipe(), settings,
        phase2_targets(model, head, 'reference'), 1)
    optimizers = workers.wrap_optimizers(optimizers)
    workers.start(optimizers)
    iterator = chainer.iterators.SerialIterator(share, n, shuffle=False)
    updater = JointUpdater(iterator, optimizers, JointLoss(model),
                           chainer.dataset.concat_examples, '@numpy')
    updater.update()
    if workers.is_root:
        arrays = {k: p.array for k, p in model.namedparams()}
        # the gradients the optimizers used (averaged over the ranks)
        arrays.update({'grad' + k: p.grad for k, p in model.namedparams()})
        numpy.savez(out, **arrays)
''')


@needs_mpi
def test_one_step_on_two_processes_equals_one_step_on_the_global_batch(
        tmp_path):
    env = {'PYTHONPATH': str(REPO)}
    two = str(tmp_path / 'two.npz')
    proc = mpiexec(2, ['-c', ONE_STEP, two, 'naive'], env)
    assert proc.returncode == 0, proc.stderr
    one = str(tmp_path / 'one.npz')
    proc = subprocess.run([sys.executable, '-c', ONE_STEP, one, 'none'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with numpy.load(one) as a, numpy.load(two) as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            if k.startswith('grad'):
                scale = float(numpy.abs(a[k]).max())
                numpy.testing.assert_allclose(b[k], a[k], rtol=1e-4,
                                              atol=1e-5 * scale, err_msg=k)
            else:
                # Adam's first step is about alpha = 1e-3 wherever the
                # gradient is not tiny: 1e-5 is 1% of a step
                numpy.testing.assert_allclose(b[k], a[k], rtol=0, atol=1e-5,
                                              err_msg=k)
        numpy.random.seed(0)
        from branchynet.networks import b_lenet
        fresh = {k: p.array for k, p in b_lenet().namedparams()}
        assert all(not numpy.array_equal(a[k], fresh[k]) for k in fresh)


# Two epochs of training's own iterator (phase._make_trainer, through
# MPIWorkers.shard and local_batch), then a short run_phase of a small
# network with BatchNormalization. Each sample carries its index in a
# pixel. Rank 0 writes what every rank saw as JSON.
SHARDING = textwrap.dedent('''
    import json, sys
    import branchynet, numpy, chainer  # branchynet first: NumPy 2 shim
    import chainer.links as L
    import chainermn
    from chainer.training import extension
    from branchynet.training.distributed import get_workers
    from branchynet.networks.model import BranchyNet, JointLoss
    from branchynet.training.settings import resolve_settings
    from branchynet.training.phase import Run, _make_trainer, run_phase
    from branchynet.training.updater import setup_optimizers
    result, out, n, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), \\
        int(sys.argv[4])
    workers = get_workers('naive')
    x = numpy.random.RandomState(0).rand(n, 1, 4, 4).astype(numpy.float32)
    x[:, 0, 0, 0] = numpy.arange(n)
    t = (numpy.arange(n) % 3).astype(numpy.int32)
    settings = resolve_settings('lenet_mnist', batch_size=batch,
                                epochs_main=2, eval_every=0)
    run = Run(out, settings, {'train': (x, t), 'test': (x, t)}, '@numpy',
              progress=False, workers=workers)

    def network():
        numpy.random.seed(0)
        return BranchyNet(
            [chainer.Sequential(L.Convolution2D(1, 2, 3),
                                L.BatchNormalization(2)), L.Linear(8, 6)],
            [L.Linear(8, 3), L.Linear(6, 3)])

    def optimized(model):
        optimizers, _ = setup_optimizers(run.recipe, settings,
                                         {'main': model}, 1)
        return JointLoss(model), optimizers

    loss, optimizers = optimized(network())
    iterator = _make_trainer(loss, optimizers, run, 2, out + '/a',
                             1).updater.get_iterator('main')
    epochs = [[], []]
    while iterator.epoch < 2:
        epoch = iterator.epoch
        epochs[epoch].append([int(s[0][0, 0, 0]) for s in next(iterator)])
    # what chainermn.scatter_dataset gives this rank (it broadcasts rank
    # 0's permutation)
    scattered = chainermn.scatter_dataset(list(range(n)), workers.comm,
                                          shuffle=True, seed=settings.seed)

    class Before(extension.Extension):
        # the running statistics just before AllreducePersistent's turn
        trigger = 1, 'epoch'
        priority = extension.PRIORITY_WRITER + 2
        mean = var = None

        def __call__(self, trainer):
            self.mean = bn.avg_mean.tolist()
            self.var = bn.avg_var.tolist()

    model = network()
    bn = model.stages[0][1]
    before = Before()
    loss, optimizers = optimized(model)
    run_phase(loss, optimizers, [before], run, 1)
    mine = {'epochs': epochs, 'scattered': [int(i) for i in scattered],
            'local_batch': workers.local_batch(batch),
            'before': [before.mean, before.var],
            'after': [bn.avg_mean.tolist(), bn.avg_var.tolist()]}
    every = workers.comm.gather_obj(mine)
    if workers.is_root:
        with open(result, 'w') as f:
            json.dump(every, f)
''')


@pytest.fixture(scope='module')
def sharded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('sharding')
    env = {'PYTHONPATH': str(REPO)}
    proc = mpiexec(2, ['-c', SHARDING, str(tmp / 'ranks.json'),
                       str(tmp / 'out'), '24', '4'], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(tmp / 'ranks.json') as f:
        return json.load(f)


@needs_mpi
def test_every_sample_once_per_epoch_over_the_ranks(sharded):
    assert len(sharded) == 2
    for epoch in (0, 1):
        shards = [sorted(i for b in rank['epochs'][epoch] for i in b)
                  for rank in sharded]
        # each rank a half of its own; together every sample once
        assert sorted(shards[0] + shards[1]) == list(range(24))
        assert len(shards[0]) == len(shards[1]) == 12
    for rank in sharded:
        # the global batch of 4 split into 2 a step
        assert rank['local_batch'] == 2
        assert all(len(b) == 2 for e in rank['epochs'] for b in e)


@needs_mpi
def test_shards_are_chainermn_s_shuffled_cut_in_a_new_order_each_epoch(
        sharded):
    for rank in sharded:
        first, second = ([i for b in e for i in b] for e in rank['epochs'])
        # the shard: what chainermn.scatter_dataset(shuffle=True) gives the
        # rank, the same samples every epoch (a random half, not a block)
        assert sorted(first) == sorted(second) == sorted(rank['scattered'])
        assert sorted(first) not in (list(range(12)), list(range(12, 24)))
        # ... visited in a new order each epoch
        assert first != second


@needs_mpi
def test_batch_normalization_statistics_are_averaged_over_the_ranks(
        sharded):
    before = numpy.array([rank['before'] for rank in sharded])
    after = numpy.array([rank['after'] for rank in sharded])
    # each rank's own shard gave it its own statistics...
    assert numpy.abs(before[0] - before[1]).min() > 1e-4
    # ... and every rank ends the epoch with their mean
    for rank_after in after:
        numpy.testing.assert_allclose(rank_after, before.mean(axis=0),
                                      rtol=1e-6)


@needs_mpi
@pytest.mark.parametrize('phase', [1, 2])
def test_a_killed_two_process_run_resumes(phase, two_process_run, data,
                                          tmp_path):
    straight, _ = two_process_run
    out = tmp_path / 'out'
    # rank 1 dies in the phase's second epoch; mpiexec ends the job
    killed = mpiexec(2, train_args(out), dict(
        data, TEST_KILL='%d:10' % phase, TEST_KILL_RANK='1'))
    assert killed.returncode != 0
    assert not (out / 'branchynet.json').exists()
    resumed = mpiexec(2, train_args(out, '--resume'), data)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert resumed.stdout.count('resuming from') == 1
    assert resumed.stdout.count('models saved in') == 1
    assert 'Traceback' not in resumed.stderr
    for role in ('baseline', 'branchynet', 'baseline_after_joint'):
        a, b = weights(out, role), weights(straight, role)
        diff = max(float(numpy.abs(a[k] - b[k]).max()) for k in a)
        assert diff == 0, (role, diff)


@needs_mpi
def test_resuming_with_another_process_count_is_refused(data, tmp_path):
    out = tmp_path / 'out'
    killed = mpiexec(2, train_args(out), dict(
        data, TEST_KILL='1:10', TEST_KILL_RANK='1'))
    assert killed.returncode != 0
    alone = [a for a in train_args(out, '--resume') if a not in
             ('--communicator', 'naive')]
    proc = subprocess.run([sys.executable] + alone, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, **data))
    assert proc.returncode == 2, proc.stderr
    line, = proc.stderr.strip().splitlines()
    assert 'processes 2 (asked 1)' in line


def test_one_process_needs_no_mpi():
    workers = get_workers(None)
    assert isinstance(workers, Workers) and workers.size == 1
    assert workers.local_batch(7) == 7
    assert workers.common_iteration([3, 9]) == 9
    assert workers.common_iteration([]) is None
    with pytest.raises(BranchyNetError, match='unknown communicator'):
        get_workers('hierarchical2')
    with pytest.raises(BranchyNetError, match='pure_nccl needs GPUs'):
        get_workers('pure_nccl', '@numpy')


@needs_mpi
def test_a_network_of_your_own_trains_on_two_processes(tmp_path):
    from helpers import tiny_data, write_network
    out = tmp_path / 'out'
    spec = write_network(tmp_path / 'net.py')
    args = ['-m', 'branchynet', 'train', '--network', spec, '--dataset',
            tiny_data(tmp_path / 'd.npz'), '--out', str(out),
            '--epochs-main', '2', '--epochs-joint', '2', '--batch-size',
            '16', '--val-size', '32', '--no-progress', '--communicator',
            'naive']
    proc = mpiexec(2, args, {'PYTHONPATH': str(REPO)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count('models saved in') == 1
    assert '2 processes (ChainerMN)' in proc.stdout
    files = files_in(out)
    assert files.count('network.py') == 1 and 'phase2/rank1' in ' '.join(
        files)
    with open(out / 'branchynet.json') as f:
        assert json.load(f)['network'] == 'user-Tiny'
