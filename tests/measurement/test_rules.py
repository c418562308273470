"""The rules that choose a threshold vector: each rule's choice on a grid,
and the registry (names, the settings each needs, their checks)."""
import numpy
import pytest

from branchynet.errors import BranchyNetError
from branchynet.measurement import compare, rules, sweep


def test_reference_frontier_keeps_points_above_last_kept_minus_allowance():
    ms = [1.0, 2.0, 3.0, 4.0, 5.0]
    acc = [0.90, 0.95, 0.9499, 0.94, 0.96]
    # 0.9499 > 0.95 - 0.0002 is kept; 0.94 is not; 0.96 is
    assert rules.reference_frontier(ms, acc, 0.0002).tolist() == [0, 1, 2, 4]
    assert rules.reference_frontier(ms, acc, 0.0).tolist() == [0, 1, 4]
    # order is by runtime, not by position
    assert rules.reference_frontier([3, 1, 2], [0.9, 0.5, 0.7]).tolist() \
        == [1, 2, 0]


def test_knee_is_the_point_furthest_above_the_chord():
    # a concave curve with an obvious elbow at ms=2
    ms = [1.0, 2.0, 3.0, 4.0, 5.0]
    acc = [0.50, 0.95, 0.96, 0.97, 0.98]
    frontier = rules.reference_frontier(ms, acc)
    assert rules.knee(ms, acc, frontier) == 1
    # a straight line has no elbow: the most accurate
    assert rules.knee([1, 2, 3], [0.1, 0.2, 0.3], [0, 1, 2]) == 2
    # too few points: the most accurate
    assert rules.knee([1, 2], [0.5, 0.6], [0, 1]) == 1


def test_choice_by_constraint():
    ms = [1.0, 2.0, 3.0, 4.0]
    acc = [0.90, 0.95, 0.99, 0.98]
    assert rules.choose(ms, acc, 'accuracy', baseline_accuracy=0.97) == 2
    assert rules.choose(ms, acc, 'accuracy', baseline_accuracy=0.97,
                        epsilon=0.03) == 1
    assert rules.choose(ms, acc, 'budget', budget_ms=2.5) == 1
    assert rules.choose(ms, acc, 'budget', budget_ms=10) == 2
    with pytest.raises(BranchyNetError):
        rules.choose(ms, acc, 'accuracy', baseline_accuracy=0.999)
    with pytest.raises(BranchyNetError):
        rules.choose(ms, acc, 'budget', budget_ms=0.5)
    with pytest.raises(BranchyNetError):
        rules.choose(ms, acc, 'fastest')


def test_tradeoff_rule_minimises_error_plus_alpha_times_relative_ms():
    ms = [1.0, 2.0, 3.0, 4.0]
    acc = [0.90, 0.97, 0.98, 0.985]
    # cost at alpha=0.01, baseline 4 ms: .1025, .035, .0275, .025
    assert rules.choose(ms, acc, 'tradeoff', alpha=0.01, baseline_ms=4) == 3
    # alpha=0.1: .125, .08, .095, .115
    assert rules.best_tradeoff(ms, acc, 0.1, 4.0) == 1
    assert rules.best_tradeoff(ms, acc, 0.0, 4.0) == 3    # most accurate
    assert rules.best_tradeoff(ms, acc, 100.0, 4.0) == 0  # fastest
    # a tie in cost goes to the faster point
    assert rules.best_tradeoff([2.0, 1.0], [0.5, 0.5], 0.0, 1.0) == 1
    with pytest.raises(BranchyNetError, match='alpha'):
        rules.choose(ms, acc, 'tradeoff', baseline_ms=4)
    with pytest.raises(BranchyNetError, match='alpha'):
        rules.choose(ms, acc, 'tradeoff', alpha=-1, baseline_ms=4)



# ------------------------------------------------------------- the registry

def test_the_rules_are_defined_once_in_their_order():
    assert rules.RULES[:5] == ('knee', 'accuracy', 'budget', 'tradeoff',
                               'per-exit')
    assert rules.RULES == tuple(rules.REGISTRY)
    assert compare.RULES is rules.RULES
    for name, rule in rules.REGISTRY.items():
        assert rule.name == name and rules.get_rule(name) is rule
        assert set(rule.needs) <= set(rules.SETTINGS)


@pytest.mark.parametrize('rule, settings, message', [
    ('fastest', {}, "unknown rule 'fastest' (choose from %s)"
                    % ', '.join(rules.RULES)),
    ('knee', dict(epsilon=1.5),
     '--epsilon is an accuracy allowance in [0, 1], got 1.5'),
    ('accuracy', dict(epsilon=-0.1),
     '--epsilon is an accuracy allowance in [0, 1], got -0.1'),
    ('budget', {}, '--rule budget needs --budget-ms, a positive number of '
                   'ms per sample (got None)'),
    ('budget', dict(budget_ms=0.0), '--rule budget needs --budget-ms, a '
                                    'positive number of ms per sample (got '
                                    '0.0)'),
    ('tradeoff', dict(alpha=float('inf')), '--rule tradeoff needs --alpha, '
                                           'a finite number >= 0 (got inf)'),
    ('tradeoff', {}, '--rule tradeoff needs --alpha, a finite number >= 0 '
                     '(got None)'),
    ('per-exit', dict(target=1.2), '--rule per-exit needs --target, an '
                                   'accuracy in [0, 1] (got 1.2)'),
])
def test_a_rule_setting_is_checked_before_any_work(rule, settings, message):
    with pytest.raises(BranchyNetError) as e:
        rules.check_rule(rule, **settings)
    assert str(e.value) == message


@pytest.mark.parametrize('rule, settings', [
    ('knee', {}), ('accuracy', dict(epsilon=0.01)),
    ('budget', dict(budget_ms=2.0)), ('tradeoff', dict(alpha=0.0)),
    ('per-exit', dict(target=0.99)),
    ('knee', dict(alpha=None, target=None, budget_ms=None))])
def test_a_rule_with_its_settings_passes_the_check(rule, settings):
    assert rules.check_rule(rule, **settings) is rules.REGISTRY[rule]


class HandRecords:
    """What a rule reads of the tuning records: one exit, then the last."""

    prediction = numpy.array([[0, 0], [0, 0], [1, 0], [0, 0]])
    n_classes = 4

    def scores(self, score):
        assert score == 'entropy'
        return numpy.array([[0.1, 0], [0.2, 0], [0.3, 0], [0.4, 0]])


def test_per_exit_makes_its_own_vector_the_others_choose_on_the_grid():
    ms, acc = [1.0, 2.0], [0.9, 0.95]
    given = rules.settings_of(baseline_accuracy=0.9, budget_ms=1.5,
                              alpha=0.01, baseline_ms=2.0, target=1.0)
    labels = numpy.zeros(4, int)
    for name, rule in rules.REGISTRY.items():
        if name != 'per-exit':
            assert rule.own_thresholds(HandRecords(), labels, 'entropy',
                                       given) is None
            assert rule.choose(ms, acc, given) in (0, 1)
    # samples 0 and 1 are right at exit 1, sample 2 is not: it stays
    assert rules.REGISTRY['per-exit'].own_thresholds(
        HandRecords(), labels, 'entropy', given) == (0.3,)
    with pytest.raises(BranchyNetError, match='its own'):
        rules.choose(ms, acc, 'per-exit', target=0.9)
    with pytest.raises(TypeError, match='budget'):
        rules.choose(ms, acc, 'budget', budget=1.0)      # a misspelling


def test_each_rule_shows_its_setting_as_compare_did():
    given = rules.settings_of(baseline_accuracy=0.98765, budget_ms=1.23456,
                              alpha=0.01, baseline_ms=2.0, target=0.995)
    shown = {name: rule.setting(given) for name, rule in
             rules.REGISTRY.items()}
    assert {name: shown[name] for name in rules.RULES[:5]} == {
        'knee': '', 'accuracy': 'acc >= 98.77%', 'budget': 'ms <= 1.235',
        'tradeoff': 'alpha = 0.01', 'per-exit': 'target 99.50%'}


class Slowest(rules.Rule):
    """A rule added for the test: the slowest vector."""

    name = 'slowest'

    def choose(self, ms, accuracy, settings):
        return int(numpy.argmax(ms))


def test_a_new_rule_is_one_class_and_one_registry_entry(monkeypatch):
    monkeypatch.setitem(rules.REGISTRY, 'slowest', Slowest())
    assert rules.check_rule('slowest').name == 'slowest'
    assert rules.choose([1.0, 3.0, 2.0], [0.5, 0.6, 0.7], 'slowest') == 1
