"""The contract checks themselves (:mod:`branchynet.testing`): each
refuses a runtime a little off Chainer, or with other early-exit choices,
and a data set that breaks its promises; none refuses what is right."""
import dataclasses

import numpy
import pytest

from branchynet.data.registry import DatasetSpec
from branchynet.runtimes.chainer import ChainerRuntime
from branchynet.runtimes.registry import REGISTRY
from branchynet import testing


class Stub(ChainerRuntime):
    """Chainer's inference, changed as a subclass says."""
    name = 'test-stub'
    display = 'Stub'
    logits_off = entropy_off = 0.0
    flip_exits = flip_predictions = False
    threshold_scale = 1.0

    @property
    def settings(self):
        return dict(super().settings, runtime=self.name)

    def exit_logits(self, x, batch_size=256):
        h, z = super().exit_logits(x, batch_size)
        return h + numpy.float32(self.entropy_off), \
            z + numpy.float32(self.logits_off)

    def early_exit(self, x, thresholds, score='entropy'):
        p, e = super().early_exit(
            x, [t * self.threshold_scale for t in thresholds], score)
        if self.flip_exits:
            e = (self.n_exits - 1 - e).astype(numpy.int32)
        if self.flip_predictions:
            p = ((p + 1) % 10).astype(numpy.int32)
        return p, e


def stub(**changes):
    return type('Changed', (Stub,), changes)


@pytest.fixture
def registered():
    """Registers a stub runtime class for the duration of a test."""
    added = []

    def register(cls):
        REGISTRY.register(cls.name, cls)
        added.append(cls.name)
        return cls
    yield register
    for name in added:
        REGISTRY.unregister(name)


@pytest.mark.parametrize('changes', [
    {}, {'logits_off': 1e-5}, {'entropy_off': 1e-5},
    # the last bits of the entropies: a float32 ulp of log(10) is 2.4e-7
    {'threshold_scale': 1 + 1e-7}, {'threshold_scale': 1 - 1e-7}],
    ids=['same', 'logits-1e-5', 'entropy-1e-5', 'bits-up', 'bits-down'])
def test_a_runtime_as_chainer_passes(registered, changes):
    # n odd: a median threshold would be one record's entropy
    testing.assert_is_runtime(registered(stub(**changes)), 'b_lenet', n=7)


@pytest.mark.parametrize('changes', [
    {'logits_off': 1e-3}, {'entropy_off': 1e-3}, {'flip_exits': True},
    {'flip_predictions': True}],
    ids=['logits-1e-3', 'entropy-1e-3', 'flipped-exits',
         'flipped-predictions'])
def test_a_runtime_unlike_chainer_fails(registered, changes):
    with pytest.raises(AssertionError):
        testing.assert_is_runtime(registered(stub(**changes)), 'b_lenet',
                                  n=7)


def test_the_onnx_check_compares_the_early_exits_choices(monkeypatch):
    from branchynet.networks import random_network
    from branchynet.runtimes.onnx.runtime import OnnxRuntime
    model = random_network('b_lenet')
    x = numpy.random.RandomState(0).uniform(
        0, 1, (4, 1, 28, 28)).astype(numpy.float32)
    testing.assert_onnx_matches_chainer(model, x)
    real = OnnxRuntime.early_exit

    def flipped(self, x, thresholds, score='entropy'):
        p, e = real(self, x, thresholds, score)
        return p, (self.n_exits - 1 - numpy.asarray(e)).astype(numpy.int32)
    monkeypatch.setattr(OnnxRuntime, 'early_exit', flipped)
    with pytest.raises(AssertionError):
        testing.assert_onnx_matches_chainer(model, x)


@pytest.mark.parametrize('entropy', [
    [[0.5], [0.2], [0.9]], [[0.7], [0.7], [0.1]], [[1e-3], [2e-3], [0.0]],
    numpy.random.RandomState(0).uniform(2.29, 2.31, (9, 1))])
def test_thresholds_lie_between_the_records(entropy):
    entropy = numpy.asarray(entropy, numpy.float32)
    records = numpy.column_stack([entropy, numpy.zeros(len(entropy))])
    (t,) = testing.thresholds_between(records)
    h = entropy[:, 0].astype(numpy.float64)
    below, above = h[h < t], h[h > t]
    assert len(below) and len(above) and len(below) + len(above) == len(h)
    # no nearer than half the widest gap between neighbours
    gap = numpy.diff(numpy.unique(h)).max()
    assert min(t - below.max(), above.min() - t) == pytest.approx(gap / 2)


def test_entropies_not_finite_fail():
    with pytest.raises(AssertionError, match='not finite'):
        testing.thresholds_between([[0.5, 0.1], [numpy.nan, 0.2]])


def test_equal_entropies_all_leave():
    t = testing.thresholds_between(numpy.full((3, 3), 0.25, numpy.float32))
    assert len(t) == 2 and all(v > 0.25 + 0.5 for v in t)


def spec_of(x_train, y_train, x_test, y_test, whitened=False):
    return DatasetSpec('stub', lambda root: (x_train, y_train, x_test,
                                             y_test),
                       (1, 2, 2), 3, lambda root: ['a', 'b', 'c'],
                       len(x_train), whitened=whitened)


def good_data():
    rng = numpy.random.RandomState(0)
    x = rng.uniform(0, 1, (12, 1, 2, 2)).astype(numpy.float32)
    x[0] = 0
    x[1] = 1
    y = numpy.arange(12, dtype=numpy.int32) % 3
    return [x, y, x[:6].copy(), y[:6].copy()]


def test_a_good_data_set_passes():
    testing.assert_is_dataset(spec_of(*good_data()), 'root')


@pytest.mark.parametrize('split', [0, 2], ids=['train', 'test'])
@pytest.mark.parametrize('value', [1.5, -0.25, numpy.nan])
def test_images_outside_0_1_fail(split, value):
    data = good_data()
    data[split][3, 0, 1, 1] = value
    with pytest.raises(AssertionError):
        testing.assert_is_dataset(spec_of(*data), 'root')


def test_whitened_images_may_take_any_finite_value():
    data = good_data()
    data[0] = data[0] * 8 - 4
    data[2] = data[2] * 8 - 4
    testing.assert_is_dataset(spec_of(*data, whitened=True), 'root')
    with pytest.raises(AssertionError):
        testing.assert_is_dataset(spec_of(*data), 'root')
    data[0][0, 0, 0, 0] = numpy.inf
    with pytest.raises(AssertionError):
        testing.assert_is_dataset(spec_of(*data, whitened=True), 'root')


def test_pcifar10_is_registered_as_whitened():
    from branchynet.data import DATASETS
    assert DATASETS['pcifar10'].whitened and not DATASETS['mnist'].whitened


@pytest.mark.parametrize('split', [1, 3], ids=['train', 'test'])
def test_labels_missing_a_class_fail(split):
    data = good_data()
    data[split][data[split] == 2] = 1
    with pytest.raises(AssertionError, match=r'miss classes \[2\]'):
        testing.assert_is_dataset(spec_of(*data), 'root')


@pytest.mark.parametrize('change', ['label-3', 'label-int64', 'classes',
                                    'labels-2d', 'empty-test'])
def test_other_broken_promises_fail(change):
    data = good_data()
    spec = spec_of(*data)
    if change == 'labels-2d':
        data[3] = data[3][:, None]
        spec = spec_of(*data)
    elif change == 'empty-test':
        data[2], data[3] = data[2][:0], data[3][:0]
        spec = spec_of(*data)
    elif change == 'label-3':
        data[1][0] = 3
    elif change == 'label-int64':
        data[1] = data[1].astype(numpy.int64)
        spec = spec_of(*data)
    else:
        spec = dataclasses.replace(spec, classes=lambda root: ['a', 'b'])
    with pytest.raises(AssertionError):
        testing.assert_is_dataset(spec, 'root')


# ---- scores and rules ----------------------------------------------------

def _score_like(name, **changes):
    """A copy of registered score ``name`` with ``changes``."""
    from branchynet.exits.scores import SCORES, Score
    base = SCORES[name]
    fields = dict(name=base.name, function=base.function,
                  low_is_confident=base.low_is_confident, unit=base.unit,
                  threshold_range=base.threshold_range,
                  bounds_function=base.bounds_function)
    fields.update(changes)
    return Score(**fields)


@pytest.mark.parametrize('name, changes', [
    ('maxprob', {'low_is_confident': True}),
    ('entropy', {'low_is_confident': False}),
    ('maxprob', {'bounds_function': lambda name, c, seen=None: (0.0, 1.0)}),
    ('entropy', {'bounds_function': lambda name, c, seen=None: (0.0, 0.5)}),
    ('energy', {'bounds_function': lambda name, c, seen=None: (-1.0, 1.0)}),
    ('margin', {'threshold_range': (0.5, 1.0)}),
    ('entropy', {'function': lambda z: numpy.zeros(len(z), numpy.float32)}),
], ids=['maxprob-low', 'entropy-high', 'maxprob-bounds-swapped',
        'entropy-always-too-low', 'energy-fixed-bounds',
        'margin-range-excludes-bounds', 'float32-constant'])
def test_a_score_with_a_broken_promise_fails(monkeypatch, name, changes):
    from branchynet.exits.scores import SCORES
    broken = _score_like(name, **changes)
    monkeypatch.setitem(SCORES, name, broken)
    with pytest.raises(AssertionError):
        testing.assert_is_score(broken)


def test_an_unregistered_score_fails():
    with pytest.raises(AssertionError):
        testing.assert_is_score(_score_like('entropy'))


class _Slowest:
    """A rule that picks the slowest, least accurate point."""
    name = 'knee'
    needs = ()

    def check(self, settings):
        pass

    def own_thresholds(self, records, labels, score, settings):
        return None

    def choose(self, ms, accuracy, settings):
        return int(numpy.lexsort((accuracy, -numpy.asarray(ms)))[0])


@pytest.mark.parametrize('broken', ['dominated', 'needs-unknown',
                                    'runs-without-setting', 'own-negative'])
def test_a_rule_with_a_broken_promise_fails(monkeypatch, broken):
    from branchynet.measurement import rules
    rule = _Slowest()
    if broken == 'needs-unknown':
        rule = rules.Budget()
        rule.needs = ('budget_ms', 'speed')
    elif broken == 'runs-without-setting':
        rule = rules.Tradeoff()
        rule.check = lambda settings: None
    elif broken == 'own-negative':
        rule = rules.PerExit()
        rule.own_thresholds = lambda *args: [-0.5, 0.1]
    monkeypatch.setitem(rules.REGISTRY, rule.name, rule)
    with pytest.raises((AssertionError, ValueError)):
        testing.assert_is_rule(rule)
