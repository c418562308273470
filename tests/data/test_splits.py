"""The splits (:mod:`branchynet.data.splits`): the validation split carved
out of the training data, and a data set's three splits by name."""
import numpy
import pytest

from branchynet.data import (DATASETS, DatasetSpec, load_splits,
                             register_dataset, split_validation)
from branchynet.errors import BranchyNetError


def test_split_validation_is_disjoint_and_sized():
    x = numpy.arange(100)
    y = x * 10
    x_train, y_train, x_val, y_val = split_validation(x, y, 30, seed=0)
    assert len(x_train) == 70 and len(x_val) == 30
    assert set(x_train).isdisjoint(x_val)
    assert sorted(numpy.concatenate([x_train, x_val])) == list(x)
    numpy.testing.assert_array_equal(y_train, x_train * 10)   # pairs kept
    numpy.testing.assert_array_equal(y_val, x_val * 10)
    assert not numpy.array_equal(x_val, numpy.arange(30))     # random


def test_split_validation_is_deterministic():
    x = numpy.arange(50)
    a = split_validation(x, x, 10, seed=3)
    b = split_validation(x, x, 10, seed=3)
    c = split_validation(x, x, 10, seed=4)
    for u, v in zip(a, b):
        numpy.testing.assert_array_equal(u, v)
    assert not numpy.array_equal(a[2], c[2])


def test_split_validation_sizes_at_the_edges():
    x = numpy.arange(20)
    x_train, _, x_val, y_val = split_validation(x, x, 0)
    assert len(x_train) == 20 and len(x_val) == 0 and len(y_val) == 0
    for bad in (-1, 20, 25):
        with pytest.raises(BranchyNetError):
            split_validation(x, x, bad)


def test_split_validation_keeps_the_datas_order():
    """Each split holds its samples in the data's order (so the first N of
    ``--train-limit`` are the first of the data set that are not held out)."""
    x = numpy.arange(100)
    x_train, y_train, x_val, y_val = split_validation(x, x, 30, seed=0)
    assert list(x_train) == sorted(x_train) and list(x_val) == sorted(x_val)


@pytest.fixture
def counted():
    """A named data set whose images are their own index (train 0..39,
    test 100..119), registered for one test."""
    def load(root):
        x = numpy.arange(40, dtype=numpy.float32).reshape(40, 1, 1, 1)
        t = numpy.arange(100, 120, dtype=numpy.float32).reshape(20, 1, 1, 1)
        return x, numpy.zeros(40, numpy.int32), t, numpy.zeros(20, numpy.int32)
    spec = register_dataset(DatasetSpec('counted', load, (1, 1, 1), 2,
                                        lambda root: ['a', 'b'], n_train=40))
    yield spec
    DATASETS.unregister(spec.name)


def test_load_splits_holds_out_the_validation_split_then_limits(counted):
    splits = load_splits('counted', 10, data_root='unused')
    x_train, x_val = splits['train'][0].ravel(), splits['val'][0].ravel()
    expected = split_validation(numpy.arange(40), numpy.arange(40), 10)
    assert list(x_train) == list(expected[0])
    assert list(x_val) == list(expected[2])
    assert list(splits['test'][0].ravel()) == list(range(100, 120))
    limited = load_splits('counted', 10, train_limit=7, test_limit=3,
                          data_root='unused')
    assert list(limited['train'][0].ravel()) == list(x_train[:7])
    assert list(limited['val'][0].ravel()) == list(x_val[:3])   # test_limit
    assert list(limited['test'][0].ravel()) == [100, 101, 102]
