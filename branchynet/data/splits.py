"""The splits a run trains, tunes and tests on: the validation split carved
out of the training data (the one the threshold sweep tunes on), and the
three splits of a data set by name (:func:`load_splits`)."""
import numpy

from branchynet.data.loading import load_dataset
from branchynet.errors import BranchyNetError


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
            see :func:`~branchynet.data.loading.load_dataset`).
        val_size (int): training samples held out (:func:`split_validation`).
        train_limit, test_limit (int): keep only the first N samples of the
            training and of the test and validation splits (0: all).
        data_root (str): the data root (see
            :func:`~branchynet.data.loading.load_dataset`).

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
