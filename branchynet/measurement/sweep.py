"""Threshold sweeps from one pass: evaluate many threshold vectors at once.

The reference re-ran the whole test set at batch size 1 for every threshold
combination. Here one batched pass (:class:`~branchynet.exits.records.Records`)
records every sample's logits (and entropy) at every exit; a threshold
vector of an exit score then only decides, per sample, the first exit whose
score is on the confident side of its threshold
(:func:`~branchynet.exits.inference.choose_exits`). With the per-path
latencies of :mod:`~branchynet.measurement.profiling`, the expected time per
sample of any vector is ``sum_k fraction_k * path_ms_k``.

Also here: each score's grid. The rules that choose a threshold vector
(the knee of the reference's frontier, by accuracy, by latency budget, by
an accuracy/latency trade-off weight (LEENet), and per exit to a target
accuracy) are in :mod:`branchynet.measurement.rules`, and thresholds chosen
exit by exit in :mod:`branchynet.measurement.per_exit`; their names are
importable from here as before.
"""
import itertools

import numpy

from branchynet.errors import BranchyNetError
from branchynet.exits.inference import choose_exits, score_of
from branchynet.exits.scores import DEFAULT


def threshold_grid(values, n_exits, score=DEFAULT):
    """Cartesian product of ``values`` over the ``n_exits - 1`` thresholds.

    Returns:
        numpy.ndarray: float64 ``(len(values) ** (n_exits - 1), n_exits - 1)``.
    """
    values = check_grid(values, score)
    return numpy.array(list(itertools.product(values, repeat=n_exits - 1)),
                       numpy.float64).reshape(-1, n_exits - 1)


def check_grid(values, score=DEFAULT):
    """A grid of ``score`` thresholds as a tuple of floats; rejects an empty
    grid and values outside the score's range
    (:meth:`~branchynet.exits.scores.Score.bad_threshold`)."""
    score = score_of(score)
    try:
        values = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise BranchyNetError('threshold grid must hold numbers, got %r'
                              % (values,)) from None
    if not values:
        raise BranchyNetError('threshold grid is empty')
    for v in values:
        reason = score.bad_threshold(v)
        if reason:
            raise BranchyNetError('threshold grid: %s' % reason)
    return values


def score_grid(score, values, n_classes, size=33):
    """Threshold values for a sweep of ``score``, from validation records.

    The grid spans the score's range (entropy in nats from 0 to
    ``log(classes)``; probabilities and margins in [0, 1]; energy over the
    range of ``values``) and, inside it, places ``size`` values at evenly
    spaced quantiles of ``values``, so that every step moves a similar share
    of samples whatever the score's scale.

    Args:
        score (str): a name of :data:`branchynet.exits.scores.SCORES`.
        values (numpy.ndarray): the score at the non-final exits of the
            tuning split, any shape.
        n_classes (int): classes of the network.
        size (int): quantiles taken.

    Returns:
        tuple of float: sorted, distinct.
    """
    score = score_of(score)
    values = numpy.asarray(values, numpy.float64).ravel()
    low, high = sorted(score.bounds(n_classes, values))
    inner = numpy.quantile(values, numpy.linspace(0, 1, size)) \
        if values.size else numpy.zeros(0)
    return tuple(sorted({low, high} | set(
        numpy.clip(inner, low, high).tolist())))


def evaluate_thresholds(scores, predictions, labels, thresholds,
                        path_ms=None, chunk=64, score=DEFAULT):
    """Accuracy, exit fractions and expected latency of many vectors at once.

    Args:
        scores (numpy.ndarray): ``(N, K)`` values of ``score`` (for entropy,
            the recorded float32 entropy).
        predictions (numpy.ndarray): int ``(N, K)``.
        labels (numpy.ndarray): int ``(N,)``.
        thresholds (numpy.ndarray): ``(G, K - 1)`` threshold vectors.
        path_ms (sequence of float): latency of each exit path (optional).
        chunk (int): vectors evaluated per vectorised step (bounds memory to
            about ``chunk * N * K`` bytes).
        score (str): the exit score the thresholds are for.

    Returns:
        dict: ``accuracy`` (G,), ``exit_counts`` int (G, K),
        ``exit_fractions`` (G, K), and ``ms`` (G,) when ``path_ms`` is given.
    """
    thresholds = numpy.asarray(thresholds, numpy.float64)
    n, k = scores.shape
    if thresholds.ndim != 2 or thresholds.shape[1] != k - 1:
        raise BranchyNetError('need threshold vectors of length %d, got '
                              'shape %s' % (k - 1, thresholds.shape))
    correct = predictions == labels[:, None]                 # (N, K)
    counts = numpy.zeros((len(thresholds), k), numpy.int64)
    n_correct = numpy.zeros(len(thresholds), numpy.int64)
    for start in range(0, len(thresholds), chunk):
        exit_index = choose_exits(scores, thresholds[start:start + chunk],
                                  score)                     # (g, N)
        for j in range(k):
            at_j = exit_index == j
            counts[start:start + chunk, j] = at_j.sum(axis=1)
            n_correct[start:start + chunk] += (at_j & correct[:, j]).sum(1)
    result = {'accuracy': n_correct / n, 'exit_counts': counts,
              'exit_fractions': counts / n}
    if path_ms is not None:
        result['ms'] = result['exit_fractions'] @ numpy.asarray(path_ms)
    return result
