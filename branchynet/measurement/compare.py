"""Every exit score under every rule, side by side, from a sweep's records.

``branchynet compare MODEL_DIR`` reads what ``branchynet sweep`` wrote
(``RESULTS/sweep.json``: the latency profile, the baseline and the sweep's
choice; ``RESULTS/records.npz``: every sample's logits at every exit, on
the tuning and the test split) and runs no network. For each score of
:mod:`branchynet.exits.scores` it builds the score's grid
(:func:`~branchynet.measurement.sweep.score_grid`) from the tuning records,
evaluates it on both splits, chooses thresholds on the tuning split by each
rule of :mod:`branchynet.measurement.rules` and reports them on the test
split:

``knee``       the knee of the reference frontier;
``accuracy``   the fastest point at the sweep choice's tuning accuracy
               ("each score at the accuracy of the paper's rule");
``budget``     the most accurate point within the sweep choice's ms;
``tradeoff``   minimal ``(1 - accuracy) + alpha * ms / baseline ms``;
``per-exit``   per exit, the loosest threshold whose leavers reach
               ``target`` (default: the sweep choice's tuning accuracy).

The first row is the sweep's own choice (by default the paper's rule:
entropy, the reference grid, the knee). Times are predicted, as in the
sweep: exit shares times the profiled exit-path times, which were timed
with the entropy decision. The other scores decide a little faster (at
batch size 1 on the 2-core development CPU: Chainer's entropy about 30 us
per decision, the numpy scores about 7 us, against about 1 ms for
B-LeNet's first exit path), so their ms are slight overestimates;
``branchynet sweep --score S`` times a score's real runs. A model trained
without a validation split (``--protocol reference``) was tuned on the
test split: the table says so.
"""
import os

import numpy

from branchynet.measurement import sweep as sweep_lib
from branchynet.errors import BranchyNetError
from branchynet.exits.records import load_records
from branchynet.exits.scores import SCORES
# RULES: the rules compared, in table order (read by the command's summary)
from branchynet.measurement.rules import (REGISTRY, RULES,  # noqa: F401
                                          reference_frontier, settings_of)
from branchynet.experiments import read_trained_info

#: the fields of ``sweep.json`` beyond report's that compare reads
REQUIRED = ('profile', 'sweep_tune', 'training', 'n_tune')


def read_records(model_dir, results_dir, summary, path):
    """The records of ``model_dir``'s sweep in ``results_dir``, checked
    against ``summary`` (its ``sweep.json`` at ``path``, read and checked by
    the report layer: :func:`branchynet.report.compare.run_compare`).

    Returns:
        dict: ``tune`` and ``test``
        :class:`~branchynet.exits.records.Records`.

    Raises:
        BranchyNetError: results written for another model, or records
            that do not match them.
    """
    info = read_trained_info(os.path.join(model_dir, 'branchynet.json'))
    if summary.get('training', {}).get('branchynet') != info:
        raise BranchyNetError(
            '%s was written for another model than %s (or before it was '
            'retrained): rerun `branchynet sweep %s`, or pass --results'
            % (path, model_dir, model_dir))
    records = load_records(os.path.join(results_dir, 'records.npz'))
    for split, key in (('test', 'n_test'), ('tune', 'n_tune')):
        if len(records[split]) != summary.get(key):
            raise BranchyNetError('%s holds %d %s samples, %s says %r: '
                                  'rerun `branchynet sweep`' % (
                                      os.path.join(results_dir,
                                                   'records.npz'),
                                      len(records[split]), split, path,
                                      summary.get(key)))
    n_exits = len(summary['profile']['exit_ms'])
    for split in ('tune', 'test'):
        if records[split].n_exits != n_exits:
            raise BranchyNetError(
                '%s holds %d exits on the %s split, %s %d: rerun '
                '`branchynet sweep`' % (
                    os.path.join(results_dir, 'records.npz'),
                    records[split].n_exits, split, path, n_exits))
    return records


def _evaluate(records, score, thresholds, exit_ms):
    r = records
    return sweep_lib.evaluate_thresholds(r.scores(score), r.prediction,
                                         r.labels, thresholds, exit_ms,
                                         score=score)


def _row(score, rule, setting, index, grid, tune, test, base_ms):
    """One table row: the vector ``index`` of ``grid``, or a rule that no
    vector satisfies (``index`` None)."""
    row = {'score': score, 'rule': rule, 'setting': setting,
           'thresholds': None, 'tune_accuracy': None, 'accuracy': None,
           'exit_fractions': None, 'ms': None, 'gain': None}
    if index is not None:
        row.update(thresholds=[float(t) for t in grid[index]],
                   tune_accuracy=float(tune['accuracy'][index]),
                   accuracy=float(test['accuracy'][index]),
                   exit_fractions=test['exit_fractions'][index].tolist(),
                   ms=float(test['ms'][index]),
                   gain=base_ms / float(test['ms'][index]))
    return row


def _choose(rule, tune, settings):
    """Index of ``rule``'s choice among the grid's vectors on the tuning
    split (None: unreachable)."""
    try:
        return rule.choose(tune['ms'], tune['accuracy'], settings)
    except BranchyNetError:
        return None


def _rule_settings(goals, base_ms):
    """What every rule is given (:data:`~branchynet.measurement.rules.
    DEFAULTS`): the sweep choice's tuning accuracy and ms as the accuracy
    and budget goals, ``alpha``, the baseline's ms, ``target``."""
    return settings_of(baseline_accuracy=goals['accuracy'],
                       budget_ms=goals['ms'], alpha=goals['alpha'],
                       baseline_ms=base_ms, target=goals['target'])


def compare_score(score, records, exit_ms, base_ms, goals, grid_size=33):
    """Rows of every rule for one score, and its test frontier.

    Args:
        score (str): a score name.
        records (dict): ``tune`` and ``test`` Records.
        exit_ms (list): the profiled ms of each exit path.
        base_ms (float): the baseline's ms.
        goals (dict): ``accuracy`` and ``ms`` of the sweep's choice on the
            tuning split, ``alpha``, ``target``.
        grid_size (int): quantiles per threshold
            (:func:`~branchynet.measurement.sweep.score_grid`).
    """
    tune_records = records['tune']
    settings = _rule_settings(goals, base_ms)
    values = sweep_lib.score_grid(score, tune_records.scores(score)[:, :-1],
                                  tune_records.n_classes, grid_size)
    grid = sweep_lib.threshold_grid(values, tune_records.n_exits, score)
    on_grid = slice(0, len(grid))
    grid, own = _with_own_vectors(grid, tune_records, score, settings)
    tune = _evaluate(tune_records, score, grid, exit_ms)
    test = _evaluate(records['test'], score, grid, exit_ms)
    grid_tune = {k: v[on_grid] for k, v in tune.items()}
    rows = []
    for name, rule in REGISTRY.items():
        index = own[name] if name in own else \
            _choose(rule, grid_tune, settings)
        rows.append(_row(score, name, rule.setting(settings), index, grid,
                         tune, test, base_ms))
    keep = reference_frontier(test['ms'][on_grid],
                                        test['accuracy'][on_grid])
    frontier = {'ms': test['ms'][keep].tolist(),
                'accuracy': test['accuracy'][keep].tolist()}
    return rows, frontier, on_grid.stop


def _with_own_vectors(grid, tune_records, score, settings):
    """``grid`` followed by the vectors of the rules that make their own
    (``per-exit``), and each such rule's row: ``(grid, {name: row})``."""
    own = {}
    for name, rule in REGISTRY.items():
        vector = rule.own_thresholds(tune_records, tune_records.labels,
                                     score, settings)
        if vector is not None:
            own[name] = len(grid)
            grid = numpy.vstack([grid, [vector]])
    return grid, own


def compare(summary, records, alpha=0.01, target=None, grid_size=33):
    """Every score x rule (see the module doc).

    Args:
        summary (dict): the checked ``sweep.json``.
        records (dict): ``tune`` and ``test``
            :class:`~branchynet.exits.records.Records`.
        alpha (float): the trade-off weight.
        target (float or None): the per-exit accuracy (default: the sweep
            choice's tuning accuracy).
        grid_size (int): quantiles per threshold.

    Returns:
        dict: ``rows`` (the sweep's choice first), ``frontiers`` by score,
        ``grid_vectors`` by score, the settings and where it was tuned.
    """
    if not 0 <= alpha < float('inf'):
        raise BranchyNetError('--alpha must be a finite number >= 0, got %r'
                              % (alpha,))
    exit_ms = summary['profile']['exit_ms']
    base_ms = summary['baseline']['ms']
    chosen = summary['sweep_tune'][summary['chosen_index']]
    sweep_score = summary.get('score', 'entropy')
    goals = {'accuracy': chosen['accuracy'], 'ms': chosen['ms'],
             'alpha': float(alpha),
             'target': chosen['accuracy'] if target is None
             else float(target)}
    if not 0 <= goals['target'] <= 1:
        raise BranchyNetError('--target must be an accuracy in [0, 1], got '
                              '%r' % (target,))
    point = numpy.array([chosen['thresholds']], numpy.float64)
    tune = _evaluate(records['tune'], sweep_score, point, exit_ms)
    test = _evaluate(records['test'], sweep_score, point, exit_ms)
    rows = [_row(sweep_score, 'sweep: ' + summary['rule'],
                 'the sweep\'s choice', 0, point, tune, test, base_ms)]
    frontiers, sizes = {}, {}
    for score in SCORES:
        score_rows, frontiers[score], sizes[score] = compare_score(
            score, records, exit_ms, base_ms, goals, grid_size)
        rows += score_rows
    return {'experiment': summary['experiment'],
            'network': summary['network'], 'tuned_on': summary['tuned_on'],
            'n_tune': len(records['tune']), 'n_test': len(records['test']),
            'baseline_ms': base_ms,
            'baseline_accuracy': summary['baseline']['test_accuracy'],
            'goals': goals, 'grid_size': grid_size, 'grid_vectors': sizes,
            'rows': rows, 'frontiers': frontiers}
