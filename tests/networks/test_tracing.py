"""Tracing what a forward runs, and the refusals of what an export cannot
hold faithfully (issue 29): a graph break, a constant that follows the
batch size, control flow on the data. Each is one line naming its place,
from the exporter alone and from check_supported (before training)."""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest

from branchynet.errors import BranchyNetError
from branchynet.measurement.preflight import check_supported
from branchynet.networks import tracing
from branchynet.networks.layers import ResBlock
from branchynet.networks.model import BranchyNet
from branchynet.runtimes.onnx.export import segment_graphs
from branchynet.testing import assert_onnx_matches_chainer
from helpers import Block


def net(then):
    numpy.random.seed(0)
    return BranchyNet(
        [chainer.Sequential(Block(then)),
         chainer.Sequential(L.Convolution2D(4, 4, 3, pad=1))],
        [chainer.Sequential(L.Linear(None, 5)),
         chainer.Sequential(L.Linear(None, 5))])


def numpy_inside(self, h, x):
    # leaves the graph: Chainer runs it, an export would hold the traced
    # values as a constant
    return F.relu(chainer.Variable(numpy.tanh(h.array)))


def zeros_of_the_batch(self, h, x):
    # a padded shortcut as the reference ResBlock wrote it
    zeros = numpy.zeros((len(h), 2) + h.shape[2:], numpy.float32)
    return F.concat((zeros, h[:, :2]), axis=1)


def on_the_data(self, h, x):
    # the traced inputs: images in [0, 1), then signed values
    return F.relu(h) if float(x.array.min()) >= 0 else F.tanh(h)


REFUSALS = {
    'graph break': (numpy_inside, 'stages/0/0 (Block) ran ReLU: an input '
                    'was computed outside Chainer functions'),
    'batch constant': (zeros_of_the_batch, 'stages/0/0 (Block) ran Concat: '
                       'an input is a constant whose size follows the batch '
                       '((1, 2, 8, 8) at batch 1, (2, 2, 8, 8) at batch 2)'),
    'control flow': (on_the_data, 'stages/0/0 (Block) ran ReLU: other '
                     'functions ran for another input or batch size (Tanh '
                     'at batch 2)'),
}


@pytest.mark.parametrize('case', sorted(REFUSALS))
def test_what_an_export_cannot_hold_is_refused_in_one_line(case):
    then, reason = REFUSALS[case]
    model = net(then)
    for check in (segment_graphs, check_supported):
        with pytest.raises(BranchyNetError) as e:
            check(model, (3, 8, 8))
        message = str(e.value)
        assert '\n' not in message
        assert reason in message, message


def test_a_graph_break_at_the_output_is_refused():
    model = net(lambda self, h, x: chainer.Variable(numpy.tanh(h.array)))
    with pytest.raises(BranchyNetError, match=r'stages/0 \(its output\): an '
                       r'input was computed outside Chainer functions'):
        check_supported(model, (3, 8, 8))


def test_a_constant_that_does_not_follow_the_batch_is_exported():
    """Made in forward, but the same at every batch size and input: held
    as a weight of the graph, as Chainer adds it."""
    bias = numpy.linspace(-1, 1, 4).astype(numpy.float32).reshape(1, 4, 1, 1)
    model = net(lambda self, h, x: h + F.broadcast_to(bias, (1,) + h.shape[1:])
                * 0 + bias)
    check_supported(model, (3, 8, 8))
    x = numpy.random.RandomState(1).randn(3, 3, 8, 8).astype(numpy.float32)
    assert_onnx_matches_chainer(model, x)


def test_the_projects_resblock_needs_no_special_case():
    """Its shortcut pads zero channels with F.pad: traced, it exports as
    Chainer runs it, for any batch."""
    numpy.random.seed(0)
    model = BranchyNet([chainer.Sequential(ResBlock(3, 6, stride=2))],
                       [chainer.Sequential(L.Linear(None, 5))])
    for link in model.links():
        if isinstance(link, L.BatchNormalization):
            link.avg_var[:] = 2.0
    check_supported(model, (3, 8, 8))
    x = numpy.random.RandomState(1).randn(3, 3, 8, 8).astype(numpy.float32)
    assert_onnx_matches_chainer(model, x)


def test_a_trace_names_the_link_path_and_keeps_what_the_output_needs():
    numpy.random.seed(0)
    dropped = []
    seq = chainer.Sequential(
        L.Convolution2D(3, 4, 1),
        lambda h: dropped.append(F.sin(h)) or F.relu(h),
        chainer.Sequential(ResBlock(4, 4)))
    t = tracing.trace(seq, numpy.ones((1, 3, 4, 4), numpy.float32),
                      'stages/0')
    places = [s.place for s in t.steps]
    assert places[:4] == [
        'stages/0/0 (Convolution2D) ran Convolution2DFunction',
        'stages/0/1 (<lambda>) ran ReLU',
        'stages/0/2/0/conv1 (Convolution2D) ran Convolution2DFunction',
        'stages/0/2/0/bn1 (BatchNormalization) ran FixedBatchNormalization']
    assert places[-2:] == ['stages/0/2/0 (ResBlock) ran Add',
                           'stages/0/2/0 (ResBlock) ran ReLU']
    assert dropped and not any('Sin' in p for p in places)


def test_a_failing_forward_is_one_line():
    with pytest.raises(BranchyNetError, match=r'^stages/0/0 \(Block\) fails '
                       r'on an input of shape \(1, 3, 8, 8\): ValueError: '
                       r'no'):
        check_supported(net(lambda self, h, x: (_ for _ in ()).throw(
            ValueError('no'))), (3, 8, 8))
