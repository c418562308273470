"""check_supported: the counter's and the exporter's checks, one line."""
import functools

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest

from branchynet.errors import BranchyNetError
from branchynet.measurement import profiling
from branchynet.measurement.preflight import check_supported
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
    """A Linear whose __call__ (not forward) does more: traced, it is
    exported as what it runs, not as a plain Gemm."""

    def __call__(self, x):
        return super().__call__(x) * 2 + 1


COSTS_ = 'no multiply-add entry (branchynet.measurement.profiling.COSTS)'
CONVERTERS_ = ('no ONNX converter '
               '(branchynet.runtimes.onnx.converters.CONVERTERS)')


@pytest.mark.parametrize('layer, place, why', [
    (lambda: F.sin, 'stages/1/12 (sin) ran Sin',
     COSTS_ + ', ' + CONVERTERS_),
    (lambda: (lambda x: F.exp(x)), 'stages/1/12 (<lambda>) ran Exp',
     COSTS_ + ', ' + CONVERTERS_),
    (lambda: lambda h: F.reshape(F.flatten(h), h.shape),
     'stages/1/12 (<lambda>) ran Reshape', 'across the batch axis'),
    (lambda: functools.partial(F.reshape, shape=(1, 4, 3, 3)),
     'stages/1/12 (reshape)', 'fails on an input of shape (2, 4, 3, 3)'),
    (lambda: L.Convolution2D(3, 4, 1), 'stages/1/12 (Convolution2D)',
     'fails on an input of shape (1, 4, 3, 3)'),
])
def test_an_unsupported_layer_is_one_line_naming_it(layer, place, why):
    with pytest.raises(BranchyNetError) as e:
        check_supported(every_kind([layer()]), (3, 8, 8))
    message = str(e.value)
    assert '\n' not in message
    assert place in message
    assert why in message


def test_a_function_of_an_exit_head_is_named_by_its_path():
    with pytest.raises(BranchyNetError, match=r'exits/1/0 \(sin\) ran Sin'):
        check_supported(every_kind(head=[F.sin]), (3, 8, 8))


def test_every_unsupported_place_is_listed_in_one_message():
    model = every_kind([F.sin, F.cos], head=[F.arctan])
    with pytest.raises(BranchyNetError) as e:
        check_supported(model, (3, 8, 8))
    message = str(e.value)
    assert message.startswith('cannot count or export this network: ')
    assert '\n' not in message
    for place in ('stages/1/12 (sin) ran Sin', 'stages/1/13 (cos) ran Cos',
                  'exits/1/0 (arctan) ran Arctan'):
        assert message.count(place + ': ' + COSTS_ + ', ' + CONVERTERS_) \
            == 1, place


def test_both_tables_are_asked(monkeypatch):
    from chainer.functions.activation.tanh import Tanh
    monkeypatch.delitem(profiling.COSTS, Tanh)
    with pytest.raises(BranchyNetError) as e:
        check_supported(every_kind(), (3, 8, 8))
    assert str(e.value) == ('cannot count or export this network: '
                            'stages/1/2 (tanh) ran Tanh: ' + COSTS_)
    monkeypatch.undo()
    monkeypatch.delitem(converters.CONVERTERS, Tanh)
    with pytest.raises(BranchyNetError) as e:
        check_supported(every_kind(), (3, 8, 8))
    assert str(e.value) == ('cannot count or export this network: '
                            'stages/1/2 (tanh) ran Tanh: ' + CONVERTERS_)


def test_an_unfaithful_converter_is_caught_against_chainer(monkeypatch):
    """The export runs on ONNX Runtime against Chainer before training: a
    converter that writes the wrong operator is refused."""
    from chainer.functions.activation.clipped_relu import ClippedReLU
    from chainer.functions.activation.relu import ReLU
    monkeypatch.setitem(converters.CONVERTERS, ClippedReLU,
                        converters.CONVERTERS[ReLU])
    with pytest.raises(BranchyNetError, match=r'^cannot export this network '
                       r'faithfully: ONNX Runtime gives exit 2 logits '
                       r'\S+ away from Chainer\'s at batch size 1$'):
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


def test_a_subclass_with_a_call_of_its_own_is_exported_as_it_runs():
    """Issue 31 refused it (a Gemm would have been written); traced, its
    extra ``* 2 + 1`` is in the graph."""
    model = every_kind([flatten, CallLinear(None, 6), Doubling()])
    check_supported(model, (3, 8, 8))
    x = numpy.random.RandomState(1).randn(2, 3, 8, 8).astype(numpy.float32)
    assert_onnx_matches_chainer(model, x)


def test_a_lambda_in_a_sequential_is_refused_before_training():
    """Traced and exported as it runs, but training copies the model and
    Chainer cannot copy a Sequential holding a lambda: one line now, not
    a traceback when training starts."""
    with pytest.raises(BranchyNetError) as e:
        check_supported(every_kind([lambda h: h * 2]), (3, 8, 8))
    assert str(e.value) == (
        'cannot count or export this network: stages/1/12 (<lambda>): a '
        'lambda in a chainer.Sequential cannot be copied, and training '
        'copies the model: use a functools.partial or a Chain of your own')
