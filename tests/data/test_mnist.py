"""MNIST loading: IDX parsing, checksums, mirrors, errors, bounded memory
(gzip bombs, oversized files, hanging mirrors).

Every call passes the *data root*; the files are in its ``mnist/``.
"""
import gzip
import hashlib
import os
import shutil
import time

import numpy
import pytest

from branchynet.utils.atomic import TMP_PREFIX
from branchynet.data import load_dataset
from branchynet.data.mnist import (MNIST_SHA256, MNIST_SIZES, default_mirrors,
                                   get_mnist)
from branchynet.errors import BranchyNetError
from helpers import REAL_DATA_ROOT, REAL_MNIST, files_in, gzip_bomb

NAMES = list(MNIST_SHA256)


def check_loaded(loaded, arrays):
    x_train, y_train, x_test, y_test = loaded
    for x, raw in ((x_train, arrays['train-images-idx3-ubyte']),
                   (x_test, arrays['t10k-images-idx3-ubyte'])):
        assert x.dtype == numpy.float32
        assert x.shape == (len(raw), 1, 28, 28)
        assert 0 <= x.min() and x.max() <= 1
        numpy.testing.assert_allclose(x[:, 0], raw / 255.0, rtol=1e-6)
        assert x.max() == 1.0                    # 255 maps to exactly 1
    for y, raw in ((y_train, arrays['train-labels-idx1-ubyte']),
                   (y_test, arrays['t10k-labels-idx1-ubyte'])):
        assert y.dtype == numpy.int32
        numpy.testing.assert_array_equal(y, raw)


@pytest.mark.parametrize('gz', [True, False, 'mixed'])
def test_get_mnist_reads_gzip_and_raw_idx(tmp_path, data_root, tiny_mnist,
                                          gz):
    if gz == 'mixed':
        gz = {name: i % 2 == 0 for i, name in enumerate(NAMES)}
    arrays, checksums = tiny_mnist(tmp_path / 'mnist', 12, 5, gz=gz)
    loaded = get_mnist(str(tmp_path), checksums=checksums, download=False)
    check_loaded(loaded, arrays)
    assert len(loaded[0]) == 12 and len(loaded[2]) == 5


def test_load_dataset_uses_the_published_checksums(tmp_path, data_root,
                                                   tiny_mnist, monkeypatch):
    arrays, checksums = tiny_mnist(tmp_path / 'mnist', 10, 4)
    # our synthetic files are not MNIST: the published checksums reject them
    with pytest.raises(BranchyNetError, match='sha256'):
        load_dataset('mnist', str(tmp_path))
    monkeypatch.setattr('branchynet.data.mnist.MNIST_SHA256', checksums)
    check_loaded(load_dataset('mnist', str(tmp_path)), arrays)


def test_auto_is_the_mnist_folder_of_the_default_data_root(data_root,
                                                           tiny_mnist):
    arrays, checksums = tiny_mnist(data_root / 'mnist', 10, 4)
    check_loaded(get_mnist('auto', checksums=checksums, download=False),
                 arrays)


def test_download_tries_mirrors_in_order(tmp_path, data_root, tiny_mnist):
    arrays, checksums = tiny_mnist(tmp_path / 'mirror', 10, 4)
    mirrors = [(tmp_path / 'missing').as_uri() + '/',
               (tmp_path / 'mirror').as_uri() + '/']
    target = tmp_path / 'data' / 'mnist'
    loaded = get_mnist(str(target.parent), mirrors=mirrors,
                       checksums=checksums)
    check_loaded(loaded, arrays)
    # the verified .gz files landed in the data folder, byte for byte, and
    # nothing else (no temporaries, no cache)
    assert files_in(target.parent) == sorted('mnist/' + n + '.gz'
                                             for n in NAMES)
    for name in NAMES:
        assert (target / (name + '.gz')).read_bytes() == \
            (tmp_path / 'mirror' / (name + '.gz')).read_bytes()
    # a second call reads the local files (the mirrors are not needed)
    check_loaded(get_mnist(str(target.parent), mirrors=[],
                           checksums=checksums), arrays)


def test_corrupt_download_is_skipped_and_not_kept(tmp_path, data_root,
                                                  tiny_mnist):
    arrays, checksums = tiny_mnist(tmp_path / 'good', 10, 4)
    bad = tmp_path / 'bad'
    shutil.copytree(tmp_path / 'good', bad)
    victim = bad / 'train-images-idx3-ubyte.gz'
    victim.write_bytes(victim.read_bytes()[:40])                # truncated
    mirrors = [bad.as_uri() + '/', (tmp_path / 'good').as_uri() + '/']
    target = tmp_path / 'data' / 'mnist'
    check_loaded(get_mnist(str(target.parent), mirrors=mirrors,
                           checksums=checksums), arrays)
    assert (target / victim.name).read_bytes() == \
        (tmp_path / 'good' / victim.name).read_bytes()
    assert files_in(target) == sorted(n + '.gz' for n in NAMES)


def test_only_corrupt_downloads_give_an_error_and_leave_nothing(
        tmp_path, data_root, tiny_mnist):
    arrays, checksums = tiny_mnist(tmp_path / 'bad', 10, 4)
    victim = tmp_path / 'bad' / 'train-labels-idx1-ubyte.gz'
    data = bytearray(gzip.decompress(victim.read_bytes()))
    data[-1] ^= 0xFF                                  # wrong content
    victim.write_bytes(gzip.compress(bytes(data)))
    target = tmp_path / 'data' / 'mnist'
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(target.parent),
                  mirrors=[(tmp_path / 'bad').as_uri() + '/'],
                  checksums=checksums)
    message = str(error.value)
    assert 'train-labels-idx1-ubyte' in message and 'sha256' in message
    # only the files that were good are in the data folder; no temporaries
    assert files_in(target) == ['train-images-idx3-ubyte.gz']


@pytest.mark.parametrize('damage', ['truncated_gz', 'truncated_raw',
                                    'wrong_content', 'not_gzip'])
def test_corrupt_local_file_is_named(tmp_path, data_root, tiny_mnist,
                                     damage):
    gz = damage != 'truncated_raw'
    arrays, checksums = tiny_mnist(tmp_path / 'mnist', 10, 4, gz=gz)
    name = 't10k-images-idx3-ubyte'
    path = tmp_path / 'mnist' / (name + '.gz' if gz else name)
    data = path.read_bytes()
    if damage.startswith('truncated'):
        path.write_bytes(data[:len(data) // 2])
    elif damage == 'wrong_content':
        raw = bytearray(gzip.decompress(data))
        raw[100] ^= 1
        path.write_bytes(gzip.compress(bytes(raw)))
    else:
        path.write_bytes(b'\x1f\x8b' + b'garbage' * 10)
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(tmp_path), checksums=checksums, download=False)
    assert str(path) in str(error.value)


def test_offline_without_data_gives_one_clear_message(tmp_path, data_root):
    target = tmp_path / 'data' / 'mnist'
    mirrors = [(tmp_path / 'nowhere1').as_uri() + '/',
               (tmp_path / 'nowhere2').as_uri() + '/']
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(target.parent), mirrors=mirrors)
    message = str(error.value)
    assert '\n' not in message
    # what to do comes first: the folder, the four names, the command
    assert message.startswith('MNIST is missing: put ')
    assert message.index(str(target)) < message.index('nowhere1')
    for name in NAMES:
        assert message.index(name + '.gz') < message.index('nowhere1')
    assert 'curl -fL --remote-name-all ' in message
    assert '--data-dir' in message
    assert 'nowhere1' in message and 'nowhere2' in message
    assert files_in(target.parent) == []


def test_missing_files_without_download(tmp_path, data_root):
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(tmp_path / 'empty'), download=False)
    message = str(error.value)
    assert str(tmp_path / 'empty' / 'mnist') + '/' in message
    assert all(name in message for name in NAMES)


def test_only_the_missing_files_are_named(tmp_path, data_root, tiny_mnist):
    tiny_mnist(tmp_path / 'mnist', 10, 4)
    os.remove(tmp_path / 'mnist' / 't10k-labels-idx1-ubyte.gz')
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(tmp_path), download=False)
    message = str(error.value)
    assert 't10k-labels-idx1-ubyte.gz' in message
    assert 'train-images' not in message


@pytest.mark.parametrize('folder_name', ['mnist', 'digits'])
def test_the_mnist_folder_given_as_data_root_is_explained(
        tmp_path, data_root, tiny_mnist, folder_name):
    tiny_mnist(tmp_path / folder_name, 10, 4)
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(tmp_path / folder_name), download=False)
    message = str(error.value)
    assert 'the data root is the folder holding mnist/' in message
    if folder_name == 'mnist':
        assert message.endswith('pass --data-dir %s' % tmp_path)
    else:
        assert 'move them into %s/' % (tmp_path / folder_name / 'mnist') \
            in message


def test_bad_idx_header_is_named(tmp_path, data_root, tiny_mnist):
    arrays, checksums = tiny_mnist(tmp_path / 'mnist', 10, 4)
    path = tmp_path / 'mnist' / 'train-labels-idx1-ubyte.gz'
    # payload one byte shorter than the header says
    data = gzip.decompress(path.read_bytes())[:-1]
    path.write_bytes(gzip.compress(data))
    checksums = dict(checksums,
                     **{'train-labels-idx1-ubyte':
                        hashlib.sha256(data).hexdigest()})
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(tmp_path), checksums=checksums, download=False)
    assert str(path) in str(error.value)


@pytest.mark.skipif(REAL_MNIST is None, reason='no real MNIST files found '
                    '(looked in $BRANCHYNET_DATA_ROOT/mnist, datasets/data/'
                    'mnist and ../shared/data/mnist)')
def test_real_mnist(data_root):
    x_train, y_train, x_test, y_test = get_mnist(str(REAL_DATA_ROOT),
                                                 download=False)
    assert x_train.shape == (60000, 1, 28, 28)
    assert x_test.shape == (10000, 1, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == x_test.dtype == numpy.float32
    assert y_train.dtype == y_test.dtype == numpy.int32
    assert x_train.min() == 0 and x_train.max() == 1
    # published in that folder's README.md
    assert numpy.bincount(y_train).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert 255 * float(x_train.mean(dtype=numpy.float64)) == pytest.approx(
        33.318, abs=1e-3)


# ------------------------------------------------------------ bounded memory


def test_a_gzip_bomb_is_refused_past_the_known_size(tmp_path, data_root,
                                                    tiny_mnist):
    _, checksums = tiny_mnist(tmp_path / 'mnist', 10, 4)
    name = 't10k-labels-idx1-ubyte'
    path = tmp_path / 'mnist' / (name + '.gz')
    gzip_bomb(path, 64 << 20)
    assert path.stat().st_size < 100000
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(tmp_path), checksums=checksums, download=False)
    assert str(path) in str(error.value)
    assert 'more than %d bytes' % MNIST_SIZES[name] in str(error.value)


def test_an_oversized_raw_file_is_refused_unread(tmp_path, data_root,
                                                 tiny_mnist):
    _, checksums = tiny_mnist(tmp_path / 'mnist', 10, 4)
    name = 'train-labels-idx1-ubyte'
    os.remove(tmp_path / 'mnist' / (name + '.gz'))
    with open(tmp_path / 'mnist' / name, 'wb') as f:
        f.truncate(MNIST_SIZES[name] + 1)                 # sparse
    with pytest.raises(BranchyNetError, match='larger than any MNIST file'):
        get_mnist(str(tmp_path), checksums=checksums, download=False)


def test_the_known_sizes_are_the_real_ones():
    for name, size in MNIST_SIZES.items():
        n = 60000 if name.startswith('train') else 10000
        assert size == (16 + n * 784 if 'images' in name else 8 + n)
    if REAL_MNIST is not None:
        for name, size in MNIST_SIZES.items():
            with gzip.open(REAL_MNIST / (name + '.gz')) as f:
                assert len(f.read()) == size


def test_a_download_larger_than_expected_is_refused(tmp_path, data_root):
    mirror = tmp_path / 'mirror'
    mirror.mkdir()
    name = 'train-images-idx3-ubyte'
    with open(mirror / (name + '.gz'), 'wb') as f:
        f.truncate(MNIST_SIZES[name] * 2)
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(tmp_path / 'root'), mirrors=[mirror.as_uri() + '/'])
    assert 'more than the' in str(error.value)
    assert files_in(tmp_path / 'root') == []


def test_a_hanging_mirror_times_out_with_a_message(tmp_path, data_root,
                                                   silent_server,
                                                   monkeypatch, capsys):
    monkeypatch.setenv('BRANCHYNET_DOWNLOAD_TIMEOUT', '0.5')
    start = time.monotonic()
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(tmp_path), mirrors=[silent_server, silent_server])
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert message.count('timed out') == 2
    assert message.index('MNIST is missing') < message.index(silent_server)
    assert 'downloading %s' % silent_server in capsys.readouterr().err
    assert files_in(tmp_path) == []


@pytest.mark.parametrize('value', ['0', '-1', 'x', 'nan', 'inf', '3601',
                                   '9' * 30])
def test_a_bad_timeout_setting_is_named(tmp_path, data_root, monkeypatch,
                                        value):
    monkeypatch.setenv('BRANCHYNET_DOWNLOAD_TIMEOUT', value)
    with pytest.raises(BranchyNetError, match='BRANCHYNET_DOWNLOAD_TIMEOUT'):
        get_mnist(str(tmp_path), mirrors=['file:///nowhere/'])


def test_mirrors_from_the_environment(monkeypatch):
    monkeypatch.delenv('BRANCHYNET_MNIST_MIRRORS', raising=False)
    assert default_mirrors()[0].startswith('https://')
    monkeypatch.setenv('BRANCHYNET_MNIST_MIRRORS', 'http://a/x http://b/y/')
    assert default_mirrors() == ('http://a/x/', 'http://b/y/')


def test_leftovers_of_a_killed_download_are_removed(tmp_path, data_root,
                                                    tiny_mnist):
    arrays, checksums = tiny_mnist(tmp_path / 'mnist', 10, 4)
    old = tmp_path / 'mnist' / (TMP_PREFIX + 'abc.gz')
    young = tmp_path / 'mnist' / (TMP_PREFIX + 'def.gz')
    old.write_bytes(b'half')
    young.write_bytes(b'half')
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    check_loaded(get_mnist(str(tmp_path), checksums=checksums,
                           download=False), arrays)
    assert not old.exists() and young.exists()   # young: maybe still written
