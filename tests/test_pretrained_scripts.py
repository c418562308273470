"""scripts/ship_pretrained.sh and scripts/check_pretrained.sh, run as a user
runs them: a tiny B-AlexNet on a tiny pcifar10 built from an image folder
is shipped with its two sweeps and checked again, the path the trained
B-AlexNet takes into pretrained/ (README, "Check the results in minutes")."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy
import pytest
from PIL import Image

from branchynet.training import trainer as training
from helpers import REPO, run_cli

VENV = pathlib.Path(sys.prefix)
pytestmark = pytest.mark.skipif(
    not (VENV / '.branchynet-setup.sha256').is_file(),
    reason='the scripts run with the venv scripts/setup_venv.sh made '
    '(tests/run.sh); this interpreter is not one')
MODEL_FILES = ['SHA256SUMS', 'baseline.json', 'baseline.npz',
               'baseline_after_joint.json', 'baseline_after_joint.npz',
               'branchynet.json', 'branchynet.npz', 'settings.json']


def _script(name, *args, cwd=None, **env):
    """``scripts/NAME ARGS`` with this venv; its CompletedProcess."""
    env = dict(os.environ, **dict(
        dict(BRANCHYNET_VENV=str(VENV),
             BRANCHYNET=str(VENV / 'bin' / 'branchynet'),
             PYTHON=str(VENV / 'bin' / 'python')), **env))
    return subprocess.run(['bash', str(REPO / 'scripts' / name)]
                          + [str(a) for a in args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=900)


def _one_error_line(done, *words):
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), lines


def _image_folder(root, n_train=6, n_test=3):
    """10 classes of 32x32 PNGs, each class its own colour plus noise."""
    rng = numpy.random.RandomState(0)
    for split, n in (('train', n_train), ('test', n_test)):
        for label in range(10):
            folder = root / split / ('c%d' % label)
            folder.mkdir(parents=True)
            for k in range(n):
                pixels = rng.randint(0, 64, (32, 32, 3)) + 19 * label
                Image.fromarray(pixels.astype(numpy.uint8)).save(
                    folder / ('%d.png' % k))


@pytest.fixture(scope='module')
def shipped(tmp_path_factory):
    """A data root with pcifar10 from images, a tiny trained B-AlexNet, and
    the folder ship_pretrained.sh shipped it into (with ``--quick``)."""
    base = tmp_path_factory.mktemp('pretrained')
    _image_folder(base / 'images')
    data = base / 'data'
    assert run_cli(['data', 'pcifar10', '--from-images', str(base / 'images'),
                    '--data-dir', str(data)]) == 0
    training.train_experiment('alexnet_cifar10', str(base / 'trained'),
                              data_dir=str(data), epochs_main=1,
                              epochs_joint=1, batch_size=16, val_size=10,
                              progress=False)
    pretrained = base / 'pretrained'
    done = _script('ship_pretrained.sh', base / 'trained', 'alexnet',
                   '--data-dir', data, '--', '--quick',
                   BRANCHYNET_PRETRAINED=str(pretrained))
    assert done.returncode == 0, done.stdout + done.stderr
    return base


def test_a_shipped_model_has_its_files_checksums_and_two_sweeps(shipped):
    pretrained = shipped / 'pretrained'
    assert sorted(os.listdir(pretrained / 'alexnet')) == MODEL_FILES
    assert sorted(os.listdir(pretrained / 'results')) == [
        'alexnet', 'alexnet_onnxruntime']
    for name, runtime in (('alexnet', 'chainer'),
                          ('alexnet_onnxruntime', 'onnxruntime')):
        summary = json.loads(
            (pretrained / 'results' / name / 'sweep.json').read_text())
        assert summary['runtime'] == runtime
        assert summary['model_dir'] == str(pretrained / 'alexnet')
        assert summary['data']['origin'] == {
            'built_from': 'an image folder', 'recipe': 'zca'}
    assert subprocess.run(['sha256sum', '--quiet', '-c', 'SHA256SUMS'],
                          cwd=pretrained / 'alexnet').returncode == 0


def test_the_check_reproduces_both_sweeps(shipped, tmp_path):
    done = _script('check_pretrained.sh', '--quick', '--data-dir',
                   shipped / 'data', '--out', tmp_path / 'again',
                   BRANCHYNET_PRETRAINED=str(shipped / 'pretrained'))
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'check_pretrained.sh: 2 shipped result(s) reproduced, 0 skipped' \
        in done.stdout
    assert done.stdout.count('the data were bitwise those of the recorded '
                             'sweep') == 2
    assert sorted(os.listdir(tmp_path / 'again')) == [
        'alexnet', 'alexnet_onnxruntime']


def test_a_pcifar10_built_otherwise_is_one_line_before_any_work(
        shipped, tmp_path):
    """The same arrays, but no data.json: not known to come from the image
    folder the model was trained on."""
    other = tmp_path / 'data' / 'pcifar10'
    other.mkdir(parents=True)
    shutil.copy(shipped / 'data' / 'pcifar10' / 'data.npz', other)
    done = _script('check_pretrained.sh', 'alexnet', '--data-dir',
                   tmp_path / 'data', '--out', tmp_path / 'again',
                   BRANCHYNET_PRETRAINED=str(shipped / 'pretrained'))
    _one_error_line(done, 'the sweep ran on pcifar10 built from an image '
                    'folder, recipe zca', 'a data.npz of unrecorded origin')
    assert not (tmp_path / 'again').exists()


def test_without_pcifar10_a_check_skips_or_names_it(shipped, tmp_path):
    (tmp_path / 'empty').mkdir()
    env = dict(BRANCHYNET_PRETRAINED=str(shipped / 'pretrained'))
    every = _script('check_pretrained.sh', '--data-dir', tmp_path / 'empty',
                    **env)
    for name in ('alexnet', 'alexnet_onnxruntime'):
        assert 'check_pretrained.sh: skipped %s needs pcifar10' % name \
            in every.stdout
    _one_error_line(every, 'nothing checked (2 skipped for want of data)')
    named = _script('check_pretrained.sh', 'alexnet_onnxruntime',
                    '--data-dir', tmp_path / 'empty', **env)
    _one_error_line(named, 'branchynet data pcifar10 --from-images IMAGES '
                    '--data-dir %s' % (tmp_path / 'empty'),
                    'alexnet_onnxruntime needs pcifar10 built from '
                    'the JPEG copy')


def test_a_bad_shipped_sweep_is_one_line_naming_it(shipped, tmp_path):
    pretrained = tmp_path / 'pretrained'
    shutil.copytree(shipped / 'pretrained' / 'results',
                    pretrained / 'results')
    target = pretrained / 'results' / 'alexnet' / 'sweep.json'
    target.write_text('{}')
    done = _script('check_pretrained.sh', '--data-dir', shipped / 'data',
                   BRANCHYNET_PRETRAINED=str(pretrained))
    _one_error_line(done, str(target), 'is not a usable sweep result')


def test_a_failed_sweep_leaves_nothing_shipped(shipped, tmp_path):
    """The second sweep fails after the first wrote its results: neither
    stays, nor the model folder, nor the results/ this run made. (Paths
    relative to the caller's folder: the script works in the checkout's.)
    """
    failing = tmp_path / 'branchynet'
    failing.write_text(
        '#!/bin/sh\ncase " $* " in *" onnxruntime "*) echo "failed on '
        'purpose" >&2; exit 1 ;; esac\nexec "%s" "$@"\n'
        % (VENV / 'bin' / 'branchynet'))
    failing.chmod(0o755)
    pretrained = tmp_path / 'pretrained'
    done = _script('ship_pretrained.sh', 'trained', 'alexnet', '--data-dir',
                   'data', '--', '--quick', cwd=shipped,
                   BRANCHYNET=str(failing),
                   BRANCHYNET_PRETRAINED=str(pretrained))
    assert done.returncode == 1 and 'failed on purpose' in done.stderr
    assert 'results in %s' % (pretrained / 'results' / 'alexnet') \
        in done.stdout, done.stdout                    # the first one ran
    assert os.listdir(pretrained) == []


@pytest.mark.parametrize('name, words', [
    ('file', '$BRANCHYNET_PRETRAINED {path} is not a folder'),
    ('file/sub', 'cannot create $BRANCHYNET_PRETRAINED {path}')])
def test_a_pretrained_folder_that_cannot_be_is_one_line(shipped, tmp_path,
                                                       name, words):
    """Not a silent fall-back to the checkout's pretrained/."""
    (tmp_path / 'file').write_text('')
    before = sorted(os.listdir(REPO / 'pretrained'))
    _one_error_line(_script('ship_pretrained.sh', shipped / 'trained',
                            'alexnet', BRANCHYNET_PRETRAINED=str(
                                tmp_path / name)),
                    words.format(path=tmp_path / name))
    assert sorted(os.listdir(REPO / 'pretrained')) == before


def test_relative_paths_are_the_callers(shipped, tmp_path):
    """$BRANCHYNET_PRETRAINED, --data-dir and --out from the caller's
    folder."""
    os.symlink(shipped / 'pretrained', tmp_path / 'shipped')
    os.symlink(shipped / 'data', tmp_path / 'data')
    done = _script('check_pretrained.sh', '--quick', '--data-dir', 'data',
                   '--out', 'again', 'alexnet', cwd=tmp_path,
                   BRANCHYNET_PRETRAINED='shipped')
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / 'again' / 'alexnet' / 'sweep.json').is_file()


def test_in_the_container_image_the_check_uses_its_branchynet(shipped,
                                                              tmp_path):
    """No venv set up there (the image has no network): the branchynet
    on PATH."""
    done = _script('check_pretrained.sh', '--quick', 'alexnet',
                   '--data-dir', shipped / 'data', '--out', tmp_path / 'again',
                   BRANCHYNET_IN_CONTAINER='1',
                   BRANCHYNET_VENV=str(tmp_path / 'venv'),
                   BRANCHYNET_PRETRAINED=str(shipped / 'pretrained'),
                   PATH='%s:%s' % (VENV / 'bin', os.environ['PATH']))
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'setup_venv.sh' not in done.stdout + done.stderr
    assert not (tmp_path / 'venv').exists()
    assert (tmp_path / 'again' / 'alexnet' / 'sweep.json').is_file()


def test_a_folder_without_shipped_results_is_one_line(tmp_path):
    (tmp_path / 'results').mkdir()
    _one_error_line(_script('check_pretrained.sh',
                            BRANCHYNET_PRETRAINED=str(tmp_path)),
                    'no shipped results (*/sweep.json) in %s/results'
                    % tmp_path)


@pytest.mark.parametrize('args, words', [
    ([], ['MODEL_DIR and NAME are needed']),
    (['{trained}', 'a/b'], ["NAME is letters, digits and _, got 'a/b'"]),
    (['{data}', 'x'], ['baseline.json is missing (not a finished training']),
    (['{trained}', 'x', '--data-dir', '{nowhere}'], ['is not a folder']),
    (['{trained}', 'x', '--seed'], ["unknown argument '--seed'"]),
    (['{trained}', 'alexnet'], ['{pretrained}/alexnet exists already']),
])
def test_ship_usage_errors_are_one_line(shipped, tmp_path, args, words):
    names = dict(trained=shipped / 'trained', data=shipped / 'data',
                 nowhere=tmp_path / 'nowhere',
                 pretrained=shipped / 'pretrained')
    args = [a.format(**names) for a in args]
    words = [w.format(**names) for w in words]
    before = sorted(os.listdir(shipped / 'pretrained'))
    _one_error_line(_script('ship_pretrained.sh', *args,
                            BRANCHYNET_PRETRAINED=str(
                                shipped / 'pretrained')), *words)
    assert sorted(os.listdir(shipped / 'pretrained')) == before


def test_results_left_from_before_are_not_overwritten(shipped, tmp_path):
    stale = tmp_path / 'pretrained' / 'results' / 'alexnet_onnxruntime'
    stale.mkdir(parents=True)
    _one_error_line(_script('ship_pretrained.sh', shipped / 'trained',
                            'alexnet', BRANCHYNET_PRETRAINED=str(
                                tmp_path / 'pretrained')),
                    '%s exists already' % stale)
    assert os.listdir(tmp_path / 'pretrained') == ['results']


@pytest.mark.parametrize('args, words', [
    (['--frobnicate'], ["unknown option '--frobnicate'"]),
    (['../alexnet'], ['NAME is a folder name of pretrained/results']),
    (['lenet'], ["no shipped results 'lenet'", 'alexnet alexnet_onnxruntime']),
    (['--out'], ['--out needs a value']),
])
def test_check_usage_errors_are_one_line(shipped, args, words):
    _one_error_line(_script('check_pretrained.sh', *args,
                            BRANCHYNET_PRETRAINED=str(
                                shipped / 'pretrained')), *words)
