"""The contract of an exit score (:func:`assert_is_score`)."""
import math

import numpy


def _logits(n_classes, n=64, seed=0):
    """Varied logits without ties: a confident row first, a uniform (the
    least confident) row second, then random rows of several scales."""
    rng = numpy.random.RandomState(seed)
    rows = rng.normal(0, 1, (n, n_classes)) * rng.uniform(0.1, 4, (n, 1))
    rows[0] = 0
    rows[0, 0] = 60.0
    rows[1] = 0
    return rows.astype(numpy.float32)


def assert_is_score(score, n_classes=10):
    """A registered exit score is a finite float64 function of the logits,
    ranks a confident row above an unsure one in its declared direction
    (some threshold in its range lets the confident row leave and keeps the
    unsure one), orders rows most confident first, and has bounds that
    keep every sample at ``never`` and let every one leave at ``always``
    (but a sample whose score is ``always`` itself: a margin tie), both
    thresholds it accepts.

    Args:
        score (Score): the score's registry entry.
    """
    from branchynet.exits.scores import SCORES
    assert SCORES[score.name] is score
    assert isinstance(score.unit, str) and score.unit
    logits = _logits(n_classes)
    values = score(logits)
    assert values.dtype == numpy.float64 and values.shape == (len(logits),)
    assert numpy.isfinite(values).all(), values
    sure, unsure = values[0], values[1]
    assert (sure < unsure) if score.low_is_confident else (sure > unsure), (
        '%s: a confident row scores %r, a uniform one %r: not the '
        'direction low_is_confident=%r says' % (score.name, sure, unsure,
                                                score.low_is_confident))
    between = float((sure + unsure) / 2)
    assert score.bad_threshold(between) is None, between
    assert score.leaves(sure, between) and not score.leaves(unsure, between)
    order = score.most_confident_first(values)
    ranked = values[order] if score.low_is_confident else -values[order]
    assert (numpy.diff(ranked) >= 0).all(), 'most_confident_first unsorted'
    assert list(order).index(0) < list(order).index(1)
    _assert_bounds(score, n_classes, values)


def _assert_bounds(score, n_classes, values):
    never, always = score.bounds(n_classes, seen=values)
    for t in (never, always):
        assert isinstance(t, float) and not math.isnan(t), t
        assert score.bad_threshold(t) is None, (score.name, t)
    assert not score.leaves(values, never).any(), (
        '%s: some samples leave at the bound %r where none should'
        % (score.name, never))
    assert (score.leaves(values, always) | (values == always)).all(), (
        '%s: some samples stay at the bound %r where all should leave'
        % (score.name, always))
