"""Plain helpers shared by several test modules (fixtures live in conftest)."""
import os
import pathlib

_REPO = pathlib.Path(__file__).resolve().parents[1]
_MNIST_NAMES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
                't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')


def _real_data_root():
    """The first data root whose ``mnist/`` holds the four MNIST files
    (``.gz`` or raw): ``$BRANCHYNET_DATA_ROOT``, the checkout's
    ``datasets/data``, then ``../shared/data`` beside the checkout; None
    when none does."""
    candidates = [os.environ.get('BRANCHYNET_DATA_ROOT'),
                  _REPO / 'datasets' / 'data',
                  _REPO.parent / 'shared' / 'data']
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
