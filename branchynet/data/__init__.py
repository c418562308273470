"""Data sets: loading by name, and the validation split used to tune thresholds."""
import numpy

from branchynet.data.download import get_data_root
from branchynet.data.mnist import get_mnist
from branchynet.errors import BranchyNetError


def load_dataset(name, data_dir='auto'):
    """``(x_train, y_train, x_test, y_test)`` of data set ``name``.

    Args:
        name (str): ``mnist`` or ``pcifar10``.
        data_dir (str): where the files are; ``'auto'`` for the data root.
    """
    if name == 'mnist':
        return get_mnist(data_dir)
    if name == 'pcifar10':
        from branchynet.data.cifar10 import get_pcifar10
        # whichever recipe built the file on disk (data.json says which)
        return get_pcifar10(data_dir, recipe=None)
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
                data_dir='auto'):
    """Train, validation and test splits of data set ``name``.

    Args:
        name (str): ``mnist`` or ``pcifar10``.
        val_size (int): training samples held out (:func:`split_validation`).
        train_limit, test_limit (int): keep only the first N samples of the
            training and of the test and validation splits (0: all).

    Returns:
        dict: ``train``, ``val``, ``test``, each an ``(x, y)`` tuple of
        float32 ``(N, C, H, W)`` images and int32 ``(N,)`` labels.
    """
    x_train, y_train, x_test, y_test = load_dataset(name, data_dir)
    x_train, y_train, x_val, y_val = split_validation(
        x_train, y_train, val_size, seed=0)
    if train_limit:
        x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    if test_limit:
        x_test, y_test = x_test[:test_limit], y_test[:test_limit]
        x_val, y_val = x_val[:test_limit], y_val[:test_limit]
    return {'train': (x_train, y_train), 'val': (x_val, y_val),
            'test': (x_test, y_test)}


__all__ = ['get_data_root', 'get_mnist', 'load_dataset', 'load_splits',
           'split_validation']
