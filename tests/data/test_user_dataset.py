"""A user's own data set through every command: train --dataset npz:PATH,
evaluate, sweep, compare, export, report; each defect one line, nothing
written."""
import os

import numpy
import pytest

from branchynet.cli import main


def digits(n, seed):
    """``n`` separable 28x28 float32 images (a bright square per class)."""
    rng = numpy.random.RandomState(seed)
    y = numpy.arange(n) % 10
    x = rng.rand(n, 1, 28, 28).astype(numpy.float32) * 0.2
    for i, c in enumerate(y):
        r, col = 2 + 12 * (c // 5), 2 + 5 * (c % 5)
        x[i, 0, r:r + 6, col:col + 6] = 1.0
    return x, y.astype(numpy.int64)


def write(path, **changes):
    (x, y), (tx, ty) = digits(96, 0), digits(48, 1)
    data = dict(train_x=x, train_y=y, test_x=tx, test_y=ty)
    data.update(changes)
    numpy.savez(path, **{k: v for k, v in data.items() if v is not None})
    return 'npz:%s' % path


def cli(*args):
    return main([str(a) for a in args])


def test_every_command_works_on_a_users_data_set(tmp_path, capsys,
                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)            # the model keeps the file's path
    dataset = write(tmp_path / 'my_digits.npz')
    model = tmp_path / 'model'
    assert cli('train', 'lenet_mnist', '--dataset', dataset,
               '--epochs-main', 2, '--epochs-joint', 2, '--batch-size', 16,
               '--val-size', 16, '--out', model, '--no-progress') == 0
    results, figs = tmp_path / 'results', tmp_path / 'figs'
    assert cli('evaluate', model / 'branchynet', '-t', 0.5) == 0
    assert 'on 48 test samples' in capsys.readouterr().out
    assert cli('sweep', model, '--quick', '--validate-samples', 16,
               '--out', results / 'mine') == 0
    assert cli('compare', model, '--results', results / 'mine',
               '--figs', figs) == 0
    assert cli('export', model, '--out', tmp_path / 'onnx') == 0
    assert cli('report', '--results', results, '--figs', figs) == 0
    assert (results / 'table1.md').exists()
    assert os.path.exists(tmp_path / 'onnx' / 'export.json')


@pytest.mark.parametrize('changes, words', [
    (dict(test_y=None), 'missing key'),
    (dict(train_x=numpy.zeros((96, 3, 32, 32), numpy.float32)),
     'train_x should be'),
    (dict(train_y=numpy.full(96, 10)), 'train_y'),
    (dict(test_x=numpy.full((48, 1, 28, 28), numpy.nan, numpy.float32)),
     'NaN'),
    (dict(train_x=numpy.zeros((96, 1, 28, 28), numpy.float64)), 'float32'),
])
def test_each_defect_stops_training_before_anything_is_written(
        tmp_path, capsys, changes, words):
    dataset = write(tmp_path / 'bad.npz', **changes)
    out = tmp_path / 'model'
    assert cli('train', 'lenet_mnist', '--dataset', dataset, '--out', out,
               '--no-progress') == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and words in err and 'Traceback' not in err
    assert not out.exists() or os.listdir(out) == []


def test_a_missing_file_is_one_line(tmp_path, capsys):
    assert cli('train', 'lenet_mnist', '--dataset',
               'npz:%s' % (tmp_path / 'none.npz'), '--out',
               tmp_path / 'model') == 2
    assert capsys.readouterr().err.count('\n') == 1
