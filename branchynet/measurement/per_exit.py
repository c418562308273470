"""Thresholds chosen exit by exit, on the samples that reach each exit.

The per-exit rule (:func:`branchynet.measurement.rules.per_exit_thresholds`)
and the out-of-distribution comparison (:func:`matched_thresholds`, used by
:mod:`branchynet.measurement.ood`) both walk the exits in order: at each
exit the samples still in the network are ordered from most to least
confident, some count of them leaves, and the threshold is the score of
the first that stays.
"""
import numpy

from branchynet.exits.inference import score_of
from branchynet.exits.scores import DEFAULT


def sequential_thresholds(scores, score, n_classes, count):
    """Thresholds chosen exit by exit, on the samples that reach each exit.

    At exit ``j``, the samples still in the network are ordered from most to
    least confident, ``count(j, reaching, values)`` says how many of them
    leave (``reaching``: their indices in that order, ``values``: their
    sorted scores), and the threshold is the score of the first that stays:
    ``score < T`` (or ``> T``) lets exactly that many go. None leaving gives
    the score's ``never`` bound, all leaving its ``always`` bound.

    Returns:
        tuple of float: ``K - 1`` thresholds.
    """
    score = score_of(score)
    n, k = scores.shape
    never, always = score.bounds(n_classes, scores[:, :k - 1])
    remaining = numpy.arange(n)
    thresholds = []
    for j in range(k - 1):
        values = numpy.asarray(scores[remaining, j], numpy.float64)
        order = score.most_confident_first(values)
        m = count(j, remaining[order], values[order])
        t = never if m == 0 else always if m == len(order) \
            else float(values[order][m])
        thresholds.append(t)
        remaining = remaining[~score.leaves(values, t)]
    return tuple(thresholds)


def largest_prefix(values, allowed):
    """Largest ``m`` with ``allowed[m - 1]`` that does not split a tie
    (``values[m - 1] != values[m]``); 0 if none. ``values`` sorted."""
    ok = numpy.array(allowed, bool)
    ok[:-1] &= values[:-1] != values[1:]
    found = numpy.flatnonzero(ok)
    return int(found[-1]) + 1 if len(found) else 0


def matched_thresholds(scores, exit_index, score=DEFAULT, n_classes=None):
    """Thresholds of ``score`` under which as many samples leave at each
    exit as in ``exit_index`` (another score's or threshold's exits).

    Exit by exit, the ``c_k`` most confident of the samples that reach it
    leave (``c_k``: how many leave there in ``exit_index``; fewer where a
    tie in the score cannot be split).

    Args:
        scores (numpy.ndarray): ``(N, K)`` values of ``score``.
        exit_index (numpy.ndarray): int ``(N,)``, 0-based.
        n_classes (int): classes (entropy's bound is ``log(classes)``).

    Returns:
        tuple of float: ``K - 1`` thresholds.
    """
    counts = numpy.bincount(exit_index, minlength=scores.shape[1])

    def count(j, reaching, values):
        fits = numpy.arange(1, len(reaching) + 1) <= counts[j]
        return largest_prefix(values, fits)
    return sequential_thresholds(scores, score, n_classes, count)
