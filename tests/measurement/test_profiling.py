"""Latency profiler and multiply-add counts.

The profiler's accounting is checked on a fake clock that only the
network's layers advance, so the expected times are exact and nothing
depends on how loaded the machine is.
"""
import functools
import time

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest

from branchynet.networks.model import BranchyNet

from branchynet.errors import BranchyNetError
from branchynet.networks import INPUT_SHAPES, NETWORKS, b_lenet
from branchynet.networks.layers import flatten
from branchynet.measurement.profiling import (check_layers, count_macs,
                                              forcing_thresholds,
                                              profile_paths, run_one)


def test_forcing_thresholds_send_every_sample_to_exit_k():
    model = b_lenet()
    x = numpy.random.RandomState(0).rand(5, 1, 28, 28).astype(numpy.float32)
    for k in range(model.n_exits):
        t = forcing_thresholds(model.n_exits, k)
        assert [run_one(model, x[i:i + 1], t)[1] for i in range(5)] == [k] * 5
    assert run_one(model, x[:1], None)[1] == model.n_exits - 1


class FakeClock:
    """A ``time.perf_counter`` that only the network's layers advance."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def ticking(self, ms):
        """An identity layer that takes ``ms`` milliseconds of fake time."""
        def layer(x):
            self.now += ms / 1000
            return x
        return layer


@pytest.fixture
def clocked_model(monkeypatch):
    """A 2-exit BranchyNet whose stages and heads take known fake times:
    stage 1 1 ms, exit 1 0.5 ms, stage 2 3 ms, exit 2 0.25 ms."""
    clock = FakeClock()
    monkeypatch.setattr(time, 'perf_counter', clock)
    numpy.random.seed(0)
    stages = [chainer.Sequential(clock.ticking(1.0), L.Linear(8, 8)),
              chainer.Sequential(clock.ticking(3.0), L.Linear(8, 8))]
    exits = [chainer.Sequential(clock.ticking(0.5), L.Linear(8, 4)),
             chainer.Sequential(clock.ticking(0.25), L.Linear(8, 4))]
    return BranchyNet(stages, exits)


def test_profile_times_everything_a_sample_goes_through(clocked_model):
    x = numpy.random.RandomState(0).rand(10, 8).astype(numpy.float32)
    profile = profile_paths(clocked_model, x, n_samples=7, n_warmup=2)
    # exit 1's path: stage 1 and its head; exit 2's: exit 1's path too
    # (the sample was not confident there), then stage 2 and the final head
    assert profile.exit_ms == pytest.approx([1.5, 4.75])
    # the baseline runs the main network alone
    assert profile.baseline_ms == pytest.approx(4.25)
    # the reference's accounting: the trunk stages only
    assert profile.stage_ms == pytest.approx([1.0, 3.0])
    assert profile.trunk_ms == pytest.approx([1.0, 4.0])
    assert profile.n_samples == 7
    # every sample costs the same on the fake clock (up to the rounding of
    # its running total), whatever the random order of the paths
    assert profile.exit_ms_p10 == pytest.approx([1.5, 4.75])
    assert profile.exit_ms_p90 == pytest.approx([1.5, 4.75])


def test_multiply_adds_match_the_layer_table():
    macs = count_macs(b_lenet(), numpy.zeros((1, 1, 28, 28), numpy.float32))
    conv1 = 5 * 1 * 25 * 30 * 30               # conv(5, 1->5) on 30x30
    exit1 = 10 * 5 * 9 * 15 * 15 + 640 * 10    # conv(3, 5->10) on 15x15
    stage2 = (10 * 5 * 25 * 17 * 17 + 20 * 10 * 25 * 11 * 11 + 720 * 84)
    assert macs['stage'] == [conv1, stage2]
    assert macs['exit'] == [exit1, 84 * 10]
    assert macs['path'] == [conv1 + exit1, conv1 + stage2 + exit1 + 840]
    assert macs['baseline'] == conv1 + stage2 + 840


@pytest.mark.parametrize('name', sorted(NETWORKS))
def test_every_layer_of_the_networks_is_known_to_the_counter(name):
    model = NETWORKS[name]()
    check_layers(model)
    macs = count_macs(model, numpy.zeros((1,) + INPUT_SHAPES[name],
                                         numpy.float32))
    assert all(m > 0 for m in macs['stage'] + macs['exit'])


class Doubling(chainer.Link):
    def forward(self, x):
        return 2 * x


class OwnLinear(L.Linear):
    """A forward of its own: counted by what it runs (a linear map)."""

    def forward(self, x):
        return super().forward(x) * 2


class CallLinear(L.Linear):
    """A __call__ of its own: counted by what it runs."""

    def __call__(self, x):
        return super().__call__(x) * 2


class DoubledScale(L.BatchNormalization):
    """A method its forward calls is its own."""

    def _get_gamma(self):
        return super()._get_gamma() * 2


class Waves(chainer.Chain):
    """A block of the user's own that runs a function with no entry."""

    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.fc = L.Linear(8, 8)

    def forward(self, x):
        return F.cos(self.fc(x))


def two_stage_net(layer):
    numpy.random.seed(0)
    stages = [chainer.Sequential(L.Linear(8, 8)),
              chainer.Sequential(L.Linear(8, 8), layer)]
    exits = [chainer.Sequential(L.Linear(8, 4)),
             chainer.Sequential(L.Linear(None, 4))]
    return BranchyNet(stages, exits)


@pytest.mark.parametrize('layer, place', [
    (lambda: F.sin, 'stages/1/1 (sin) ran Sin'),
    (lambda: functools.partial(F.rrelu, l=0.1), 'stages/1/1 (rrelu) ran '
     'RReLU'),
    (lambda: (lambda x: F.exp(x)), 'stages/1/1 (<lambda>) ran Exp'),
    (Waves, 'stages/1/1 (Waves) ran Cos'),
    (lambda: chainer.Sequential(L.Linear(8, 8), Waves()),
     'stages/1/1/1 (Waves) ran Cos'),
])
def test_an_unknown_function_fails_in_one_line_naming_its_place(layer,
                                                                 place):
    with pytest.raises(BranchyNetError) as e:
        count_macs(two_stage_net(layer()),
                   numpy.zeros((1, 8), numpy.float32))
    assert str(e.value) == (
        'cannot count the multiply-adds: %s: no multiply-add entry '
        '(branchynet.measurement.profiling.COSTS)' % place)


def test_every_unknown_place_is_listed_once():
    model = two_stage_net(chainer.Sequential(Waves(), F.sin, Waves()))
    model.exits[0].append(F.sin)
    with pytest.raises(BranchyNetError) as e:
        count_macs(model, numpy.zeros((1, 8), numpy.float32))
    message = str(e.value)
    assert '\n' not in message
    for place in ('exits/0/1 (sin) ran Sin', 'stages/1/1/0 (Waves) ran Cos',
                  'stages/1/1/1 (sin) ran Sin',
                  'stages/1/1/2 (Waves) ran Cos'):
        assert message.count(place + ':') == 1, place


@pytest.mark.parametrize('layer, macs', [
    (lambda: OwnLinear(8, 8), 64), (lambda: CallLinear(8, 8), 64),
    (lambda: DoubledScale(8), 0), (Doubling, 0),
    (lambda: (lambda x: 2 * x), 0),
    (lambda: chainer.Sequential(L.Linear(8, 8), L.Highway(8)),
     64 + 2 * 64),
])
def test_a_link_of_the_users_own_is_counted_by_what_it_runs(layer, macs):
    """Subclasses, own Chains and lambdas: no kind to know, the
    functions they run are counted."""
    got = count_macs(two_stage_net(layer()),
                     numpy.zeros((1, 8), numpy.float32))
    assert got['stage'] == [64, 64 + macs]


def test_a_subclass_without_code_of_its_own_counts_as_its_class():
    class Renamed(L.Linear):
        """Only a name of its own."""
    numpy.random.seed(0)
    model = BranchyNet([chainer.Sequential(Renamed(8, 6))],
                       [chainer.Sequential(L.Linear(6, 4))])
    check_layers(model)
    macs = count_macs(model, numpy.zeros((1, 8), numpy.float32))
    assert (macs['stage'], macs['exit']) == ([48], [24])


def test_a_function_inside_a_known_chain_must_be_known_too(monkeypatch):
    from branchynet.measurement import profiling
    from branchynet.networks.layers import ResBlock
    from chainer.functions.normalization import batch_normalization
    monkeypatch.delitem(profiling.COSTS,
                        batch_normalization.FixedBatchNormalization)
    model = BranchyNet([chainer.Sequential(ResBlock(4, 4))],
                       [chainer.Sequential(L.Linear(None, 4))])
    x = numpy.zeros((1, 4, 3, 3), numpy.float32)
    with pytest.raises(BranchyNetError, match=r'^cannot count the '
                       r'multiply-adds: stages/0/0/bn1 \(BatchNormalization'
                       r'\) ran FixedBatchNormalization: no multiply-add '
                       r'entry .*; stages/0/0/bn2'):
        check_layers(model, x)


def test_the_counter_and_the_exporter_know_the_same_functions():
    from branchynet.measurement.profiling import COSTS
    from branchynet.runtimes.onnx.converters import CONVERTERS
    assert set(COSTS) == set(CONVERTERS)


def test_multiply_adds_of_depthwise_and_deconvolution():
    numpy.random.seed(0)
    model = BranchyNet(
        [chainer.Sequential(L.DepthwiseConvolution2D(4, 2, 3, pad=1)),
         chainer.Sequential(L.Deconvolution2D(8, 3, 2, stride=2))],
        [chainer.Sequential(L.Linear(None, 5)),
         chainer.Sequential(L.Linear(None, 3))])
    macs = count_macs(model, numpy.zeros((1, 4, 5, 5), numpy.float32))
    # depthwise: each of 8 x 5 x 5 outputs reads one channel's 3x3;
    # deconvolution: each of 8 x 5 x 5 inputs spreads over 3 x 2 x 2
    assert macs['stage'] == [8 * 25 * 9, 8 * 25 * 3 * 4]
    assert macs['exit'] == [200 * 5, 3 * 10 * 10 * 3]


def test_multiply_adds_of_grouped_dilated_convolution_and_linear():
    numpy.random.seed(0)
    conv = L.Convolution2D(4, 6, 3, dilate=2, groups=2)     # 9x9 -> 5x5
    plain = L.Convolution2D(6, 6, 3, pad=1)                 # 5x5 -> 5x5
    model = BranchyNet(
        [chainer.Sequential(conv, F.relu), chainer.Sequential(plain)],
        [chainer.Sequential(L.Linear(None, 5)),
         chainer.Sequential(L.Linear(None, 3, nobias=True))])
    macs = count_macs(model, numpy.zeros((1, 4, 9, 9), numpy.float32))
    # each output element reads in_channels / groups = 2 channels, 3x3
    assert macs['stage'] == [6 * 5 * 5 * 2 * 9, 6 * 5 * 5 * 6 * 9]
    assert macs['exit'] == [150 * 5, 150 * 3]


#: every function the counter knows, as a network would hold it
FREE_LAYERS = [
    F.relu, functools.partial(F.leaky_relu, slope=0.1),
    functools.partial(F.elu, alpha=0.5), F.tanh, F.sigmoid, F.softplus,
    F.relu6, functools.partial(F.clipped_relu, z=0.5),
    functools.partial(F.max_pooling_2d, ksize=3, stride=1, pad=1),
    functools.partial(F.average_pooling_2d, ksize=3, stride=1, pad=1),
    functools.partial(F.local_response_normalization, n=3),
    functools.partial(F.dropout, ratio=0.5),
    functools.partial(F.reshape, shape=(-1, 4, 16)),
    functools.partial(F.reshape, shape=(-1, 4, 4, 4)),
    L.BatchNormalization(4),
]


def test_free_layers_count_zero():
    numpy.random.seed(0)
    model = BranchyNet(
        [chainer.Sequential(L.Convolution2D(4, 4, 1)),
         chainer.Sequential(*FREE_LAYERS)],
        [chainer.Sequential(flatten, L.Linear(64, 5)),
         chainer.Sequential(F.flatten, functools.partial(F.reshape,
                                                         shape=(1, -1)),
                            L.Linear(64, 5))])
    check_layers(model)
    macs = count_macs(model, numpy.ones((1, 4, 4, 4), numpy.float32))
    assert macs['stage'] == [4 * 4 * 16, 0]
    assert macs['exit'] == [64 * 5, 64 * 5]


def test_profile_on_onnxruntime():
    from branchynet.runtimes import make_runtime
    model = b_lenet()
    runtime = make_runtime(model, 'b_lenet', 'onnxruntime')
    x = numpy.random.RandomState(0).rand(10, 1, 28, 28).astype(numpy.float32)
    for k in range(model.n_exits):
        t = forcing_thresholds(model.n_exits, k)
        assert [run_one(runtime, runtime.send(x[i:i + 1]), t)[1]
                for i in range(5)] == [k] * 5
    profile = profile_paths(runtime, x, n_samples=5, n_warmup=1)
    assert profile.runtime == 'onnxruntime'
    assert profile.settings['intra_op_num_threads'] == 1
    assert len(profile.exit_ms) == len(profile.stage_ms) == 2
    assert profile.trunk_ms == pytest.approx(numpy.cumsum(profile.stage_ms))


def test_paths_are_timed_in_a_fresh_random_order_per_sample():
    from branchynet.runtimes import ChainerRuntime

    class Recording(ChainerRuntime):
        calls = []

        def run_one(self, x1, thresholds):
            self.calls.append(None if thresholds is None else tuple(thresholds))
            return super().run_one(x1, thresholds)

    model = b_lenet()
    x = numpy.random.RandomState(0).rand(4, 1, 28, 28).astype(numpy.float32)
    runs = [None] + [forcing_thresholds(2, k) for k in range(2)]
    numpy.random.seed(5)
    before = numpy.random.get_state()[1].copy()
    profile_paths(Recording(model), x, n_samples=12, n_warmup=0)
    # the caller's random state is not consumed
    assert (numpy.random.get_state()[1] == before).all()
    orders = [tuple(Recording.calls[i:i + 3])
              for i in range(0, len(Recording.calls), 3)]
    assert len(orders) == 12
    assert all(sorted(o, key=repr) == sorted(runs, key=repr) for o in orders)
    assert len(set(orders)) > 1
