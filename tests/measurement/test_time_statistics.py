"""Which statistic each time is: the reference's plain mean beside our
trimmed mean, in the profile, the sweep, the validation and Table I.

A fake clock makes some samples slow (20 ms more in stage 1), so the two
statistics differ and swapping one for the other fails these tests.
"""
import time

import chainer
import chainer.links as L
import numpy
import pytest
from scipy.stats import trim_mean

from branchynet.measurement import pipeline as measurement
from branchynet.measurement import validation

from branchynet.report import table as report
from branchynet.networks.model import BranchyNet
from branchynet.measurement.profiling import TRIM, profile_paths

SLOW_MS = 20.0
#: stage 1, exit 1, stage 2, exit 2
COST = (1.0, 0.5, 3.0, 0.25)


class SpikyClock:
    """``time.perf_counter`` advanced only by the layers; a sample whose
    first feature is > 0.5 costs SLOW_MS more in stage 1."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def layer(self, ms, spiky=False):
        def run(x):
            a = getattr(x, 'array', x)
            self.now += (ms + (SLOW_MS if spiky and a[0, 0] > 0.5 else 0)) \
                / 1000
            return x
        return run


@pytest.fixture
def spiky(monkeypatch):
    clock = SpikyClock()
    monkeypatch.setattr(time, 'perf_counter', clock)
    numpy.random.seed(0)
    stages = [chainer.Sequential(clock.layer(COST[0], spiky=True),
                                 L.Linear(8, 8)),
              chainer.Sequential(clock.layer(COST[2]), L.Linear(8, 8))]
    exits = [chainer.Sequential(clock.layer(COST[1]), L.Linear(8, 4)),
             chainer.Sequential(clock.layer(COST[3]), L.Linear(8, 4))]
    x = numpy.full((10, 8), 0.1, numpy.float32)
    x[[3, 7], 0] = 0.9                        # two slow samples of ten
    return BranchyNet(stages, exits), x


def _stats(fast_ms, slow_mask):
    times = numpy.where(slow_mask, fast_ms + SLOW_MS, fast_ms)
    return float(numpy.mean(times)), float(trim_mean(times, TRIM))


def test_profile_holds_both_statistics_of_the_same_samples(spiky):
    model, x = spiky
    profile = profile_paths(model, x, n_samples=len(x), n_warmup=0)
    slow = x[:, 0] > 0.5
    base_fast = COST[0] + COST[2] + COST[3]
    paths_fast = [COST[0] + COST[1], sum(COST)]
    mean, trimmed = _stats(base_fast, slow)
    assert mean != pytest.approx(trimmed)
    assert profile.baseline_ms_mean == pytest.approx(mean)
    assert profile.baseline_ms == pytest.approx(trimmed)
    for k, fast in enumerate(paths_fast):
        mean, trimmed = _stats(fast, slow)
        assert profile.exit_ms_mean[k] == pytest.approx(mean)
        assert profile.exit_ms[k] == pytest.approx(trimmed)
    trunk_mean = [_stats(sum(COST[0:2 * k + 1:2]), slow)[0]
                  for k in range(2)]
    assert profile.trunk_ms_mean == pytest.approx(trunk_mean)
    assert profile.trunk_ms_mean[0] > profile.trunk_ms[0]


def test_validation_names_its_statistic_and_compares_plain_means(spiky):
    model, x = spiky
    y = numpy.zeros(len(x), numpy.int32)
    slow = x[:, 0] > 0.5
    thresholds = (float('inf'),)                  # everything at exit 1
    prediction = numpy.zeros(len(x), numpy.int32)
    row = validation.validate_point(model, x, y, thresholds, {
        'accuracy': 0.0, 'exit_counts': [len(x), 0], 'ms': 1.0,
        'ms_mean': 2.0, 'prediction': prediction,
        'exit_index': numpy.zeros(len(x), numpy.int32)})
    mean, trimmed = _stats(COST[0] + COST[1], slow)
    assert row['measured_ms'] == pytest.approx(trimmed)
    assert row['measured_ms_mean'] == pytest.approx(mean)
    assert row['predicted_ms_mean'] == 2.0
    assert 'trimmed' in row['time_statistic'] and 'plain' in \
        row['time_statistic']


def test_the_sweep_mixes_plain_means_by_the_exit_fractions():
    class Paths:
        exit_ms, trunk_ms = [1.0, 4.0], [0.5, 3.0]
        exit_ms_mean, trunk_ms_mean = [2.0, 6.0], [1.5, 5.0]

    class Rec:
        prediction = numpy.zeros((4, 2), numpy.int64)

        def scores(self, score):
            return numpy.array([[0.1, 0.0], [0.1, 0.0], [0.9, 0.0],
                                [0.9, 0.0]], numpy.float32)

    labels = numpy.zeros(4, numpy.int64)
    results, _, _, _ = measurement.sweep_and_choose(
        {'tune': Rec(), 'test': Rec()}, {'tune': labels, 'test': labels},
        numpy.array([[0.5]]), Paths(), {'rule': 'knee'})
    r = results['test']
    assert r['exit_fractions'][0] == pytest.approx([0.5, 0.5])
    assert r['ms'][0] == pytest.approx(2.5)            # trimmed, mixed
    assert r['ms_mean'][0] == pytest.approx(4.0)       # plain, mixed
    assert r['trunk_ms'][0] == pytest.approx(1.75)
    assert r['trunk_ms_mean'][0] == pytest.approx(3.25)
    assert set(measurement._grid_rows(r)[0]) >= {'ms_mean', 'trunk_ms_mean'}


def _summary(with_means=True):
    chosen = {'thresholds': [0.05], 'accuracy': 0.99,
              'exit_fractions': [0.9, 0.1], 'ms': 0.5, 'trunk_ms': 0.2}
    baseline = {'model': 'baseline_after_joint', 'test_accuracy': 0.99,
                'ms': 1.0}
    if with_means:
        chosen.update(ms_mean=1.0, trunk_ms_mean=0.4)
        baseline['ms_mean'] = 1.6
    return {'network': 'b_lenet', 'device': '@numpy', 'runtime': 'chainer',
            'baseline': baseline, 'sweep_test': [chosen], 'chosen_index': 0,
            'macs': {'baseline': 1000, 'path': [200, 1200]}}


def test_table_i_reference_columns_are_plain_means_ours_trimmed():
    base, branchy = report.table_rows(_summary())
    # ours: trimmed means, end to end
    assert branchy['ms'] == 0.5 and branchy['gain'] == pytest.approx(2.0)
    # beside it: the same end-to-end paths from plain means
    assert branchy['gain (mean)'] == pytest.approx(1.6 / 1.0)
    # the reference's: trunk only, plain means, over a plain-mean baseline
    assert branchy['ms (ref.)'] == 0.4
    assert branchy['gain (ref.)'] == pytest.approx(1.6 / 0.4)
    assert base['ms (ref.)'] == 1.6 and base['ms'] == 1.0
    table = report.to_markdown([base, branchy])
    assert '| 2.00x | 1.60x |' in table and '4.00x' in table
    assert 'plain mean' in report.STATISTICS and 'trimmed' in \
        report.STATISTICS


def test_sweeps_without_plain_means_leave_those_cells_empty():
    base, branchy = report.table_rows(_summary(with_means=False))
    assert branchy['gain (mean)'] is None and branchy['ms (ref.)'] is None
    assert branchy['gain (ref.)'] is None and base['ms (ref.)'] is None
    assert branchy['gain'] == pytest.approx(2.0)
