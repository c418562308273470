"""The one-pass sweep against brute force, and the choice rules."""
import numpy
import pytest

from branchynet import sweep
from branchynet.errors import BranchyNetError
from branchynet.inference import early_exit, exit_records


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


def test_reference_frontier_keeps_points_above_last_kept_minus_allowance():
    ms = [1.0, 2.0, 3.0, 4.0, 5.0]
    acc = [0.90, 0.95, 0.9499, 0.94, 0.96]
    # 0.9499 > 0.95 - 0.0002 is kept; 0.94 is not; 0.96 is
    assert sweep.reference_frontier(ms, acc, 0.0002).tolist() == [0, 1, 2, 4]
    assert sweep.reference_frontier(ms, acc, 0.0).tolist() == [0, 1, 4]
    # order is by runtime, not by position
    assert sweep.reference_frontier([3, 1, 2], [0.9, 0.5, 0.7]).tolist() \
        == [1, 2, 0]


def test_knee_is_the_point_furthest_above_the_chord():
    # a concave curve with an obvious elbow at ms=2
    ms = [1.0, 2.0, 3.0, 4.0, 5.0]
    acc = [0.50, 0.95, 0.96, 0.97, 0.98]
    frontier = sweep.reference_frontier(ms, acc)
    assert sweep.knee(ms, acc, frontier) == 1
    # a straight line has no elbow: the most accurate
    assert sweep.knee([1, 2, 3], [0.1, 0.2, 0.3], [0, 1, 2]) == 2
    # too few points: the most accurate
    assert sweep.knee([1, 2], [0.5, 0.6], [0, 1]) == 1


def test_choice_by_constraint():
    ms = [1.0, 2.0, 3.0, 4.0]
    acc = [0.90, 0.95, 0.99, 0.98]
    assert sweep.choose(ms, acc, 'accuracy', baseline_accuracy=0.97) == 2
    assert sweep.choose(ms, acc, 'accuracy', baseline_accuracy=0.97,
                        epsilon=0.03) == 1
    assert sweep.choose(ms, acc, 'budget', budget_ms=2.5) == 1
    assert sweep.choose(ms, acc, 'budget', budget_ms=10) == 2
    with pytest.raises(BranchyNetError):
        sweep.choose(ms, acc, 'accuracy', baseline_accuracy=0.999)
    with pytest.raises(BranchyNetError):
        sweep.choose(ms, acc, 'budget', budget_ms=0.5)
    with pytest.raises(BranchyNetError):
        sweep.choose(ms, acc, 'fastest')
