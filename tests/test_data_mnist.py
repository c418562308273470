"""MNIST loading: IDX parsing, checksums, mirrors, errors; validation split."""
import gzip
import hashlib
import shutil

import numpy
import pytest

from branchynet.data import load_dataset, split_validation
from branchynet.data.mnist import MNIST_SHA256, get_mnist
from branchynet.errors import BranchyNetError
from helpers import REAL_MNIST, files_in

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
    loaded = get_mnist(str(tmp_path / 'mnist'), checksums=checksums,
                       download=False)
    check_loaded(loaded, arrays)
    assert len(loaded[0]) == 12 and len(loaded[2]) == 5


def test_load_dataset_uses_the_published_checksums(tmp_path, data_root,
                                                   tiny_mnist, monkeypatch):
    arrays, checksums = tiny_mnist(tmp_path / 'mnist', 10, 4)
    # our synthetic files are not MNIST: the published checksums reject them
    with pytest.raises(BranchyNetError, match='sha256'):
        load_dataset('mnist', str(tmp_path / 'mnist'))
    monkeypatch.setattr('branchynet.data.mnist.MNIST_SHA256', checksums)
    check_loaded(load_dataset('mnist', str(tmp_path / 'mnist')), arrays)


def test_auto_data_dir_is_the_mnist_folder_of_the_data_root(data_root,
                                                            tiny_mnist):
    arrays, checksums = tiny_mnist(data_root / 'mnist', 10, 4)
    check_loaded(get_mnist('auto', checksums=checksums, download=False),
                 arrays)


def test_download_tries_mirrors_in_order(tmp_path, data_root, tiny_mnist):
    arrays, checksums = tiny_mnist(tmp_path / 'mirror', 10, 4)
    mirrors = [(tmp_path / 'missing').as_uri() + '/',
               (tmp_path / 'mirror').as_uri() + '/']
    target = tmp_path / 'data' / 'mnist'
    loaded = get_mnist(str(target), mirrors=mirrors, checksums=checksums)
    check_loaded(loaded, arrays)
    # the verified .gz files landed in the data folder, byte for byte
    assert files_in(target) == sorted(n + '.gz' for n in NAMES)
    for name in NAMES:
        assert (target / (name + '.gz')).read_bytes() == \
            (tmp_path / 'mirror' / (name + '.gz')).read_bytes()
    # chainer's download cache (under the data root) keeps no copy
    cache = data_root / '_dl_cache'
    assert cache.is_dir()
    assert [f for f in files_in(cache) if f != '_dl_lock'] == []
    # a second call reads the local files (the mirrors are not needed)
    check_loaded(get_mnist(str(target), mirrors=[], checksums=checksums),
                 arrays)


def test_corrupt_download_is_skipped_and_not_kept(tmp_path, data_root,
                                                  tiny_mnist):
    arrays, checksums = tiny_mnist(tmp_path / 'good', 10, 4)
    bad = tmp_path / 'bad'
    shutil.copytree(tmp_path / 'good', bad)
    victim = bad / 'train-images-idx3-ubyte.gz'
    victim.write_bytes(victim.read_bytes()[:40])                # truncated
    mirrors = [bad.as_uri() + '/', (tmp_path / 'good').as_uri() + '/']
    target = tmp_path / 'data' / 'mnist'
    check_loaded(get_mnist(str(target), mirrors=mirrors, checksums=checksums),
                 arrays)
    assert (target / victim.name).read_bytes() == \
        (tmp_path / 'good' / victim.name).read_bytes()
    assert [f for f in files_in(data_root / '_dl_cache')
            if f != '_dl_lock'] == []


def test_only_corrupt_downloads_give_an_error_and_leave_nothing(
        tmp_path, data_root, tiny_mnist):
    arrays, checksums = tiny_mnist(tmp_path / 'bad', 10, 4)
    victim = tmp_path / 'bad' / 'train-labels-idx1-ubyte.gz'
    data = bytearray(gzip.decompress(victim.read_bytes()))
    data[-1] ^= 0xFF                                  # wrong content
    victim.write_bytes(gzip.compress(bytes(data)))
    target = tmp_path / 'data' / 'mnist'
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(target), mirrors=[(tmp_path / 'bad').as_uri() + '/'],
                  checksums=checksums)
    message = str(error.value)
    assert 'train-labels-idx1-ubyte' in message and 'sha256' in message
    # only the files that were good are in the data folder; no temporaries
    assert 'train-labels-idx1-ubyte.gz' not in files_in(target)
    assert not any(f.startswith('.tmp') for f in files_in(target))
    assert [f for f in files_in(data_root / '_dl_cache')
            if f != '_dl_lock'] == []


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
        get_mnist(str(tmp_path / 'mnist'), checksums=checksums,
                  download=False)
    assert str(path) in str(error.value)


def test_offline_without_data_gives_one_clear_message(tmp_path, data_root):
    target = tmp_path / 'data' / 'mnist'
    mirrors = [(tmp_path / 'nowhere1').as_uri() + '/',
               (tmp_path / 'nowhere2').as_uri() + '/']
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(target), mirrors=mirrors)
    message = str(error.value)
    assert '\n' not in message
    assert str(target) in message
    for name in NAMES:
        assert name in message
    assert 'nowhere1' in message and 'nowhere2' in message
    assert files_in(target) == []


def test_missing_files_without_download(tmp_path, data_root):
    with pytest.raises(BranchyNetError) as error:
        get_mnist(str(tmp_path / 'empty'), download=False)
    message = str(error.value)
    assert str(tmp_path / 'empty') in message
    assert all(name in message for name in NAMES)


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
        get_mnist(str(tmp_path / 'mnist'), checksums=checksums,
                  download=False)
    assert str(path) in str(error.value)


@pytest.mark.skipif(not REAL_MNIST.is_dir(),
                    reason='no MNIST files in ../shared/data/mnist')
def test_real_mnist(data_root):
    x_train, y_train, x_test, y_test = get_mnist(str(REAL_MNIST),
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


# ---------------------------------------------------------------- splitting

def test_split_validation_is_disjoint_and_sized():
    x = numpy.arange(100)
    y = x * 10
    x_train, y_train, x_val, y_val = split_validation(x, y, 30, seed=0)
    assert len(x_train) == 70 and len(x_val) == 30
    assert set(x_train).isdisjoint(x_val)
    assert sorted(numpy.concatenate([x_train, x_val])) == list(x)
    numpy.testing.assert_array_equal(y_train, x_train * 10)   # pairs kept
    numpy.testing.assert_array_equal(y_val, x_val * 10)
    assert not numpy.array_equal(x_val, numpy.arange(30))     # random


def test_split_validation_is_deterministic():
    x = numpy.arange(50)
    a = split_validation(x, x, 10, seed=3)
    b = split_validation(x, x, 10, seed=3)
    c = split_validation(x, x, 10, seed=4)
    for u, v in zip(a, b):
        numpy.testing.assert_array_equal(u, v)
    assert not numpy.array_equal(a[2], c[2])


def test_split_validation_sizes_at_the_edges():
    x = numpy.arange(20)
    x_train, _, x_val, y_val = split_validation(x, x, 0)
    assert len(x_train) == 20 and len(x_val) == 0 and len(y_val) == 0
    for bad in (-1, 20, 25):
        with pytest.raises(BranchyNetError):
            split_validation(x, x, bad)
