"""Exact resume after SIGKILL, the output-folder lock, the settings check.

The kill tests run the real CLI in a subprocess that kills itself with
SIGKILL at a chosen update (a wrapper patches the updater; nothing in the
package knows about it), rerun it with ``--resume``, and compare the final
weights with an uninterrupted run's, bit for bit.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy
import pytest

from branchynet.training import resume
from branchynet.training.output import OutputLock
from branchynet.utils.atomic import TMP_PREFIX
from branchynet.errors import BranchyNetError
from helpers import CLI_WRAPPER

N_TRAIN, N_TEST, VAL, BATCH = 64, 16, 8, 8
ITERS = (N_TRAIN - VAL) // BATCH              # 7 updates per epoch
EPOCHS = 4

@pytest.fixture(scope='module')
def mnist_files(tmp_path_factory, tiny_mnist):
    """A data root with tiny MNIST files and a tiny user pcifar10 data.npz."""
    root = tmp_path_factory.mktemp('root')
    _, checksums = tiny_mnist(root / 'mnist', N_TRAIN, N_TEST)
    rng = numpy.random.RandomState(0)
    (root / 'pcifar10').mkdir()
    numpy.savez(root / 'pcifar10' / 'data.npz',
                train_x=rng.rand(N_TRAIN, 3, 32, 32).astype(numpy.float32),
                train_y=(numpy.arange(N_TRAIN) % 10).astype(numpy.int32),
                test_x=rng.rand(N_TEST, 3, 32, 32).astype(numpy.float32),
                test_y=(numpy.arange(N_TEST) % 10).astype(numpy.int32))
    return root, checksums


def run_cli(args, mnist_files, kill=None, check=True):
    root, checksums = mnist_files
    env = dict(os.environ, BRANCHYNET_DATA_ROOT=str(root),
               TEST_MNIST_SHA256=json.dumps(checksums), PYTHONHASHSEED='0')
    env.pop('TEST_KILL', None)
    if kill:
        env['TEST_KILL'] = '%d:%d' % kill
    proc = subprocess.run([sys.executable, '-c', CLI_WRAPPER] + args, env=env,
                          capture_output=True, text=True, timeout=300)
    if check and kill is None:
        assert proc.returncode == 0, proc.stderr
    return proc


#: lenet_mnist with the reference recipe; B-AlexNet with the modern one
#: (dropout, crop and flip: every random source of a recipe)
RECIPES = {'reference': ['lenet_mnist'],
           'modern': ['alexnet_cifar10', '--recipe', 'modern']}


def train_args(out, recipe='reference', *extra):
    return ['train'] + RECIPES[recipe] + [
        '--out', str(out), '--epochs-main', str(EPOCHS), '--epochs-joint',
        str(EPOCHS), '--batch-size', str(BATCH), '--val-size', str(VAL),
        '--no-progress'] + list(extra)


def weights(out, role):
    with numpy.load(str(out / (role + '.npz'))) as npz:
        return {k: npz[k] for k in npz.files}


def max_abs_diff(a, b):
    assert sorted(a) == sorted(b)
    return max(float(numpy.abs(a[k] - b[k]).max()) for k in a)


@pytest.fixture(scope='module')
def straight(tmp_path_factory, mnist_files):
    """Uninterrupted runs, by recipe."""
    outs = {}
    for recipe in RECIPES:
        outs[recipe] = tmp_path_factory.mktemp('straight') / recipe
        run_cli(train_args(outs[recipe], recipe), mnist_files)
    return outs


@pytest.mark.parametrize('recipe', sorted(RECIPES))
@pytest.mark.parametrize('phase', [1, 2])
def test_sigkill_then_resume_gives_the_same_weights(phase, recipe, straight,
                                                    mnist_files, tmp_path):
    # a random update of epoch 2, so that at least two epochs remain
    iteration = random.randrange(ITERS, 2 * ITERS)
    out = tmp_path / 'out'
    args = train_args(out, recipe)
    killed = run_cli(args, mnist_files, kill=(phase, iteration))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (out / 'branchynet.json').exists()
    resumed = run_cli(args + ['--resume'], mnist_files)
    assert 'resuming from' in resumed.stdout
    for role in ('baseline', 'branchynet', 'baseline_after_joint'):
        diff = max_abs_diff(weights(out, role),
                             weights(straight[recipe], role))
        assert diff == 0, (role, phase, iteration, diff)


def test_a_second_run_on_the_same_folder_is_refused(tmp_path, mnist_files):
    out = tmp_path / 'out'
    out.mkdir()
    with OutputLock(str(out)):
        proc = run_cli(train_args(out),
                       mnist_files, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in proc.stderr
    assert 'in use by another training run (PID %d)' % os.getpid() \
        in lines[0]
    assert sorted(os.listdir(out)) == ['.lock', '.lock.pid']


def test_resume_refuses_changed_settings(tmp_path, mnist_files):
    out = tmp_path / 'out'
    args = train_args(out)
    killed = run_cli(args, mnist_files, kill=(1, ITERS + 1))
    assert killed.returncode == -signal.SIGKILL
    before = sorted(os.listdir(out / 'phase1'))
    proc = run_cli(args + ['--resume', '--batch-size', '4', '--seed', '3'],
                   mnist_files, check=False)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    line, = proc.stderr.strip().splitlines()
    assert 'batch_size 8 (asked 4)' in line and 'seed 0 (asked 3)' in line
    assert '--allow-changed-settings' in line
    assert sorted(os.listdir(out / 'phase1')) == before
    # the explicit override resumes, and the models record the new settings
    run_cli(args + ['--resume', '--batch-size', '4',
                    '--allow-changed-settings'], mnist_files)
    with open(out / 'branchynet.json') as f:
        assert json.load(f)['settings']['batch_size'] == 4


def test_a_killed_snapshot_write_is_cleaned_up_at_the_next_start(
        tmp_path, mnist_files):
    out = tmp_path / 'out'
    stale = out / 'phase1' / 'tmpsnapshot_iter_14abc'
    stale.mkdir(parents=True)
    (stale / 'snapshot_iter_14').write_bytes(b'half')
    ours = [out / 'phase1' / (TMP_PREFIX + 'a.npz'),
            out / (TMP_PREFIX + 'b.json')]
    # another program's temporary, ours outside the folders a run writes,
    # and a young one in OUT (with --out . maybe another command's)
    spared = [out / '.tmp-other.json', out / 'notes' / (TMP_PREFIX + 'c'),
              out / (TMP_PREFIX + 'd.json')]
    (out / 'notes').mkdir()
    for path in ours + spared:
        path.write_bytes(b'half')
    then = time.time() - 3600
    os.utime(ours[1], (then, then))
    proc = run_cli(train_args(out, 'reference', '--epochs-main', '1',
                              '--epochs-joint', '1', '--resume'),
                   mnist_files)
    for path in [stale] + ours:
        assert 'removed %s, left by a killed run' % path in proc.stdout
        assert not path.exists()
    assert all(path.exists() for path in spared)


def test_random_states_round_trip_through_a_snapshot(tmp_path):
    import chainer
    rng = numpy.random.RandomState(5)
    numpy.random.seed(11)
    ext = resume.RandomStates({'order': rng, 'numpy_global': None})
    path = str(tmp_path / 'states.npz')
    chainer.serializers.save_npz(path, ext)
    expected = rng.rand(3), numpy.random.rand(3)
    numpy.random.seed(0)
    rng.seed(0)
    chainer.serializers.load_npz(path, ext)
    numpy.testing.assert_array_equal(rng.rand(3), expected[0])
    numpy.testing.assert_array_equal(numpy.random.rand(3), expected[1])


def test_check_resume_settings():
    resume.check_resume_settings(None, {'a': 1})
    resume.check_resume_settings({'a': 1}, {'a': 1})
    resume.check_resume_settings({'a': 1}, {'a': 2}, allow_changes=True)
    with pytest.raises(BranchyNetError, match=r'a 1 \(asked 2\)'):
        resume.check_resume_settings({'a': 1}, {'a': 2})


def test_latest_snapshot_takes_the_highest_iteration(tmp_path):
    assert resume.latest_snapshot(str(tmp_path)) is None
    for name in ('snapshot_iter_9', 'snapshot_iter_10', 'snapshot_iter_2',
                 'snapshot_iter_11.tmp'):
        (tmp_path / name).write_bytes(b'')
    assert resume.latest_snapshot(str(tmp_path)).endswith('snapshot_iter_10')
