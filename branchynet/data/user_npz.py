"""A user's own data set in one ``.npz`` file, validated before it is used.

The file holds four arrays: ``train_x`` and ``test_x``, float32 images
``(N, C, H, W)`` of the network's input shape; ``train_y`` and ``test_y``,
integer labels ``(N,)`` in ``[0, classes)``. Other keys are ignored. The
headers of all four are checked first (keys, shapes, dtypes, sizes), before
any data are read; then the values (NaN, infinity, label range). Nothing is
ever unpickled (:class:`~branchynet.utils.safe_npz.SafeNpz`). Every defect is one
:class:`~branchynet.errors.BranchyNetError` naming the file and the key.

:data:`SOURCE` names such a file ``npz:PATH``, standing in for the
experiment's data set with its image shape and classes.
"""
import contextlib
import math
import os

import numpy

from branchynet.data.files import check_regular, open_regular
from branchynet.data.registry import DataSource
from branchynet.errors import BranchyNetError
from branchynet.utils.safe_npz import SafeNpz

#: how a user's own data set file is named
USER_PREFIX = 'npz:'
KEYS = ('train_x', 'train_y', 'test_x', 'test_y')
#: the most bytes the four arrays may declare together
MAX_BYTES = 32 * 2 ** 30
_PAIRS = (('train_x', 'train_y'), ('test_x', 'test_y'))


@contextlib.contextmanager
def _open_npz(path, what):
    """A :class:`SafeNpz` of ``path`` (``what``: the file, for messages),
    opened only if it is a regular file
    (:func:`~branchynet.data.files.open_regular`: a FIFO is one line, not a
    wait for a writer)."""
    label = '%s %s' % (what, path)
    try:
        f = open_regular(path, what)
    except OSError as e:
        raise BranchyNetError('%s: cannot be read (%s)'
                              % (label, e.strerror or e)) from None
    with f, SafeNpz(f, label=label) as npz:
        yield npz


def _check_headers(npz, input_shape, any_float, max_bytes):
    """Shapes and dtypes of the four entries, checked from their headers."""
    missing = [k for k in KEYS if k not in npz]
    if missing:
        raise npz.error('missing key(s) %s (it holds %s)' % (
            ', '.join(missing), ', '.join(npz.keys) or 'nothing'))
    headers = {k: npz.header(k) for k in KEYS}
    for xk, yk in _PAIRS:
        (x_shape, x_dtype), (y_shape, y_dtype) = headers[xk], headers[yk]
        if len(x_shape) != 4 or x_shape[1:] != tuple(input_shape) or \
                x_shape[0] == 0:
            raise npz.error('%s should be (N, %s) images with N > 0, got %s'
                            % (xk, ', '.join(map(str, input_shape)),
                               x_shape))
        if not (x_dtype == numpy.float32 or (any_float
                                              and x_dtype.kind == 'f')):
            raise npz.error('%s should hold %s images, got %s' % (
                xk, 'float32 (or other float)' if any_float else 'float32',
                x_dtype))
        if y_shape != (x_shape[0],):
            raise npz.error('%s should be (%d,) labels matching %s, got %s'
                            % (yk, x_shape[0], xk, y_shape))
        if y_dtype.kind not in 'iu':
            raise npz.error('%s should hold integer labels, got %s'
                            % (yk, y_dtype))
    # Python integers: numpy.prod of a forged header shape wraps (and warns)
    total = sum(math.prod(s) * d.itemsize for s, d in headers.values())
    if total > max_bytes:
        raise npz.error('declares %d bytes of arrays, more than the %d '
                        'allowed' % (total, max_bytes))
    return headers


def _read_images(npz, key, shape, dtype):
    x = npz.read(key, shape, dtype, kinds='f')
    if x.dtype != numpy.float32:
        with numpy.errstate(over='ignore'):     # too large -> inf, refused
            x = x.astype(numpy.float32)
        if not (numpy.isfinite(x.min()) and numpy.isfinite(x.max())):
            raise npz.error('holds values too large for float32 (infinite '
                            'after the cast)', key)
    return x


def _read_labels(npz, key, shape, dtype, n_classes):
    y = npz.read(key, shape, dtype, kinds='iu')
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= n_classes:
        raise npz.error('has labels outside 0..%d (%d..%d)'
                        % (n_classes - 1, low, high), key)
    return y.astype(numpy.int32)


def load_user_npz(path, input_shape, n_classes, name='data set',
                  any_float=False, max_bytes=MAX_BYTES):
    """Load and validate a user's data set file.

    Args:
        path (str): the ``.npz`` file.
        input_shape (tuple): ``(C, H, W)`` the network takes.
        n_classes (int): labels must be in ``[0, n_classes)``.
        name (str): what the file is, for messages (``'pcifar10'``...).
        any_float (bool): accept any float dtype for the images and cast
            to float32 (values must stay finite).
        max_bytes (int): the most bytes the four arrays may declare.

    Returns:
        tuple: ``(x_train, y_train, x_test, y_test)``: float32
        ``(N, C, H, W)``, int32 ``(N,)``, float32 ``(M, C, H, W)``,
        int32 ``(M,)``.

    Raises:
        BranchyNetError: unreadable file, missing key, wrong shape or dtype,
            NaN or infinity, label out of range; one line naming the key.
    """
    with _open_npz(path, '%s file' % name) as npz:
        headers = _check_headers(npz, input_shape, any_float, max_bytes)
        out = []
        for xk, yk in _PAIRS:
            out.append(_read_images(npz, xk, *headers[xk]))
            out.append(_read_labels(npz, yk, *headers[yk], n_classes))
    return tuple(out)


def describe_user_npz(path, max_classes=100000):
    """``((C, H, W), n_classes)`` of a user's data set file, from the
    images' header and the labels (classes: the largest label + 1), for a
    network built to fit the data (``--network``)."""
    with _open_npz(path, 'data set file') as npz:
        if 'train_x' not in npz:
            raise npz.error('missing key train_x (it holds %s)'
                            % (', '.join(npz.keys) or 'nothing'))
        shape = npz.header('train_x')[0]
        if len(shape) != 4 or min(shape) <= 0:
            raise npz.error('train_x should be (N, C, H, W) images, got %s'
                            % (shape,))
        high = 0
        for key in ('train_y', 'test_y'):
            if key not in npz:
                raise npz.error('missing key %s' % key)
            y_shape, y_dtype = npz.header(key)
            high = max(high, int(_read_labels(npz, key, y_shape, y_dtype,
                                              max_classes).max()))
    if high < 1:
        raise BranchyNetError('data set file %s: its labels hold one class; '
                              'a classifier needs two or more' % path)
    return tuple(shape[1:]), high + 1


def load_user_images(path, input_shape, n_classes, name='images file'):
    """Load and validate a file of images, with or without labels.

    The file holds ``x``, float32 images ``(N, C, H, W)`` of the network's
    input shape (``N > 0``), and optionally ``y``, integer labels ``(N,)``
    in ``[0, classes)``; other keys are ignored. Checked as
    :func:`load_user_npz` checks its four arrays.

    Returns:
        tuple: ``(x, y)``: float32 ``(N, C, H, W)`` and int32 ``(N,)`` or
        None.

    Raises:
        BranchyNetError: one line naming the file and the key.
    """
    with _open_npz(path, name) as npz:
        if 'x' not in npz:
            raise npz.error('missing key x (it holds %s)'
                            % (', '.join(npz.keys) or 'nothing'))
        shape, dtype = npz.header('x')
        if len(shape) != 4 or shape[1:] != tuple(input_shape) or \
                shape[0] == 0:
            raise npz.error('x should be (N, %s) images with N > 0, got %s'
                            % (', '.join(map(str, input_shape)), shape))
        if dtype != numpy.float32:
            raise npz.error('x should hold float32 images, got %s' % dtype)
        x = _read_images(npz, 'x', shape, dtype)
        if 'y' not in npz:
            return x, None
        y_shape, y_dtype = npz.header('y')
        if y_shape != (shape[0],) or y_dtype.kind not in 'iu':
            raise npz.error('y should be (%d,) integer labels matching x, '
                            'got %s %s' % (shape[0], y_shape, y_dtype))
        return x, _read_labels(npz, 'y', y_shape, y_dtype, n_classes)


def _check_file(path):
    if not os.path.lexists(path):
        raise BranchyNetError('data set file %s does not exist' % path)
    check_regular(path, 'data set file')


def _load_like(path, data_root, like):
    """The file standing in for data set ``like``: its shape and classes."""
    return load_user_npz(path, like.shape, like.n_classes)


#: ``npz:PATH``, a user's own data set file (registered in
#: :mod:`branchynet.data`)
SOURCE = DataSource(USER_PREFIX, USER_PREFIX + 'PATH for your own file',
                    'a data set file', _check_file, _load_like,
                    describe=describe_user_npz)
