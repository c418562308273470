"""MNIST as the reference prepares it: pixels / 255, float32 ``(N, 1, 28, 28)``.

The four standard IDX files are looked for in ``<data root>/mnist/``,
gzip-compressed (``name.gz``) or not (``name``). A missing file is
downloaded from a list of mirrors tried in order. Every file is verified by
the sha256 of its *decompressed* content before it is used or kept, so a
truncated or corrupted file is reported by name and never kept.

Memory is bounded whatever the files hold: the four files have known sizes
(:data:`MNIST_SIZES`), a raw file larger than its size is refused unread,
and a ``.gz`` is inflated as a stream that stops one byte past that size, so
a gzip bomb (2 MB inflating to 2 GiB) costs at most the largest MNIST file,
47 MB.

:data:`SPEC` is MNIST as a named data set (``mnist``).
"""
import gzip
import hashlib
import os
import shlex
import zlib

import numpy

from branchynet.data.download import download_verified
from branchynet.data.root import LEFTOVER_AGE, dataset_dir, get_data_root
from branchynet.utils.atomic import remove_leftovers
from branchynet.data.files import check_folder, open_regular
from branchynet.data.registry import DatasetSpec
from branchynet.errors import BranchyNetError

#: sha256 of the decompressed IDX files (as published with the data set)
MNIST_SHA256 = {
    'train-images-idx3-ubyte':
        'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
    'train-labels-idx1-ubyte':
        '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
    't10k-images-idx3-ubyte':
        '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
    't10k-labels-idx1-ubyte':
        'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
}

#: bytes of the decompressed IDX files: 16-byte header + 28 * 28 per image,
#: 8-byte header + 1 per label
MNIST_SIZES = {
    'train-images-idx3-ubyte': 16 + 60000 * 28 * 28,
    'train-labels-idx1-ubyte': 8 + 60000,
    't10k-images-idx3-ubyte': 16 + 10000 * 28 * 28,
    't10k-labels-idx1-ubyte': 8 + 10000,
}

#: mirrors serving ``<name>.gz``, tried in order
#: (``$BRANCHYNET_MNIST_MIRRORS``, base URLs separated by spaces, overrides)
MNIST_MIRRORS = (
    'https://ossci-datasets.s3.amazonaws.com/mnist/',
    'https://storage.googleapis.com/cvdf-datasets/mnist/',
    'http://yann.lecun.com/exdb/mnist/',
)


def _gz_limit(raw_size):
    """The largest ``.gz`` of ``raw_size`` bytes: stored blocks add 5 bytes
    per 64 KiB, the header a few hundred."""
    return raw_size + raw_size // 1000 + 65536


def read_idx_bytes(path, max_bytes):
    """Raw IDX content of ``path`` (gzip or not), at most ``max_bytes``.

    Raises:
        BranchyNetError: unreadable, truncated, or larger than
            ``max_bytes`` (then read no further); names the file.
    """
    try:
        with open_regular(path, 'MNIST file') as f:
            size = os.fstat(f.fileno()).st_size
            gzipped = f.read(2) == b'\x1f\x8b'
            f.seek(0)
            if size > (_gz_limit(max_bytes) if gzipped else max_bytes):
                raise BranchyNetError(
                    'MNIST file %s is %d bytes, larger than any MNIST file '
                    'can be' % (path, size))
            if not gzipped:
                return f.read()
            with gzip.GzipFile(fileobj=f) as g:
                data = g.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise BranchyNetError('MNIST file %s is corrupt or truncated (%s)'
                              % (path, e)) from None
    if len(data) > max_bytes:
        raise BranchyNetError('MNIST file %s inflates to more than %d bytes, '
                              'the size of that MNIST file (a gzip bomb or '
                              'not MNIST)' % (path, max_bytes))
    return data


def _verified(path, name, checksums):
    data = read_idx_bytes(path, MNIST_SIZES[name])
    if hashlib.sha256(data).hexdigest() != checksums[name]:
        raise BranchyNetError(
            'MNIST file %s has the wrong content (sha256 mismatch); '
            'delete it and download again' % path)
    return data


def parse_idx(data):
    """Parse IDX bytes (unsigned byte data) into a numpy uint8 array."""
    if len(data) < 4 or data[:2] != b'\x00\x00' or data[2] != 0x08:
        raise BranchyNetError('not an unsigned-byte IDX file')
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big')
                  for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(numpy.prod(shape)):
        raise BranchyNetError('IDX payload does not match its header')
    return numpy.frombuffer(data, numpy.uint8, offset=offset).reshape(shape)


def _find(directory, name):
    for candidate in (name + '.gz', name):
        path = os.path.join(directory, candidate)
        if os.path.exists(path):
            return path
    return None


def _fetch(directory, name, mirrors, checksums):
    """Download ``name.gz`` into ``directory``, verified; returns its bytes."""
    verified = {}

    def verify(path):
        verified['data'] = _verified(path, name, checksums)

    download_verified([m + name + '.gz' for m in mirrors],
                      os.path.join(directory, name + '.gz'), verify,
                      _gz_limit(MNIST_SIZES[name]))
    return verified['data']


def default_mirrors():
    """``$BRANCHYNET_MNIST_MIRRORS`` (space-separated), else the built-in."""
    env = os.environ.get('BRANCHYNET_MNIST_MIRRORS', '').split()
    return tuple(m if m.endswith('/') else m + '/' for m in env) or \
        MNIST_MIRRORS


def missing_message(directory, missing, mirrors, failure=None):
    """What to do first, then (if any) why downloading failed: one line."""
    files = [name + '.gz' for name in missing]
    urls = ' '.join(mirrors[0] + f for f in files) if mirrors else ''
    how = ('mkdir -p %s && cd %s && curl -fL --remote-name-all %s'
           % (shlex.quote(directory), shlex.quote(directory), urls))
    text = ('MNIST is missing: put %s (gzip or raw IDX) in %s/ (on a machine '
            'with internet: `%s`), or pass --data-dir DATA_ROOT, the folder '
            'holding mnist/' % (', '.join(files), directory, how))
    if failure:
        text += '. Downloading failed: %s' % failure
    return text


def _check_not_the_mnist_folder(root, directory):
    """A data root that holds the MNIST files itself was meant as mnist/."""
    if any(_find(root, name) for name in MNIST_SHA256) and not os.path.isdir(
            directory):
        parent = os.path.dirname(root)
        advice = ('pass --data-dir %s' % parent
                  if os.path.basename(root) == 'mnist'
                  else 'move them into %s/' % directory)
        raise BranchyNetError(
            'MNIST files are in %s itself, but the data root is the folder '
            'holding mnist/: %s' % (root, advice))


def get_mnist(data_root='auto', mirrors=None, checksums=None, download=True):
    """Load MNIST, downloading missing files when allowed.

    Args:
        data_root (str): the data root; the files are in its ``mnist/``.
            ``'auto'``: :func:`~branchynet.data.root.get_data_root`.
        mirrors (sequence of str): base URLs tried in order for a missing
            file (default :func:`default_mirrors`).
        checksums (dict): file name -> sha256 of its decompressed content;
            default :data:`MNIST_SHA256`.
        download (bool): try the mirrors for missing files.

    Returns:
        tuple: ``(x_train, y_train, x_test, y_test)``: float32
        ``(60000, 1, 28, 28)`` in [0, 1], int32 ``(60000,)``, float32
        ``(10000, 1, 28, 28)``, int32 ``(10000,)``.

    Raises:
        BranchyNetError: a file is missing and could not be downloaded, or is
            corrupt; the message says first where to put which files.
    """
    checksums = MNIST_SHA256 if checksums is None else checksums
    mirrors = default_mirrors() if mirrors is None else tuple(mirrors)
    root = get_data_root(data_root)
    directory = dataset_dir('mnist', root)
    check_folder(directory, 'MNIST folder')
    remove_leftovers(directory, older_than=LEFTOVER_AGE)
    missing = [n for n in MNIST_SHA256 if _find(directory, n) is None]
    if missing:
        _check_not_the_mnist_folder(root, directory)
        if not download:
            raise BranchyNetError(missing_message(directory, missing,
                                                  mirrors))
    arrays = {}
    for name in MNIST_SHA256:
        path = _find(directory, name)
        if path is not None:
            data = _verified(path, name, checksums)
        else:
            try:
                data = _fetch(directory, name, mirrors, checksums)
            except BranchyNetError as e:
                missing = [n for n in MNIST_SHA256
                           if _find(directory, n) is None]
                raise BranchyNetError(missing_message(
                    directory, missing, mirrors, str(e))) from None
        try:
            arrays[name] = parse_idx(data)
        except BranchyNetError as e:
            raise BranchyNetError('MNIST file %s: %s' % (path or name, e)) \
                from None

    def images(a):
        return (a.astype(numpy.float32) / 255).reshape(len(a), 1, *a.shape[1:])

    return (images(arrays['train-images-idx3-ubyte']),
            arrays['train-labels-idx1-ubyte'].astype(numpy.int32),
            images(arrays['t10k-images-idx3-ubyte']),
            arrays['t10k-labels-idx1-ubyte'].astype(numpy.int32))


def _digits(data_root):
    """MNIST's classes in label order: the digits."""
    return [str(d) for d in range(10)]


#: MNIST as a named data set, loaded by :func:`get_mnist` with its defaults
#: (registered in :mod:`branchynet.data`)
SPEC = DatasetSpec('mnist', get_mnist, (1, 28, 28), 10, _digits,
                   n_train=60000)
