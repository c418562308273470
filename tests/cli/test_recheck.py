"""`branchynet recheck`: a model swept again against its recorded sweep,
and the trained models shipped in pretrained/ on the real MNIST test set."""
import json
import shutil

import numpy
import pytest

from branchynet.data import mnist
from branchynet.measurement.evaluation import evaluation_split
from branchynet.measurement.pipeline import measure_experiment
from branchynet.training import trainer as training
from branchynet.utils.digest import (MANIFEST, sha256_of_arrays,
                                     write_manifest_text)
from helpers import REAL_DATA_ROOT, REPO, run_cli

GRID = [0.0, 0.01, 0.1, 0.5, 1.0, 2.0, 10.0]
MODEL_FILES = ('baseline.json', 'baseline.npz', 'baseline_after_joint.json',
               'baseline_after_joint.npz', 'branchynet.json',
               'branchynet.npz', 'settings.json')


def _ship(folder):
    """Write ``folder/SHA256SUMS`` over the model files."""
    (folder / MANIFEST).write_text(write_manifest_text(str(folder),
                                                       MODEL_FILES))


@pytest.fixture(scope='module')
def shipped(tmp_path_factory, tiny_mnist):
    """A tiny B-LeNet with its manifest, and its recorded sweep."""
    root = tmp_path_factory.mktemp('recheck')
    _, checksums = tiny_mnist(root / 'mnist', 96, 64)
    patch = pytest.MonkeyPatch()
    patch.setattr('branchynet.data.mnist.MNIST_SHA256', checksums)
    training.train_experiment('lenet_mnist', str(root / 'model'),
                              data_dir=str(root), epochs_main=2,
                              epochs_joint=2, batch_size=16, val_size=32,
                              progress=False)
    model = root / 'model'
    _ship(model)
    measure_experiment(str(model), str(root / 'results' / 'lenet_mnist'),
                       data_dir=str(root), grid=GRID, profile_samples=5,
                       warmup=1, validate_samples=8)
    yield root
    patch.undo()


def _copy(shipped, tmp_path):
    model = tmp_path / 'model'
    shutil.copytree(shipped / 'model', model)
    return model


def _recheck(model, results, root, out, *extra):
    return run_cli(['recheck', str(model), str(results), '--quick',
                    '--data-dir', str(root), '--out', str(out), *extra])


def test_an_unchanged_model_reproduces_its_sweep(shipped, tmp_path, capsys):
    status = _recheck(shipped / 'model', shipped / 'results' / 'lenet_mnist',
                      shipped, tmp_path / 'again')
    out = capsys.readouterr().out
    assert status == 0, out
    assert 'recheck: ' in out and ' reproduces ' in out
    assert '| NO |' not in out
    assert '| every point of the test grid: accuracy and exit % | 7 points ' \
           '| 7 the same | yes |' in out
    assert 'recheck: the data were bitwise those of the recorded sweep' in out
    assert (tmp_path / 'again' / 'sweep.json').is_file()


def test_a_sweep_records_what_its_data_were(shipped):
    summary = json.loads(
        (shipped / 'results' / 'lenet_mnist' / 'sweep.json').read_text())
    info = json.loads((shipped / 'model' / 'branchynet.json').read_text())
    assert summary['data'] == {'dataset': 'mnist', 'origin': None, 'sha256': {
        split: sha256_of_arrays(*evaluation_split(info, name, str(shipped)))
        for split, name in (('test', 'test'), ('tune', 'val'))}}


def _edited(shipped, tmp_path, edit):
    """A copy of the recorded sweep with ``edit(summary)`` applied."""
    results = tmp_path / 'results' / 'lenet_mnist'
    shutil.copytree(shipped / 'results' / 'lenet_mnist', results)
    summary = json.loads((results / 'sweep.json').read_text())
    edit(summary)
    (results / 'sweep.json').write_text(json.dumps(summary))
    return results


def test_data_built_otherwise_are_refused_before_any_work(
        shipped, tmp_path, capsys):
    results = _edited(shipped, tmp_path, lambda s: s['data'].update(
        dataset='pcifar10',
        origin={'built_from': 'an image folder', 'recipe': 'zca'}))
    assert _recheck(shipped / 'model', results, shipped,
                    tmp_path / 'again') == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert 'the sweep ran on pcifar10 built from an image folder, recipe ' \
           'zca; the pcifar10 in data root %s is not built: build it as the ' \
           "sweep's was" % shipped in lines[0]
    assert not (tmp_path / 'again').exists()


def test_an_origin_recorded_for_verified_files_is_refused_in_one_line(
        shipped, tmp_path, capsys):
    """An edited sweep.json: MNIST's files have no origin here."""
    results = _edited(shipped, tmp_path, lambda s: s['data'].update(
        origin={'built_from': 'a scanner', 'recipe': None}))
    assert _recheck(shipped / 'model', results, shipped,
                    tmp_path / 'again') == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and 'the sweep ran on mnist built from a ' \
        'scanner; the mnist in data root %s is built from files verified ' \
        'by checksum' % shipped in lines[0], lines


def test_bitwise_other_data_are_said(shipped, tmp_path, capsys):
    """Another build's last bits: said when every quantity agrees, and
    given as the likely cause when one differs."""
    results = _edited(shipped, tmp_path,
                      lambda s: s['data']['sha256'].update(test='0' * 64))
    assert _recheck(shipped / 'model', results, shipped,
                    tmp_path / 'again') == 0
    note = ('the test data differ bitwise from those of the recorded sweep '
            '(another build of the data set; a sample on a threshold may '
            'move)')
    assert 'recheck: ' + note in capsys.readouterr().out
    results = _edited(shipped, tmp_path / 'b', lambda s: (
        s['data']['sha256'].update(test='0' * 64),
        s['sweep_test'][0].update(accuracy=0.5)))
    assert _recheck(shipped / 'model', results, shipped,
                    tmp_path / 'b' / 'again') == 2
    err = capsys.readouterr().err
    assert 'quantities differ' in err and err.strip().endswith('(%s)' % note)


def test_a_changed_weight_is_found(shipped, tmp_path, capsys):
    """A model whose manifest was rewritten after a weight changed passes
    the sha256 check; the comparison finds it."""
    model = _copy(shipped, tmp_path)
    with numpy.load(model / 'branchynet.npz') as npz:
        arrays = dict(npz)
    rng = numpy.random.RandomState(0)
    for key in arrays:
        if key.endswith('/W'):
            arrays[key] = arrays[key] + rng.normal(
                0, arrays[key].std(), arrays[key].shape).astype(
                    arrays[key].dtype)
    numpy.savez(model / 'branchynet.npz', **arrays)
    _ship(model)
    status = _recheck(model, shipped / 'results' / 'lenet_mnist', shipped,
                      tmp_path / 'again')
    captured = capsys.readouterr()
    assert status == 2
    line = captured.err.strip().splitlines()
    assert len(line) == 1 and 'quantities differ' in line[0], captured.err
    assert 'every point of the test grid' in line[0]
    assert '| NO |' in captured.out


@pytest.mark.parametrize('damage', ['appended', 'swapped', 'missing',
                                    'symlink', 'manifest'])
def test_a_damaged_or_swapped_file_is_one_line_naming_it(
        shipped, tmp_path, capsys, damage):
    model = _copy(shipped, tmp_path)
    target = model / 'branchynet.npz'
    if damage == 'appended':
        with open(target, 'ab') as f:
            f.write(b'x')
    elif damage == 'swapped':
        shutil.copyfile(model / 'baseline.npz', target)
    elif damage == 'missing':
        target.unlink()
    elif damage == 'symlink':
        real = tmp_path / 'elsewhere.npz'
        shutil.move(target, real)
        target.symlink_to(real)
    else:
        target = model / MANIFEST
        target.write_text('not a manifest\n')
    status = _recheck(model, shipped / 'results' / 'lenet_mnist', shipped,
                      tmp_path / 'again')
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0], captured.err
    assert not (tmp_path / 'again').exists()       # checked before any work


def test_a_model_without_manifest_is_refused(shipped, tmp_path, capsys):
    model = _copy(shipped, tmp_path)
    (model / MANIFEST).unlink()
    assert _recheck(model, shipped / 'results' / 'lenet_mnist', shipped,
                    tmp_path / 'again') == 2
    assert 'SHA256SUMS is missing' in capsys.readouterr().err


def test_a_rule_whose_settings_are_not_recorded_is_refused(
        shipped, tmp_path, capsys):
    results = _edited(shipped, tmp_path, lambda s: s.update(rule='budget'))
    assert _recheck(shipped / 'model', results, shipped,
                    tmp_path / 'again') == 2
    err = capsys.readouterr().err
    assert "rule 'budget'" in err and 'knee' in err
    assert not (tmp_path / 'again').exists()


# ---- the trained models that ship (pretrained/) --------------------------

PRETRAINED = REPO / 'pretrained'
#: the real files' checksums (the ``shipped`` fixture swaps in the tiny
#: files' for this module's other tests)
REAL_MNIST_SHA256 = dict(mnist.MNIST_SHA256)
SHIPPED_SWEEPS = sorted(PRETRAINED.glob('results/*/sweep.json'))


def _model_of(sweep_json):
    """The shipped model folder a shipped sweep was made from."""
    return REPO / json.loads(sweep_json.read_text())['model_dir']


@pytest.mark.skipif(REAL_DATA_ROOT is None, reason='needs the real MNIST '
                    'files (datasets/data/mnist or ../shared/data/mnist)')
@pytest.mark.parametrize('sweep_json', [
    p for p in SHIPPED_SWEEPS
    if json.loads(p.read_text())['experiment'] == 'lenet_mnist'] or [
    pytest.param(None, marks=pytest.mark.skip(
        reason='pretrained/ ships no B-LeNet sweep yet'))],
    ids=lambda p: p.parent.name if p else 'none')
def test_the_shipped_b_lenet_reproduces_its_table_rows(sweep_json, tmp_path,
                                                       capsys, monkeypatch):
    """What the README's "Check the results in minutes" promises: the
    shipped model, swept again on the real MNIST test set (Chainer and ONNX
    Runtime), gives the shipped rows' accuracy, T and exit shares."""
    monkeypatch.setattr(mnist, 'MNIST_SHA256', REAL_MNIST_SHA256)
    model = _model_of(sweep_json)
    status = run_cli(['recheck', str(model), str(sweep_json.parent),
                      '--quick', '--data-dir', str(REAL_DATA_ROOT),
                      '--out', str(tmp_path / 'again')])
    captured = capsys.readouterr()
    assert status == 0, captured.out + captured.err
    recorded = json.loads(sweep_json.read_text())
    fresh = json.loads((tmp_path / 'again' / 'sweep.json').read_text())
    chosen = recorded['sweep_test'][recorded['chosen_index']]
    again = fresh['sweep_test'][fresh['chosen_index']]
    assert again['thresholds'] == chosen['thresholds']
    assert again['accuracy'] == pytest.approx(chosen['accuracy'], abs=1e-9)
    assert again['exit_fractions'] == pytest.approx(
        chosen['exit_fractions'], abs=1e-9)
    assert fresh['n_test'] == 10000
