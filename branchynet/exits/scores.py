"""Exit scores: how confident an exit is, and which way is confident.

BranchyNet leaves at exit k when the softmax entropy is below ``T_k``. Later
early-exit work scores confidence in other ways; each score here is one
function of an exit's logits ``z`` (``p = softmax(z)``) and a direction:

=========  ===========================================  ==========  =========
score      formula                                      confident   range
=========  ===========================================  ==========  =========
entropy    ``H = -sum_c p_c log p_c`` (nats; the paper)  low         [0, log C]
maxprob    ``max_c p_c`` (Shallow-Deep Networks, MSDNet) high        [1/C, 1]
margin     ``p_(1) - p_(2)``, top-1 minus top-2          high        [0, 1]
energy     ``-logsumexp(z)`` (BrevisNet)                 low         any real
=========  ===========================================  ==========  =========

A sample leaves when its score is on the confident side of the threshold,
strictly: ``score < T`` (low is confident) or ``score > T`` (high is
confident), compared in float64. For entropy that is exactly the paper's
``H < T``; the entropy the early exit compares is the runtime's own
(:func:`branchynet.exits.inference.entropy` in float32, or the ONNX graph's), and
:func:`entropy` here is the same formula in float64 for records built from
logits alone.

The functions take float logits ``(N, C)`` on the host and return float64
``(N,)``. Each row is computed on its own (no reduction across rows, and
exp and log from the C library, element by element: numpy's vectorised ones
can round by position), so a sample's score does not depend on the batch it
is in: the score a sweep
reads from a record is bit for bit the one the batch-1 early exit computes
from the same logits.

Each score is one :class:`Score` of :data:`SCORES`, which carries all that
differs between scores: its function, its direction, its unit, the
thresholds it takes and its ``(never, always)`` bounds. A new score is one
function of the logits, one entry there and its test.

This module imports only numpy, so that
:mod:`branchynet.runtimes.onnx.inference` can be deployed with it and
without chainer; for the same reason it does not use
``scipy.special.logsumexp`` (two lines here).
"""
import math

import numpy

#: the score of the paper, and the default everywhere
DEFAULT = 'entropy'


# numpy's exp and log run vectorised (SIMD) code whose last bit can differ
# from the scalar path, and which path an element takes can depend on the
# array around it: a margin differed by 1 ulp between a row alone and the
# same row in a batch of 300 (tests/test_scores.py, once in several runs).
# The C library's, one element at a time, gives a row the same score in any
# batch; it costs about 0.2 us per element (a few ms for a record).
_exp_objects = numpy.frompyfunc(math.exp, 1, 1)
_log_objects = numpy.frompyfunc(math.log, 1, 1)


def _exp(a):
    return _exp_objects(a).astype(numpy.float64)


def _log(a):
    return _log_objects(a).astype(numpy.float64)


def _shifted(logits):
    """``z - max(z)`` per row in float64, and ``sum(exp(z - max z))``."""
    z = numpy.asarray(logits, numpy.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError('logits must be (N, classes) with classes >= 2, got '
                         'shape %s' % (z.shape,))
    top = z.max(axis=1, keepdims=True)
    shifted = z - top
    return shifted, top[:, 0], _exp(shifted).sum(axis=1)


def entropy(logits):
    """Softmax entropy ``H = -sum_c p_c log p_c`` in nats (low: confident).

    Args:
        logits (numpy.ndarray): float ``(N, C)``.

    Returns:
        numpy.ndarray: float64 ``(N,)`` in ``[0, log C]``.
    """
    shifted, _, total = _shifted(logits)
    log_p = shifted - _log(total)[:, None]
    return numpy.maximum(-(_exp(log_p) * log_p).sum(axis=1), 0.0)


def maxprob(logits):
    """Largest softmax probability ``max_c p_c`` (high: confident).

    ``max_c p_c = 1 / sum_c exp(z_c - max z)``.

    Args:
        logits (numpy.ndarray): float ``(N, C)``.

    Returns:
        numpy.ndarray: float64 ``(N,)`` in ``[1/C, 1]``.
    """
    return 1.0 / _shifted(logits)[2]


def margin(logits):
    """Top-1 minus top-2 softmax probability ``p_(1) - p_(2)`` (high:
    confident).

    ``p_(1) - p_(2) = (1 - exp(z_(2) - z_(1))) / sum_c exp(z_c - z_(1))``.

    Args:
        logits (numpy.ndarray): float ``(N, C)``, ``C >= 2``.

    Returns:
        numpy.ndarray: float64 ``(N,)`` in ``[0, 1]`` (0 for a tie).
    """
    shifted, _, total = _shifted(logits)
    second = numpy.partition(shifted, -2, axis=1)[:, -2]      # z_(2) - z_(1)
    return (1.0 - _exp(second)) / total


def energy(logits):
    """Energy ``E = -logsumexp(z) = -(max z + log sum_c exp(z_c - max z))``
    (low: confident).

    Args:
        logits (numpy.ndarray): float ``(N, C)``.

    Returns:
        numpy.ndarray: float64 ``(N,)``, unbounded.
    """
    _, top, total = _shifted(logits)
    return -(top + _log(total))


class Score:
    """One exit score: its function, its direction, its threshold range.

    Everything a caller needs to know about a score is here, so that a new
    score is one function of the logits, one entry of :data:`SCORES` (with
    its ``bounds``) and its test; no code branches on a score's name.

    Attributes:
        name (str): ``entropy``, ``maxprob``, ``margin`` or ``energy``.
        function: logits ``(N, C)`` -> float64 ``(N,)``.
        low_is_confident (bool): leave when ``score < T`` (else ``> T``).
        unit (str): how its values read (``nats``...).
        threshold_range (tuple): ``(low, high)``, the thresholds it takes
            (infinite ends for none).
        bounds_function: ``(name, n_classes, seen)`` -> ``(never,
            always)`` (see :meth:`bounds`).
        help (str): what ``--score``'s help says it compares with T, in a
            few words (None: ``leave when its score``; the direction and
            the range come from the attributes above).
    """

    def __init__(self, name, function, low_is_confident, unit,
                 threshold_range, bounds_function, help=None):
        self.name = name
        self.help = help
        self.function = function
        self.low_is_confident = low_is_confident
        self.unit = unit
        self.threshold_range = threshold_range
        self.bounds_function = bounds_function

    def __repr__(self):
        return 'Score(%r)' % self.name

    def __call__(self, logits):
        return self.function(logits)

    def leaves(self, values, thresholds):
        """Whether a score leaves at a threshold: ``values < thresholds``
        or ``values > thresholds``, in float64 (broadcasting).

        Returns:
            numpy.ndarray or bool.
        """
        values = numpy.asarray(values, numpy.float64)
        thresholds = numpy.asarray(thresholds, numpy.float64)
        if self.low_is_confident:
            return values < thresholds
        return values > thresholds

    def most_confident_first(self, values):
        """Indices that sort ``values`` from most to least confident
        (stable)."""
        values = numpy.asarray(values, numpy.float64)
        return numpy.argsort(values if self.low_is_confident else -values,
                             kind='stable')

    def bounds(self, n_classes, seen=None):
        """``(never, always)``: the threshold at which no sample leaves and
        the loosest one, at which every ``seen`` sample leaves but a margin
        tie (each score's ``bounds_function``: :func:`entropy_bounds`,
        :func:`probability_bounds`, :func:`seen_bounds`).
        """
        return self.bounds_function(self.name, n_classes, seen)

    def bad_threshold(self, t):
        """Why ``t`` is not a threshold of this score (None when it is).

        Entropy takes ``t >= 0``; maxprob and margin ``0 <= t <= 1``;
        energy any number (its :attr:`threshold_range`). NaN never
        (infinity only where in range).
        """
        if not isinstance(t, float) or math.isnan(t):
            return 'thresholds must be numbers, got %r' % (t,)
        low, high = self.threshold_range
        if low <= t <= high:
            return None
        if high == math.inf:
            return '%s thresholds must be >= %g, got %r' % (self.name, low, t)
        return '%s thresholds must be in [%g, %g], got %r' % (self.name, low,
                                                            high, t)


def entropy_bounds(name, n_classes, seen=None):
    """Entropy's ``(never, always)``: ``(0, log C)``, or ``(0, just above
    max)`` of the ``seen`` values (the records) when one reaches ``log C``:
    a float32 entropy of a nearly uniform row can exceed the float64
    ``log C``."""
    top = math.log(n_classes)
    if seen is not None and numpy.size(seen):
        top = max(top, _just_above(seen))
    return 0.0, top


def probability_bounds(name, n_classes, seen=None):
    """A probability's (maxprob, margin) ``(never, always)``: ``(1, 0)``;
    at 0 a margin tie stays."""
    return 1.0, 0.0


def seen_bounds(name, n_classes, seen=None):
    """The bounds of a score without bounds of its own (energy): the range
    of the ``seen`` values, ``(min, just above max)``.

    Raises:
        ValueError: no values seen.
    """
    seen = numpy.asarray(seen, numpy.float64)
    if seen.size == 0:
        raise ValueError('the %s range needs score values' % name)
    return float(seen.min()), _just_above(seen)


def _just_above(values):
    """The smallest float64 above every one of ``values``."""
    return float(numpy.nextafter(numpy.max(numpy.asarray(
        values, numpy.float64)), numpy.inf))


#: every score by name: name, function, low is confident, unit, threshold
#: range, bounds
SCORES = {s.name: s for s in (
    Score('entropy', entropy, True, 'nats', (0.0, math.inf), entropy_bounds,
          "the paper's, leave when H"),
    Score('maxprob', maxprob, False, 'probability', (0.0, 1.0),
          probability_bounds, 'leave when max p'),
    Score('margin', margin, False, 'probability', (0.0, 1.0),
          probability_bounds, 'top-1 minus top-2 probability'),
    Score('energy', energy, True, '-logsumexp', (-math.inf, math.inf),
          seen_bounds, '-logsumexp of the logits'),
)}


def check_thresholds(thresholds, n_exits, score=DEFAULT):
    """Validate a threshold vector of ``score``; returns a tuple of floats.

    The one check of threshold values, for both runtimes (here so that
    :mod:`branchynet.runtimes.onnx.inference` has it without chainer).

    Raises:
        ValueError: an unknown score, wrong length, NaN, or a value outside
            the score's range (entropy >= 0, probabilities in [0, 1]).
    """
    score = get_score(score)
    if isinstance(thresholds, (str, bytes)):
        raise ValueError('thresholds must be a sequence of numbers, got %r'
                         % (thresholds,))
    try:
        values = tuple(float(t) for t in thresholds)
    except (TypeError, ValueError):
        raise ValueError('thresholds must be numbers, got %r'
                         % (thresholds,)) from None
    if len(values) != n_exits - 1:
        raise ValueError('a network with %d exits needs %d threshold(s), got '
                         '%d' % (n_exits, n_exits - 1, len(values)))
    for t in values:
        reason = score.bad_threshold(t)
        if reason:
            raise ValueError(reason)
    return values


def get_score(name):
    """The :class:`Score` called ``name``.

    Raises:
        ValueError: unknown name (callers turn it into their own error).
    """
    if isinstance(name, Score):
        return name
    try:
        return SCORES[name]
    except (KeyError, TypeError):
        raise ValueError('unknown score %r (choose from %s)'
                         % (name, ', '.join(SCORES))) from None
