"""The rules that choose one threshold vector of a sweep, by name.

A rule reads the sweep of a grid on the tuning split (each vector's
accuracy and predicted ms) and picks one vector, or, like ``per-exit``,
makes its own vector from the tuning records. Each rule is one
:class:`Rule` object in :data:`REGISTRY`:

* ``name``: what ``--rule`` takes;
* ``needs``: the command-line settings it cannot do without (keys of
  :data:`SETTINGS`), checked by :meth:`Rule.check` before any work starts;
* :meth:`Rule.choose`: the index of its choice among a grid's vectors; or
  :meth:`Rule.own_thresholds`: a vector of its own, which the caller
  appends to the grid and takes;
* :meth:`Rule.setting`: how ``branchynet compare`` shows its setting.

Adding a rule is one subclass of :class:`Rule`, one line in
:data:`REGISTRY` and its test; ``--rule``'s choices
(:data:`RULES`), ``branchynet compare``'s rows and
the checks follow.

The settings every rule is given (:data:`DEFAULTS`): ``baseline_accuracy``
(the baseline's accuracy on the tuning split), ``epsilon`` (an accuracy
allowance), ``budget_ms``, ``allowance`` (of the reference frontier),
``alpha`` (the trade-off weight), ``baseline_ms`` and ``target`` (the
per-exit accuracy).
"""
import math

import numpy

from branchynet.errors import BranchyNetError
from branchynet.exits.scores import DEFAULT
from branchynet.measurement.per_exit import (largest_prefix,
                                               sequential_thresholds)


# ------------------------------------------------- choosing on a swept grid

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


# ------------------------------------------------- a vector of its own

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
        return largest_prefix(values, accurate)
    return sequential_thresholds(scores, score, n_classes, count)


# ------------------------------------------------- the rules

#: the settings a rule may need from the command line: its option, what it
#: is, and whether a value is one
SETTINGS = {
    'budget_ms': ('--budget-ms', 'a positive number of ms per sample',
                  lambda v: 0 < v < math.inf),
    'alpha': ('--alpha', 'a finite number >= 0',
              lambda v: 0 <= v < math.inf),
    'target': ('--target', 'an accuracy in [0, 1]', lambda v: 0 <= v <= 1),
}

#: every setting a rule is given, and its value when not given
DEFAULTS = {'baseline_accuracy': None, 'epsilon': 0.0, 'budget_ms': None,
            'allowance': 0.0001, 'alpha': None, 'baseline_ms': None,
            'target': None}


class Rule:
    """A way to choose a threshold vector (see the module doc).

    Attributes:
        name (str): what ``--rule`` takes.
        needs (tuple): keys of :data:`SETTINGS` it cannot do without.
        help (str): what ``--rule``'s help says of it, in a few words
            (None: its name alone).
    """

    name = None
    needs = ()
    help = None

    def __repr__(self):
        return 'Rule(%r)' % self.name

    def check(self, settings):
        """Raise the command line's error when a needed setting is missing
        or out of range, before any work starts."""
        for key in self.needs:
            option, what, ok = SETTINGS[key]
            value = settings.get(key)
            if value is None or not ok(value):
                raise BranchyNetError('--rule %s needs %s, %s (got %r)'
                                      % (self.name, option, what, value))

    def own_thresholds(self, records, labels, score, settings):
        """A threshold vector of the rule's own, from the tuning split's
        :class:`~branchynet.exits.records.Records` and ``labels``; None
        for a rule that chooses among a grid's vectors."""
        return None

    def choose(self, ms, accuracy, settings):
        """Index of the chosen vector among a swept grid's (``ms`` and
        ``accuracy`` on the tuning split).

        Raises:
            BranchyNetError: no vector satisfies the rule, or a setting it
                needs is missing.
        """
        raise BranchyNetError('rule %r does not choose among a grid\'s '
                              'vectors: it makes its own (own_thresholds)'
                              % self.name)

    def setting(self, settings):
        """The rule's setting as ``branchynet compare``'s table shows it."""
        return ''


class Knee(Rule):
    """The knee (:func:`knee`) of the reference frontier."""

    name = 'knee'
    help = 'the knee of the frontier'

    def choose(self, ms, accuracy, settings):
        return knee(ms, accuracy, reference_frontier(
            ms, accuracy, settings['allowance']))


class Accuracy(Rule):
    """The fastest vector with accuracy >= ``baseline_accuracy -
    epsilon``."""

    name = 'accuracy'
    help = 'the fastest within --epsilon of the baseline accuracy'

    def choose(self, ms, accuracy, settings):
        if settings['baseline_accuracy'] is None:
            raise BranchyNetError("rule 'accuracy' needs a baseline accuracy")
        floor = settings['baseline_accuracy'] - settings['epsilon']
        index = fastest_with_accuracy(ms, accuracy, floor)
        if index is None:
            raise BranchyNetError('no threshold vector reaches accuracy %.4f'
                                  % floor)
        return index

    def setting(self, settings):
        return 'acc >= %.2f%%' % (100 * (settings['baseline_accuracy']
                                         - settings['epsilon']))


class Budget(Rule):
    """The most accurate vector with ms <= ``budget_ms``."""

    name = 'budget'
    help = 'the most accurate within --budget-ms'
    needs = ('budget_ms',)

    def choose(self, ms, accuracy, settings):
        budget_ms = settings['budget_ms']
        if budget_ms is None:
            raise BranchyNetError("rule 'budget' needs a latency budget")
        index = most_accurate_within(ms, accuracy, budget_ms)
        if index is None:
            raise BranchyNetError('no threshold vector runs within %g ms'
                                  % budget_ms)
        return index

    def setting(self, settings):
        return 'ms <= %.3f' % settings['budget_ms']


class Tradeoff(Rule):
    """:func:`best_tradeoff` with ``alpha`` and ``baseline_ms``."""

    name = 'tradeoff'
    help = 'the least (1 - accuracy) + ALPHA x ms / baseline ms'
    needs = ('alpha',)

    def choose(self, ms, accuracy, settings):
        alpha = settings['alpha']
        if alpha is None or settings['baseline_ms'] is None:
            raise BranchyNetError("rule 'tradeoff' needs --alpha (and the "
                                  "baseline's ms)")
        if not 0 <= alpha < float('inf'):
            raise BranchyNetError('alpha must be a finite number >= 0, got '
                                  '%r' % (alpha,))
        return best_tradeoff(ms, accuracy, alpha, settings['baseline_ms'])

    def setting(self, settings):
        return 'alpha = %g' % settings['alpha']


class PerExit(Rule):
    """Its own vector: :func:`per_exit_thresholds` to ``target``."""

    name = 'per-exit'
    help = 'per exit the loosest threshold whose leavers reach --target'
    needs = ('target',)

    def own_thresholds(self, records, labels, score, settings):
        return per_exit_thresholds(records.scores(score), records.prediction,
                                   labels, settings['target'], score,
                                   records.n_classes)

    def setting(self, settings):
        return 'target %.2f%%' % (100 * settings['target'])


#: every rule by name, in the order of ``--rule``'s choices and of
#: ``branchynet compare``'s rows
REGISTRY = {rule.name: rule for rule in (
    Knee(),
    Accuracy(),
    Budget(),
    Tradeoff(),
    PerExit(),
)}

#: the rules' names
RULES = tuple(REGISTRY)


def get_rule(name):
    """The :class:`Rule` called ``name``.

    Raises:
        BranchyNetError: an unknown name.
    """
    if isinstance(name, Rule):
        return name
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise BranchyNetError('unknown rule %r (choose from %s)'
                              % (name, ', '.join(RULES))) from None


def settings_of(**given):
    """:data:`DEFAULTS` updated with ``given``."""
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise TypeError('unknown rule setting(s): %s'
                        % ', '.join(sorted(unknown)))
    return dict(DEFAULTS, **given)


def check_rule(rule, epsilon=0.0, **given):
    """A rule's name and settings as the command line gave them, before
    any work starts; returns the :class:`Rule`.

    Raises:
        BranchyNetError: an unknown rule, ``epsilon`` outside [0, 1], or a
            setting the rule needs missing or out of range.
    """
    rule = get_rule(rule)
    if not 0 <= epsilon <= 1:
        raise BranchyNetError('--epsilon is an accuracy allowance in [0, 1], '
                              'got %r' % (epsilon,))
    rule.check(settings_of(epsilon=epsilon, **given))
    return rule


def choose(ms, accuracy, rule='knee', **given):
    """Pick one threshold vector of a grid by ``rule``; returns its index.

    Args:
        ms, accuracy: each vector's, on the tuning split.
        rule (str): a name of :data:`REGISTRY` whose rule chooses among a
            grid's vectors (``per-exit`` makes its own:
            :func:`per_exit_thresholds`).
        given: settings (keys of :data:`DEFAULTS`: ``baseline_accuracy``,
            ``epsilon``, ``budget_ms``, ``allowance``, ``alpha``,
            ``baseline_ms``).
    """
    return get_rule(rule).choose(ms, accuracy, settings_of(**given))
