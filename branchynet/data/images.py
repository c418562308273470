"""The ``images:DIR`` source: an image folder
``DIR/SPLIT/CLASS/*.{png,jpg,jpeg,bmp}`` loaded (decoded once, cached) and
standing in for a data set.

The folder's files are found and checked, ordered and fingerprinted by
:mod:`branchynet.data.image_files` (layout, classes, symlinks, the fixed
pseudo-random order of each split); the images are decoded and checked
(unreadable, bombs, sizes, modes) by :mod:`branchynet.data.image_decoding`.

The decoded arrays are cached in ``<data root>/images-cache/`` (one ``.npz``
per folder and channel count, written atomically); a cache is used only when
its fingerprint, a sha256 over every file's relative path, size and
modification time and the class list, matches the folder now, so an edited,
added or removed image rebuilds it. The folder is scanned again after
decoding: one changed while it was read is refused (nothing cached), so the
fingerprint always describes the images decoded (pcifar10 ``--from-images``
records it). The cache is opened only when it is a regular file
(:mod:`branchynet.data.files`).

:data:`SOURCE` names such a folder ``images:DIR``, standing in for the
experiment's data set: its image size, at most its classes, pixels / 255.
"""
import hashlib
import json
import os

import numpy

from branchynet.data.files import check_folder, check_regular, open_regular
from branchynet.data.image_decoding import (MAX_BYTES, decode_all,
                                            opened_image, pillow)
from branchynet.data.image_files import fingerprint, scan, shuffled
from branchynet.data.registry import DataSource
from branchynet.utils.atomic import atomic_path
from branchynet.errors import BranchyNetError

#: how a user's image folder is named
IMAGES_PREFIX = 'images:'


def _cache_path(root, channels, data_root):
    from branchynet.data.root import dataset_dir
    key = hashlib.sha256(('%s\0%d' % (os.path.realpath(root), channels))
                         .encode()).hexdigest()[:24]
    folder = dataset_dir('images-cache', data_root)
    check_folder(folder, 'image cache folder')
    path = os.path.join(folder, '%s.npz' % key)
    # a FIFO (or a folder) there is refused, never opened nor replaced
    try:
        check_regular(path, 'image cache')
    except BranchyNetError as e:
        raise BranchyNetError('%s: remove it (the cache is rebuilt from the '
                              'images)' % e) from None
    return path


def _read_cache(path, digest):
    """The cached arrays, or None when absent, stale or unreadable."""
    try:
        with open_regular(path, 'image cache') as f, \
                numpy.load(f, allow_pickle=False) as z:
            if str(z['fingerprint']) != digest:
                return None
            out = tuple(z[k] for k in ('train_x', 'train_y', 'test_x',
                                       'test_y'))
            classes = json.loads(str(z['classes']))
    except BranchyNetError:     # no longer a regular file: refused
        raise
    except Exception:           # a broken cache is rebuilt, never trusted
        return None
    return out, classes


def _write_cache(path, arrays, classes, digest, root):
    """The decoded ``arrays`` of image folder ``root``, its ``classes`` and
    fingerprint ``digest`` written to cache ``path`` (atomically)."""
    x_train, y_train, x_test, y_test = arrays
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as f:
            numpy.savez(f, train_x=x_train, train_y=y_train,
                        test_x=x_test, test_y=y_test,
                        fingerprint=numpy.array(digest),
                        classes=numpy.array(json.dumps(classes)),
                        root=numpy.array(root))


def load_image_folder(root, channels=3, size=None, data_root='auto',
                      cache=True, max_bytes=MAX_BYTES, log=None):
    """Decoded images of image folder ``root``.

    As :func:`load_image_folder_fingerprinted`, without the fingerprint.
    """
    arrays, classes, _ = load_image_folder_fingerprinted(
        root, channels, size, data_root, cache, max_bytes, log)
    return arrays, classes


def load_image_folder_fingerprinted(root, channels=3, size=None,
                                    data_root='auto', cache=True,
                                    max_bytes=MAX_BYTES, log=None):
    """Decoded images of image folder ``root``, and the fingerprint
    (:func:`~branchynet.data.image_files.fingerprint`) of exactly the files
    decoded: the folder is scanned before decoding and again after, and a
    change in between (an image edited, added or removed while it was read)
    is refused, so the fingerprint never describes images other than those
    decoded.

    Args:
        root (str): the folder with ``train/`` and ``test/``.
        channels (int): 3 (RGB) or 1 (grey).
        size (tuple or None): ``(H, W)`` every image must have; None: the
            first training image's.
        data_root (str): where the cache goes (``images-cache/``).
        cache (bool): read and write the cache.
        log (callable or None): called with one line of progress.

    Returns:
        tuple: ``((x_train, y_train, x_test, y_test), classes,
        fingerprint)``: uint8 ``(N, C, H, W)`` images, int32 labels, the
        class names, and the hex sha256 of the files as decoded.
    """
    if channels not in (1, 3):
        raise BranchyNetError('images: channels must be 1 or 3, got %r'
                              % (channels,))
    root = os.path.abspath(os.path.expanduser(root))
    classes, files = scan(root)
    digest = fingerprint(root, classes, files, channels)
    path = _cache_path(root, channels, data_root) if cache else None
    if path and os.path.exists(path):
        hit = _read_cache(path, digest)
        if hit is not None:
            arrays, cached_classes = hit
            x = arrays[0]
            if cached_classes == classes and (
                    size is None or tuple(x.shape[2:]) == tuple(size)):
                return arrays, classes, digest
    wh = None if size is None else (size[1], size[0])
    if log:
        log('decoding %d + %d images of %s' % (
            len(files['train']), len(files['test']), root))
    what = 'the size required'
    x_train, y_train = decode_all(shuffled(files['train']), channels, wh,
                                  max_bytes, what)
    x_test, y_test = decode_all(shuffled(files['test']), channels,
                                (x_train.shape[3], x_train.shape[2]),
                                max_bytes - x_train.nbytes,
                                what if wh else 'the training images')
    arrays = (x_train, y_train, x_test, y_test)
    _check_unchanged(root, digest, channels)
    if path:
        _write_cache(path, arrays, classes, digest, root)
    return arrays, classes, digest


def _check_unchanged(root, digest, channels):
    """Raise if image folder ``root`` no longer has fingerprint ``digest``
    (it changed while it was decoded)."""
    classes, files = scan(root)
    if fingerprint(root, classes, files, channels) != digest:
        raise BranchyNetError(
            'image folder %s changed while it was read (an image edited, '
            'added or removed): nothing was kept; run again once it is no '
            'longer being written' % root)


def describe(root):
    """``((C, H, W), n_classes)`` of image folder ``root``: the first
    training image's size, 1 channel if it is grey (modes 1, L, I, F) and
    3 otherwise, and the number of class folders."""
    classes, files = scan(os.path.abspath(os.path.expanduser(root)))
    path = files['train'][0][0]
    with opened_image(pillow(), path) as im:
        w, h = im.size
        channels = 1 if im.mode in ('1', 'L', 'I', 'F', 'I;16') else 3
    return (channels, h, w), len(classes)


def channel_statistics(x):
    """Per-channel mean and std of uint8 ``(N, C, H, W)`` images in [0, 1]
    scale (float64, over all pixels of all images)."""
    c = x.shape[1]
    mean, sq = numpy.zeros(c), numpy.zeros(c)
    for i in range(0, len(x), 4096):
        b = x[i:i + 4096].astype(numpy.float64) / 255
        mean += b.sum(axis=(0, 2, 3))
        sq += (b ** 2).sum(axis=(0, 2, 3))
    n = len(x) * x.shape[2] * x.shape[3]
    mean /= n
    return mean, numpy.sqrt(sq / n - mean ** 2)


def _check_source(path):
    if not os.path.isdir(path):
        raise BranchyNetError('image folder %s does not exist or is not '
                              'a folder' % path)


def _load_like(root, data_root, like):
    """An image folder standing in for data set ``like``: its image shape,
    at most its classes; pixels / 255 as float32."""
    (c, h, w), n_classes = like.shape, like.n_classes
    (x_train, y_train, x_test, y_test), classes = load_image_folder(
        root, channels=c, size=(h, w), data_root=data_root)
    if len(classes) > n_classes:
        raise BranchyNetError('image folder %s has %d classes, more than the '
                              '%d of %s' % (root, len(classes), n_classes,
                                            like.name))
    return (_scaled(x_train), y_train, _scaled(x_test), y_test)


def _scaled(x):
    out = numpy.empty(x.shape, numpy.float32)
    for i in range(0, len(x), 4096):
        out[i:i + 4096] = x[i:i + 4096] / numpy.float32(255)
    return out


def _classes(root):
    """Its sorted class folders."""
    return scan(root)[0]


#: ``images:DIR``, a user's image folder (registered in
#: :mod:`branchynet.data`)
SOURCE = DataSource(IMAGES_PREFIX, IMAGES_PREFIX + 'DIR for an image folder',
                    'an image folder', _check_source, _load_like, _classes,
                    describe)
