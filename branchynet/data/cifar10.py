"""CIFAR-10 and "pcifar10", the preprocessed CIFAR-10 that B-AlexNet and
B-ResNet-110 train on.

Two layers:

- :func:`get_cifar10_raw` reads the official CIFAR-10 *python* batches, as
  uint8 ``(N, 3, 32, 32)`` images and int32 labels. It looks in the CIFAR
  folder (by default ``<data root>/cifar10``) for the official tarball
  ``cifar-10-python.tar.gz`` (checked against its published md5) or, failing
  that, an extracted ``cifar-10-batches-py/`` folder (each batch checked
  against its md5); when neither is there it downloads the tarball (verified
  before it is kept). The batches are Python pickles (the official format);
  they are read with a restricted unpickler that only builds dicts, lists,
  strings, numbers and numpy arrays, so a doctored file cannot run code.
- :func:`get_pcifar10` returns pcifar10, float32 ``(N, 3, 32, 32)`` images.
  The reference trains on a file ``pcifar10/data.npz`` that was never
  published; this module regenerates it from the CIFAR-10 batches with a
  named recipe (:data:`RECIPES`), writes it atomically with a sidecar
  ``data.json`` saying how it was made, and accepts a user's own
  ``data.npz`` (same four keys) after validating it.

The recipes (see :func:`build_pcifar10`):

- ``'zca'`` (default; the reference's ``datasets/cifar10.py``): ZCA whitening
  fitted on the raw 0-255 training vectors (3072-d; mean subtracted;
  covariance over the training set divided by N; eigendecomposition; no
  epsilon), applied to the training and test sets with the training mean and
  matrix; then every image is rescaled by its own min and max to [0, 1].
- ``'gcn'`` (the reference's ``datasets/cifar10gcn.py``): pixels / 255, minus
  the per-pixel training mean, then global contrast normalisation of every
  image: minus its own mean, divided by its own standard deviation
  (``ddof=1``; an image whose std is below 1e-8 is left undivided).

Folders (``'auto'`` resolves against :func:`~branchynet.data.get_data_root`):

- ``<data root>/cifar10``: ``cifar-10-python.tar.gz`` and/or
  ``cifar-10-batches-py/``;
- ``<data root>/pcifar10``: ``data.npz`` (keys ``train_x``, ``train_y``,
  ``test_x``, ``test_y``) and ``data.json``.
"""
import datetime
import hashlib
import io
import json
import os
import pickle
import shutil
import tarfile
import zipfile
import zlib

import numpy

from branchynet.data.download import (atomic_path, dataset_dir,
                                      download_verified, get_data_root,
                                      sha256_of, write_json_atomic)
from branchynet.errors import BranchyNetError

#: name of the official tarball of the python batches
CIFAR10_TARBALL = 'cifar-10-python.tar.gz'
#: the folder the tarball extracts to
CIFAR10_FOLDER = 'cifar-10-batches-py'
#: mirrors of the tarball, tried in order
CIFAR10_URLS = ('https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz',)
#: md5 of the tarball, as published on https://www.cs.toronto.edu/~kriz/cifar.html
CIFAR10_MD5 = 'c58f30108f718f92721af3b95e74349a'
#: md5 of the extracted batch files, as published with torchvision's
#: ``CIFAR10`` data set (``torchvision/datasets/cifar.py``)
CIFAR10_FILE_MD5 = {
    'data_batch_1': 'c99cafc152244af753f735de768cd75f',
    'data_batch_2': 'd4bba439e000b95fd0a9bffe97cbabec',
    'data_batch_3': '54ebc095f3ab1f0389bbae665268c751',
    'data_batch_4': '634d18415352ddfa80567beed471001a',
    'data_batch_5': '482c414d41f54cd18b22e5b47cb7c3cb',
    'test_batch': '40351d587109b95175f43aff81a1287e',
}
TRAIN_BATCHES = tuple('data_batch_%d' % i for i in range(1, 6))
TEST_BATCH = 'test_batch'

#: the pcifar10 recipes :func:`build_pcifar10` knows
RECIPES = ('zca', 'gcn')
RECIPE_DESCRIPTIONS = {
    'zca': 'ZCA whitening fitted on the raw 0-255 training vectors '
           '(covariance over the training set, no epsilon), applied to train '
           'and test; then each image min-max rescaled to [0, 1] '
           '(reference datasets/cifar10.py)',
    'gcn': 'pixels / 255, minus the per-pixel training mean, then each image '
           'minus its mean and divided by its std (ddof=1) '
           '(reference datasets/cifar10gcn.py)',
}
PCIFAR10_KEYS = ('train_x', 'train_y', 'test_x', 'test_y')
IMAGE_SHAPE = (3, 32, 32)
N_CLASSES = 10
_CHUNK = 2048


# ---------------------------------------------------------------------------
# Restricted unpickling of the official batches
# ---------------------------------------------------------------------------

def _latin1_encode(text, encoding='latin1', errors='strict'):
    """Stand-in for ``_codecs.encode``: Python 3 writes bytes that way in
    protocol-2 pickles; only latin-1, the encoding it uses, is allowed."""
    if not isinstance(text, str) or encoding.lower().replace('-', '') not in (
            'latin1', 'latin_1', 'iso88591'):
        raise pickle.UnpicklingError('codecs.encode(%r) is not allowed'
                                     % (encoding,))
    return text.encode('latin1', errors)


def _numpy_reconstruct():
    try:  # numpy >= 2 (1.26 has it too); keeps numpy 2 from warning
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - older numpy
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


#: the globals a CIFAR-10 batch may reference: numpy array reconstruction
#: (what the official Python 2 files hold) and the helpers Python 3 uses for
#: bytes in protocol-2 pickles
_ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'): _numpy_reconstruct,
    ('numpy._core.multiarray', '_reconstruct'): _numpy_reconstruct,
    ('numpy', 'ndarray'): lambda: numpy.ndarray,
    ('numpy', 'dtype'): lambda: numpy.dtype,
    ('_codecs', 'encode'): lambda: _latin1_encode,
    ('codecs', 'encode'): lambda: _latin1_encode,
    ('__builtin__', 'bytes'): lambda: bytes,
    ('builtins', 'bytes'): lambda: bytes,
}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` refuses every global but numpy's array
    reconstruction (and latin-1 bytes), so loading never imports or calls
    anything else."""

    def find_class(self, module, name):
        factory = _ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(
                'refused to load global %s.%s (a CIFAR-10 batch only holds '
                'numpy arrays, lists, strings and numbers)' % (module, name))
        return factory()


def restricted_loads(data):
    """Unpickle ``data`` (bytes) with the restricted unpickler.

    Strings of Python 2 pickles come back as ``bytes`` (``encoding='bytes'``,
    as the official batches are read in Python 3).

    Raises:
        pickle.UnpicklingError: the pickle references a global that is not
            allowed (nothing was imported or called).
    """
    return _BatchUnpickler(io.BytesIO(data), encoding='bytes').load()


def _field(batch, key):
    for k in (key.encode('ascii'), key):
        if k in batch:
            return batch[k]
    raise KeyError(key)


def parse_batch(data, where):
    """Images and labels of one CIFAR-10 python batch.

    Args:
        data (bytes): the pickled batch: a dict with ``data`` (uint8
            ``(n, 3072)``, rows of 1024 red, 1024 green, 1024 blue values in
            row-major order), ``labels`` (n ints in 0..9), ``batch_label``
            and ``filenames``.
        where (str): the file's name, used in error messages.

    Returns:
        tuple: uint8 ``(n, 3, 32, 32)`` images, int32 ``(n,)`` labels.

    Raises:
        BranchyNetError: not a (valid) CIFAR-10 batch; names ``where``.
    """
    try:
        batch = restricted_loads(data)
    except pickle.UnpicklingError as e:
        raise BranchyNetError('CIFAR-10 file %s is corrupt or not a CIFAR-10 '
                              'batch (%s)' % (where, e)) from None
    except Exception as e:  # truncated (EOFError), garbage, bad arrays ...
        raise BranchyNetError('CIFAR-10 file %s is corrupt or truncated '
                              '(%s: %s)' % (where, type(e).__name__, e)) \
            from None
    if not isinstance(batch, dict):
        raise BranchyNetError(
            'CIFAR-10 file %s is not a CIFAR-10 batch (holds a %s, not a dict)'
            % (where, type(batch).__name__))
    try:
        images, labels = _field(batch, 'data'), _field(batch, 'labels')
    except KeyError as e:
        raise BranchyNetError('CIFAR-10 file %s is not a CIFAR-10 batch (no '
                              '%s entry)' % (where, e)) from None
    size = int(numpy.prod(IMAGE_SHAPE))
    if (not isinstance(images, numpy.ndarray) or images.dtype != numpy.uint8
            or images.ndim != 2 or images.shape[1] != size):
        raise BranchyNetError(
            'CIFAR-10 file %s: data should be a uint8 (n, %d) array, got %s'
            % (where, size, _describe(images)))
    try:
        labels = numpy.asarray(labels)
    except Exception:
        labels = numpy.asarray([None])
    if (labels.ndim != 1 or not numpy.issubdtype(labels.dtype, numpy.integer)
            or len(labels) != len(images)):
        raise BranchyNetError(
            'CIFAR-10 file %s: labels should be %d integers, got %s'
            % (where, len(images), _describe(labels)))
    if len(labels) and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise BranchyNetError('CIFAR-10 file %s: labels outside 0..%d'
                              % (where, N_CLASSES - 1))
    return (numpy.ascontiguousarray(images).reshape((-1,) + IMAGE_SHAPE),
            labels.astype(numpy.int32))


def _describe(a):
    if isinstance(a, numpy.ndarray):
        return '%s %s' % (a.dtype, a.shape)
    return type(a).__name__


# ---------------------------------------------------------------------------
# The CIFAR-10 python batches
# ---------------------------------------------------------------------------

def _hashes(path, chunk=1 << 20):
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def _check_tarball_md5(path, md5):
    """Return the tarball's sha256; raise if its md5 is not ``md5``."""
    got_md5, sha = _hashes(path)
    if md5 is not None and got_md5 != md5.lower():
        raise BranchyNetError(
            'CIFAR-10 tarball %s has the wrong content (md5 %s, expected %s: '
            'truncated or not the official file); delete it and download '
            'again' % (path, got_md5, md5))
    return sha


def _read_tarball(path):
    """``{batch name: bytes}`` of the six batches in the tarball at path."""
    names = TRAIN_BATCHES + (TEST_BATCH,)
    contents = {}
    try:
        with tarfile.open(path, 'r:gz') as tar:
            for member in tar:
                folder, _, name = member.name.rpartition('/')
                if (name in names and member.isfile()
                        and folder.endswith(CIFAR10_FOLDER)):
                    contents[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise BranchyNetError('CIFAR-10 tarball %s is corrupt or truncated '
                              '(%s); delete it and download again'
                              % (path, e)) from None
    missing = [n for n in names if n not in contents]
    if missing:
        raise BranchyNetError('CIFAR-10 tarball %s lacks %s' % (
            path, ', '.join('%s/%s' % (CIFAR10_FOLDER, n) for n in missing)))
    return contents


def _read_folder(folder, file_md5):
    """``{batch name: bytes}`` of the six batch files in ``folder``."""
    contents = {}
    names = TRAIN_BATCHES + (TEST_BATCH,)
    missing = [n for n in names
               if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        raise BranchyNetError(
            'CIFAR-10 folder %s lacks %s; it should hold %s (extract %s '
            'there, or put the tarball beside it)'
            % (folder, ', '.join(missing), ', '.join(names), CIFAR10_TARBALL))
    for name in names:
        path = os.path.join(folder, name)
        with open(path, 'rb') as f:
            data = f.read()
        if file_md5 is not None and name in file_md5:
            got = hashlib.md5(data).hexdigest()
            if got != file_md5[name].lower():
                raise BranchyNetError(
                    'CIFAR-10 file %s has the wrong content (md5 %s, expected '
                    '%s: truncated or not the official file); delete the '
                    'folder and extract %s again'
                    % (path, got, file_md5[name], CIFAR10_TARBALL))
        contents[name] = data
    return contents


def _fetch_tarball(directory, urls, md5):
    """Download the tarball into ``directory`` (verified); return its path."""
    def verify(path):
        _check_tarball_md5(path, md5)
    cached = download_verified(list(urls), verify, get_data_root())
    target = os.path.join(directory, CIFAR10_TARBALL)
    with atomic_path(target) as tmp:
        shutil.copyfile(cached, tmp)
    os.remove(cached)
    return target


def _load_cifar10(data_dir, download, urls, md5, file_md5):
    """The six batches parsed, plus where they came from (for data.json)."""
    directory = dataset_dir('cifar10', data_dir)
    tarball = os.path.join(directory, CIFAR10_TARBALL)
    folder = os.path.join(directory, CIFAR10_FOLDER)
    if not os.path.isfile(tarball) and os.path.isdir(folder):
        contents = _read_folder(folder, file_md5)
        source = {'kind': 'folder', 'path': CIFAR10_FOLDER,
                  'sha256': {n: sha256_of(d)
                             for n, d in sorted(contents.items())}}
        return _parse_all(contents, folder), source
    if not os.path.isfile(tarball):
        if not download:
            raise BranchyNetError(
                'CIFAR-10 is missing from %s: put the official %s (from %s) '
                'or its extracted %s/ folder there' % (
                    directory, CIFAR10_TARBALL, CIFAR10_URLS[0],
                    CIFAR10_FOLDER))
        try:
            tarball = _fetch_tarball(directory, urls, md5)
        except BranchyNetError as e:
            raise BranchyNetError(
                'CIFAR-10 is missing from %s (neither %s nor %s/) and %s. '
                'Put the official %s (or its extracted %s/ folder) there'
                % (directory, CIFAR10_TARBALL, CIFAR10_FOLDER, e,
                   CIFAR10_TARBALL, CIFAR10_FOLDER)) from None
    sha = _check_tarball_md5(tarball, md5)
    contents = _read_tarball(tarball)
    source = {'kind': 'tarball', 'path': CIFAR10_TARBALL, 'sha256': sha}
    return _parse_all(contents, tarball + ':' + CIFAR10_FOLDER), source


def _parse_all(contents, where):
    parsed = {name: parse_batch(data, '%s/%s' % (where, name))
              for name, data in contents.items()}
    x_train = numpy.concatenate([parsed[n][0] for n in TRAIN_BATCHES])
    y_train = numpy.concatenate([parsed[n][1] for n in TRAIN_BATCHES])
    x_test, y_test = parsed[TEST_BATCH]
    return x_train, y_train, x_test, y_test


def get_cifar10_raw(data_dir='auto', download=True, urls=CIFAR10_URLS,
                    md5=CIFAR10_MD5, file_md5=CIFAR10_FILE_MD5):
    """Load the CIFAR-10 python batches, downloading the tarball if allowed.

    The folder is searched for ``cifar-10-python.tar.gz`` first (read in
    place, never extracted), then for an extracted ``cifar-10-batches-py/``
    holding ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``.

    Args:
        data_dir (str): the CIFAR folder; ``'auto'`` is
            ``<data root>/cifar10``.
        download (bool): download the tarball when neither is there.
        urls (sequence of str): mirrors of the tarball, tried in order.
        md5 (str or None): expected md5 of the tarball (local or downloaded);
            ``None`` skips the check (the content is still validated).
        file_md5 (dict or None): batch name -> expected md5, for an extracted
            folder; ``None`` skips the check.

    Returns:
        tuple: ``(x_train, y_train, x_test, y_test)``: uint8
        ``(50000, 3, 32, 32)`` (RGB, values 0-255), int32 ``(50000,)`` in
        0..9, uint8 ``(10000, 3, 32, 32)``, int32 ``(10000,)``.

    Raises:
        BranchyNetError: the files are missing and could not be downloaded,
            or are truncated, corrupt or not the official ones; the message
            names the file. A download that fails its check is not kept.
    """
    arrays, _ = _load_cifar10(data_dir, download, urls, md5, file_md5)
    return arrays


# ---------------------------------------------------------------------------
# The pcifar10 recipes
# ---------------------------------------------------------------------------

def _flat(x):
    x = numpy.asarray(x)
    return x.reshape(len(x), -1)


def _map_rows(x, fn, chunk=_CHUNK, dtype=numpy.float32):
    """``fn`` applied to row chunks of 2-d ``x``, gathered in a ``dtype``
    array (so the float64 work never holds more than a chunk)."""
    out = numpy.empty(x.shape, dtype)
    for i in range(0, len(x), chunk):
        out[i:i + chunk] = fn(x[i:i + chunk].astype(numpy.float64))
    return out


def zca_fit(x, chunk=_CHUNK, method='auto'):
    """Fit ZCA whitening on the rows of ``x``.

    The covariance is taken over the rows, divided by N (as the reference
    does), in float64; the matrix is ``V diag(lambda ** -1/2) V^T`` from its
    eigendecomposition (the reference's SVD of the covariance gives the same
    matrix), with no epsilon. Eigenvalues at rounding level
    (``<= lambda_max * D * eps``), which only exist when the data do not span
    all D dimensions (e.g. fewer samples than dimensions), get 0 instead of
    an infinite gain: those directions are dropped rather than blown up. On
    CIFAR-10 (50000 x 3072 raw pixels) the covariance has full rank and
    nothing is dropped.

    Args:
        x (array): ``(N, ...)``, any numeric dtype; rows are flattened.
        chunk (int): rows converted to float64 at a time.
        method (str): ``'cov'`` (eigendecomposition of the D x D covariance,
            accumulated over row chunks), ``'svd'`` (thin SVD of the centred
            N x D data, cheaper when N < D), or ``'auto'`` (``'svd'`` when
            N <= D). Both give the same matrix up to rounding.

    Returns:
        tuple: ``(mean, matrix)``: float64 ``(D,)`` and the symmetric float64
        ``(D, D)`` whitening matrix; whitened rows are
        ``(row - mean) @ matrix`` (see :func:`zca_apply`).
    """
    x = _flat(x)
    n, d = x.shape
    if n < 2:
        raise BranchyNetError('ZCA needs at least 2 samples, got %d' % n)
    mean = numpy.zeros(d)
    for i in range(0, n, chunk):
        mean += x[i:i + chunk].sum(axis=0, dtype=numpy.float64)
    mean /= n
    if method == 'auto':
        method = 'svd' if n <= d else 'cov'
    if method == 'cov':
        cov = numpy.zeros((d, d))
        for i in range(0, n, chunk):
            c = x[i:i + chunk].astype(numpy.float64)
            c -= mean
            cov += c.T @ c  # BLAS syrk
        cov /= n
        eigval, eigvec = numpy.linalg.eigh(cov)
        del cov
    elif method == 'svd':
        c = x.astype(numpy.float64) - mean
        _, s, vt = numpy.linalg.svd(c, full_matrices=False)
        eigval, eigvec = s ** 2 / n, vt.T
    else:
        raise BranchyNetError("ZCA method must be 'auto', 'cov' or 'svd', "
                              "got %r" % (method,))
    top = max(float(eigval.max()), 0.0)
    keep = eigval > top * d * numpy.finfo(numpy.float64).eps
    gain = numpy.zeros_like(eigval)
    gain[keep] = 1 / numpy.sqrt(eigval[keep])
    matrix = (eigvec * gain) @ eigvec.T
    return mean, (matrix + matrix.T) / 2


def zca_apply(x, mean, matrix, chunk=_CHUNK, dtype=numpy.float32):
    """Whiten the rows of ``x`` with :func:`zca_fit`'s ``(mean, matrix)``.

    Returns:
        array: ``(N, D)`` of ``dtype``: ``(row - mean) @ matrix``, computed
        in float64.
    """
    return _map_rows(_flat(x), lambda c: (c - mean) @ matrix, chunk, dtype)


def minmax_rows(a):
    """Rescale every row of 2-d float ``a`` by its own min and max to [0, 1].

    Each row's minimum maps to exactly 0 and its maximum to exactly 1. A
    constant row (zero range) maps to all zeros instead of dividing by zero
    (the reference would produce NaN there).
    """
    lo = a.min(axis=1, keepdims=True)
    span = a.max(axis=1, keepdims=True) - lo
    span[span == 0] = 1  # constant rows: (a - lo) is already all zero
    return (a - lo) / span


def gcn_rows(a, pixel_mean, min_divisor=1e-8):
    """The ``'gcn'`` recipe on 2-d raw pixel rows ``a`` (float64).

    ``a / 255 - pixel_mean``, then each row minus its own mean, divided by
    its own std (``ddof=1``); a row whose std is below ``min_divisor`` (a
    constant image) is not divided, so it maps to zeros.
    """
    a = a / 255 - pixel_mean
    a -= a.mean(axis=1, keepdims=True)
    std = a.std(axis=1, ddof=1 if a.shape[1] > 1 else 0, keepdims=True)
    std[std < min_divisor] = 1
    a /= std
    return a


def build_pcifar10(x_train, x_test, recipe='zca', chunk=_CHUNK):
    """Preprocess CIFAR-10 images with a pcifar10 recipe.

    Statistics (mean, whitening matrix) come from the training set only and
    are applied unchanged to the test set. Work is done in float64 over
    chunks of ``chunk`` images; only the float32 results are held in full.

    Args:
        x_train (array): raw training images, ``(N, 3, 32, 32)`` uint8 as
            :func:`get_cifar10_raw` returns them (any ``(N, ...)`` numeric
            array works; rows are flattened).
        x_test (array): raw test images, same trailing shape.
        recipe (str): ``'zca'`` or ``'gcn'``; see the module docstring.

    Returns:
        tuple: float32 ``train_x`` and ``test_x``, shaped like the inputs.
        With ``'zca'`` every image spans exactly [0, 1] (a constant one is
        all 0).
    """
    _check_recipe(recipe)
    x_train, x_test = numpy.asarray(x_train), numpy.asarray(x_test)
    if x_train.ndim < 2 or x_test.shape[1:] != x_train.shape[1:]:
        raise BranchyNetError('training and test images must be (N, ...) with '
                              'the same image shape, got %s and %s'
                              % (x_train.shape, x_test.shape))
    flat_train, flat_test = _flat(x_train), _flat(x_test)
    if recipe == 'zca':
        mean, matrix = zca_fit(flat_train, chunk)

        def fn(c):
            return minmax_rows((c - mean) @ matrix)
    else:
        if len(flat_train) < 1:
            raise BranchyNetError('no training images')
        pixel_mean = numpy.zeros(flat_train.shape[1])
        for i in range(0, len(flat_train), chunk):
            pixel_mean += flat_train[i:i + chunk].sum(axis=0,
                                                      dtype=numpy.float64)
        pixel_mean /= 255 * len(flat_train)

        def fn(c):
            return gcn_rows(c, pixel_mean)
    return (_map_rows(flat_train, fn, chunk).reshape(x_train.shape),
            _map_rows(flat_test, fn, chunk).reshape(x_test.shape))


def _check_recipe(recipe):
    if recipe not in RECIPES:
        raise BranchyNetError('unknown pcifar10 recipe %r (choose one of %s)'
                              % (recipe, ', '.join(RECIPES)))


# ---------------------------------------------------------------------------
# pcifar10/data.npz
# ---------------------------------------------------------------------------

def load_pcifar10_npz(path):
    """Load and validate a pcifar10 ``data.npz`` (never unpickles).

    Accepted: keys ``train_x``, ``train_y``, ``test_x``, ``test_y`` (others
    are ignored); images ``(N, 3, 32, 32)`` of any float dtype, cast to
    float32 (float64 files are accepted; values must be finite after the
    cast); labels ``(N,)`` of any integer dtype with values in 0..9, cast to
    int32. The image values are not otherwise checked, so a user's own
    preprocessing is used as is.

    Returns:
        tuple: ``(train_x, train_y, test_x, test_y)``: float32, int32,
        float32, int32.

    Raises:
        BranchyNetError: the file is unreadable or breaks a rule above; the
            message names the file and the key.
    """
    def bad(msg):
        return BranchyNetError(
            'pcifar10 file %s: %s. Fix it, or delete it (and data.json) to '
            'regenerate it from CIFAR-10' % (path, msg))

    try:
        npz = numpy.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile,
            zlib.error) as e:
        raise bad('unreadable or corrupt (%s)' % e) from None
    if not isinstance(npz, numpy.lib.npyio.NpzFile):
        raise bad('not an .npz archive')
    try:
        with npz:
            missing = [k for k in PCIFAR10_KEYS if k not in npz.files]
            if missing:
                raise bad('missing key(s) %s (it holds %s)' % (
                    ', '.join(missing), ', '.join(npz.files) or 'nothing'))
            arrays = {k: npz[k] for k in PCIFAR10_KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile,
            zlib.error) as e:
        raise bad('unreadable or corrupt (%s)' % e) from None
    out = []
    for xk, yk in (('train_x', 'train_y'), ('test_x', 'test_y')):
        x, y = arrays[xk], arrays[yk]
        if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE or len(x) == 0:
            raise bad('%s should be (N, %d, %d, %d) images, got %s'
                      % ((xk,) + IMAGE_SHAPE + (x.shape,)))
        if not numpy.issubdtype(x.dtype, numpy.floating):
            raise bad('%s should hold preprocessed float32 images, got %s'
                      % (xk, x.dtype))
        with numpy.errstate(over='ignore'):  # too large -> inf, refused
            x = x.astype(numpy.float32, copy=False)
        # min/max propagate NaN and show inf, without a full boolean copy
        if not (numpy.isfinite(x.min()) and numpy.isfinite(x.max())):
            raise bad('%s holds NaN or infinite values' % xk)
        if y.shape != (len(x),):
            raise bad('%s should be (%d,) labels matching %s, got %s'
                      % (yk, len(x), xk, y.shape))
        if not numpy.issubdtype(y.dtype, numpy.integer):
            raise bad('%s should hold integer labels, got %s' % (yk, y.dtype))
        if y.min() < 0 or y.max() >= N_CLASSES:
            raise bad('%s has labels outside 0..%d (%d..%d)'
                      % (yk, N_CLASSES - 1, y.min(), y.max()))
        out += [x, y.astype(numpy.int32)]
    return tuple(out)


def _check_sidecar(directory, recipe):
    """Raise if ``data.json`` names a recipe other than ``recipe``."""
    path = os.path.join(directory, 'data.json')
    if recipe is None or not os.path.exists(path):
        return
    try:
        with open(path) as f:
            built = json.load(f).get('recipe')
    except (OSError, ValueError, AttributeError) as e:
        raise BranchyNetError('pcifar10 description %s is unreadable (%s); '
                              'delete it' % (path, e)) from None
    if built != recipe:
        raise BranchyNetError(
            'pcifar10 file %s was built with recipe %r (says %s), not %r: '
            'choose recipe %r, or delete data.npz and data.json (or rebuild '
            'with force) to build it with %r' % (
                os.path.join(directory, 'data.npz'), built, path, recipe,
                built, recipe))


def _build(directory, cifar_dir, recipe, download, urls, md5, file_md5):
    """Build pcifar10 into ``directory``; returns the four arrays."""
    from branchynet import __version__
    (x_train, y_train, x_test, y_test), source = _load_cifar10(
        cifar_dir, download, urls, md5, file_md5)
    train_x, test_x = build_pcifar10(x_train, x_test, recipe)
    arrays = dict(train_x=train_x, train_y=y_train, test_x=test_x,
                  test_y=y_test)
    meta = {
        'dataset': 'pcifar10',
        'recipe': recipe,
        'recipe_description': RECIPE_DESCRIPTIONS[recipe],
        'source': source,
        'shapes': {k: list(v.shape) for k, v in arrays.items()},
        'dtypes': {k: str(v.dtype) for k, v in arrays.items()},
        'branchynet_version': __version__,
        'numpy_version': numpy.__version__,
        'created': datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'),
    }
    npz_path = os.path.join(directory, 'data.npz')
    # data.json goes in just before data.npz is moved into place: a failure
    # anywhere leaves neither a partial data.npz nor a new data.json
    with atomic_path(npz_path) as tmp:
        with open(tmp, 'wb') as f:
            numpy.savez(f, **arrays)
        write_json_atomic(os.path.join(directory, 'data.json'), meta)
    return train_x, y_train, test_x, y_test


def get_pcifar10(data_dir='auto', recipe='zca', download=True,
                 cifar_dir='auto', urls=CIFAR10_URLS, md5=CIFAR10_MD5,
                 file_md5=CIFAR10_FILE_MD5):
    """Load pcifar10, building it from the CIFAR-10 batches when absent.

    When ``<data_dir>/data.npz`` exists it is validated
    (:func:`load_pcifar10_npz`) and returned; a ``data.json`` beside it
    naming another recipe is an error. A ``data.npz`` without ``data.json``
    (a user's own file) is used as is. Otherwise CIFAR-10 is loaded from
    ``cifar_dir`` (:func:`get_cifar10_raw`), preprocessed with ``recipe``
    (:func:`build_pcifar10`), and written to ``data.npz`` with a ``data.json``
    recording the recipe, the source's sha256, the shapes and the package
    version; both are written atomically.

    Args:
        data_dir (str): the folder holding ``data.npz``; ``'auto'`` is
            ``<data root>/pcifar10``.
        recipe (str or None): ``'zca'`` or ``'gcn'``; ``None`` accepts an
            existing file whatever its recipe and builds with ``'zca'``.
        download (bool): download CIFAR-10 if it is needed and missing.
        cifar_dir (str): the CIFAR folder; ``'auto'`` is
            ``<data root>/cifar10``.
        urls, md5, file_md5: see :func:`get_cifar10_raw`.

    Returns:
        tuple: ``(x_train, y_train, x_test, y_test)``: float32
        ``(50000, 3, 32, 32)``, int32 ``(50000,)`` in 0..9, float32
        ``(10000, 3, 32, 32)``, int32 ``(10000,)``.

    Raises:
        BranchyNetError: invalid data.npz, recipe mismatch, or CIFAR-10
            missing / corrupt.
    """
    if recipe is not None:
        _check_recipe(recipe)
    directory = dataset_dir('pcifar10', data_dir)
    npz_path = os.path.join(directory, 'data.npz')
    if os.path.exists(npz_path):
        _check_sidecar(directory, recipe)
        return load_pcifar10_npz(npz_path)
    return _build(directory, cifar_dir, recipe or 'zca', download, urls, md5,
                  file_md5)


def prepare_pcifar10(data_dir='auto', cifar_dir='auto', recipe='zca',
                     force=False, download=True, urls=CIFAR10_URLS,
                     md5=CIFAR10_MD5, file_md5=CIFAR10_FILE_MD5):
    """Make sure pcifar10 exists; build it (again, with ``force``).

    Without ``force`` an existing ``data.npz`` is only validated (and its
    ``data.json`` recipe checked). With ``force`` it is rebuilt from
    CIFAR-10 and replaced, a user's own file included. Arguments as in
    :func:`get_pcifar10`.

    Returns:
        str: the path of ``data.npz``.
    """
    _check_recipe(recipe)
    directory = dataset_dir('pcifar10', data_dir)
    npz_path = os.path.join(directory, 'data.npz')
    if os.path.exists(npz_path) and not force:
        _check_sidecar(directory, recipe)
        load_pcifar10_npz(npz_path)
    else:
        _build(directory, cifar_dir, recipe, download, urls, md5, file_md5)
    return npz_path


__all__ = ['CIFAR10_FILE_MD5', 'CIFAR10_MD5', 'CIFAR10_URLS', 'RECIPES',
           'build_pcifar10', 'get_cifar10_raw', 'get_pcifar10',
           'load_pcifar10_npz', 'minmax_rows', 'prepare_pcifar10',
           'restricted_loads', 'zca_apply', 'zca_fit']
