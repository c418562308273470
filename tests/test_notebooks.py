"""The notebooks run end to end with small parameters (papermill)."""
import pathlib

import pytest

papermill = pytest.importorskip('papermill')

IPYNB = pathlib.Path(__file__).resolve().parents[1] / 'ipynb'
MNIST = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'mnist'
needs_mnist = pytest.mark.skipif(not MNIST.is_dir(),
                                 reason='no MNIST files in ../shared/data')


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
        train_limit=512, test_limit=300, val_size=300, data_dir=str(MNIST),
        out=str(tmp_path / 'models'))


@needs_mnist
def test_lenet_mnist_notebook(tmp_path):
    run('lenet_mnist.ipynb', tmp_path, quick=True, data_dir=str(MNIST),
        models=str(tmp_path / 'models'), results_dir=str(tmp_path / 'results'),
        figs=str(tmp_path / 'figs'))
    assert (tmp_path / 'results' / 'quick' / 'lenet_mnist' / 'sweep.json').exists()
    assert (tmp_path / 'figs' / 'quick' / 'fig3_lenet_mnist_cpu.png').exists()
