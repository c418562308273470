"""MNIST as the reference prepares it: pixels / 255, float32 ``(N, 1, 28, 28)``.

The four standard IDX files are looked for in the MNIST folder (by default
``<data root>/mnist``), gzip-compressed (``name.gz``) or not (``name``). A
missing file is downloaded from a list of mirrors tried in order. Every file
is verified by the sha256 of its *decompressed* content before it is used or
cached, so a truncated or corrupted file is reported by name and never kept.
"""
import gzip
import os
import zlib

import numpy

from branchynet.data.download import (dataset_dir, download_verified,
                                      get_data_root, sha256_of,
                                      write_bytes_atomic)
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

#: mirrors serving ``<name>.gz``, tried in order
MNIST_MIRRORS = (
    'https://ossci-datasets.s3.amazonaws.com/mnist/',
    'https://storage.googleapis.com/cvdf-datasets/mnist/',
    'http://yann.lecun.com/exdb/mnist/',
)


def _read_idx_bytes(path):
    """Raw IDX content of ``path`` (gzip or not); errors name the file."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
        if data[:2] == b'\x1f\x8b':
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise BranchyNetError('MNIST file %s is corrupt or truncated (%s)'
                              % (path, e)) from None
    return data


def _verified(path, name, checksums):
    data = _read_idx_bytes(path)
    if sha256_of(data) != checksums[name]:
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


def _fetch(directory, name, mirrors, checksums, data_root):
    """Download ``name.gz`` into ``directory``, verified; returns its bytes."""
    def verify(path):
        _verified(path, name, checksums)
    cached = download_verified([m + name + '.gz' for m in mirrors], verify,
                               data_root)
    target = os.path.join(directory, name + '.gz')
    with open(cached, 'rb') as f:
        write_bytes_atomic(target, f.read())
    os.remove(cached)
    return _verified(target, name, checksums)


def get_mnist(data_dir='auto', mirrors=MNIST_MIRRORS, checksums=None,
              download=True):
    """Load MNIST, downloading missing files when allowed.

    Args:
        data_dir (str): folder holding the four files; ``'auto'`` is
            ``<data root>/mnist``.
        mirrors (sequence of str): base URLs tried in order for a missing
            file.
        checksums (dict): file name -> sha256 of its decompressed content;
            default :data:`MNIST_SHA256`.
        download (bool): try the mirrors for missing files.

    Returns:
        tuple: ``(x_train, y_train, x_test, y_test)``: float32
        ``(60000, 1, 28, 28)`` in [0, 1], int32 ``(60000,)``, float32
        ``(10000, 1, 28, 28)``, int32 ``(10000,)``.

    Raises:
        BranchyNetError: a file is missing and could not be downloaded, or is
            corrupt; the message names the file and where to put it.
    """
    checksums = MNIST_SHA256 if checksums is None else checksums
    data_root = get_data_root()
    directory = dataset_dir('mnist', data_dir)
    arrays = {}
    for name in MNIST_SHA256:
        path = _find(directory, name)
        if path is not None:
            data = _verified(path, name, checksums)
        elif download:
            try:
                data = _fetch(directory, name, mirrors, checksums, data_root)
            except BranchyNetError as e:
                raise BranchyNetError(
                    'MNIST file %s.gz is missing from %s and %s. Put the four '
                    'files %s (.gz or not) in that folder, or pass --data-dir'
                    % (name, directory, e, ', '.join(MNIST_SHA256))) from None
        else:
            raise BranchyNetError(
                'MNIST file %s(.gz) is missing from %s; put the four files %s '
                'there' % (name, directory, ', '.join(MNIST_SHA256)))
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
