"""CIFAR-10 batches and pcifar10: restricted unpickling, checksums, the ZCA
and GCN recipes, data.npz validation, the sidecar, atomic writes.

(The modules: branchynet.data.cifar10, safe_pickle, pcifar10; the user
data set file has its own tests in test_data_user_npz.py.)

Everything runs on small synthetic files written in the official format
(``cifar-10-batches-py/data_batch_1..5``, ``test_batch``, ``batches.meta``,
pickled dicts with ``data`` uint8 (n, 3072), ``labels``, ``batch_label``,
``filenames``), without network.
"""
import hashlib
import io
import json
import os
import pathlib
import pickle
import pickletools
import struct
import tarfile

import numpy
import pytest
import scipy.linalg

from branchynet import __version__
from branchynet.data import dataset_origin, load_dataset
from branchynet.data import cifar10, normalisation, pcifar10
from branchynet.data.cifar10 import BATCH_MAX_BYTES, load_cifar10
from branchynet.data.root import dataset_dir
from branchynet.data.normalisation import minmax_rows, zca_fit
from branchynet.data.pcifar10 import (build_pcifar10, get_pcifar10,
                                      load_pcifar10_npz, prepare_pcifar10)
from branchynet.data.safe_pickle import restricted_loads
from branchynet.errors import BranchyNetError
from helpers import files_in

BATCHES = ['data_batch_%d' % i for i in range(1, 6)] + ['test_batch']


# ---------------------------------------------------------------------------
# Synthetic CIFAR-10 in the official format
# ---------------------------------------------------------------------------

class Py2Pickler(pickle._Pickler):
    """Writes bytes and (ASCII) str as Python 2 ``str`` (SHORT_BINSTRING /
    BINSTRING opcodes), as in the official batches, which Python 2's cPickle
    wrote with protocol 2: keys, the dtype name ``'u1'`` and the raw pixel
    data all come back as bytes with ``encoding='bytes'``."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj.encode('ascii') if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def batch_bytes(images, labels, name, style='py3'):
    """A pickled batch dict; ``style`` 'py3' is ``pickle.dumps(protocol=2)``
    of Python 3, 'py2' imitates the official Python 2 files."""
    batch = {b'batch_label': name.encode(),
             b'labels': [int(v) for v in labels],
             b'data': numpy.ascontiguousarray(images, numpy.uint8).reshape(
                 len(images), -1),
             b'filenames': [b'img_%d.png' % i for i in range(len(images))]}
    if style == 'py3':
        return pickle.dumps(batch, protocol=2)
    f = io.BytesIO()
    Py2Pickler(f, protocol=2).dump(batch)
    return f.getvalue()


def write_cifar_folder(directory, n=40, seed=0, style='py3'):
    """``directory/cifar-10-batches-py`` with 5 x n training and n test
    images; returns the arrays and the md5 of each batch file."""
    rng = numpy.random.RandomState(seed)
    folder = pathlib.Path(directory) / 'cifar-10-batches-py'
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.randint(0, 256, size=(6 * n, 3, 32, 32)).astype(numpy.uint8)
    labels = rng.randint(0, 10, size=6 * n)
    md5 = {}
    for i, name in enumerate(BATCHES):
        data = batch_bytes(images[i * n:(i + 1) * n],
                           labels[i * n:(i + 1) * n], name, style)
        (folder / name).write_bytes(data)
        md5[name] = hashlib.md5(data).hexdigest()
    (folder / 'batches.meta').write_bytes(pickle.dumps(
        {b'label_names': [b'c%d' % i for i in range(10)],
         b'num_cases_per_batch': n, b'num_vis': 3072}, protocol=2))
    arrays = (images[:5 * n], labels[:5 * n].astype(numpy.int32),
              images[5 * n:], labels[5 * n:].astype(numpy.int32))
    return arrays, md5


def write_tarball(path, folder_parent):
    """Tar+gzip ``folder_parent/cifar-10-batches-py``; returns its md5."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, 'w:gz') as tar:
        tar.add(pathlib.Path(folder_parent) / 'cifar-10-batches-py',
                arcname='cifar-10-batches-py')
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def cifar_src(tmp_path):
    """Synthetic batches (folder) and their tarball, outside any data dir."""
    arrays, file_md5 = write_cifar_folder(tmp_path / 'src')
    tarball = tmp_path / 'mirror' / 'cifar-10-python.tar.gz'
    md5 = write_tarball(tarball, tmp_path / 'src')
    return dict(arrays=arrays, file_md5=file_md5, tarball=tarball, md5=md5,
                folder=tmp_path / 'src' / 'cifar-10-batches-py')


def check_raw(loaded, arrays):
    for got, want in zip(loaded, arrays):
        assert got.dtype == want.dtype and got.shape == want.shape
        numpy.testing.assert_array_equal(got, want)
    assert loaded[0].dtype == numpy.uint8 and loaded[1].dtype == numpy.int32


# ---------------------------------------------------------------------------
# load_cifar10
# ---------------------------------------------------------------------------

def load_raw(data_root='auto', cifar_dir=None, **options):
    """The four arrays of :func:`load_cifar10` from ``cifar_dir``, or from
    the data root's ``cifar10/`` folder, as pcifar10 finds it."""
    directory = cifar_dir or dataset_dir('cifar10', data_root)
    return load_cifar10(directory, **options)[0]


def test_loads_the_tarball_in_the_data_dir(tmp_path, data_root, cifar_src):
    target = data_root / 'cifar10' / 'cifar-10-python.tar.gz'
    target.parent.mkdir()
    target.write_bytes(cifar_src['tarball'].read_bytes())
    loaded = load_raw(download=False, md5=cifar_src['md5'])
    check_raw(loaded, cifar_src['arrays'])
    assert loaded[0].shape == (200, 3, 32, 32)
    assert files_in(data_root / 'cifar10') == ['cifar-10-python.tar.gz']


def test_an_explicit_data_root_holds_cifar10(tmp_path, data_root, cifar_src):
    target = tmp_path / 'root' / 'cifar10' / 'cifar-10-python.tar.gz'
    target.parent.mkdir(parents=True)
    target.write_bytes(cifar_src['tarball'].read_bytes())
    check_raw(load_raw(str(tmp_path / 'root'), download=False,
                       md5=cifar_src['md5']), cifar_src['arrays'])
    assert files_in(data_root) == []


def test_an_oversized_batch_file_is_refused_unread(tmp_path):
    write_cifar_folder(tmp_path / 'c', n=2)
    victim = tmp_path / 'c' / 'cifar-10-batches-py' / 'data_batch_2'
    with open(victim, 'wb') as f:
        f.truncate(BATCH_MAX_BYTES + 1)                      # sparse
    with pytest.raises(BranchyNetError, match='larger than a CIFAR-10 batch'):
        load_raw(cifar_dir=str(tmp_path / 'c'), download=False,
                 file_md5=None)


def test_an_oversized_batch_in_the_tarball_is_refused(tmp_path):
    write_cifar_folder(tmp_path / 'src', n=2)
    tarball = tmp_path / 'c' / 'cifar-10-python.tar.gz'
    tarball.parent.mkdir()
    with tarfile.open(tarball, 'w:gz') as tar:
        info = tarfile.TarInfo('cifar-10-batches-py/data_batch_1')
        info.size = BATCH_MAX_BYTES + 1
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    with pytest.raises(BranchyNetError, match='larger than a CIFAR-10 batch'):
        load_raw(cifar_dir=str(tarball.parent), download=False,
                 md5=None)


def test_an_oversized_tarball_is_refused_unread(tmp_path, monkeypatch):
    tarball = tmp_path / 'c' / 'cifar-10-python.tar.gz'
    tarball.parent.mkdir()
    tarball.write_bytes(b'x' * 101)
    monkeypatch.setattr(cifar10, 'CIFAR10_TARBALL_BYTES', 100)
    with pytest.raises(BranchyNetError, match='larger than the official'):
        load_raw(cifar_dir=str(tarball.parent), download=False)


def test_image_layout_is_channel_row_column():
    images = numpy.arange(2 * 3072, dtype=numpy.uint32).astype(
        numpy.uint8).reshape(2, 3072)
    x, y = cifar10.parse_batch(
        pickle.dumps({b'data': images, b'labels': [1, 2]}, protocol=2), 'b')
    assert x.shape == (2, 3, 32, 32) and y.dtype == numpy.int32
    assert x[1, 2, 3, 4] == images[1, 2 * 1024 + 3 * 32 + 4]


@pytest.mark.parametrize('style', ['py2', 'py3'])
def test_loads_an_extracted_folder(tmp_path, style):
    arrays, file_md5 = write_cifar_folder(tmp_path / 'c', n=8, style=style)
    check_raw(load_raw(cifar_dir=str(tmp_path / 'c'), download=False,
                       file_md5=file_md5), arrays)
    check_raw(load_raw(cifar_dir=str(tmp_path / 'c'), download=False,
                       file_md5=None), arrays)


def test_python2_style_batches_hold_bytes_keys():
    data = batch_bytes(numpy.zeros((2, 3072), numpy.uint8), [3, 4], 'b',
                       'py2')
    assert b'multiarray\n_reconstruct' in data
    opcodes = {op.name for op, _, _ in pickletools.genops(data)}
    assert 'BINUNICODE' not in opcodes       # strings are Python 2 str
    assert b'_codecs' not in data
    batch = restricted_loads(data)
    assert set(batch) == {b'batch_label', b'labels', b'data', b'filenames'}
    assert batch[b'data'].dtype == numpy.uint8


def test_extracted_folder_checked_against_file_md5(tmp_path):
    write_cifar_folder(tmp_path / 'c', n=8)
    with pytest.raises(BranchyNetError) as error:
        # the official md5s
        load_raw(cifar_dir=str(tmp_path / 'c'), download=False)
    assert 'data_batch_1' in str(error.value) and 'md5' in str(error.value)


def test_missing_batch_in_folder_is_named(tmp_path):
    write_cifar_folder(tmp_path / 'c', n=8)
    (tmp_path / 'c' / 'cifar-10-batches-py' / 'test_batch').unlink()
    with pytest.raises(BranchyNetError, match='test_batch'):
        load_raw(cifar_dir=str(tmp_path / 'c'), download=False,
                 file_md5=None)


def test_truncated_batch_in_folder_is_named(tmp_path):
    write_cifar_folder(tmp_path / 'c', n=8)
    victim = tmp_path / 'c' / 'cifar-10-batches-py' / 'data_batch_3'
    victim.write_bytes(victim.read_bytes()[:5000])
    with pytest.raises(BranchyNetError) as error:
        load_raw(cifar_dir=str(tmp_path / 'c'), download=False,
                 file_md5=None)
    assert str(victim) in str(error.value)
    assert 'truncated' in str(error.value)


def test_nothing_there_and_no_download(tmp_path):
    with pytest.raises(BranchyNetError) as error:
        load_raw(cifar_dir=str(tmp_path / 'empty'), download=False)
    message = str(error.value)
    assert 'cifar-10-python.tar.gz' in message
    assert 'cifar-10-batches-py' in message


def test_local_tarball_with_wrong_md5_is_named(tmp_path, cifar_src):
    # the synthetic tarball is not the official one: the default md5 refuses
    directory = cifar_src['tarball'].parent
    with pytest.raises(BranchyNetError) as error:
        load_raw(cifar_dir=str(directory), download=False)
    assert str(cifar_src['tarball']) in str(error.value)
    assert 'md5' in str(error.value)


def test_truncated_local_tarball_is_named(tmp_path, cifar_src):
    tarball = cifar_src['tarball']
    tarball.write_bytes(tarball.read_bytes()[:len(tarball.read_bytes()) // 2])
    for md5 in (cifar_src['md5'], None):       # caught by md5, or by gzip
        with pytest.raises(BranchyNetError) as error:
            load_raw(cifar_dir=str(tarball.parent), download=False,
                     md5=md5)
        assert str(tarball) in str(error.value)
        assert 'truncated' in str(error.value)


def test_tarball_without_a_batch_is_named(tmp_path):
    write_cifar_folder(tmp_path / 'src', n=4)
    (tmp_path / 'src' / 'cifar-10-batches-py' / 'data_batch_5').unlink()
    tarball = tmp_path / 'c' / 'cifar-10-python.tar.gz'
    md5 = write_tarball(tarball, tmp_path / 'src')
    with pytest.raises(BranchyNetError, match='data_batch_5'):
        load_raw(cifar_dir=str(tmp_path / 'c'), download=False, md5=md5)


def test_download_verifies_and_keeps_only_the_tarball(tmp_path, data_root,
                                                      cifar_src):
    urls = [(tmp_path / 'nowhere.tar.gz').as_uri(),
            cifar_src['tarball'].as_uri()]
    loaded = load_raw(urls=urls, md5=cifar_src['md5'])
    check_raw(loaded, cifar_src['arrays'])
    assert files_in(data_root / 'cifar10') == ['cifar-10-python.tar.gz']
    assert (data_root / 'cifar10' / 'cifar-10-python.tar.gz').read_bytes() \
        == cifar_src['tarball'].read_bytes()


def test_download_with_wrong_checksum_leaves_nothing(tmp_path, data_root,
                                                     cifar_src):
    with pytest.raises(BranchyNetError) as error:
        load_raw(urls=[cifar_src['tarball'].as_uri()], md5='0' * 32)
    message = str(error.value)
    assert 'cifar-10-python.tar.gz' in message and 'md5' in message
    assert files_in(data_root) == []


# ---------------------------------------------------------------------------
# The restricted unpickler
# ---------------------------------------------------------------------------

class _Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_restricted_unpickler_refuses_os_system(tmp_path):
    marker = tmp_path / 'pwned'
    evil = pickle.dumps({b'data': _Evil('touch %s' % marker),
                         b'labels': [0]}, protocol=2)
    assert b'system' in evil
    with pytest.raises(pickle.UnpicklingError, match='system'):
        restricted_loads(evil)
    # as a batch file, in a folder and in a tarball: a clear error
    write_cifar_folder(tmp_path / 'c', n=2)
    victim = tmp_path / 'c' / 'cifar-10-batches-py' / 'data_batch_1'
    victim.write_bytes(evil)
    with pytest.raises(BranchyNetError) as error:
        load_raw(cifar_dir=str(tmp_path / 'c'), download=False,
                 file_md5=None)
    assert str(victim) in str(error.value) and 'system' in str(error.value)
    md5 = write_tarball(tmp_path / 't' / 'cifar-10-python.tar.gz',
                        tmp_path / 'c')
    with pytest.raises(BranchyNetError, match='data_batch_1'):
        load_raw(cifar_dir=str(tmp_path / 't'), download=False, md5=md5)
    assert not marker.exists()


@pytest.mark.parametrize('payload', [
    b"cbuiltins\neval\n(S'1+1'\ntR.",
    b"c__builtin__\neval\n(S'1+1'\ntR.",
    b"cnumpy\nload\n(S'x'\ntR.",
    b"cposix\nsystem\n(S'true'\ntR.",
])
def test_restricted_unpickler_refuses_other_globals(payload):
    with pytest.raises(pickle.UnpicklingError, match='refused'):
        restricted_loads(payload)


def test_restricted_codecs_encode_is_latin1_only():
    assert restricted_loads(pickle.dumps(b'\xff\x00', protocol=2)) == \
        b'\xff\x00'
    bad = b"c_codecs\nencode\n(X\x01\x00\x00\x00aX\x04\x00\x00\x00zlibtR."
    with pytest.raises(pickle.UnpicklingError):
        restricted_loads(bad)


@pytest.mark.parametrize('batch, match', [
    ([1, 2], 'not a dict'),
    ({b'labels': [1]}, 'data'),
    ({b'data': numpy.zeros((2, 3072), numpy.float32), b'labels': [1, 2]},
     'uint8'),
    ({b'data': numpy.zeros((2, 100), numpy.uint8), b'labels': [1, 2]},
     'uint8'),
    ({b'data': numpy.zeros((2, 3072), numpy.uint8), b'labels': [1]},
     'labels'),
    ({b'data': numpy.zeros((2, 3072), numpy.uint8), b'labels': [1, 10]},
     '0..9'),
])
def test_bad_batch_content_is_named(batch, match):
    with pytest.raises(BranchyNetError, match=match) as error:
        cifar10.parse_batch(pickle.dumps(batch, protocol=2), 'where/b1')
    assert 'where/b1' in str(error.value)


# ---------------------------------------------------------------------------
# The recipes
# ---------------------------------------------------------------------------

def correlated(n, d, seed):
    rng = numpy.random.RandomState(seed)
    return rng.randn(n, d) @ rng.randn(d, d) * 20 + rng.rand(d) * 100


def whiten(x, mean, matrix):
    return (x.reshape(len(x), -1) - mean) @ matrix


@pytest.mark.parametrize('method', ['cov', 'svd', 'auto'])
def test_zca_whitens_to_identity_covariance(method):
    x = correlated(500, 12, 0)
    mean, matrix = zca_fit(x, chunk=64, method=method)
    numpy.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-12)
    numpy.testing.assert_allclose(matrix, matrix.T, atol=1e-12)
    white = whiten(x, mean, matrix)
    numpy.testing.assert_allclose(white.mean(axis=0), 0, atol=1e-9)
    numpy.testing.assert_allclose(white.T @ white / len(x), numpy.eye(12),
                                  atol=1e-9)
    # ZCA (not any whitening): the symmetric inverse square root
    cov = numpy.cov(x.T, bias=True)
    numpy.testing.assert_allclose(
        matrix, numpy.linalg.inv(scipy.linalg.sqrtm(cov).real), rtol=1e-6)


def test_zca_with_fewer_samples_than_dimensions_stays_finite():
    x = correlated(8, 12, 1)
    mean, matrix = zca_fit(x)                    # 'svd': rank 7 of 12
    assert numpy.isfinite(matrix).all()
    white = whiten(x, mean, matrix)
    eig = numpy.linalg.eigvalsh(white.T @ white / len(x))
    # whitened within the data's span: eigenvalues 1 (7 of them) or 0
    numpy.testing.assert_allclose(numpy.sort(eig)[-7:], 1, atol=1e-8)
    numpy.testing.assert_allclose(numpy.sort(eig)[:5], 0, atol=1e-8)


@pytest.mark.parametrize('x, method, message', [
    (correlated(20, 4, 2), 'eig', "method must be 'auto', 'cov' or 'svd'"),
    (correlated(1, 4, 2), 'auto', 'at least 2 samples, got 1')])
def test_zca_refuses_an_unknown_method_or_a_single_sample(x, method,
                                                          message):
    with pytest.raises(BranchyNetError, match=message):
        zca_fit(x, method=method)


def reference_zca(train, test):
    """The reference's cifar10.py recipe, in float64 (SVD of the
    covariance, per-image d -= d.min(); d /= d.max())."""
    data = train.reshape(len(train), -1).astype(numpy.float64)
    mean = data.mean(axis=0)
    mdata = data - mean
    sigma = mdata.T @ mdata / len(mdata)
    u, s, _ = scipy.linalg.svd(sigma)
    components = u @ numpy.diag(1 / numpy.sqrt(s)) @ u.T
    out = []
    for x in (mdata, test.reshape(len(test), -1) - mean):
        d = x @ components.T
        d -= d.min(axis=1, keepdims=True)
        d /= d.max(axis=1, keepdims=True)
        out.append(d)
    return out


def test_zca_recipe_matches_the_reference_and_spans_0_1():
    rng = numpy.random.RandomState(3)
    base = rng.randint(0, 256, size=(300, 3, 1, 1))
    train = numpy.clip(base + rng.randint(-40, 40, size=(300, 3, 4, 4)),
                       0, 255).astype(numpy.uint8)            # D = 48 < N
    test = rng.randint(0, 256, size=(20, 3, 4, 4)).astype(numpy.uint8)
    test[7] = train[11]
    train_x, test_x = build_pcifar10(train, test, 'zca', chunk=50)
    assert train_x.dtype == test_x.dtype == numpy.float32
    assert train_x.shape == train.shape and test_x.shape == test.shape
    for x in (train_x, test_x):
        flat = x.reshape(len(x), -1)
        assert (flat.min(axis=1) == 0).all() and (flat.max(axis=1) == 1).all()
    # the test set is transformed with the training statistics
    numpy.testing.assert_array_equal(test_x[7], train_x[11])
    want_train, want_test = reference_zca(train, test)
    numpy.testing.assert_allclose(train_x.reshape(300, -1), want_train,
                                  atol=1e-5)
    numpy.testing.assert_allclose(test_x.reshape(20, -1), want_test,
                                  atol=1e-5)


def test_minmax_maps_constant_images_to_zero():
    a = numpy.array([[3., 3., 3.], [1., 2., 5.], [-2., 0., -1.]])
    with numpy.errstate(all='raise'):
        out = minmax_rows(a)
    numpy.testing.assert_array_equal(out, [[0, 0, 0], [0, .25, 1],
                                           [0, 1, .5]])


def test_gcn_recipe():
    rng = numpy.random.RandomState(4)
    train = rng.randint(0, 256, size=(400, 3, 4, 4)).astype(numpy.uint8)
    test = rng.randint(0, 256, size=(10, 3, 4, 4)).astype(numpy.uint8)
    test[2] = train[9]
    with numpy.errstate(all='raise'):
        train_x, test_x = build_pcifar10(train, test, 'gcn', chunk=64)
    assert train_x.dtype == numpy.float32 and train_x.shape == train.shape
    flat = train_x.reshape(400, -1).astype(numpy.float64)
    numpy.testing.assert_allclose(flat.std(axis=1, ddof=1), 1, rtol=1e-5)
    numpy.testing.assert_allclose(flat.mean(axis=1), 0, atol=1e-6)
    # per-pixel training mean ~0 (exactly 0 before the per-image division)
    assert abs(flat.mean(axis=0)).max() < 0.1
    numpy.testing.assert_array_equal(test_x[2], train_x[9])
    # the reference's numbers: /255, - pixel mean, GCN(use_std=True)
    data = train.reshape(400, -1) / 255.
    data -= data.mean(axis=0)
    data -= data.mean(axis=1, keepdims=True)
    norm = data.std(axis=1, ddof=1)
    norm[norm < 1e-8] = 1
    numpy.testing.assert_allclose(flat, data / norm[:, None], atol=1e-5)


def test_gcn_leaves_flat_images_undivided():
    # an image equal to the pixel mean plus a constant has std 0: it maps to
    # zeros instead of being divided by zero
    pixel_mean = numpy.linspace(0, 0.5, 12)
    rows = numpy.stack([pixel_mean * 255 + 30, numpy.arange(12.)])
    with numpy.errstate(all='raise'):
        out = normalisation.gcn_rows(rows, pixel_mean)
    numpy.testing.assert_allclose(out[0], 0, atol=1e-12)
    numpy.testing.assert_allclose(out[1].std(ddof=1), 1)


def test_unknown_recipe():
    x = numpy.zeros((4, 3, 2, 2), numpy.uint8)
    with pytest.raises(BranchyNetError, match='recipe'):
        build_pcifar10(x, x, 'pca')
    with pytest.raises(BranchyNetError, match='recipe'):
        get_pcifar10('auto', recipe='pca')


# ---------------------------------------------------------------------------
# pcifar10/data.npz
# ---------------------------------------------------------------------------

@pytest.fixture
def cifar_in_root(data_root, cifar_src):
    """The synthetic tarball at ``<data root>/cifar10``."""
    target = data_root / 'cifar10' / 'cifar-10-python.tar.gz'
    target.parent.mkdir()
    target.write_bytes(cifar_src['tarball'].read_bytes())
    return cifar_src


def test_get_pcifar10_builds_data_npz_and_sidecar(data_root, cifar_in_root,
                                                  monkeypatch):
    md5 = cifar_in_root['md5']
    x_train, y_train, x_test, y_test = get_pcifar10(recipe='zca', md5=md5)
    raw = cifar_in_root['arrays']
    assert x_train.shape == (200, 3, 32, 32) and x_test.shape == (40, 3, 32,
                                                                  32)
    assert x_train.dtype == x_test.dtype == numpy.float32
    numpy.testing.assert_array_equal(y_train, raw[1])
    numpy.testing.assert_array_equal(y_test, raw[3])
    assert y_train.dtype == numpy.int32
    flat = x_train.reshape(200, -1)
    assert (flat.min(axis=1) == 0).all() and (flat.max(axis=1) == 1).all()
    assert files_in(data_root / 'pcifar10') == ['data.json', 'data.npz']
    with numpy.load(data_root / 'pcifar10' / 'data.npz') as npz:
        assert sorted(npz.files) == ['test_x', 'test_y', 'train_x',
                                     'train_y']
        numpy.testing.assert_array_equal(npz['train_x'], x_train)
        assert npz['train_y'].dtype == numpy.int32
    meta = json.loads((data_root / 'pcifar10' / 'data.json').read_text())
    assert meta['recipe'] == 'zca'
    assert meta['source']['kind'] == 'tarball'
    assert meta['source']['sha256'] == hashlib.sha256(
        cifar_in_root['tarball'].read_bytes()).hexdigest()
    assert meta['shapes'] == {'train_x': [200, 3, 32, 32], 'train_y': [200],
                              'test_x': [40, 3, 32, 32], 'test_y': [40]}
    assert meta['branchynet_version'] == __version__
    # the second call (and load_dataset) reads data.npz and builds nothing
    monkeypatch.setattr(pcifar10, 'build_pcifar10', _fail)
    for loaded in (get_pcifar10(), load_dataset('pcifar10'),
                   load_dataset('pcifar10', str(data_root))):
        numpy.testing.assert_array_equal(loaded[0], x_train)
        numpy.testing.assert_array_equal(loaded[3], y_test)


def test_pcifar10_from_an_extracted_folder(tmp_path, data_root):
    _, file_md5 = write_cifar_folder(tmp_path / 'c', n=6)
    out = tmp_path / 'p' / 'pcifar10'
    x_train = get_pcifar10(str(out.parent), recipe='gcn',
                           cifar_dir=str(tmp_path / 'c'), file_md5=file_md5,
                           download=False)[0]
    assert x_train.shape == (30, 3, 32, 32)
    meta = json.loads((out / 'data.json').read_text())
    assert meta['recipe'] == 'gcn' and meta['source']['kind'] == 'folder'
    folder = tmp_path / 'c' / 'cifar-10-batches-py'
    assert meta['source']['sha256'] == {
        n: hashlib.sha256((folder / n).read_bytes()).hexdigest()
        for n in BATCHES}


def test_pcifar10_says_what_it_was_built_from(tmp_path, data_root,
                                             cifar_in_root):
    """What recheck compares: the source's kind in words the same on every
    machine (the tarball and its folder hold the same batches), and the
    recipe; MNIST's verified files and a user's data record none."""
    assert dataset_origin('pcifar10') == {'built_from': None, 'recipe': None}
    get_pcifar10(recipe='zca', md5=cifar_in_root['md5'])
    batches = {'built_from': 'the CIFAR-10 python batches', 'recipe': 'zca'}
    assert dataset_origin('pcifar10') == batches
    assert dataset_origin('pcifar10', str(data_root)) == batches
    _, file_md5 = write_cifar_folder(tmp_path / 'c', n=6)
    get_pcifar10(str(tmp_path / 'p'), recipe='gcn', download=False,
                 cifar_dir=str(tmp_path / 'c'), file_md5=file_md5)
    assert dataset_origin('pcifar10', str(tmp_path / 'p')) == dict(
        batches, recipe='gcn')
    sidecar = data_root / 'pcifar10' / 'data.json'
    for text in ('{"recipe": "zca", "source": 3}', 'not json',
                 '{"recipe": ["zca"], "source": {"kind": []}}',
                 '{"source": {"kind": "floppy"}}', '[1]'):
        sidecar.write_text(text)
        assert dataset_origin('pcifar10') == {
            'built_from': 'a data.npz of unrecorded origin',
            'recipe': 'zca' if text.startswith('{"recipe": "zca"') else None}
    sidecar.unlink()
    assert dataset_origin('pcifar10') == {
        'built_from': 'a data.npz of unrecorded origin', 'recipe': None}
    assert dataset_origin('mnist') is None
    npz = tmp_path / 'mine.npz'
    numpy.savez(npz, **good_arrays())
    assert dataset_origin('npz:%s' % npz) is None


def test_recipe_mismatch_with_sidecar(data_root, cifar_in_root):
    path = prepare_pcifar10(recipe='gcn', md5=cifar_in_root['md5'])
    assert path == str(data_root / 'pcifar10' / 'data.npz')
    with pytest.raises(BranchyNetError) as error:
        get_pcifar10(recipe='zca')
    message = str(error.value)
    assert "'gcn'" in message and 'delete' in message
    assert 'data.json' in message
    with pytest.raises(BranchyNetError, match='gcn'):
        prepare_pcifar10(recipe='zca')
    assert get_pcifar10(recipe='gcn')[0].shape == (200, 3, 32, 32)
    assert get_pcifar10(recipe=None)[0].shape == (200, 3, 32, 32)
    # force rebuilds with the asked recipe
    prepare_pcifar10(recipe='zca', force=True, md5=cifar_in_root['md5'])
    meta = json.loads((data_root / 'pcifar10' / 'data.json').read_text())
    assert meta['recipe'] == 'zca'
    assert get_pcifar10(recipe='zca')[0].max() == 1


def test_prepare_does_not_rebuild_without_force(data_root, cifar_in_root,
                                                monkeypatch):
    path = prepare_pcifar10(recipe='gcn', md5=cifar_in_root['md5'])
    stamp = os.stat(path).st_mtime_ns
    monkeypatch.setattr(pcifar10, 'build_pcifar10', _fail)
    assert prepare_pcifar10(recipe='gcn') == path
    assert os.stat(path).st_mtime_ns == stamp
    with pytest.raises(RuntimeError):
        prepare_pcifar10(recipe='gcn', force=True, md5=cifar_in_root['md5'])
    assert os.stat(path).st_mtime_ns == stamp        # old file intact


def _fail(*args, **kwargs):
    raise RuntimeError('builder failed midway')


def test_failed_build_leaves_nothing(data_root, cifar_in_root, monkeypatch):
    monkeypatch.setattr(pcifar10, 'build_pcifar10', _fail)
    with pytest.raises(RuntimeError):
        get_pcifar10(recipe='gcn', md5=cifar_in_root['md5'])
    assert files_in(data_root / 'pcifar10') == []


def test_failed_write_leaves_nothing(data_root, cifar_in_root, monkeypatch):
    def partial_savez(f, **arrays):
        f.write(b'PK\x03\x04 half a zip')
        raise OSError('disk full')
    monkeypatch.setattr(pcifar10.numpy, 'savez', partial_savez)
    with pytest.raises(OSError, match='disk full'):
        get_pcifar10(recipe='gcn', md5=cifar_in_root['md5'])
    assert files_in(data_root / 'pcifar10') == []


def test_missing_everything_names_both(data_root):
    with pytest.raises(BranchyNetError) as error:
        get_pcifar10(download=False)
    assert 'cifar-10-python.tar.gz' in str(error.value)
    assert files_in(data_root / 'pcifar10') == []


def good_arrays(n=6, m=4):
    rng = numpy.random.RandomState(0)
    return dict(train_x=rng.rand(n, 3, 32, 32).astype(numpy.float32),
                train_y=numpy.arange(n) % 10,
                test_x=rng.rand(m, 3, 32, 32).astype(numpy.float32),
                test_y=numpy.arange(m) % 10)


def test_user_npz_is_accepted_as_is(tmp_path, data_root, monkeypatch):
    arrays = good_arrays()
    arrays['train_x'] = arrays['train_x'].astype(numpy.float64) * 7 - 3
    arrays['train_y'] = arrays['train_y'].astype(numpy.int64)
    arrays['test_y'] = arrays['test_y'].astype(numpy.uint8)
    (tmp_path / 'mine' / 'pcifar10').mkdir(parents=True)
    numpy.savez(tmp_path / 'mine' / 'pcifar10' / 'data.npz',
                extra=numpy.zeros(3),
                **arrays)
    monkeypatch.setattr(pcifar10, 'build_pcifar10', _fail)
    for recipe in ('zca', 'gcn', None):        # no data.json: any recipe
        x_train, y_train, x_test, y_test = get_pcifar10(
            str(tmp_path / 'mine'), recipe=recipe, download=False)
        assert x_train.dtype == x_test.dtype == numpy.float32
        assert y_train.dtype == y_test.dtype == numpy.int32
        numpy.testing.assert_array_equal(
            x_train, arrays['train_x'].astype(numpy.float32))
        numpy.testing.assert_array_equal(y_test, arrays['test_y'])
    assert files_in(tmp_path / 'mine') == ['pcifar10/data.npz']


def _npz(path, **changes):
    arrays = good_arrays()
    arrays.update(changes)
    numpy.savez(path, **{k: v for k, v in arrays.items() if v is not None})


@pytest.mark.parametrize('changes, match', [
    (dict(test_y=None), 'missing key.*test_y'),
    (dict(train_x=numpy.zeros((6, 32, 32, 3), numpy.float32)), 'train_x'),
    (dict(test_x=numpy.zeros((4, 3, 32, 32), numpy.uint8)), 'float32'),
    (dict(train_y=numpy.arange(5)), 'train_y'),
    (dict(train_y=numpy.zeros((6, 1), int)), 'train_y'),
    (dict(train_y=numpy.zeros(6, numpy.float32)), 'integer'),
    (dict(test_y=numpy.array([0, 1, 10, 2])), r'0\.\.9'),
    (dict(test_y=numpy.array([0, -1, 3, 2])), r'0\.\.9'),
    (dict(train_x=numpy.full((6, 3, 32, 32), numpy.nan, numpy.float32)),
     'NaN'),
    (dict(test_x=numpy.full((4, 3, 32, 32), numpy.inf)), 'infinite'),
    (dict(test_x=numpy.full((4, 3, 32, 32), 1e300)), 'infinite'),
    (dict(train_x=numpy.zeros((0, 3, 32, 32), numpy.float32),
          train_y=numpy.zeros(0, int)), 'train_x'),
])
def test_bad_npz_is_refused(tmp_path, changes, match):
    path = tmp_path / 'pcifar10' / 'data.npz'
    path.parent.mkdir()
    _npz(path, **changes)
    with pytest.raises(BranchyNetError, match=match) as error:
        get_pcifar10(str(tmp_path), download=False)
    assert error.value.args[0].endswith('regenerate it from CIFAR-10')
    assert str(path) in str(error.value)


def test_object_and_corrupt_npz_are_refused(tmp_path):
    path = tmp_path / 'data.npz'
    _npz(path, test_y=numpy.array([0, 1, None, 2], dtype=object))
    with pytest.raises(BranchyNetError, match='pickle'):
        load_pcifar10_npz(str(path))
    path.write_bytes(b'not a zip file at all')
    with pytest.raises(BranchyNetError, match=str(path)):
        load_pcifar10_npz(str(path))
    numpy.save(tmp_path / 'x.npy', numpy.zeros(3))
    os.replace(tmp_path / 'x.npy', path)
    with pytest.raises(BranchyNetError, match='not a complete npz archive'):
        load_pcifar10_npz(str(path))


def test_unreadable_sidecar_is_named(tmp_path):
    (tmp_path / 'pcifar10').mkdir()
    _npz(tmp_path / 'pcifar10' / 'data.npz')
    (tmp_path / 'pcifar10' / 'data.json').write_text('{not json')
    with pytest.raises(BranchyNetError, match='data.json'):
        get_pcifar10(str(tmp_path), download=False)
