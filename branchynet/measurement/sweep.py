"""Threshold sweeps from one pass: evaluate many threshold vectors at once.

The reference re-ran the whole test set at batch size 1 for every threshold
combination. Here one batched pass (:class:`~branchynet.exits.records.Records`)
records every sample's logits (and entropy) at every exit; a threshold
vector of an exit score then only decides, per sample, the first exit whose
score is on the confident side of its threshold
(:func:`~branchynet.exits.inference.choose_exits`). With the per-path latencies
of :mod:`~branchynet.measurement.profiling`, the expected time per sample of any vector
is ``sum_k fraction_k * path_ms_k``.

Also here: each score's grid, the reference's frontier, and the rules that
choose a threshold vector: the knee, by accuracy, by latency budget, by an
accuracy/latency trade-off weight (LEENet), and per exit to a target
accuracy (validation percentiles).
"""
import itertools

import numpy

from branchynet.errors import BranchyNetError
from branchynet.exits.inference import choose_exits, score_of
from branchynet.exits.scores import DEFAULT

#: the rules of :func:`choose` and :func:`per_exit_thresholds`
RULES = ('knee', 'accuracy', 'budget', 'tradeoff', 'per-exit')


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


def best_tradeoff(ms, accuracy, alpha, baseline_ms):
    """Index minimising ``(1 - accuracy) + alpha * ms / baseline_ms``
    (LEENet's single weight between error and cost); ties go to the faster,
    then the more accurate point.
    """
    ms = numpy.asarray(ms, numpy.float64)
    accuracy = numpy.asarray(accuracy, numpy.float64)
    cost = (1 - accuracy) + alpha * ms / baseline_ms
    return int(numpy.lexsort((-accuracy, ms, cost))[0])


def per_exit_thresholds(scores, predictions, labels, target, score=DEFAULT,
                        n_classes=None):
    """For each exit, the loosest threshold at which the samples leaving
    there reach accuracy ``target`` (thresholds from validation
    percentiles).

    Exit by exit, among the samples that reach it: order them from most to
    least confident; the ``m`` most confident leave, with ``m`` the largest
    count whose answers are at least ``target`` accurate (ties in the score
    are never split); the threshold is the score of the first sample that
    stays, so ``score < T`` (or ``> T``) lets exactly those ``m`` go. When no
    count reaches ``target`` nobody leaves there; when all do, everybody
    does (the score's bounds, :meth:`~branchynet.exits.scores.Score.bounds`).

    Args:
        scores (numpy.ndarray): ``(N, K)`` values of ``score``.
        predictions (numpy.ndarray): int ``(N, K)``.
        labels (numpy.ndarray): int ``(N,)``.
        target (float): accuracy in [0, 1].
        score (str): the exit score.
        n_classes (int): classes (default: the largest label or prediction
            + 1; entropy's bound is ``log(classes)``).

    Returns:
        tuple of float: ``K - 1`` thresholds.
    """
    if not 0 <= target <= 1:
        raise BranchyNetError('target accuracy must be in [0, 1], got %r'
                              % (target,))
    if n_classes is None:
        n_classes = int(max(labels.max(), predictions.max())) + 1
    correct = predictions == labels[:, None]

    def count(j, reaching, values):
        # accuracy as a fraction, as every other rule compares it (99 of
        # 100 reaches 0.99 exactly: both sides are the double nearest 0.99)
        accurate = numpy.cumsum(correct[reaching, j]) / \
            numpy.arange(1, len(reaching) + 1) >= target
        return _largest_prefix(values, accurate)
    return sequential_thresholds(scores, score, n_classes, count)


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
        return _largest_prefix(values, fits)
    return sequential_thresholds(scores, score, n_classes, count)


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


def _largest_prefix(values, allowed):
    """Largest ``m`` with ``allowed[m - 1]`` that does not split a tie
    (``values[m - 1] != values[m]``); 0 if none. ``values`` sorted."""
    ok = numpy.array(allowed, bool)
    ok[:-1] &= values[:-1] != values[1:]
    found = numpy.flatnonzero(ok)
    return int(found[-1]) + 1 if len(found) else 0


def choose(ms, accuracy, rule='knee', baseline_accuracy=None, epsilon=0.0,
           budget_ms=None, allowance=0.0001, alpha=None, baseline_ms=None):
    """Pick one threshold vector of a grid by ``rule``; returns its index.

    Rules:
        ``knee``: :func:`knee` of the reference frontier.
        ``accuracy``: fastest with accuracy >= ``baseline_accuracy -
        epsilon``.
        ``budget``: most accurate with ms <= ``budget_ms``.
        ``tradeoff``: :func:`best_tradeoff` with ``alpha`` and
        ``baseline_ms``.

    (``per-exit`` does not pick from a grid: :func:`per_exit_thresholds`.)
    """
    if rule == 'tradeoff':
        if alpha is None or baseline_ms is None:
            raise BranchyNetError("rule 'tradeoff' needs --alpha (and the "
                                  "baseline's ms)")
        if not 0 <= alpha < float('inf'):
            raise BranchyNetError('alpha must be a finite number >= 0, got '
                                  '%r' % (alpha,))
        return best_tradeoff(ms, accuracy, alpha, baseline_ms)
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
    raise BranchyNetError("unknown rule %r (choose from %s)"
                          % (rule, ', '.join(RULES)))
