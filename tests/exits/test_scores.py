"""Exit scores on logits whose answers are known by hand."""
import math

import numpy
import pytest

from branchynet.exits import scores
from branchynet.exits.inference import entropy as chainer_entropy
from branchynet.exits.scores import SCORES, get_score

# p = (3/5, 1/5, 1/5): softmax of (log 3, 0, 0)
THREE = numpy.array([[math.log(3), 0.0, 0.0]], numpy.float64)


def test_every_score_on_a_softmax_known_by_hand():
    p = numpy.array([0.6, 0.2, 0.2])
    assert scores.entropy(THREE)[0] == pytest.approx(-(p * numpy.log(p))
                                                     .sum(), abs=1e-15)
    assert scores.maxprob(THREE)[0] == pytest.approx(0.6, abs=1e-15)
    assert scores.margin(THREE)[0] == pytest.approx(0.4, abs=1e-15)
    assert scores.energy(THREE)[0] == pytest.approx(-math.log(5), abs=1e-15)
    # adding a constant to every logit moves only the energy
    shifted = THREE + 7.0
    for name in ('entropy', 'maxprob', 'margin'):
        assert SCORES[name](shifted)[0] == pytest.approx(
            SCORES[name](THREE)[0], abs=1e-14)
    assert scores.energy(shifted)[0] == pytest.approx(-math.log(5) - 7,
                                                      abs=1e-13)


def test_uniform_and_certain_rows_reach_the_ends_of_each_range():
    z = numpy.array([[0.0, 0.0, 0.0, 0.0], [1000.0, 0.0, 0.0, 0.0],
                     [5.0, 5.0, 1.0, 0.0]], numpy.float32)
    numpy.testing.assert_allclose(scores.entropy(z)[:2], [math.log(4), 0],
                                  atol=1e-15)
    numpy.testing.assert_allclose(scores.maxprob(z)[:2], [0.25, 1.0])
    numpy.testing.assert_array_equal(scores.margin(z), [0.0, 1.0, 0.0])
    numpy.testing.assert_allclose(scores.energy(z)[:2],
                                  [-math.log(4), -1000.0])
    for name in SCORES:
        assert SCORES[name](z).dtype == numpy.float64


def test_the_entropy_here_is_the_runtime_entropy_in_float64():
    z = (numpy.random.RandomState(0).randn(300, 10) * 5).astype(
        numpy.float32)
    numpy.testing.assert_allclose(scores.entropy(z), chainer_entropy(z),
                                  rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('name', sorted(SCORES))
def test_a_row_scores_the_same_alone_and_in_any_batch(name):
    """What lets a sweep read the batch-1 early exit's score from a record:
    no reduction crosses rows, bit for bit."""
    rng = numpy.random.RandomState(1)
    for n, scale in ((2, 0.1), (7, 3.0), (300, 30.0)):
        z = (rng.randn(n, 10) * scale).astype(numpy.float32)
        alone = numpy.concatenate([SCORES[name](z[i:i + 1])
                                   for i in range(n)])
        numpy.testing.assert_array_equal(SCORES[name](z), alone)
        # and at every position in a larger batch (vectorised exp/log can
        # round an element by where it falls in the array)
        for lead in range(1, 9):
            padded = numpy.concatenate(
                [(rng.randn(lead, 10) * scale).astype(numpy.float32), z])
            numpy.testing.assert_array_equal(SCORES[name](padded)[lead:],
                                             alone)


def test_directions_and_strict_comparisons():
    low, high = SCORES['entropy'], SCORES['maxprob']
    assert low.low_is_confident and SCORES['energy'].low_is_confident
    assert not high.low_is_confident and \
        not SCORES['margin'].low_is_confident
    values = numpy.array([0.1, 0.5, 0.9])
    assert low.leaves(values, 0.5).tolist() == [True, False, False]
    assert high.leaves(values, 0.5).tolist() == [False, False, True]
    # compared in float64: a float32 value and a threshold a hair above it
    v = numpy.float32(0.3)
    t = float(v) + float(numpy.spacing(v)) / 4
    assert low.leaves(v, t) and not high.leaves(v, t)
    assert low.most_confident_first(values).tolist() == [0, 1, 2]
    assert high.most_confident_first(values).tolist() == [2, 1, 0]


def test_bounds_never_and_always():
    assert SCORES['entropy'].bounds(10) == (0.0, math.log(10))
    assert SCORES['maxprob'].bounds(10) == (1.0, 0.0)
    assert SCORES['margin'].bounds(10) == (1.0, 0.0)
    never, always = SCORES['energy'].bounds(10, [-3.0, -1.0, -2.0])
    assert never == -3.0 and always > -1.0
    assert SCORES['energy'].leaves([-3.0, -1.0], always).all()
    assert not SCORES['energy'].leaves([-3.0, -1.0], never).any()
    with pytest.raises(ValueError):
        SCORES['energy'].bounds(10, [])
    # at the loosest threshold in range the least confident possible stays:
    # a uniform softmax (entropy log C), a tie of the top two (margin 0)
    assert not SCORES['entropy'].leaves(math.log(10), math.log(10))
    assert not SCORES['margin'].leaves(0.0, 0.0)
    assert SCORES['maxprob'].leaves(0.1, 0.0)


def test_every_recorded_entropy_leaves_at_the_always_bound():
    # float32 entropies of nearly uniform rows: some exceed float64 log C
    z = numpy.random.RandomState(0).normal(0, 1e-3, (2000, 10))
    h = chainer_entropy(z.astype(numpy.float32))
    assert (h > math.log(10)).any()
    never, always = SCORES['entropy'].bounds(10, h)
    assert SCORES['entropy'].leaves(h, always).all()
    assert not SCORES['entropy'].leaves(h, never).any()
    # just above the largest: no looser than needed
    assert always == float(numpy.nextafter(h.max().astype(numpy.float64),
                                           numpy.inf))
    # rows that stay under log C keep log C
    assert SCORES['entropy'].bounds(10, [0.5, 2.0]) == (0.0, math.log(10))


@pytest.mark.parametrize('name, good, bad', [
    ('entropy', [0.0, 2.5, math.inf], [-0.1, math.nan]),
    ('maxprob', [0.0, 0.5, 1.0], [-0.1, 1.01, math.inf, math.nan]),
    ('margin', [0.0, 1.0], [1.5, -1e-9]),
    ('energy', [-50.0, 0.0, 3.0, -math.inf], [math.nan]),
])
def test_threshold_ranges(name, good, bad):
    score = SCORES[name]
    assert all(score.bad_threshold(t) is None for t in good)
    assert all(score.bad_threshold(t) for t in bad)


def test_unknown_score_and_bad_logits():
    assert get_score('margin') is SCORES['margin']
    assert get_score(SCORES['energy']) is SCORES['energy']
    with pytest.raises(ValueError, match='unknown score'):
        get_score('confidence')
    with pytest.raises(ValueError, match='classes >= 2'):
        scores.maxprob(numpy.zeros((3, 1)))


@pytest.mark.parametrize('name, t, message', [
    ('entropy', -0.5, 'entropy thresholds must be >= 0, got -0.5'),
    ('maxprob', 1.5, 'maxprob thresholds must be in [0, 1], got 1.5'),
    ('margin', -math.inf, 'margin thresholds must be in [0, 1], got -inf'),
    ('energy', math.nan, 'thresholds must be numbers, got nan'),
    ('entropy', 1, 'thresholds must be numbers, got 1'),
])
def test_threshold_messages(name, t, message):
    assert SCORES[name].bad_threshold(t) == message


def test_a_new_score_is_one_function_and_one_entry(monkeypatch):
    """Nothing branches on a score's name: a score added to the table
    (here minus the top logit, confident when low, thresholds in
    [-10, 0]) has its range checked, its bounds and its direction."""
    def minus_top(logits):
        return -numpy.asarray(logits, numpy.float64).max(axis=1)
    top = scores.Score('top', minus_top, True, 'logit', (-10.0, 0.0),
                       scores.seen_bounds)
    monkeypatch.setitem(SCORES, 'top', top)
    assert get_score('top') is top
    assert scores.check_thresholds([-2.0], 2, 'top') == (-2.0,)
    with pytest.raises(ValueError, match=r'^top thresholds must be in '
                       r'\[-10, 0\], got 1.0$'):
        scores.check_thresholds([1.0], 2, 'top')
    assert top(THREE).tolist() == [-math.log(3)]
    never, always = top.bounds(3, [-1.0, -2.0])
    assert never == -2.0 and -1.0 < always < -0.999
    with pytest.raises(ValueError, match='the top range needs score values'):
        top.bounds(3, [])
    assert top.leaves([-3.0, -1.0], -2.0).tolist() == [True, False]
