"""Threshold sweeps from one pass: evaluate many threshold vectors at once.

The reference re-ran the whole test set at batch size 1 for every threshold
combination. Here one batched pass (:func:`~branchynet.inference.exit_records`)
records every sample's entropy and prediction at every exit; a threshold
vector then only decides, per sample, the first exit whose entropy is below
its threshold. With the per-path latencies of
:mod:`~branchynet.profiling`, the expected time per sample of any vector is
``sum_k fraction_k * path_ms_k``.

Also here: the reference's frontier, the knee rule, and choice by constraint.
"""
import itertools

import numpy

from branchynet.errors import BranchyNetError


def threshold_grid(values, n_exits):
    """Cartesian product of ``values`` over the ``n_exits - 1`` thresholds.

    Returns:
        numpy.ndarray: float64 ``(len(values) ** (n_exits - 1), n_exits - 1)``.
    """
    values = check_grid(values)
    return numpy.array(list(itertools.product(values, repeat=n_exits - 1)),
                       numpy.float64).reshape(-1, n_exits - 1)


def check_grid(values):
    """A grid as a tuple of floats; rejects empty, NaN and negative values."""
    try:
        values = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise BranchyNetError('threshold grid must hold numbers, got %r'
                              % (values,)) from None
    if not values:
        raise BranchyNetError('threshold grid is empty')
    if any(not v >= 0 for v in values):          # catches NaN too
        raise BranchyNetError('threshold grid values must be >= 0 and not '
                              'NaN, got %r' % (values,))
    return values


def evaluate_thresholds(entropies, predictions, labels, thresholds,
                        path_ms=None, chunk=64):
    """Accuracy, exit fractions and expected latency of many vectors at once.

    Args:
        entropies (numpy.ndarray): float32 ``(N, K)``.
        predictions (numpy.ndarray): int ``(N, K)``.
        labels (numpy.ndarray): int ``(N,)``.
        thresholds (numpy.ndarray): ``(G, K - 1)`` threshold vectors.
        path_ms (sequence of float): latency of each exit path (optional).
        chunk (int): vectors evaluated per vectorised step (bounds memory to
            about ``chunk * N * K`` bytes).

    Returns:
        dict: ``accuracy`` (G,), ``exit_counts`` int (G, K),
        ``exit_fractions`` (G, K), and ``ms`` (G,) when ``path_ms`` is given.
    """
    thresholds = numpy.asarray(thresholds, numpy.float64)
    n, k = entropies.shape
    if thresholds.ndim != 2 or thresholds.shape[1] != k - 1:
        raise BranchyNetError('need threshold vectors of length %d, got '
                              'shape %s' % (k - 1, thresholds.shape))
    correct = predictions == labels[:, None]                 # (N, K)
    counts = numpy.zeros((len(thresholds), k), numpy.int64)
    n_correct = numpy.zeros(len(thresholds), numpy.int64)
    for start in range(0, len(thresholds), chunk):
        t = thresholds[start:start + chunk]
        leave = entropies[None, :, :k - 1] < t[:, None, :]   # (g, N, K-1)
        leave = numpy.concatenate(
            [leave, numpy.ones(leave.shape[:2] + (1,), bool)], axis=2)
        exit_index = leave.argmax(axis=2)                    # first exit
        for j in range(k):
            at_j = exit_index == j
            counts[start:start + chunk, j] = at_j.sum(axis=1)
            n_correct[start:start + chunk] += (at_j & correct[:, j]).sum(1)
    result = {'accuracy': n_correct / n, 'exit_counts': counts,
              'exit_fractions': counts / n}
    if path_ms is not None:
        result['ms'] = result['exit_fractions'] @ numpy.asarray(path_ms)
    return result


def reference_frontier(ms, accuracy, allowance=0.0001):
    """The reference's plotted curve: indices of the points it keeps.

    In order of increasing runtime, a point is kept when its accuracy is
    above the last kept accuracy minus ``allowance`` (the first point is
    kept).

    Returns:
        numpy.ndarray: int indices into ``ms``/``accuracy``, by runtime.
    """
    order = numpy.lexsort((-numpy.asarray(accuracy), numpy.asarray(ms)))
    kept = []
    for i in order:
        if not kept or accuracy[i] > accuracy[kept[-1]] - allowance:
            kept.append(int(i))
    return numpy.array(kept, int)


def knee(ms, accuracy, frontier):
    """The knee of a frontier: furthest above the chord of its endpoints.

    Both axes are scaled to [0, 1] over the frontier; the knee is the point
    with the largest ``accuracy_scaled - ms_scaled`` relative to the straight
    line from the fastest to the slowest frontier point (the "Kneedle"
    rule). With fewer than three frontier points, or no point above the
    chord, the most accurate one.

    Returns:
        int: index into ``ms``/``accuracy``.
    """
    frontier = numpy.asarray(frontier)
    x = numpy.asarray(ms, float)[frontier]
    y = numpy.asarray(accuracy, float)[frontier]
    if len(frontier) < 3 or x.max() == x.min() or y.max() == y.min():
        return int(frontier[numpy.argmax(y)])
    xs = (x - x.min()) / (x.max() - x.min())
    ys = (y - y.min()) / (y.max() - y.min())
    # distance above the chord from (xs[0], ys[0]) to (xs[-1], ys[-1])
    chord = ys[0] + (ys[-1] - ys[0]) * (xs - xs[0]) / (xs[-1] - xs[0])
    above = ys - chord
    if above.max() <= 1e-9:        # no elbow (a straight or convex curve)
        return int(frontier[numpy.argmax(y)])
    return int(frontier[numpy.argmax(above)])


def fastest_with_accuracy(ms, accuracy, min_accuracy):
    """Index of the fastest point with ``accuracy >= min_accuracy``.

    Returns ``None`` when no point qualifies.
    """
    ok = numpy.flatnonzero(numpy.asarray(accuracy) >= min_accuracy)
    if len(ok) == 0:
        return None
    return int(ok[numpy.lexsort((-numpy.asarray(accuracy)[ok],
                                 numpy.asarray(ms)[ok]))[0]])


def most_accurate_within(ms, accuracy, budget_ms):
    """Index of the most accurate point with ``ms <= budget_ms`` (or None)."""
    ok = numpy.flatnonzero(numpy.asarray(ms) <= budget_ms)
    if len(ok) == 0:
        return None
    return int(ok[numpy.lexsort((numpy.asarray(ms)[ok],
                                 -numpy.asarray(accuracy)[ok]))[0]])


def choose(ms, accuracy, rule='knee', baseline_accuracy=None, epsilon=0.0,
           budget_ms=None, allowance=0.0001):
    """Pick one threshold vector by ``rule``; returns its index.

    Rules:
        ``knee``: :func:`knee` of the reference frontier.
        ``accuracy``: fastest with accuracy >= ``baseline_accuracy -
        epsilon``.
        ``budget``: most accurate with ms <= ``budget_ms``.
    """
    if rule == 'knee':
        return knee(ms, accuracy, reference_frontier(ms, accuracy, allowance))
    if rule == 'accuracy':
        if baseline_accuracy is None:
            raise BranchyNetError("rule 'accuracy' needs a baseline accuracy")
        index = fastest_with_accuracy(ms, accuracy,
                                      baseline_accuracy - epsilon)
        if index is None:
            raise BranchyNetError(
                'no threshold vector reaches accuracy %.4f'
                % (baseline_accuracy - epsilon))
        return index
    if rule == 'budget':
        if budget_ms is None:
            raise BranchyNetError("rule 'budget' needs a latency budget")
        index = most_accurate_within(ms, accuracy, budget_ms)
        if index is None:
            raise BranchyNetError('no threshold vector runs within %g ms'
                                  % budget_ms)
        return index
    raise BranchyNetError("unknown rule %r (knee, accuracy, budget)" % rule)
