"""The one-pass sweep against brute force, the scores on records built by
hand, and thresholds chosen exit by exit (the per-exit rule, matched
thresholds); the rules' choices on a grid are in test_rules.py."""
import math

import numpy
import pytest

from branchynet.measurement import per_exit, rules, sweep
from branchynet.errors import BranchyNetError
from branchynet.exits.inference import (choose_exits, early_exit, exit_records,
                                  score_of)


@pytest.fixture(scope='module')
def case(tiny_branchynet):
    rng = numpy.random.RandomState(1)
    model = tiny_branchynet()
    x = rng.randn(300, 8).astype(numpy.float32)
    y = rng.randint(0, 4, 300).astype(numpy.int32)
    entropies, predictions = exit_records(model, x, batch_size=64)
    # grid values between distinct entropies, so no sample sits on a bound
    values = numpy.unique(entropies[:, :2])
    mids = (values[:-1] + values[1:]) / 2
    grid = [0.0] + list(numpy.quantile(mids, [0.1, 0.3, 0.5, 0.7, 0.9])) \
        + [float('inf')]
    return model, x, y, entropies, predictions, grid


def test_sweep_equals_brute_force_early_exit(case):
    model, x, y, entropies, predictions, grid = case
    thresholds = sweep.threshold_grid(grid, model.n_exits)
    assert thresholds.shape == (len(grid) ** 2, 2)
    result = sweep.evaluate_thresholds(entropies, predictions, y, thresholds,
                                       path_ms=[1.0, 2.0, 3.0], chunk=5)
    for g, t in enumerate(thresholds):
        prediction, exit_index = early_exit(model, x, t)
        counts = numpy.bincount(exit_index, minlength=3)
        assert result['exit_counts'][g].tolist() == counts.tolist()
        assert result['accuracy'][g] == (prediction == y).mean()
        assert result['ms'][g] == pytest.approx(counts @ [1, 2, 3] / len(y))
    # the grid really spans the behaviours: all-final and all-first
    assert result['exit_counts'].max(axis=0).tolist()[0] == len(y)
    assert result['exit_counts'][:, 2].max() == len(y)


def test_threshold_grid_is_the_cartesian_product():
    t = sweep.threshold_grid([1, 2, 3], 3)
    assert t.tolist() == [[a, b] for a in (1, 2, 3) for b in (1, 2, 3)]
    assert sweep.threshold_grid([0.5], 2).tolist() == [[0.5]]


@pytest.mark.parametrize('grid', [[], [0.1, -1], [float('nan')], ['x']])
def test_bad_grids_are_rejected(grid):
    with pytest.raises(BranchyNetError):
        sweep.threshold_grid(grid, 3)


def test_wrong_threshold_length_is_rejected(case):
    _, _, y, entropies, predictions, _ = case
    with pytest.raises(BranchyNetError):
        sweep.evaluate_thresholds(entropies, predictions, y, [[0.1]])


# ------------------------------------------ scores, grids and policies by hand

# six samples, two exits; exit-1 scores of each kind (most confident first
# is samples 0, 1, 2, ...), correctness at exit 1: T T T F T F, at exit 2 all
HAND_SCORES = {
    'entropy': [0.01, 0.02, 0.03, 0.5, 0.6, 2.0],
    'energy': [-30.0, -20.0, -10.0, -5.0, -4.0, -1.0],
    'maxprob': [0.99, 0.98, 0.97, 0.6, 0.5, 0.2],
    'margin': [0.98, 0.96, 0.9, 0.3, 0.2, 0.01],
}
HAND_LABELS = numpy.zeros(6, numpy.int32)
HAND_PREDICTIONS = numpy.array([[0, 0], [0, 0], [0, 0], [1, 0], [0, 0],
                                [1, 0]], numpy.int32)


def hand_scores(name):
    """``(6, 2)``: exit-1 values above, exit 2 unused (the final exit)."""
    return numpy.stack([HAND_SCORES[name], numpy.zeros(6)], axis=1)


@pytest.mark.parametrize('name', sorted(HAND_SCORES))
def test_every_score_leaves_on_its_confident_side(name):
    values = HAND_SCORES[name]
    # a threshold on sample 3's value: 0, 1, 2 leave; 3 (equal) stays
    exits = choose_exits(hand_scores(name), [values[3]], name)
    assert exits.tolist() == [0, 0, 0, 1, 1, 1]
    r = sweep.evaluate_thresholds(hand_scores(name), HAND_PREDICTIONS,
                                  HAND_LABELS, [[values[3]], [values[5]]],
                                  path_ms=[1.0, 3.0], score=name)
    assert r['exit_counts'].tolist() == [[3, 3], [5, 1]]
    # 0, 1, 2 right at exit 1, the rest right at exit 2; then 3 is wrong
    assert r['accuracy'].tolist() == [1.0, 5 / 6]
    assert r['ms'].tolist() == [2.0, pytest.approx((5 + 3) / 6)]


@pytest.mark.parametrize('name', sorted(HAND_SCORES))
def test_per_exit_rule_gives_the_loosest_threshold_reaching_the_target(name):
    values, s = HAND_SCORES[name], hand_scores(name)
    per_exit = rules.per_exit_thresholds
    # exit-1 prefix accuracies: 1, 1, 1, 3/4, 4/5, 4/6
    assert per_exit(s, HAND_PREDICTIONS, HAND_LABELS, 1.0, name, 10) \
        == (values[3],)
    assert per_exit(s, HAND_PREDICTIONS, HAND_LABELS, 0.8, name, 10) \
        == (values[5],)                    # 4 of 5 leave, sample 5 stays
    assert per_exit(s, HAND_PREDICTIONS, HAND_LABELS, 0.75, name, 10) \
        == (values[5],)
    never, always = score_of(name).bounds(10, s[:, :1])
    assert per_exit(s, HAND_PREDICTIONS, HAND_LABELS, 0.6, name, 10) \
        == (always,)
    wrong_first = HAND_PREDICTIONS.copy()
    wrong_first[0, 0] = 1                  # the most confident is wrong
    assert per_exit(s, wrong_first, HAND_LABELS, 0.99, name, 10) == (never,)
    t = per_exit(s, HAND_PREDICTIONS, HAND_LABELS, 0.8, name, 10)
    assert choose_exits(s, t, name).tolist() == [0, 0, 0, 0, 0, 1]


def test_per_exit_rule_never_splits_tied_scores():
    s = numpy.array([[0.1, 0], [0.2, 0], [0.2, 0], [0.3, 0]])
    predictions = numpy.array([[0, 0], [0, 0], [1, 0], [0, 0]])
    labels = numpy.zeros(4, int)
    # 2 of the first 2 are right, but sample 2 ties sample 1: 1 leaves
    assert rules.per_exit_thresholds(s, predictions, labels, 1.0, 'entropy',
                                     4) == (0.2,)


def test_per_exit_rule_goes_exit_by_exit_on_the_samples_that_remain():
    # three exits; samples 0, 1 leave at exit 1; at exit 2 only 2..5 count
    s = numpy.array([[0.1, 9.0, 0], [0.2, 9.0, 0], [1.0, 0.1, 0],
                     [1.0, 0.2, 0], [1.0, 0.3, 0], [1.0, 0.4, 0]])
    predictions = numpy.array([[0, 1, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0],
                               [1, 1, 0], [1, 0, 0]])
    labels = numpy.zeros(6, int)
    t = rules.per_exit_thresholds(s, predictions, labels, 1.0, 'entropy', 4)
    assert t == (1.0, 0.3)
    assert choose_exits(s, t).tolist() == [0, 0, 1, 1, 2, 2]


def test_per_exit_rule_rejects_a_target_outside_0_1():
    with pytest.raises(BranchyNetError, match='target'):
        rules.per_exit_thresholds(hand_scores('entropy'), HAND_PREDICTIONS,
                                  HAND_LABELS, 1.5)


@pytest.mark.parametrize('name, low, high', [
    ('entropy', 0.0, math.log(10)), ('maxprob', 0.0, 1.0),
    ('margin', 0.0, 1.0)])
def test_score_grids_span_each_range(name, low, high):
    values = numpy.random.RandomState(0).rand(500) * 0.3 + 0.2
    grid = sweep.score_grid(name, values, 10, size=11)
    assert grid[0] == low and grid[-1] == high
    assert list(grid) == sorted(set(grid))
    inside = numpy.array(grid[1:-1])
    assert len(inside) == 11 and (inside >= 0.2).all() and \
        (inside <= 0.5).all()
    sweep.check_grid(grid, name)


def test_energy_grid_spans_the_values_seen():
    values = numpy.array([-12.0, -3.0, -7.5, -4.0])
    grid = sweep.score_grid('energy', values, 10, size=5)
    assert grid[0] == -12.0 and -3.0 < grid[-1] < -2.999
    # its ends: nobody leaves at the first value, everybody at the last
    scores_ = numpy.stack([values, numpy.zeros(4)], axis=1)
    assert (choose_exits(scores_, [grid[0]], 'energy') == 1).all()
    assert (choose_exits(scores_, [grid[-1]], 'energy') == 0).all()


@pytest.mark.parametrize('name, grid', [
    ('maxprob', [0.5, 1.2]), ('margin', [-0.1]), ('entropy', [-1.0]),
    ('energy', [float('nan')]), ('confidence', [0.5])])
def test_grids_outside_a_score_range_are_rejected(name, grid):
    with pytest.raises(BranchyNetError):
        sweep.check_grid(grid, name)


def test_energy_grids_take_negative_values():
    assert sweep.threshold_grid([-5.0, -1.0], 3, 'energy').tolist() == [
        [-5, -5], [-5, -1], [-1, -5], [-1, -1]]


@pytest.mark.parametrize('name', sorted(HAND_SCORES))
def test_matched_thresholds_reproduce_the_exit_counts(name):
    s = hand_scores(name)
    for n_first in range(7):
        exits = numpy.array([0] * n_first + [1] * (6 - n_first))
        t = per_exit.matched_thresholds(s, exits, name, 10)
        assert numpy.bincount(choose_exits(s, t, name), minlength=2) \
            .tolist() == [n_first, 6 - n_first]


def test_matched_thresholds_with_three_exits_and_a_tie():
    s = numpy.array([[0.1, 0.5, 0], [0.2, 0.1, 0], [0.2, 0.2, 0],
                     [0.3, 0.3, 0]])
    # 2 at exit 1 would split the tie at 0.2: only 1 leaves there
    t = per_exit.matched_thresholds(s, numpy.array([0, 0, 1, 2]),
                                      'entropy', 4)
    assert t == (0.2, 0.2)
    assert choose_exits(s, t).tolist() == [0, 1, 2, 2]
