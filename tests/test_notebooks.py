"""The notebooks run end to end with small parameters (papermill)."""
import pathlib

import pytest

from helpers import REAL_DATA_ROOT

papermill = pytest.importorskip('papermill')

IPYNB = pathlib.Path(__file__).resolve().parents[1] / 'ipynb'
needs_mnist = pytest.mark.skipif(REAL_DATA_ROOT is None,
                                 reason='no real MNIST (tests/helpers.py)')


def run(name, tmp_path, **parameters):
    papermill.execute_notebook(
        str(IPYNB / name), str(tmp_path / name), parameters=parameters,
        cwd=str(IPYNB), progress_bar=False, kernel_name='python3')


def test_notebooks_hold_no_outputs():
    import nbformat
    for path in IPYNB.glob('*.ipynb'):
        notebook = nbformat.read(str(path), as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == 'code':
                assert not cell.outputs, '%s has outputs' % path.name
                assert cell.execution_count is None, path.name


@needs_mnist
def test_walkthrough(tmp_path):
    run('walkthrough.ipynb', tmp_path, epochs_main=1, epochs_joint=1,
        train_limit=512, test_limit=300, val_size=300,
        data_dir=str(REAL_DATA_ROOT),
        out=str(tmp_path / 'models'))


@needs_mnist
def test_lenet_mnist_notebook(tmp_path):
    run('experiment.ipynb', tmp_path, experiment='lenet_mnist', quick=True,
        data_dir=str(REAL_DATA_ROOT),
        models=str(tmp_path / 'models'), results_dir=str(tmp_path / 'results'),
        figs=str(tmp_path / 'figs'))
    assert (tmp_path / 'results' / 'quick' / 'lenet_mnist' / 'sweep.json').exists()
    assert (tmp_path / 'figs' / 'quick' / 'fig3_lenet_mnist.png').exists()


@pytest.fixture(scope='module')
def synthetic_pcifar10(tmp_path_factory):
    """A data root whose pcifar10/ holds a small random data.npz (no CIFAR
    here)."""
    import numpy
    root = tmp_path_factory.mktemp('data_root')
    folder = root / 'pcifar10'
    folder.mkdir()
    rng = numpy.random.RandomState(0)
    numpy.savez(folder / 'data.npz',
                train_x=rng.rand(600, 3, 32, 32).astype(numpy.float32),
                train_y=rng.randint(0, 10, 600).astype(numpy.int32),
                test_x=rng.rand(200, 3, 32, 32).astype(numpy.float32),
                test_y=rng.randint(0, 10, 200).astype(numpy.int32))
    return root


# ResNet-110 is slow on a CPU: a few iterations and samples are enough to
# check that the notebook runs
CIFAR_SIZES = dict(train_limit=96, test_limit=40, val_size=40, batch_size=32,
                   profile_samples=5, validate_samples=20)


@pytest.mark.parametrize('name', ['alexnet_cifar10', 'resnet_cifar10'])
def test_cifar_notebooks_on_synthetic_data(name, tmp_path, synthetic_pcifar10):
    run('experiment.ipynb', tmp_path, experiment=name, quick=True,
        quick_sizes=CIFAR_SIZES,
        data_dir=str(synthetic_pcifar10), models=str(tmp_path / 'models'),
        results_dir=str(tmp_path / 'results'), figs=str(tmp_path / 'figs'))
    assert (tmp_path / 'results' / 'quick' / name / 'sweep.json').exists()
