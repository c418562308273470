"""A user's own data set file: every defect is one clear line naming the key.

``load_user_npz(path, input_shape, n_classes)`` (the future
``--dataset npz:PATH``): keys train_x, train_y, test_x, test_y; float32
``(N, C, H, W)`` images of the network's input shape, integer labels in
``[0, classes)``.
"""
import io
import warnings
import zipfile

import numpy
import pytest

from branchynet.data import (load_dataset, load_splits, load_user_npz,
                             resolve_dataset)
from branchynet.errors import BranchyNetError

SHAPE = (1, 8, 8)


def arrays(n=6, m=4, classes=3):
    rng = numpy.random.RandomState(0)
    return dict(train_x=rng.rand(n, *SHAPE).astype(numpy.float32),
                train_y=numpy.arange(n) % classes,
                test_x=rng.rand(m, *SHAPE).astype(numpy.float32),
                test_y=(numpy.arange(m) % classes).astype(numpy.uint8))


def write(path, **changes):
    data = arrays()
    data.update(changes)
    numpy.savez(path, **{k: v for k, v in data.items() if v is not None})
    return str(path)


def test_a_good_file_loads(tmp_path):
    want = arrays()
    got = load_user_npz(write(tmp_path / 'd.npz', extra=numpy.zeros(2)),
                        SHAPE, 3)
    for g, key in zip(got, ('train_x', 'train_y', 'test_x', 'test_y')):
        numpy.testing.assert_array_equal(g, want[key])
    assert [g.dtype for g in got] == [numpy.float32, numpy.int32,
                                      numpy.float32, numpy.int32]
    assert all(g.flags.writeable for g in got)


def test_compressed_and_fortran_order_files_load(tmp_path):
    data = arrays()
    data['train_x'] = numpy.asfortranarray(data['train_x'])
    numpy.savez_compressed(tmp_path / 'd.npz', **data)
    got = load_user_npz(str(tmp_path / 'd.npz'), SHAPE, 3)
    numpy.testing.assert_array_equal(got[0], arrays()['train_x'])


@pytest.mark.parametrize('changes, match', [
    (dict(test_y=None), 'missing key.*test_y.*holds train_x'),
    (dict(train_x=None, train_y=None), 'missing key.*train_x, train_y'),
    (dict(train_x=numpy.zeros((6, 8, 8, 1), numpy.float32)),
     r'train_x should be \(N, 1, 8, 8\)'),
    (dict(train_x=numpy.zeros((6, 64), numpy.float32)), 'train_x'),
    (dict(test_x=numpy.zeros((4, 1, 8, 8, 1), numpy.float32)), 'test_x'),
    (dict(train_x=numpy.zeros((0, 1, 8, 8), numpy.float32),
          train_y=numpy.zeros(0, int)), 'N > 0'),
    (dict(test_x=numpy.zeros((4, 1, 8, 8), numpy.uint8)), 'float32'),
    (dict(test_x=numpy.zeros((4, 1, 8, 8), numpy.float64)), 'float32'),
    (dict(test_x=numpy.zeros((4, 1, 8, 8), numpy.complex64)), 'float32'),
    (dict(test_x=numpy.full((4, 1, 8, 8), 'a')), 'float32'),
    (dict(train_y=numpy.arange(5)), r'train_y should be \(6,\)'),
    (dict(train_y=numpy.zeros((6, 1), int)), 'train_y'),
    (dict(train_y=numpy.zeros(6, numpy.float32)), 'integer'),
    (dict(train_y=numpy.zeros(6, bool)), 'integer'),
    (dict(train_y=numpy.zeros(6, 'U1')), 'integer'),
    (dict(test_y=numpy.array([0, 1, 3, 2])), r'0\.\.2 \(0\.\.3\)'),
    (dict(test_y=numpy.array([0, -1, 2, 2])), r'outside 0\.\.2'),
    (dict(test_y=numpy.array([0, 1, 2 ** 40, 2])), r'outside 0\.\.2'),
    (dict(train_x=numpy.full((6, 1, 8, 8), numpy.nan, numpy.float32)),
     'train_x.*NaN'),
    (dict(test_x=numpy.full((4, 1, 8, 8), -numpy.inf, numpy.float32)),
     'test_x.*infinite'),
    (dict(test_y=numpy.array([0, 1, None, 2], dtype=object)), 'pickle'),
])
def test_each_defect_is_named(tmp_path, changes, match):
    path = write(tmp_path / 'd.npz', **changes)
    with pytest.raises(BranchyNetError, match=match) as error:
        load_user_npz(path, SHAPE, 3)
    message = str(error.value)
    assert message.startswith('data set file %s' % path)
    assert '\n' not in message


@pytest.mark.parametrize('content', [b'', b'not a zip', b'PK\x03\x04junk'])
def test_not_an_npz(tmp_path, content):
    path = tmp_path / 'd.npz'
    path.write_bytes(content)
    with pytest.raises(BranchyNetError, match='not a complete npz archive'):
        load_user_npz(str(path), SHAPE, 3)


def test_a_missing_file(tmp_path):
    with pytest.raises(BranchyNetError, match='No such file'):
        load_user_npz(str(tmp_path / 'nothing.npz'), SHAPE, 3)


def test_a_truncated_file(tmp_path):
    path = tmp_path / 'd.npz'
    write(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(BranchyNetError, match='npz archive'):
        load_user_npz(str(path), SHAPE, 3)


def test_headers_are_checked_before_any_data_is_read(tmp_path):
    """A header declaring a TiB array is refused from the header alone."""
    path = tmp_path / 'd.npz'
    write(path, train_x=None, train_y=None)
    with zipfile.ZipFile(path, 'a') as z:
        for key, descr, shape in (('train_x', '<f4', (2 ** 38, 1, 8, 8)),
                                  ('train_y', '<i8', (2 ** 38,))):
            header = io.BytesIO()
            numpy.lib.format.write_array_header_1_0(header, {
                'descr': descr, 'fortran_order': False, 'shape': shape})
            z.writestr(key + '.npy', header.getvalue() + bytes(64))
    with pytest.raises(BranchyNetError, match='more than the'):
        load_user_npz(str(path), SHAPE, 3)


@pytest.mark.parametrize('n', [2 ** 38, 2 ** 61, 2 ** 63 - 1])
def test_a_huge_header_is_refused_without_a_warning(tmp_path, n):
    """The cap adds the sizes as Python integers: 2**61 images of 64 bytes
    wrap to 0 in int64 (and warn) but are refused here in silence."""
    path = tmp_path / 'd.npz'
    write(path, train_x=None, train_y=None)
    with zipfile.ZipFile(path, 'a') as z:
        for key, descr, shape in (('train_x', '<f4', (n, 1, 8, 8)),
                                  ('train_y', '<i8', (n,))):
            header = io.BytesIO()
            numpy.lib.format.write_array_header_1_0(header, {
                'descr': descr, 'fortran_order': False, 'shape': shape})
            z.writestr(key + '.npy', header.getvalue() + bytes(64))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        with pytest.raises(BranchyNetError, match='more than the'):
            load_user_npz(str(path), SHAPE, 3)


def test_the_total_size_cap(tmp_path):
    path = write(tmp_path / 'd.npz')
    with pytest.raises(BranchyNetError, match='more than the 100 allowed'):
        load_user_npz(path, SHAPE, 3, max_bytes=100)


# ------------------------------------------- npz:PATH as a data set name

def mnist_like(path, **changes):
    """A user file standing in for MNIST: (N, 1, 28, 28) float32, 0..9."""
    rng = numpy.random.RandomState(1)
    data = dict(train_x=rng.rand(20, 1, 28, 28).astype(numpy.float32),
                train_y=numpy.arange(20) % 10,
                test_x=rng.rand(6, 1, 28, 28).astype(numpy.float32),
                test_y=numpy.arange(6) % 10)
    data.update(changes)
    numpy.savez(path, **{k: v for k, v in data.items() if v is not None})
    return 'npz:%s' % path


def test_a_user_file_is_a_data_set_like_the_experiments(tmp_path):
    name = mnist_like(tmp_path / 'mine.npz')
    splits = load_splits(name, 5, data_root=str(tmp_path / 'unused'),
                         like='mnist')
    assert [len(splits[s][0]) for s in ('train', 'val', 'test')] == [15, 5, 6]
    assert splits['train'][0].shape[1:] == (1, 28, 28)
    assert splits['test'][1].dtype == numpy.int32


@pytest.mark.parametrize('changes, match', [
    (dict(test_y=None), 'missing key.*test_y'),
    (dict(train_x=numpy.zeros((20, 3, 32, 32), numpy.float32)),
     r'train_x should be \(N, 1, 28, 28\)'),
    (dict(test_x=numpy.zeros((6, 1, 28, 28), numpy.float64)), 'float32'),
    (dict(train_y=numpy.arange(19)), r'train_y should be \(20,\)'),
    (dict(train_y=numpy.zeros(20, numpy.float32)), 'integer'),
    (dict(test_y=numpy.array([0, 1, 2, 3, 4, 10])), r'outside 0\.\.9'),
    (dict(train_x=numpy.full((20, 1, 28, 28), numpy.nan, numpy.float32)),
     'NaN'),
])
def test_every_defect_of_a_user_data_set_is_one_line(tmp_path, changes,
                                                     match):
    name = mnist_like(tmp_path / 'mine.npz', **changes)
    with pytest.raises(BranchyNetError, match=match) as error:
        load_dataset(name, like='mnist')
    assert '\n' not in str(error.value)
    assert str(tmp_path / 'mine.npz') in str(error.value)


def test_data_set_names(tmp_path, monkeypatch):
    mnist_like(tmp_path / 'mine.npz')
    monkeypatch.chdir(tmp_path)
    # saved with the model as an absolute path: later commands run anywhere
    assert resolve_dataset('npz:mine.npz') == 'npz:%s' % (tmp_path /
                                                          'mine.npz')
    assert resolve_dataset('mnist') == 'mnist'
    assert resolve_dataset('pcifar10') == 'pcifar10'
    with pytest.raises(BranchyNetError, match='does not exist'):
        resolve_dataset('npz:other.npz')
    for bad in ('cifar100', 'npz:', None):
        with pytest.raises(BranchyNetError, match='unknown data set'):
            resolve_dataset(bad)
    with pytest.raises(BranchyNetError, match='stands in for'):
        load_dataset('npz:mine.npz')
    with pytest.raises(BranchyNetError, match='does not exist'):
        load_dataset('npz:other.npz', like='mnist')
