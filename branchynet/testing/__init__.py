"""Contract checks, one per extension point (as ChainerCV's
``utils.testing.assertions``): ``tests/test_contracts.py`` runs them over
everything registered, so a new network, runtime, data set, score or rule
gets its tests by being registered; a user's own item can be checked the
same way::

    from branchynet.testing import assert_is_network
    assert_is_network(my_spec)

This package sits above every layer it checks (``tests/test_layers.py``);
each check imports what it needs when it runs.
"""
from branchynet.testing.common import ATOL, images, thresholds_between
from branchynet.testing.dataset import assert_is_dataset
from branchynet.testing.network import assert_is_network
from branchynet.testing.onnx import assert_onnx_matches_chainer
from branchynet.testing.rule import assert_is_rule
from branchynet.testing.runtime import (assert_is_runtime,
                                        assert_runtime_matches_chainer)
from branchynet.testing.score import assert_is_score

__all__ = ['ATOL', 'assert_is_dataset', 'assert_is_network',
           'assert_is_rule', 'assert_is_runtime', 'assert_is_score',
           'assert_onnx_matches_chainer', 'assert_runtime_matches_chainer',
           'images', 'thresholds_between']
