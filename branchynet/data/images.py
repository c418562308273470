"""An image-folder data set: ``DIR/SPLIT/CLASS/*.{png,jpg,jpeg,bmp}``.

``DIR`` holds two splits, ``train/`` and ``test/``; each holds one folder
per class. The classes are the sorted folder names (label 0 is the first),
and both splits must have the same ones, none empty. Files with other
extensions, and names starting with ``.``, are ignored. As torchvision's
``ImageFolder`` or Keras' ``image_dataset_from_directory`` read them.

Checks, each one line (:class:`~branchynet.errors.BranchyNetError`) naming
the file or folder:

- a symlink (file or folder) whose target lies outside ``DIR``;
- an empty class, or classes that differ between train and test;
- an image Pillow cannot read: corrupt or truncated;
- a decompression bomb: more than Pillow's ``Image.MAX_IMAGE_PIXELS``
  pixels (its warning is an error here), or more than :data:`MAX_BYTES` of
  decoded arrays in all;
- mixed sizes (every image must have the first one's width and height, and
  the network's when a shape is required), or an unsupported mode (``L``,
  ``P``, ``RGB`` are converted to the channels
  wanted; ``RGBA``, ``CMYK``, 16-bit, a palette with transparency and others
  are refused).

Each split comes out in a fixed pseudo-random order (a permutation with seed
:data:`ORDER_SEED`, the same for the same files), not class by class: the
CIFAR-10 batches are shuffled too, and ``--train-limit``, ``--test-limit``
and the sweep's first test samples then hold every class.

Sizes are read from the headers before anything is decoded, and the decoded
pixels go straight into one preallocated ``uint8`` array (memory: the data
set's bytes, one image at a time besides).

The decoded arrays are cached in ``<data root>/images-cache/`` (one ``.npz``
per folder and channel count, written atomically); a cache is used only when
its fingerprint, a sha256 over every file's relative path, size and
modification time and the class list, matches the folder now, so an edited,
added or removed image rebuilds it. The folder is scanned again after
decoding: one changed while it was read is refused (nothing cached), so the
fingerprint always describes the images decoded (pcifar10 ``--from-images``
records it). Every image and the cache are opened only when they are regular
files (:mod:`branchynet.data.files`).

:data:`SOURCE` names such a folder ``images:DIR``, standing in for the
experiment's data set: its image size, at most its classes, pixels / 255.
"""
import contextlib
import hashlib
import json
import os
import warnings

import numpy

from branchynet.data.files import check_folder, check_regular, open_regular
from branchynet.data.registry import DataSource
from branchynet.utils.atomic import atomic_path
from branchynet.errors import BranchyNetError

#: how a user's image folder is named
IMAGES_PREFIX = 'images:'
#: the file extensions read (lower case)
EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')
SPLITS = ('train', 'test')
#: the most bytes the decoded uint8 arrays may take together
MAX_BYTES = 8 * 2 ** 30
#: image modes converted; anything else is refused
MODES = ('1', 'L', 'P', 'RGB')
CACHE_VERSION = 2
#: the seed of each split's order (:func:`shuffled`)
ORDER_SEED = 0


def _pil():
    try:
        from PIL import Image
    except ImportError:                  # pragma: no cover
        raise BranchyNetError('reading image folders needs Pillow (pip '
                              'install Pillow)') from None
    return Image


def _inside(path, root_real):
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real + os.sep)


def _listdir(path):
    try:
        return sorted(n for n in os.listdir(path) if not n.startswith('.'))
    except OSError as e:
        raise BranchyNetError('image folder %s: cannot list it (%s)'
                              % (path, e.strerror or e)) from None


def scan(root):
    """The files of image folder ``root``, checked (symlinks, classes).

    Returns:
        tuple: ``(classes, files)``: the sorted class names, and for each
        split a list of ``(path, label, size, mtime_ns)``.
    """
    root = os.path.abspath(os.path.expanduser(root))
    if not os.path.isdir(root):
        raise BranchyNetError('image folder %s does not exist or is not a '
                              'folder' % root)
    root_real = os.path.realpath(root)
    for split in SPLITS:
        if not os.path.isdir(os.path.join(root, split)):
            raise BranchyNetError('image folder %s has no %s/ folder (it '
                                  'needs train/CLASS/*.png|jpg|jpeg|bmp and '
                                  'test/CLASS/...)' % (root, split))
    found = {}
    for split in SPLITS:
        split_dir = os.path.join(root, split)
        if not _inside(split_dir, root_real):
            raise BranchyNetError('image folder %s: symlink leads outside '
                                  'the folder' % split_dir)
        classes = [c for c in _listdir(split_dir)
                   if os.path.isdir(os.path.join(split_dir, c))]
        if not classes:
            raise BranchyNetError('image folder %s has no class folders'
                                  % split_dir)
        files = []
        for label, name in enumerate(classes):
            class_dir = os.path.join(split_dir, name)
            if not _inside(class_dir, root_real):
                raise BranchyNetError('image folder %s: symlink leads '
                                      'outside %s' % (class_dir, root))
            count = 0
            for fname in _listdir(class_dir):
                if os.path.splitext(fname)[1].lower() not in EXTENSIONS:
                    continue
                path = os.path.join(class_dir, fname)
                if not _inside(path, root_real):
                    raise BranchyNetError('image %s: symlink leads outside '
                                          '%s' % (path, root))
                try:
                    st = os.stat(path)
                except OSError as e:
                    raise BranchyNetError('image %s: %s' % (
                        path, e.strerror or e)) from None
                if not os.path.isfile(path):
                    continue
                files.append((path, label, st.st_size, st.st_mtime_ns))
                count += 1
            if not count:
                raise BranchyNetError('image folder %s: class %r is empty '
                                      '(no %s file)' % (
                                          class_dir, name,
                                          '/'.join(EXTENSIONS)))
        found[split] = (classes, files)
    (train_classes, _), (test_classes, _) = found['train'], found['test']
    if train_classes != test_classes:
        only_train = sorted(set(train_classes) - set(test_classes))
        only_test = sorted(set(test_classes) - set(train_classes))
        raise BranchyNetError(
            'image folder %s: the classes differ between train/ and test/ '
            '(only in train: %s; only in test: %s)' % (
                root, ', '.join(only_train) or '-',
                ', '.join(only_test) or '-'))
    return train_classes, {s: found[s][1] for s in SPLITS}


def shuffled(files, seed=ORDER_SEED):
    """``files`` (one split, as :func:`scan` lists them) in a fixed
    pseudo-random order."""
    order = numpy.random.RandomState(seed).permutation(len(files))
    return [files[i] for i in order]


def fingerprint(root, classes, files, channels):
    """sha256 over the class list, every file's relative path, size and
    modification time, and the channels."""
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, channels, classes]).encode())
    for split in SPLITS:
        for path, label, size, mtime in files[split]:
            h.update(('%s\0%d\0%d\0%d\n' % (os.path.relpath(path, root),
                                            label, size, mtime)).encode())
    return h.hexdigest()


@contextlib.contextmanager
def _opened(Image, path):
    """The opened image (header only), from a regular file only (a FIFO
    is one line, never a wait); closed after the block."""
    try:
        f = open_regular(path, 'image')
    except OSError as e:
        raise BranchyNetError('image %s: cannot be read (%s)'
                              % (path, e.strerror or e)) from None
    with f:
        im = _open(Image, f, path)
        try:
            yield im
        finally:
            im.close()


def _open(Image, f, path):
    """The image of open file ``f`` (header only); bombs and unreadable
    files are one line naming ``path``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('error', Image.DecompressionBombWarning)
            return Image.open(f)
    except (Image.DecompressionBombError,
            Image.DecompressionBombWarning) as e:
        raise BranchyNetError('image %s: refused as a decompression bomb '
                              '(%s)' % (path, ' '.join(str(e).split())[:200])
                              ) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise BranchyNetError('image %s: not a readable image, truncated or '
                              'corrupt (%s)' % (
            path, ' '.join(str(e).split())[:200] or type(e).__name__)
        ) from None


def _decode(Image, path, channels, size, what):
    with _opened(Image, path) as im:
        if im.size != size:
            raise BranchyNetError('image %s is %dx%d, not %dx%d like %s '
                                  '(mixed sizes: resize them all to one '
                                  'size first)' % ((path,) + im.size + size
                                                   + (what,)))
        if im.mode not in MODES:
            raise BranchyNetError('image %s has mode %s, not one of %s'
                                  % (path, im.mode, ', '.join(MODES)))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('error', Image.DecompressionBombWarning)
                im.load()
            if im.mode == 'P' and 'transparency' in im.info:
                raise BranchyNetError('image %s is a palette image with '
                                      'transparency' % path)
            a = numpy.asarray(im.convert('RGB' if channels == 3 else 'L'),
                              dtype=numpy.uint8)
        except BranchyNetError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise BranchyNetError('image %s: truncated or corrupt (%s)' % (
                path, ' '.join(str(e).split())[:200] or type(e).__name__)
            ) from None
    return a.transpose(2, 0, 1) if channels == 3 else a[None]


def decode_all(files, channels=3, size=None, max_bytes=MAX_BYTES,
               what='the size required'):
    """Decode ``files`` (as :func:`scan` returns them, one split) into
    ``(uint8 (N, C, H, W), int32 (N,))``; ``size`` ``(W, H)`` or None for
    the first image's; ``what`` names where the size comes from."""
    Image = _pil()
    if not files:
        raise BranchyNetError('no images')
    if size is None:
        with _opened(Image, files[0][0]) as im:
            size, what = im.size, 'the first image %s' % files[0][0]
    n = len(files)
    need = n * channels * size[0] * size[1]
    if need > max_bytes:
        raise BranchyNetError('image %s: %d images of %dx%d would take %d '
                              'bytes decoded, more than the %d allowed' % (
                                  files[0][0], n, size[0], size[1], need,
                                  max_bytes))
    x = numpy.empty((n, channels, size[1], size[0]), numpy.uint8)
    y = numpy.empty(n, numpy.int32)
    for i, (path, label, _, _) in enumerate(files):
        x[i] = _decode(Image, path, channels, size, what)
        y[i] = label
    return x, y


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
    (:func:`fingerprint`) of exactly the files decoded: the folder is
    scanned before decoding and again after, and a change in between (an
    image edited, added or removed while it was read) is refused, so the
    fingerprint never describes images other than those decoded.

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
        with atomic_path(path) as tmp:
            with open(tmp, 'wb') as f:
                numpy.savez(f, train_x=x_train, train_y=y_train,
                            test_x=x_test, test_y=y_test,
                            fingerprint=numpy.array(digest),
                            classes=numpy.array(json.dumps(classes)),
                            root=numpy.array(root))
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
    with _opened(_pil(), path) as im:
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
