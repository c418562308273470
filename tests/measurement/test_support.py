"""check_supported: the counter's and the exporter's checks, one line."""
import functools

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest

from branchynet.errors import BranchyNetError
from branchynet.measurement import profiling
from branchynet.measurement.support import check_supported
from branchynet.networks import INPUT_SHAPES, b_lenet
from branchynet.networks.layers import (avg_pool, dropout, flatten, lrn,
                                        max_pool, relu)
from branchynet.networks.model import BranchyNet
from branchynet.runtimes.onnx import converters
from branchynet.testing import assert_onnx_matches_chainer


def every_kind(extra=(), head=()):
    """Two exits on (3, 8, 8) holding every supported layer kind, and
    ``extra`` at the end of stage 2 (its layer 12), ``head`` at the start
    of exit 2's head."""
    numpy.random.seed(0)
    stage1 = chainer.Sequential(
        L.Convolution2D(3, 4, 3, pad=1), L.BatchNormalization(4), relu,
        functools.partial(F.leaky_relu, slope=0.1), lrn(),
        functools.partial(F.max_pooling_2d, ksize=3, stride=2, pad=1),
        dropout(0.5))
    stage2 = chainer.Sequential(
        L.Convolution2D(4, 4, 3, pad=2, dilate=2, groups=2), F.elu, F.tanh,
        F.sigmoid, F.softplus, F.relu6,
        functools.partial(F.clipped_relu, z=0.5), F.dropout,
        avg_pool(1, 1), max_pool(2, 2),
        functools.partial(F.reshape, shape=(-1, 4, 9)),
        functools.partial(F.reshape, shape=(-1, 4, 3, 3)), *extra)
    return BranchyNet(
        [stage1, stage2],
        [chainer.Sequential(flatten, L.Linear(None, 5)),
         chainer.Sequential(*head, L.Linear(None, 5))])


def test_every_supported_kind_passes_and_exports_as_chainer_runs_it():
    model = every_kind()
    check_supported(model, (3, 8, 8))
    x = (5 * numpy.random.RandomState(1).randn(3, 3, 8, 8)).astype(
        numpy.float32)
    assert_onnx_matches_chainer(model, x)


def test_the_registered_networks_pass():
    check_supported(b_lenet(), INPUT_SHAPES['b_lenet'])


class Doubling(chainer.Link):
    def forward(self, x):
        return 2 * x


class CallLinear(L.Linear):
    """A Linear whose __call__ (not forward) does more: Chainer runs it,
    an exporter that took it for a Linear would write a plain Gemm."""

    def __call__(self, x):
        return super().__call__(x) * 2 + 1


@pytest.mark.parametrize('layer, kind, why', [
    (lambda: (lambda x: x), '<lambda>', 'lambda cannot be recognised'),
    (Doubling, 'Doubling', 'LINK_MACS'),
    (lambda: L.Highway(16), 'Highway', 'LINK_MACS'),
    (lambda: F.sin, 'sin', 'FREE_FUNCTIONS'),
    (lambda: F.flatten, 'flatten', 'batch axis'),
    (lambda: functools.partial(F.reshape, shape=(1, 4, 3, 3)), 'reshape',
     'fixes the batch size'),
    (lambda: L.Convolution2D(3, 4, 1), 'Convolution2D',
     'fails on an input of shape (1, 4, 3, 3)'),
    (lambda: CallLinear(None, 6), 'CallLinear',
     "a subclass of Linear with a __call__ of its own (which may do "
     "anything) is not Linear's kind in "
     "branchynet.measurement.profiling.LINK_MACS"),
])
def test_an_unsupported_layer_is_one_line_naming_it(layer, kind, why):
    with pytest.raises(BranchyNetError) as e:
        check_supported(every_kind([layer()]), (3, 8, 8))
    message = str(e.value)
    assert '\n' not in message
    assert 'stages/1/12 (%s)' % kind in message
    assert why in message


def test_a_layer_of_an_exit_head_is_named_by_its_path():
    with pytest.raises(BranchyNetError, match=r'exits/1/0 \(Doubling\)'):
        check_supported(every_kind(head=[Doubling()]), (3, 8, 8))


def test_an_unknown_layer_is_refused_before_anything_runs():
    ran = []
    with pytest.raises(BranchyNetError, match=r'stages/1/12 \(<lambda>\)'):
        check_supported(every_kind([lambda x: ran.append(x) or x]),
                        (3, 8, 8))
    assert ran == []


def test_both_tables_are_asked(monkeypatch):
    monkeypatch.setattr(profiling, 'FREE_FUNCTIONS',
                        profiling.FREE_FUNCTIONS - {F.tanh})
    with pytest.raises(BranchyNetError, match=r'^cannot count the '
                       r'multiply-adds of stages/1/2 \(tanh\)'):
        check_supported(every_kind(), (3, 8, 8))
    monkeypatch.undo()
    monkeypatch.delitem(converters.FUNCTIONS, F.tanh)
    with pytest.raises(BranchyNetError, match=r'^cannot export stages/1/2 '
                       r'\(tanh\): no ONNX converter'):
        check_supported(every_kind(), (3, 8, 8))


def test_the_model_and_the_random_state_are_left_as_they_were():
    model = every_kind()
    numpy.random.seed(5)
    check_supported(model, (3, 8, 8))
    after = numpy.random.rand()
    numpy.random.seed(5)
    assert numpy.random.rand() == after
    # parameters Chainer sizes on the first call are still unsized
    assert model.exits[0][1].W.array is None


def test_not_a_branchynet():
    with pytest.raises(BranchyNetError, match='expected a '
                       'branchynet.BranchyNet, got Sequential'):
        check_supported(chainer.Sequential(F.relu), (3, 8, 8))


def test_a_subclass_with_a_call_of_its_own_is_refused_by_both_checks(
        monkeypatch):
    """Item 5 of issue 31: the counter refuses it; and were the counter
    told its kind, the exporter would still refuse it, not write a Linear
    that ONNX Runtime runs otherwise than Chainer."""
    model = every_kind([flatten, CallLinear(None, 6)])
    with pytest.raises(BranchyNetError, match=r'^cannot count the '
                       r'multiply-adds of stages/1/13 \(CallLinear\): a '
                       r'subclass of Linear with a __call__ of its own'):
        check_supported(model, (3, 8, 8))
    monkeypatch.setitem(profiling.LINK_MACS, CallLinear,
                        profiling.LINK_MACS[L.Linear])
    with pytest.raises(BranchyNetError) as e:
        check_supported(model, (3, 8, 8))
    assert str(e.value) == (
        "cannot export stages/1/13 (CallLinear): no ONNX converter: a "
        "subclass of Linear with a __call__ of its own (which may do "
        "anything) is not Linear's kind")
