"""Data sets: loading by name, and the validation split used to tune thresholds.

Every function takes the **data root**, the folder holding ``mnist/``,
``cifar10/`` and ``pcifar10/`` (as ChainerCV's dataset root); ``'auto'`` is
:func:`get_data_root`'s default. The modules: :mod:`.download` (data root,
bounded verified downloads), :mod:`.mnist`, :mod:`.cifar10` (the official
python batches), :mod:`.safe_pickle` (their restricted unpickling),
:mod:`.pcifar10` (recipes and ``data.npz``), :mod:`.user_npz` (a user's own
data set file, validated).
"""
import numpy

from branchynet.data.download import get_data_root
from branchynet.data.mnist import get_mnist
from branchynet.data.pcifar10 import get_pcifar10
from branchynet.data.user_npz import load_user_npz
from branchynet.errors import BranchyNetError


def load_dataset(name, data_root='auto'):
    """``(x_train, y_train, x_test, y_test)`` of data set ``name``.

    Args:
        name (str): ``mnist`` or ``pcifar10``.
        data_root (str): the data root; ``'auto'`` for the default one.
    """
    if name == 'mnist':
        return get_mnist(data_root)
    if name == 'pcifar10':
        # whichever recipe built the file on disk (data.json says which)
        return get_pcifar10(data_root, recipe=None)
    raise BranchyNetError('unknown data set %r' % name)


def split_validation(x, y, val_size, seed=0):
    """Carve a validation split out of the training data.

    The split is a fixed random subset (``seed``), so training and the
    threshold sweep that later tunes on it agree on which samples it holds.

    Returns:
        tuple: ``(x_train, y_train, x_val, y_val)``; the validation arrays are
        empty when ``val_size`` is 0.
    """
    if not 0 <= val_size < len(x):
        raise BranchyNetError('validation size must be in [0, %d), got %d'
                              % (len(x), val_size))
    order = numpy.random.RandomState(seed).permutation(len(x))
    val, train = numpy.sort(order[:val_size]), numpy.sort(order[val_size:])
    return x[train], y[train], x[val], y[val]


def load_splits(name, val_size, train_limit=0, test_limit=0,
                data_root='auto'):
    """Train, validation and test splits of data set ``name``.

    Args:
        name (str): ``mnist`` or ``pcifar10``.
        val_size (int): training samples held out (:func:`split_validation`).
        train_limit, test_limit (int): keep only the first N samples of the
            training and of the test and validation splits (0: all).
        data_root (str): the data root (see :func:`load_dataset`).

    Returns:
        dict: ``train``, ``val``, ``test``, each an ``(x, y)`` tuple of
        float32 ``(N, C, H, W)`` images and int32 ``(N,)`` labels.
    """
    x_train, y_train, x_test, y_test = load_dataset(name, data_root)
    x_train, y_train, x_val, y_val = split_validation(
        x_train, y_train, val_size, seed=0)
    if train_limit:
        x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    if test_limit:
        x_test, y_test = x_test[:test_limit], y_test[:test_limit]
        x_val, y_val = x_val[:test_limit], y_val[:test_limit]
    return {'train': (x_train, y_train), 'val': (x_val, y_val),
            'test': (x_test, y_test)}


__all__ = ['get_data_root', 'get_mnist', 'get_pcifar10', 'load_dataset',
           'load_splits', 'load_user_npz', 'split_validation']
