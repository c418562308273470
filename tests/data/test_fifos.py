"""Data files and folders that are not what they claim to be (issue 31).

A FIFO where a data file goes used to make the command wait forever for a
writer; a file or a FIFO where a data set's folder goes started a download
that ended in "File exists". Every data file is now opened only when it is
a regular file (branchynet.data.files.open_regular) and every data set's
folder checked before anything is read or downloaded: one line, exit 2.

Nothing here may hang the suite: the command-line cases run in a
subprocess with a timeout, the in-process ones under an alarm.
"""
import os
import pathlib
import signal
import subprocess
import sys

import numpy
import pytest
from PIL import Image

from branchynet.data import cifar10, images as images_lib, load_dataset
from branchynet.data.pcifar10 import get_pcifar10
from branchynet.errors import BranchyNetError

REPO = pathlib.Path(__file__).resolve().parents[2]
#: seconds a case may take before it counts as a hang
LIMIT = 60

pytestmark = pytest.mark.skipif(not hasattr(os, 'mkfifo'),
                                reason='no FIFOs on this system')


def branchynet(tmp_path, *args, **env):
    """``python -m branchynet ARGS`` with no network; killed after
    :data:`LIMIT` seconds (a hang fails the test, never the suite)."""
    environment = dict(os.environ, PYTHONPATH=str(REPO),
                       BRANCHYNET_DATA_ROOT=str(tmp_path / 'no_root'),
                       BRANCHYNET_MNIST_MIRRORS='file:///nonexistent-mirror/',
                       BRANCHYNET_DOWNLOAD_TIMEOUT='5')
    environment.update(env)
    try:
        return subprocess.run(
            [sys.executable, '-m', 'branchynet'] + [str(a) for a in args],
            cwd=tmp_path, env=environment, capture_output=True, text=True,
            timeout=LIMIT)
    except subprocess.TimeoutExpired:
        pytest.fail('branchynet %s hung (killed after %d s)'
                    % (' '.join(map(str, args)), LIMIT))


def one_line(process):
    """The command failed with status 2 and one line; returns it."""
    assert process.returncode == 2, process.stderr
    assert 'Traceback' not in process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith('branchynet: error: ')
    return lines[0]


@pytest.fixture
def no_hang():
    """Fail an in-process case that blocks for :data:`LIMIT` seconds."""
    def hung(signum, frame):
        raise TimeoutError('hung on a FIFO')
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(LIMIT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# ----------------------------------------------------------- through the CLI

def test_train_on_a_data_root_whose_mnist_file_is_a_fifo(tmp_path):
    fifo = tmp_path / 'R' / 'mnist' / 'train-images-idx3-ubyte.gz'
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    process = branchynet(tmp_path, 'train', 'lenet_mnist', '--data-dir',
                         tmp_path / 'R', '--out', tmp_path / 'M',
                         '--epochs-main', 1, '--epochs-joint', 1,
                         '--no-progress')
    line = one_line(process)
    assert str(fifo) in line and 'is a FIFO' in line
    assert 'not a regular file' in line


@pytest.mark.parametrize('make', ['file', 'fifo'])
def test_a_data_root_whose_mnist_is_not_a_folder(tmp_path, make):
    root = tmp_path / 'R'
    root.mkdir()
    if make == 'file':
        (root / 'mnist').write_text('not a folder')
    else:
        os.mkfifo(root / 'mnist')
    process = branchynet(tmp_path, 'data', 'mnist', '--data-dir', root)
    line = one_line(process)
    assert 'downloading' not in process.stderr       # before any download
    assert '%s is %s, not a folder' % (
        root / 'mnist',
        'a regular file' if make == 'file' else 'a FIFO (named pipe)') in line


def test_an_image_cache_that_is_a_fifo(tmp_path):
    root, data = tmp_path / 'img', tmp_path / 'data'
    for split in ('train', 'test'):
        for label, name in enumerate(('a', 'b')):
            folder = root / split / name
            folder.mkdir(parents=True)
            for k in range(2):
                Image.fromarray(numpy.full((28, 28), 40 * label + k,
                                           numpy.uint8)).save(
                    folder / ('%d.png' % k))
    cache = pathlib.Path(images_lib._cache_path(str(root), 1, str(data)))
    cache.parent.mkdir(parents=True)
    os.mkfifo(cache)
    process = branchynet(tmp_path, 'train', 'lenet_mnist', '--dataset',
                         'images:%s' % root, '--data-dir', data, '--out',
                         tmp_path / 'M', '--epochs-main', 1,
                         '--epochs-joint', 1, '--no-progress')
    line = one_line(process)
    assert 'image cache %s is a FIFO' % cache in line


# ------------------------------------------------- every other data file

def _fifo(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def test_a_user_npz_that_is_a_fifo(tmp_path, no_hang):
    fifo = _fifo(tmp_path / 'd.npz')
    with pytest.raises(BranchyNetError, match='is a FIFO'):
        load_dataset('npz:%s' % fifo, like='mnist')
    # past the name check (a FIFO put there after it): the open refuses it
    from branchynet.data.user_npz import describe_user_npz, load_user_npz
    for call in (lambda: load_user_npz(str(fifo), (1, 28, 28), 10),
                 lambda: describe_user_npz(str(fifo))):
        with pytest.raises(BranchyNetError, match='%s is a FIFO' % fifo):
            call()


@pytest.mark.parametrize('name', ['data.npz', 'data.json'])
def test_pcifar10_files_that_are_fifos(tmp_path, no_hang, name):
    directory = tmp_path / 'pcifar10'
    directory.mkdir()
    numpy.savez(directory / 'data.npz',
                train_x=numpy.zeros((2, 3, 32, 32), numpy.float32),
                train_y=numpy.zeros(2, numpy.int32),
                test_x=numpy.zeros((2, 3, 32, 32), numpy.float32),
                test_y=numpy.zeros(2, numpy.int32))
    (directory / name).unlink(missing_ok=True)
    fifo = _fifo(directory / name)
    with pytest.raises(BranchyNetError, match='%s is a FIFO' % fifo):
        get_pcifar10(str(tmp_path), recipe='zca', download=False)


def test_cifar_files_that_are_fifos(tmp_path, no_hang):
    tarball = _fifo(tmp_path / 'c' / cifar10.CIFAR10_TARBALL)
    with pytest.raises(BranchyNetError, match='%s is a FIFO' % tarball):
        cifar10.load_cifar10(str(tmp_path / 'c'), download=False)
    # not skipped for an extracted folder beside it either
    (tmp_path / 'c' / cifar10.CIFAR10_FOLDER).mkdir()
    with pytest.raises(BranchyNetError, match='%s is a FIFO' % tarball):
        cifar10.load_cifar10(str(tmp_path / 'c'), download=False)
    os.remove(tarball)
    folder = tmp_path / 'c' / cifar10.CIFAR10_FOLDER
    for name in cifar10.TRAIN_BATCHES + (cifar10.TEST_BATCH,):
        (folder / name).write_bytes(b'x')
    os.remove(folder / 'data_batch_1')
    batch = _fifo(folder / 'data_batch_1')
    with pytest.raises(BranchyNetError, match='%s is a FIFO' % batch):
        cifar10.load_cifar10(str(tmp_path / 'c'), download=False)


def test_a_cifar_folder_that_is_a_file(tmp_path):
    (tmp_path / 'c').write_text('not a folder')
    with pytest.raises(BranchyNetError, match='is a regular file, not a '
                                              'folder'):
        cifar10.load_cifar10(str(tmp_path / 'c'), download=True,
                             urls=['file:///nonexistent-mirror/x.tar.gz'])


def test_an_image_that_becomes_a_fifo_after_the_scan(tmp_path, no_hang,
                                                     monkeypatch):
    root = tmp_path / 'img'
    for split in ('train', 'test'):
        for name in ('a', 'b'):
            (root / split / name).mkdir(parents=True)
            Image.new('L', (4, 4)).save(root / split / name / '0.png')
    real_scan = images_lib.scan

    def scan_then_swap(path):
        found = real_scan(path)
        target = root / 'train' / 'b' / '0.png'
        if target.is_file():
            target.unlink()
            os.mkfifo(target)
        return found
    monkeypatch.setattr(images_lib, 'scan', scan_then_swap)
    with pytest.raises(BranchyNetError, match='image %s is a FIFO'
                       % (root / 'train' / 'b' / '0.png')):
        images_lib.load_image_folder(root, channels=1, cache=False)
