"""Plain helpers shared by several test modules (fixtures live in conftest)."""
import os
import pathlib
import textwrap
import zlib

import chainer
import chainer.links as L
import numpy

REPO = pathlib.Path(__file__).resolve().parents[1]
_MNIST_NAMES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
                't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')


def _real_data_root():
    """The first data root whose ``mnist/`` holds the four MNIST files
    (``.gz`` or raw): ``$BRANCHYNET_DATA_ROOT``, the checkout's
    ``datasets/data``, then ``../shared/data`` beside the checkout; None
    when none does."""
    candidates = [os.environ.get('BRANCHYNET_DATA_ROOT'),
                  REPO / 'datasets' / 'data',
                  REPO.parent / 'shared' / 'data']
    for root in candidates:
        folder = pathlib.Path(root or '.') / 'mnist'
        if root and all((folder / (n + '.gz')).is_file()
                        or (folder / n).is_file() for n in _MNIST_NAMES):
            return pathlib.Path(root).resolve()
    return None


#: a data root holding the real MNIST files (None: the tests that need them
#: are skipped)
REAL_DATA_ROOT = _real_data_root()
#: its mnist/ folder
REAL_MNIST = None if REAL_DATA_ROOT is None else REAL_DATA_ROOT / 'mnist'


def files_in(directory):
    """Sorted paths, relative to ``directory``, of every file below it."""
    directory = pathlib.Path(directory)
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob('*')
                  if p.is_file())


#: ``python -c CLI_WRAPPER ARGS`` runs ``branchynet ARGS`` in a subprocess
#: with the tiny MNIST files' checksums (JSON in ``$TEST_MNIST_SHA256``) and,
#: with ``$TEST_KILL=PHASE:ITERATION``, kills itself with SIGKILL when that
#: phase reaches that update (``$TEST_KILL_RANK``: only on that MPI rank).
CLI_WRAPPER = textwrap.dedent('''
    import json, os, signal, sys
    import branchynet.data.mnist as mnist
    mnist.MNIST_SHA256 = json.loads(os.environ['TEST_MNIST_SHA256'])
    from branchynet.training import updater
    kill = os.environ.get('TEST_KILL')
    rank = os.environ.get('TEST_KILL_RANK')
    if kill and rank not in (None, os.environ.get('OMPI_COMM_WORLD_RANK')):
        kill = None
    if kill:
        phase, iteration = (int(v) for v in kill.split(':'))
        real = updater.JointUpdater.update_core
        def update_core(self):
            this_phase = 1 if self.loss_func.main_only else 2
            if this_phase == phase and self.iteration == iteration:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(self)
        updater.JointUpdater.update_core = update_core
    from branchynet.cli import main
    sys.exit(main(sys.argv[1:]))
''')


def gzip_bomb(path, raw_bytes):
    """A .gz of ``raw_bytes`` zeros, written in pieces (never held whole)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    with open(path, 'wb') as f:
        for start in range(0, raw_bytes, len(block)):
            f.write(compressor.compress(block[:raw_bytes - start]))
        f.write(compressor.flush())


def save_untrained_lenet(folder, roles=('branchynet',), val_size=16):
    """Untrained B-LeNet models in ``folder``, saved as a 1 + 1 epoch
    ``branchynet train lenet_mnist`` would save them, for tests that need a
    model folder but not a trained model."""
    import numpy

    from branchynet.networks import b_lenet
    from branchynet.networks.serialization import save_model
    numpy.random.seed(0)
    settings = {'experiment': 'lenet_mnist', 'epochs_main': 1,
                'epochs_joint': 1, 'batch_size': 8, 'val_size': val_size}
    for role in roles:
        save_model(str(pathlib.Path(folder) / role), b_lenet(),
                   {'network': 'b_lenet', 'role': role, 'settings': settings})


#: a user's network file (``--network FILE.py:tiny``): 2 exits, any
#: (C, H, W) of 8x8 images
TINY_NETWORK = textwrap.dedent('''
    import chainer
    import chainer.links as L
    from branchynet import BranchyNet
    from branchynet.networks.layers import max_pool, relu

    def tiny(n_classes, in_shape):
        c = in_shape[0]
        return BranchyNet(
            [chainer.Sequential(L.Convolution2D(c, 4, 3, pad=1), relu),
             chainer.Sequential(max_pool(2, 2), L.Convolution2D(4, 8, 3))],
            [chainer.Sequential(max_pool(2, 2), L.Linear(None, n_classes)),
             chainer.Sequential(L.Linear(None, n_classes))])
    tiny.name = 'Tiny'
''')


def write_network(path, text=TINY_NETWORK):
    """Write a network file; its ``--network`` argument."""
    path.write_text(text)
    return '%s:tiny' % path


def tiny_data(path, n_train=128, n_test=48, seed=0, shape=(1, 8, 8)):
    """Three classes a tiny network can tell apart: a bright corner."""
    rng = numpy.random.RandomState(seed)

    def split(n):
        y = rng.randint(0, 3, n).astype(numpy.int32)
        x = rng.uniform(0, 0.5, (n,) + tuple(shape)).astype(numpy.float32)
        for k in range(3):
            x[y == k, :, 2 * k:2 * k + 2, :2] += 1
        return x, y
    (a, b), (c, d) = split(n_train), split(n_test)
    numpy.savez(path, train_x=a, train_y=b, test_x=c, test_y=d)
    return 'npz:%s' % path


def run_cli(argv):
    """Exit status of ``branchynet argv`` run in-process."""
    from branchynet.cli import main
    try:
        return main(argv)
    except SystemExit as e:            # argparse exits on usage errors
        return e.code


class Block(chainer.Chain):
    """A researcher's own block: a 3 -> 4 channel convolution, then
    ``then(self, h, x)`` (``h`` the convolution's output, ``x`` the input):
    whatever code a test wants the tracer and the exporter to meet."""

    def __init__(self, then):
        super().__init__()
        self.then = then
        with self.init_scope():
            self.conv = L.Convolution2D(3, 4, 3, pad=1)

    def forward(self, x):
        return self.then(self, self.conv(x), x)
