"""Data sets: loading by name, and the validation split used to tune thresholds.

Every function takes the **data root**, the folder holding ``mnist/``,
``cifar10/`` and ``pcifar10/`` (as ChainerCV's dataset root); ``'auto'`` is
:func:`get_data_root`'s default. The modules: :mod:`.download` (data root,
bounded verified downloads), :mod:`.mnist`, :mod:`.cifar10` (the official
python batches), :mod:`.safe_pickle` (their restricted unpickling),
:mod:`.pcifar10` (recipes and ``data.npz``), :mod:`.user_npz` (a user's own
data set file, validated), :mod:`.files` (every data file is opened only
when it is a regular file, never waiting on a FIFO; a data set's folder is
checked before anything is downloaded into it).

A data set name is ``mnist``, ``pcifar10``, ``npz:PATH``: a user's own
file (:func:`~branchynet.data.user_npz.load_user_npz`) standing in for the
experiment's data set, with its image shape and classes, or ``images:DIR``:
an image folder ``DIR/{train,test}/CLASS/*.png|jpg|jpeg|bmp``
(:mod:`.images`), pixels scaled to [0, 1], standing in the same way (the
images must have the network's size; at most its number of classes).

The named data sets and the sources are registries (:mod:`.registry`),
registered below one line each: :data:`DATASETS` (name ->
:class:`~.registry.DatasetSpec`: loader, image shape, classes, size) and
:data:`SOURCES` (prefix -> :class:`~.registry.DataSource`).
"""
import os

import numpy

from branchynet.data.cifar10 import IMAGE_SHAPE, N_CLASSES
from branchynet.data.download import get_data_root
from branchynet.data.files import check_regular, read_json
from branchynet.data.mnist import get_mnist
from branchynet.data.pcifar10 import get_pcifar10
from branchynet.data.registry import (DATASETS, SOURCES, DatasetSpec,
                                      DataSource, register_dataset,
                                      register_source, source_of)
from branchynet.data.user_npz import describe_user_npz, load_user_npz
from branchynet.errors import BranchyNetError


#: CIFAR-10's class names in label order
CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')
#: how a user's own data set file is named
USER_PREFIX = 'npz:'
#: how a user's image folder is named
IMAGES_PREFIX = 'images:'


# ------------------------------------------------------ the named data sets
# Each loader looks its function up here when called (``get_mnist``...), so
# that replacing ``branchynet.data.get_mnist`` replaces the data set.

def _load_mnist(data_root):
    return get_mnist(data_root)


def _mnist_classes(data_root):
    """The digits."""
    return [str(d) for d in range(10)]


def _load_pcifar10(data_root):
    # whichever recipe built the file on disk (data.json says which)
    return get_pcifar10(data_root, recipe=None)


def _pcifar10_classes(data_root):
    """Those its ``data.json`` records (built from images), else CIFAR-10's."""
    from branchynet.data.download import dataset_dir
    path = os.path.join(dataset_dir('pcifar10', data_root), 'data.json')
    try:
        classes = read_json(path, 'pcifar10 description').get(
            'source', {}).get('classes') if os.path.lexists(path) else None
    except (BranchyNetError, AttributeError):
        classes = None
    return list(classes) if classes else list(CIFAR10_CLASSES)


register_dataset(DatasetSpec('mnist', _load_mnist, (1, 28, 28), 10,
                             _mnist_classes, n_train=60000))
register_dataset(DatasetSpec('pcifar10', _load_pcifar10, IMAGE_SHAPE,
                             N_CLASSES, _pcifar10_classes, n_train=50000,
                             whitened=True))


# ------------------------------------------- the sources standing in for one

def _check_file(path):
    if not os.path.lexists(path):
        raise BranchyNetError('data set file %s does not exist' % path)
    check_regular(path, 'data set file')


def _load_npz(path, data_root, like):
    return load_user_npz(path, like.shape, like.n_classes)


def _check_folder(path):
    if not os.path.isdir(path):
        raise BranchyNetError('image folder %s does not exist or is not '
                              'a folder' % path)


def _load_images(root, data_root, like):
    """An image folder standing in for data set ``like``: its image shape,
    at most its classes; pixels / 255 as float32."""
    from branchynet.data.images import load_image_folder
    (c, h, w), n_classes = like.shape, like.n_classes
    (x_train, y_train, x_test, y_test), classes = load_image_folder(
        root, channels=c, size=(h, w), data_root=data_root)
    if len(classes) > n_classes:
        raise BranchyNetError('image folder %s has %d classes, more than the '
                              '%d of %s' % (root, len(classes), n_classes,
                                            like.name))
    return (_scaled(x_train), y_train, _scaled(x_test), y_test)


def _image_classes(root):
    """Its sorted class folders."""
    from branchynet.data.images import scan
    return scan(root)[0]


def _scaled(x):
    out = numpy.empty(x.shape, numpy.float32)
    for i in range(0, len(x), 4096):
        out[i:i + 4096] = x[i:i + 4096] / numpy.float32(255)
    return out


def _describe_images(root):
    from branchynet.data.images import describe
    return describe(root)


register_source(DataSource(USER_PREFIX, USER_PREFIX + 'PATH for your own file',
                           'a data set file', _check_file, _load_npz,
                           describe=describe_user_npz))
register_source(DataSource(IMAGES_PREFIX,
                           IMAGES_PREFIX + 'DIR for an image folder',
                           'an image folder', _check_folder, _load_images,
                           _image_classes, _describe_images))

#: image shape ``(C, H, W)`` and classes of each named data set (a view of
#: :data:`DATASETS`)
SHAPES = DATASETS.view(lambda spec: (spec.shape, spec.n_classes))


# -------------------------------------------------------- loading by name

def _named(name):
    """The :class:`DatasetSpec` called ``name``, or None."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        return None


def _choices():
    """``mnist, pcifar10, npz:PATH for your own file, or images:DIR ...``"""
    parts = list(DATASETS) + [s.usage for s in SOURCES.values()]
    return parts[0] if len(parts) == 1 else '%s, or %s' % (
        ', '.join(parts[:-1]), parts[-1])


def resolve_dataset(name):
    """A data set name as saved with a model: a named data set (``mnist``,
    ``pcifar10``), or a source's prefix and the absolute path of an
    existing file or folder (``npz:/abs/path``; so that later commands find
    it from any folder).

    Raises:
        BranchyNetError: an unknown name, or no such file.
    """
    if name in DATASETS:
        return name
    source = source_of(name)
    if source is not None and name[len(source.prefix):]:
        path = os.path.expanduser(name[len(source.prefix):])
        source.check(path)
        return source.prefix + os.path.abspath(path)
    raise BranchyNetError('unknown data set %.100r (%s)' % (name, _choices()))


def dataset_classes(name, data_root='auto'):
    """The class names of data set ``name`` (label order), or None when
    they are unknown (a user's ``npz:`` file): ``images:DIR`` its sorted
    folders; ``pcifar10`` those its ``data.json`` records (built from
    images), else CIFAR-10's; ``mnist`` the digits."""
    source = source_of(name)
    if source is not None:
        if source.classes is None:
            return None
        return source.classes(resolve_dataset(name)[len(source.prefix):])
    spec = _named(name)
    return None if spec is None else spec.classes(data_root)


def check_classes(name, saved, data_root='auto'):
    """Raise unless data set ``name`` has now the classes ``saved`` (those a
    model was trained on, in label order): a class folder renamed, added or
    removed since, or pcifar10 rebuilt from other images, would give its
    labels other meanings. Nothing to compare when ``saved`` is empty (a
    model saved before classes were recorded) or the data set does not
    know its classes (``npz:``)."""
    if not saved:
        return
    if not isinstance(saved, list):
        raise BranchyNetError('the model records its classes as %.60r, not '
                              'a list of names' % (saved,))
    now = dataset_classes(name, data_root)
    if now is None or list(now) == list(saved):
        return
    saved, now = [str(c) for c in saved], [str(c) for c in now]
    only_saved = [c for c in saved if c not in now]
    only_now = [c for c in now if c not in saved]
    if only_saved or only_now:
        difference = 'only in the model: %s; only in the data set now: %s' % (
            _listed(only_saved), _listed(only_now))
    else:
        difference = 'the same names in another order'
    raise BranchyNetError(
        'data set %s has other classes than the model was trained on (%s): '
        'its labels would mean other classes; restore the data set, or '
        'train again' % (name, difference))


def _listed(names, most=10):
    """``a, b, c`` (``-`` for none; the first ``most``, then how many
    more)."""
    shown = ', '.join(repr(n) for n in names[:most]) or '-'
    return shown + (' and %d more' % (len(names) - most)
                    if len(names) > most else '')


def describe_dataset(name):
    """``((C, H, W), n_classes)`` of data set ``name``: a named one's
    declared shape and classes, a source's read from its data."""
    spec = _named(name)
    if spec is not None:
        return tuple(spec.shape), spec.n_classes
    source = source_of(resolve_dataset(name))
    return source.describe(resolve_dataset(name)[len(source.prefix):])


def load_dataset(name, data_root='auto', like=None):
    """``(x_train, y_train, x_test, y_test)`` of data set ``name``.

    Args:
        name (str): ``mnist``, ``pcifar10``, ``npz:PATH`` or
            ``images:DIR``.
        data_root (str): the data root; ``'auto'`` for the default one.
        like (str): for ``npz:PATH`` and ``images:DIR``, the named data set
            the file stands in for (its images must have that shape, its
            labels at most that many classes): the experiment's own data
            set.
    """
    source = source_of(name)
    if isinstance(like, DatasetSpec):   # a user network's (its experiment's)
        like_spec = like
    elif like in DATASETS:
        like_spec = DATASETS[like]
    else:
        like_spec = None
    if source is not None:
        if like_spec is None:
            raise BranchyNetError('%s (%s) needs the data set it stands in '
                                  'for (one of %s), got %r'
                                  % (source.what, name, ', '.join(DATASETS),
                                     like))
        path = resolve_dataset(name)[len(source.prefix):]
        return source.load(path, data_root, like_spec)
    spec = _named(name)
    if spec is None:
        raise BranchyNetError('unknown data set %r' % name)
    return spec.load(data_root)


def split_validation(x, y, val_size, seed=0):
    """Carve a validation split out of the training data.

    The split is a fixed random subset (``seed``), so training and the
    threshold sweep that later tunes on it agree on which samples it holds.

    Returns:
        tuple: ``(x_train, y_train, x_val, y_val)``; the validation arrays are
        empty when ``val_size`` is 0.
    """
    if val_size < 0:
        raise BranchyNetError('validation size must be >= 0, got %d'
                              % val_size)
    if val_size >= len(x):
        # at least one training image must remain
        raise BranchyNetError(
            'the data set is too small for a %d-image validation split: it '
            'has %d training image(s) (choose --val-size below %d, or 0 '
            'with --protocol reference)' % (val_size, len(x), len(x)))
    order = numpy.random.RandomState(seed).permutation(len(x))
    val, train = numpy.sort(order[:val_size]), numpy.sort(order[val_size:])
    return x[train], y[train], x[val], y[val]


def load_splits(name, val_size, train_limit=0, test_limit=0,
                data_root='auto', like=None):
    """Train, validation and test splits of data set ``name``.

    Args:
        name (str): ``mnist``, ``pcifar10`` or ``npz:PATH`` (with ``like``,
            see :func:`load_dataset`).
        val_size (int): training samples held out (:func:`split_validation`).
        train_limit, test_limit (int): keep only the first N samples of the
            training and of the test and validation splits (0: all).
        data_root (str): the data root (see :func:`load_dataset`).

    Returns:
        dict: ``train``, ``val``, ``test``, each an ``(x, y)`` tuple of
        float32 ``(N, C, H, W)`` images and int32 ``(N,)`` labels.
    """
    x_train, y_train, x_test, y_test = load_dataset(name, data_root, like)
    x_train, y_train, x_val, y_val = split_validation(
        x_train, y_train, val_size, seed=0)
    if train_limit:
        x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    if test_limit:
        x_test, y_test = x_test[:test_limit], y_test[:test_limit]
        x_val, y_val = x_val[:test_limit], y_val[:test_limit]
    return {'train': (x_train, y_train), 'val': (x_val, y_val),
            'test': (x_test, y_test)}


__all__ = ['DATASETS', 'DataSource', 'DatasetSpec', 'SHAPES', 'SOURCES',
           'check_classes', 'dataset_classes', 'describe_dataset', 'get_data_root', 'get_mnist', 'get_pcifar10',
           'load_dataset', 'load_splits', 'load_user_npz', 'register_dataset',
           'register_source', 'resolve_dataset', 'split_validation']
