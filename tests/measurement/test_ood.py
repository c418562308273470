"""Out-of-distribution check: transforms, matching by exit shares on records
built by hand, and `branchynet evaluate --ood` end to end."""
import re

import numpy
import pytest

from branchynet.measurement import ood
from branchynet.cli import main
from branchynet.errors import BranchyNetError
from branchynet.exits.records import Records
from branchynet.exits.scores import SCORES

from helpers import run_cli, save_untrained_lenet


def test_transforms():
    x = numpy.random.RandomState(0).rand(3, 1, 4, 4).astype(numpy.float32)
    x[:, :, 0, 0], x[:, :, 3, 3] = 0.0, 1.0          # each image spans [0, 1]
    inverted, keeps = ood.transform('inverted', x)
    numpy.testing.assert_allclose(inverted, 1 - x, atol=1e-7)
    assert keeps and inverted.dtype == numpy.float32
    rotated, keeps = ood.transform('rotated', x)
    assert keeps and rotated[0, 0, 0, 0] == x[0, 0, 0, 3]
    assert rotated.flags.c_contiguous
    noise, keeps = ood.transform('noise', x)
    assert not keeps and noise.shape == x.shape
    assert noise.min() >= 0 and noise.max() <= 1
    assert not numpy.array_equal(noise, ood.transform('noise', x, 1)[0])
    with pytest.raises(BranchyNetError, match='unknown transform'):
        ood.transform('blurred', x)


@pytest.mark.parametrize('source', ['blurred', 'npz:', 'npz', '', None])
def test_bad_sources(source):
    with pytest.raises(BranchyNetError, match='--ood takes'):
        ood.check_source(source)


def test_sources():
    assert ood.check_source('noise') == ('transform', 'noise')
    assert ood.check_source('npz:a/b.npz') == ('npz', 'a/b.npz')


def logits_with_pmax(pmax, classes=4):
    """Rows whose softmax puts ``pmax`` on class 0, the rest evenly; the
    logits are shifted by ``10 pmax`` so that the energy, ``-10 pmax``,
    ranks the rows as the other scores do."""
    pmax = numpy.asarray(pmax, numpy.float64)
    p = numpy.empty((len(pmax), classes))
    p[:, 0] = pmax
    p[:, 1:] = ((1 - pmax) / (classes - 1))[:, None]
    return (numpy.log(p) + 10 * pmax[:, None]).astype(numpy.float32)


def two_exit_records(pmax_exit1, labels):
    """Records of two exits: exit 1 as given, exit 2 always sure of 0."""
    z1 = logits_with_pmax(pmax_exit1)
    z2 = logits_with_pmax(numpy.full(len(pmax_exit1), 0.99))
    entropy = numpy.stack([SCORES['entropy'](z) for z in (z1, z2)], axis=1)
    return Records(numpy.stack([z1, z2], axis=1), entropy, labels)


def test_every_score_is_matched_to_the_reference_exit_shares():
    # in-distribution: half very sure at exit 1; OOD: all unsure
    calibration = two_exit_records([0.99] * 5 + [0.4] * 5,
                                   numpy.zeros(10, int))
    unsure = two_exit_records([0.3, 0.35, 0.38, 0.95], [1, 0, 0, 0])
    t = SCORES['entropy'](calibration.logits[5:6, 0])[0]   # the unsure rows
    rows = ood.ood_report(calibration, unsure, [float(t)], 'entropy')
    assert [r['score'] for r in rows] == list(SCORES)
    assert list(SCORES)[:4] == ['entropy', 'maxprob', 'margin', 'energy']
    assert rows[0]['thresholds'] == [float(t)]
    for r in rows:
        assert r['id_early'] == 0.5            # matched: 5 of 10 leave
        # only the 0.95 OOD sample is as sure as the in-distribution ones
        assert r['ood_early'] == 0.25
        assert r['ood_exit_fractions'] == [0.25, 0.75]
        # answers: class 0 everywhere; labels 1, 0, 0, 0
        assert r['ood_accuracy'] == 0.75
        assert r['id_early_pmax'] == pytest.approx(0.99)
        assert r['ood_early_pmax'] == pytest.approx(0.95)
    assert rows[1]['ood_median_exit1'] == pytest.approx(0.365)
    assert rows[3]['ood_median_exit1'] == pytest.approx(-3.65, abs=1e-5)
    table = ood.to_markdown(rows)
    assert table.count('\n') == 2 + len(SCORES)
    assert '| 50.0 | 25.0 | 25.0, 75.0 |' in table


def test_no_ood_sample_leaves_early_and_no_labels():
    calibration = two_exit_records([0.99, 0.98, 0.4, 0.3], [0, 0, 0, 0])
    unsure = two_exit_records([0.3, 0.3], None)
    rows = ood.ood_report(calibration, unsure, [0.5], 'maxprob')
    assert rows[0]['score'] == 'maxprob'
    assert all(r['ood_early'] == 0 and r['ood_early_pmax'] is None
               and r['ood_accuracy'] is None for r in rows)
    assert '| - |' in ood.to_markdown(rows)


# ------------------------------------------------------------ the command

@pytest.fixture(scope='module')
def model(tmp_path_factory, tiny_mnist):
    """An untrained B-LeNet whose experiment reads tiny synthetic MNIST."""
    root = tmp_path_factory.mktemp('ood')
    _, checksums = tiny_mnist(root / 'mnist', 64, 40)
    patch = pytest.MonkeyPatch()
    patch.setattr('branchynet.data.mnist.MNIST_SHA256', checksums)
    save_untrained_lenet(root)
    yield root
    patch.undo()


def test_evaluate_ood_prints_one_row_per_score(model, capsys):
    status = main(['evaluate', str(model / 'branchynet'), '-t', '2.2',
                   '--ood', 'rotated', '--data-dir', str(model)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert '16 validation samples' in out and 'rotated, 40 samples' in out
    rows = [line for line in out.splitlines() if line.startswith('| ')]
    assert [r.split(' | ')[0] for r in rows[2:]] == [
        '| ' + name for name in SCORES]


def write_images(path, **arrays):
    numpy.savez(path, **arrays)
    return 'npz:%s' % path


@pytest.mark.parametrize('arrays, match', [
    (dict(images=numpy.zeros((2, 1, 28, 28), numpy.float32)),
     'missing key x'),
    (dict(x=numpy.zeros((2, 28, 28), numpy.float32)),
     r'x should be \(N, 1, 28, 28\)'),
    (dict(x=numpy.zeros((0, 1, 28, 28), numpy.float32)), 'N > 0'),
    (dict(x=numpy.zeros((2, 1, 28, 28), numpy.float64)), 'float32'),
    (dict(x=numpy.full((2, 1, 28, 28), numpy.nan, numpy.float32)), 'NaN'),
    (dict(x=numpy.zeros((2, 1, 28, 28), numpy.float32),
          y=numpy.zeros(3, int)), r'y should be \(2,\)'),
    (dict(x=numpy.zeros((2, 1, 28, 28), numpy.float32),
          y=numpy.array([0, 10])), r'outside 0\.\.9'),
    (dict(x=numpy.zeros((2, 1, 28, 28), numpy.float32),
          y=numpy.array([0.0, 1.0])), 'integer'),
])
def test_a_bad_ood_file_is_one_line(model, tmp_path, capsys, arrays, match):
    source = write_images(tmp_path / 'ood.npz', **arrays)
    status = main(['evaluate', str(model / 'branchynet'), '-t', '0.5',
                   '--ood', source, '--data-dir', str(model)])
    err = capsys.readouterr().err
    assert status == 2 and err.count('\n') == 1, err
    assert 'OOD file' in err
    assert re.search(match, err), err


def test_a_good_ood_file_with_labels(model, tmp_path, capsys):
    x = numpy.random.RandomState(0).rand(7, 1, 28, 28).astype(numpy.float32)
    source = write_images(tmp_path / 'ood.npz', x=x, y=numpy.arange(7))
    assert main(['evaluate', str(model / 'branchynet'), '-t', '0.5',
                 '--ood', source, '--data-dir', str(model)]) == 0
    out = capsys.readouterr().out
    assert 'file %s, 7 samples' % (tmp_path / 'ood.npz') in out


@pytest.mark.parametrize('argv, match', [
    (['--ood', 'noise'], '--ood needs -t'),
    (['--ood', 'blurred', '-t', '0.5'], '--ood takes'),
    (['--ood', 'noise', '-t', '0.5', '--score', 'maxprob', '-t', '2'],
     r'maxprob thresholds must be in \[0, 1\]'),
    (['--ood', 'noise', '-t=-1', '--score', 'energy'], None),
])
def test_ood_usage(model, capsys, argv, match):
    status = run_cli(['evaluate', str(model / 'branchynet'), '--data-dir',
                   str(model)] + argv)
    captured = capsys.readouterr()
    if match is None:                 # negative energy thresholds are fine
        assert status == 0, captured.err
        return
    assert status == 2 and captured.err.count('\n') == 1
    assert re.search(match, captured.err)
