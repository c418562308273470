"""CIFAR-10's official python batches: found, verified, downloaded, parsed.

:func:`load_cifar10` returns uint8 ``(N, 3, 32, 32)`` images and int32
labels (what :mod:`branchynet.data.pcifar10` builds from). It looks in the
CIFAR folder (``<data root>/cifar10/`` unless named) for the official tarball
``cifar-10-python.tar.gz`` (checked against its published md5, read in
place) or, failing that, an extracted ``cifar-10-batches-py/`` folder (each
batch checked against its md5); when neither is there it downloads the
tarball, verified before it is kept. The batches are pickles, read with
:func:`~branchynet.data.safe_pickle.restricted_loads`.

Sizes are bounded before anything is read whole: the tarball is at most the
official one's size, and a batch (in the folder or in the tarball) at most
:data:`BATCH_MAX_BYTES`.
"""
import hashlib
import os
import pickle
import tarfile
import zlib

import numpy

from branchynet.data.download import download_verified
from branchynet.data.root import LEFTOVER_AGE, dataset_dir
from branchynet.utils.atomic import remove_leftovers
from branchynet.data.files import check_folder, check_regular, open_regular
from branchynet.data.safe_pickle import restricted_loads
from branchynet.errors import BranchyNetError

#: name of the official tarball of the python batches
CIFAR10_TARBALL = 'cifar-10-python.tar.gz'
#: the folder the tarball extracts to
CIFAR10_FOLDER = 'cifar-10-batches-py'
#: mirrors of the tarball, tried in order
CIFAR10_URLS = ('https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz',)
#: md5 of the tarball, as published on https://www.cs.toronto.edu/~kriz/cifar.html
CIFAR10_MD5 = 'c58f30108f718f92721af3b95e74349a'
#: bytes of the official tarball (the most a tarball may have)
CIFAR10_TARBALL_BYTES = 170498071
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
IMAGE_SHAPE = (3, 32, 32)
N_CLASSES = 10
#: CIFAR-10's class names in label order
CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')
#: the most bytes one batch file may have: 10000 images of 3072 bytes plus
#: room for the labels, file names and pickle framing (about 30 KiB used)
BATCH_MAX_BYTES = 10000 * 3072 + 2 ** 21


def _field(batch, key):
    for k in (key.encode('ascii'), key):
        if k in batch:
            return batch[k]
    raise KeyError(key)


def _describe(a):
    if isinstance(a, numpy.ndarray):
        return '%s %s' % (a.dtype, a.shape)
    return type(a).__name__


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


def _hashes(f, chunk=1 << 20):
    md5, sha = hashlib.md5(), hashlib.sha256()
    for block in iter(lambda: f.read(chunk), b''):
        md5.update(block)
        sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def _unreadable(what, path, e):
    return BranchyNetError('%s %s cannot be read (%s)'
                           % (what, path, e.strerror or e))


def _check_tarball(path, md5):
    """Return the tarball's sha256; raise if it is not a regular file, is
    too large, or its md5 is not ``md5`` (None: any)."""
    try:
        with open_regular(path, 'CIFAR-10 tarball') as f:
            size = os.fstat(f.fileno()).st_size
            if size > CIFAR10_TARBALL_BYTES:
                raise BranchyNetError(
                    'CIFAR-10 tarball %s is %d bytes, larger than the '
                    'official one (%d); delete it and download again'
                    % (path, size, CIFAR10_TARBALL_BYTES))
            got_md5, sha = _hashes(f)
    except OSError as e:
        raise _unreadable('CIFAR-10 tarball', path, e) from None
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
        with open_regular(path, 'CIFAR-10 tarball') as f, \
                tarfile.open(fileobj=f, mode='r:gz') as tar:
            for member in tar:
                folder, _, name = member.name.rpartition('/')
                if not (name in names and member.isfile()
                        and folder.endswith(CIFAR10_FOLDER)):
                    continue
                if member.size > BATCH_MAX_BYTES:
                    raise BranchyNetError(
                        'CIFAR-10 tarball %s: %s is %d bytes, larger than a '
                        'CIFAR-10 batch can be' % (path, member.name,
                                                   member.size))
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


def _read_batch_file(path, expected_md5):
    try:
        with open_regular(path, 'CIFAR-10 file') as f:
            size = os.fstat(f.fileno()).st_size
            if size > BATCH_MAX_BYTES:
                raise BranchyNetError('CIFAR-10 file %s is %d bytes, larger '
                                      'than a CIFAR-10 batch can be'
                                      % (path, size))
            data = f.read(BATCH_MAX_BYTES + 1)
    except OSError as e:
        raise _unreadable('CIFAR-10 file', path, e) from None
    if len(data) > BATCH_MAX_BYTES:
        raise BranchyNetError('CIFAR-10 file %s is larger than a CIFAR-10 '
                              'batch can be' % path)
    if expected_md5 is not None:
        got = hashlib.md5(data).hexdigest()
        if got != expected_md5.lower():
            raise BranchyNetError(
                'CIFAR-10 file %s has the wrong content (md5 %s, expected '
                '%s: truncated or not the official file); delete the '
                'folder and extract %s again'
                % (path, got, expected_md5, CIFAR10_TARBALL))
    return data


def _read_folder(folder, file_md5):
    """``{batch name: bytes}`` of the six batch files in ``folder``."""
    names = TRAIN_BATCHES + (TEST_BATCH,)
    missing = [n for n in names
               if not os.path.lexists(os.path.join(folder, n))]
    if missing:
        raise BranchyNetError(
            'CIFAR-10 folder %s lacks %s; it should hold %s (extract %s '
            'there, or put the tarball beside it)'
            % (folder, ', '.join(missing), ', '.join(names), CIFAR10_TARBALL))
    return {name: _read_batch_file(os.path.join(folder, name),
                                   (file_md5 or {}).get(name))
            for name in names}


def _fetch_tarball(directory, urls, md5):
    """Download the tarball into ``directory`` (verified); return its path."""
    def verify(path):
        _check_tarball(path, md5)
    return download_verified(list(urls),
                             os.path.join(directory, CIFAR10_TARBALL),
                             verify, CIFAR10_TARBALL_BYTES)


def _missing(directory, failure=None):
    text = ('CIFAR-10 is missing: put the official %s (from %s) or its '
            'extracted %s/ folder in %s/, or pass --data-dir DATA_ROOT, the '
            'folder holding cifar10/' % (CIFAR10_TARBALL, CIFAR10_URLS[0],
                                         CIFAR10_FOLDER, directory))
    if failure:
        text += '. Downloading failed: %s' % failure
    return BranchyNetError(text)


def load_cifar10(directory, download=True, urls=CIFAR10_URLS,
                 md5=CIFAR10_MD5, file_md5=CIFAR10_FILE_MD5):
    """The six batches of the CIFAR folder ``directory``, parsed, and where
    they came from (for pcifar10's ``data.json``).

    Returns:
        tuple: ``((x_train, y_train, x_test, y_test), source)``: uint8
        ``(50000, 3, 32, 32)`` (RGB, values 0-255), int32 ``(50000,)`` in
        0..9, uint8 ``(10000, 3, 32, 32)``, int32 ``(10000,)``; ``source``
        is a dict: ``kind`` (``tarball`` or ``folder``), ``path``,
        ``sha256`` (of the tarball, or per batch file).

    Raises:
        BranchyNetError: the files are missing and could not be downloaded,
            or are truncated, corrupt or not the official ones; the message
            names the file. A download that fails its check is not kept.
    """
    check_folder(directory, 'CIFAR folder')
    remove_leftovers(directory, older_than=LEFTOVER_AGE)
    tarball = os.path.join(directory, CIFAR10_TARBALL)
    folder = os.path.join(directory, CIFAR10_FOLDER)
    # a FIFO (or a folder) named like the tarball is refused, never read,
    # skipped for the extracted folder, nor replaced by a download
    check_regular(tarball, 'CIFAR-10 tarball')
    if not os.path.isfile(tarball) and os.path.isdir(folder):
        contents = _read_folder(folder, file_md5)
        source = {'kind': 'folder', 'path': CIFAR10_FOLDER,
                  'sha256': {n: hashlib.sha256(d).hexdigest()
                             for n, d in sorted(contents.items())}}
        return _parse_all(contents, folder), source
    if not os.path.isfile(tarball):
        if not download:
            raise _missing(directory)
        try:
            tarball = _fetch_tarball(directory, urls, md5)
        except BranchyNetError as e:
            raise _missing(directory, str(e)) from None
    sha = _check_tarball(tarball, md5)
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
