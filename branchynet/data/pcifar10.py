"""pcifar10, the preprocessed CIFAR-10 that B-AlexNet and B-ResNet-110 train
on: its recipes, and its ``data.npz`` in ``<data root>/pcifar10/``.

The reference trains on a file ``pcifar10/data.npz`` that was never
published; :func:`get_pcifar10` regenerates it from the CIFAR-10 batches
(:mod:`branchynet.data.cifar10`) with a named recipe (:data:`RECIPES`),
writes it atomically with a sidecar ``data.json`` saying how it was made,
and accepts a user's own ``data.npz`` (same four keys) after validating it
(:func:`~branchynet.data.user_npz.load_user_npz`).

The recipes (see :func:`build_pcifar10`; their arithmetic, ZCA whitening,
min-max rescaling and global contrast normalisation of pixel rows, is
:mod:`branchynet.data.normalisation`'s):

- ``'zca'`` (default; the reference's ``datasets/cifar10.py``): ZCA whitening
  fitted on the raw 0-255 training vectors (3072-d; mean subtracted;
  covariance over the training set divided by N; eigendecomposition; no
  epsilon), applied to the training and test sets with the training mean and
  matrix; then every image is rescaled by its own min and max to [0, 1].
- ``'gcn'`` (the reference's ``datasets/cifar10gcn.py``): pixels / 255, minus
  the per-pixel training mean, then global contrast normalisation of every
  image: minus its own mean, divided by its own standard deviation
  (``ddof=1``; an image whose std is below 1e-8 is left undivided).

Folders (below the data root, :func:`~branchynet.data.get_data_root`):

- ``cifar10/``: ``cifar-10-python.tar.gz`` and/or ``cifar-10-batches-py/``;
- ``pcifar10/``: ``data.npz`` (keys ``train_x``, ``train_y``, ``test_x``,
  ``test_y``) and ``data.json``.

:data:`SPEC` is pcifar10 as a named data set (``pcifar10``), with its
classes (:func:`pcifar10_classes`) and what it was built from
(:func:`pcifar10_origin`).
"""
import datetime
import os

import numpy

from branchynet.data.cifar10 import (CIFAR10_CLASSES, CIFAR10_FILE_MD5,
                                     CIFAR10_MD5, CIFAR10_URLS, IMAGE_SHAPE,
                                     N_CLASSES, load_cifar10)
from branchynet.data.root import LEFTOVER_AGE, dataset_dir
from branchynet.data.files import check_folder, read_json
from branchynet.data.normalisation import (CHUNK, flat_rows, gcn_rows,
                                           map_rows, minmax_rows, zca_fit)
from branchynet.data.registry import DatasetSpec
from branchynet.data.user_npz import load_user_npz
from branchynet.errors import BranchyNetError
from branchynet.utils.atomic import (atomic_path, remove_leftovers,
                                     write_json_atomic)
from branchynet.version import __version__

#: the pcifar10 recipes :func:`build_pcifar10` knows
RECIPES = ('zca', 'zca32', 'gcn')
RECIPE_DESCRIPTIONS = {
    'zca': 'ZCA whitening fitted on the raw 0-255 training vectors '
           '(covariance over the training set, no epsilon), applied to train '
           'and test; then each image min-max rescaled to [0, 1] '
           '(reference datasets/cifar10.py, fitted in float64)',
    'zca32': "the 'zca' recipe with the whitening fitted in float32, as the "
             'reference datasets/cifar10.py (lines 20-27) did',
    'gcn': 'pixels / 255, minus the per-pixel training mean, then each image '
           'minus its mean and divided by its std (ddof=1) '
           '(reference datasets/cifar10gcn.py)',
}


# ---------------------------------------------------------------------------
# The recipes (their arithmetic is in normalisation.py)
# ---------------------------------------------------------------------------

def build_pcifar10(x_train, x_test, recipe='zca', chunk=CHUNK):
    """Preprocess CIFAR-10 images with a pcifar10 recipe.

    Statistics (mean, whitening matrix) come from the training set only and
    are applied unchanged to the test set. Work is done in float64 over
    chunks of ``chunk`` images; only the float32 results are held in full.

    Args:
        x_train (array): raw training images, ``(N, 3, 32, 32)`` uint8 as
            :func:`~branchynet.data.cifar10.load_cifar10` returns them
            (any ``(N, ...)`` numeric array works; rows are flattened).
        x_test (array): raw test images, same trailing shape.
        recipe (str): ``'zca'``, ``'zca32'`` or ``'gcn'``; see
            :data:`RECIPE_DESCRIPTIONS`.

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
    flat_train, flat_test = flat_rows(x_train), flat_rows(x_test)
    if recipe in ('zca', 'zca32'):
        precision = numpy.float32 if recipe == 'zca32' else numpy.float64
        mean, matrix = zca_fit(flat_train, chunk, dtype=precision)

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
    return (map_rows(flat_train, fn, chunk).reshape(x_train.shape),
            map_rows(flat_test, fn, chunk).reshape(x_test.shape))


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
    try:
        return load_user_npz(path, IMAGE_SHAPE, N_CLASSES, name='pcifar10',
                             any_float=True)
    except BranchyNetError as e:
        raise BranchyNetError(
            '%s. Fix it, or delete it (and data.json) to regenerate it from '
            'CIFAR-10' % e) from None


def _check_sidecar(directory, recipe):
    """Raise if ``data.json`` names a recipe other than ``recipe``."""
    path = os.path.join(directory, 'data.json')
    if recipe is None or not os.path.lexists(path):
        return
    try:
        meta = read_json(path, 'pcifar10 description')
    except BranchyNetError as e:
        raise BranchyNetError('%s; delete it' % e) from None
    if not isinstance(meta, dict):
        raise BranchyNetError('pcifar10 description %s is unreadable (not a '
                              'JSON object); delete it' % path)
    built = meta.get('recipe')
    if built != recipe:
        raise BranchyNetError(
            'pcifar10 file %s was built with recipe %r (says %s), not %r: '
            'choose recipe %r, or delete data.npz and data.json (or rebuild '
            'with force) to build it with %r' % (
                os.path.join(directory, 'data.npz'), built, path, recipe,
                built, recipe))


def _from_images(images_dir, data_root):
    """The raw arrays and source description of an image folder
    (:mod:`branchynet.data.images`) standing in for the CIFAR-10 batches:
    32x32 RGB, 10 classes."""
    from branchynet.data.images import load_image_folder_fingerprinted
    # the fingerprint of exactly the files decoded (checked unchanged
    # after decoding), not of a later scan
    (x_train, y_train, x_test, y_test), classes, digest = \
        load_image_folder_fingerprinted(images_dir, channels=3,
                                        size=IMAGE_SHAPE[1:],
                                        data_root=data_root)
    if len(classes) != N_CLASSES:
        raise BranchyNetError('image folder %s has %d classes (%s), pcifar10 '
                              'needs %d' % (images_dir, len(classes),
                                            ', '.join(classes), N_CLASSES))
    source = {'kind': 'images', 'path': os.path.abspath(images_dir),
              'classes': classes, 'fingerprint': digest,
              'counts': {'train': len(y_train), 'test': len(y_test)}}
    return (x_train, y_train, x_test, y_test), source


def _images_fingerprint(images_dir):
    from branchynet.data.image_files import fingerprint, scan
    root = os.path.abspath(os.path.expanduser(images_dir))
    classes, files = scan(root)
    return fingerprint(root, classes, files, 3)


def _sidecar(directory):
    """``data.json`` and its ``source``, each {} when the file is absent,
    unreadable or holds no such object (for the readers of what it was
    built from; :func:`_check_sidecar` refuses a bad file itself)."""
    path = os.path.join(directory, 'data.json')
    try:
        meta = read_json(path, 'pcifar10 description') \
            if os.path.lexists(path) else {}
    except BranchyNetError:
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    source = meta.get('source')
    return meta, source if isinstance(source, dict) else {}


def _check_built_from(directory, images_dir):
    """Raise unless ``data.json`` says data.npz was built from the image
    folder ``images_dir`` as it is now (same files, sizes, mtimes)."""
    path = os.path.join(directory, 'data.json')
    if _sidecar(directory)[1].get('fingerprint') != \
            _images_fingerprint(images_dir):
        raise BranchyNetError(
            'pcifar10 file %s exists but was not built from the image folder '
            '%s as it is now (%s says otherwise): add --force to rebuild it '
            'from the images' % (os.path.join(directory, 'data.npz'),
                                 os.path.abspath(images_dir), path))


def _build(directory, cifar_dir, recipe, download, urls, md5, file_md5,
           images_dir=None, data_root='auto'):
    """Build pcifar10 into ``directory`` from the CIFAR folder
    ``cifar_dir`` (or the image folder ``images_dir``); returns the four
    arrays."""
    if images_dir is not None:
        (x_train, y_train, x_test, y_test), source = _from_images(
            images_dir, data_root)
    else:
        (x_train, y_train, x_test, y_test), source = load_cifar10(
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


def _folders(data_root, cifar_dir):
    """``(pcifar10 folder, CIFAR folder)``; both in the data root unless
    ``cifar_dir`` names the CIFAR folder; leftovers of a killed build go."""
    directory = dataset_dir('pcifar10', data_root)
    check_folder(directory, 'pcifar10 folder')
    if cifar_dir in (None, 'auto'):
        cifar_dir = dataset_dir('cifar10', data_root)
    remove_leftovers(directory, older_than=LEFTOVER_AGE)
    return directory, os.path.abspath(os.path.expanduser(cifar_dir))


def get_pcifar10(data_root='auto', recipe='zca', download=True,
                 cifar_dir=None, urls=CIFAR10_URLS, md5=CIFAR10_MD5,
                 file_md5=CIFAR10_FILE_MD5):
    """Load pcifar10, building it from the CIFAR-10 batches when absent.

    When ``<data root>/pcifar10/data.npz`` exists it is validated
    (:func:`load_pcifar10_npz`) and returned; a ``data.json`` beside it
    naming another recipe is an error. A ``data.npz`` without ``data.json``
    (a user's own file) is used as is. Otherwise CIFAR-10 is loaded from
    ``<data root>/cifar10``
    (:func:`~branchynet.data.cifar10.load_cifar10`), preprocessed with
    ``recipe``
    (:func:`build_pcifar10`), and written to ``data.npz`` with a ``data.json``
    recording the recipe, the source's sha256, the shapes and the package
    version; both are written atomically.

    Args:
        data_root (str): the data root (``'auto'``: the default one).
        recipe (str or None): ``'zca'`` or ``'gcn'``; ``None`` accepts an
            existing file whatever its recipe and builds with ``'zca'``.
        download (bool): download CIFAR-10 if it is needed and missing.
        cifar_dir (str or None): the CIFAR folder, instead of
            ``<data root>/cifar10``.
        urls, md5, file_md5: see
            :func:`~branchynet.data.cifar10.load_cifar10`.

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
    directory, cifar_dir = _folders(data_root, cifar_dir)
    npz_path = os.path.join(directory, 'data.npz')
    if os.path.exists(npz_path):
        _check_sidecar(directory, recipe)
        return load_pcifar10_npz(npz_path)
    return _build(directory, cifar_dir, recipe or 'zca', download, urls, md5,
                  file_md5)


def prepare_pcifar10(data_root='auto', cifar_dir=None, recipe='zca',
                     force=False, download=True, urls=CIFAR10_URLS,
                     md5=CIFAR10_MD5, file_md5=CIFAR10_FILE_MD5,
                     images_dir=None):
    """Make sure pcifar10 exists; build it (again, with ``force``).

    Without ``force`` an existing ``data.npz`` is only validated (and its
    ``data.json`` recipe checked). With ``force`` it is rebuilt from
    CIFAR-10 and replaced, a user's own file included. Arguments as in
    :func:`get_pcifar10`; ``images_dir``: build from this image folder
    (``train/CLASS/*.jpg``..., :mod:`branchynet.data.images`) instead of
    the CIFAR-10 batches, with the same recipe (its classes and counts go
    in ``data.json``).

    Returns:
        str: the path of ``data.npz``.
    """
    _check_recipe(recipe)
    directory, cifar_dir = _folders(data_root, cifar_dir)
    npz_path = os.path.join(directory, 'data.npz')
    if os.path.exists(npz_path) and not force:
        _check_sidecar(directory, recipe)
        if images_dir is not None:
            _check_built_from(directory, images_dir)
        load_pcifar10_npz(npz_path)
    else:
        _build(directory, cifar_dir, recipe, download, urls, md5, file_md5,
               images_dir=images_dir, data_root=data_root)
    return npz_path


def _load_built(data_root):
    """pcifar10 as built on disk, whichever recipe built it (its
    ``data.json`` says which): the registered loader."""
    return get_pcifar10(data_root, recipe=None)


def pcifar10_classes(data_root='auto'):
    """pcifar10's class names in label order: those its ``data.json``
    records (built from images), else CIFAR-10's."""
    classes = _sidecar(dataset_dir('pcifar10', data_root))[1].get('classes')
    return list(classes) if classes else list(CIFAR10_CLASSES)


#: what ``data.json``'s source kind says pcifar10 was built from, in words
#: that do not depend on the machine (the tarball and its extracted folder
#: hold the same batches)
BUILT_FROM = {'images': 'an image folder',
              'tarball': 'the CIFAR-10 python batches',
              'folder': 'the CIFAR-10 python batches'}


def pcifar10_origin(data_root='auto'):
    """What the pcifar10 of ``data_root`` was built from, as its
    ``data.json`` says: ``{'built_from': ..., 'recipe': ...}`` (see
    :attr:`~branchynet.data.registry.DatasetSpec.origin`), both None when
    it is not built. Not the image folder's fingerprint: that holds file
    times, which differ on every copy."""
    directory = dataset_dir('pcifar10', data_root)
    if not os.path.lexists(os.path.join(directory, 'data.npz')):
        return {'built_from': None, 'recipe': None}       # not built yet
    meta, source = _sidecar(directory)
    kind, recipe = source.get('kind'), meta.get('recipe')
    known = isinstance(kind, str) and kind in BUILT_FROM
    return {'built_from': BUILT_FROM[kind] if known else
            'a data.npz of unrecorded origin',
            'recipe': recipe if isinstance(recipe, str) else None}


#: pcifar10 as a named data set (registered in :mod:`branchynet.data`)
SPEC = DatasetSpec('pcifar10', _load_built, IMAGE_SHAPE, N_CLASSES,
                   pcifar10_classes, n_train=50000, whitened=True,
                   origin=pcifar10_origin)


__all__ = ['BUILT_FROM', 'RECIPES', 'RECIPE_DESCRIPTIONS', 'SPEC',
           'build_pcifar10', 'get_pcifar10', 'load_pcifar10_npz',
           'pcifar10_classes', 'pcifar10_origin', 'prepare_pcifar10']
