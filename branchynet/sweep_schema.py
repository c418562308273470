"""What ``report`` needs from a ``sweep.json``, checked before it is used.

A ``sweep.json`` is written by ``branchynet sweep``, but the file may be
edited, truncated to ``{}``, or come from another version.
:func:`check_sweep_result` checks every field Table I and the figures read (types, finite positive
times, an index inside the sweep, matching lengths), so that a bad file is
one line naming it instead of a ``KeyError`` deep in the table code.
"""
import math
import numbers
import re

from branchynet.errors import BranchyNetError
from branchynet.scores import SCORES

_SWEEP_ROW = {'ms': 'positive', 'trunk_ms': 'positive', 'accuracy': 'number',
              'thresholds': 'numbers', 'exit_fractions': 'numbers'}
_VALIDATION_ROW = {
    'point': 'text', 'thresholds': 'numbers or null',
    'predicted_accuracy': 'number',
    'measured_accuracy': 'number', 'predicted_exit_counts': 'list',
    'measured_exit_counts': 'list', 'predicted_ms': 'number',
    'measured_ms': 'number', 'time_error': 'number'}


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value)


_KINDS = {
    'number': _is_number,
    'positive': lambda v: _is_number(v) and v > 0,
    'count': lambda v: isinstance(v, int) and not isinstance(v, bool)
    and v >= 0,
    'text': lambda v: isinstance(v, str),
    'list': lambda v: isinstance(v, list),
    'numbers': lambda v: isinstance(v, list) and all(map(_is_number, v)),
    'numbers or null': lambda v: v is None or _KINDS['numbers'](v),
    'dict': lambda v: isinstance(v, dict),
}


class _Checker:
    def __init__(self, path):
        self.path = path

    def fail(self, what):
        return BranchyNetError(
            '%s is not a sweep result report can use: %s (rerun `branchynet '
            'sweep`, or move the file out of the results folder)'
            % (self.path, what))

    def field(self, obj, key, kind, where=''):
        value = obj.get(key) if isinstance(obj, dict) else None
        if not _KINDS[kind](value):
            raise self.fail('%s%s should be %s, got %.60r' % (
                where, key, kind if kind != 'dict' else 'an object', value))
        return value

    def fields(self, obj, spec, where):
        if not isinstance(obj, dict):
            raise self.fail('%s should be an object' % where.rstrip('.'))
        for key, kind in spec.items():
            self.field(obj, key, kind, where)


def check_sweep_result(summary, path, networks, runtimes=None):
    """Raise :class:`BranchyNetError` unless ``summary`` (the parsed
    ``sweep.json`` at ``path``) holds what Table I and the figures read.

    Args:
        summary: the parsed JSON.
        path (str): its file, for the message.
        networks: the network names the table knows.
        runtimes: the runtime names it knows (None: any text).

    Returns:
        dict: ``summary``.
    """
    c = _Checker(path)
    if not isinstance(summary, dict):
        raise c.fail('it holds a JSON %s, not an object'
                     % type(summary).__name__)
    _check_identity(c, summary, networks, runtimes)
    _check_measurements(c, summary)
    return summary


def _check_identity(c, summary, networks, runtimes):
    """What was measured: network, runtime, score, names."""
    network = c.field(summary, 'network', 'text')
    if network not in networks:
        raise c.fail('unknown network %.60r (known: %s)'
                     % (network, ', '.join(networks)))
    if 'runtime' in summary:
        runtime = c.field(summary, 'runtime', 'text')
        if runtimes is not None and runtime not in runtimes:
            raise c.fail('unknown runtime %.60r (known: %s)'
                         % (runtime, ', '.join(runtimes)))
    for key in ('experiment', 'device', 'rule', 'tuned_on'):
        c.field(summary, key, 'text')
    score = summary.get('score', 'entropy')     # older results: entropy
    if not isinstance(score, str) or score not in SCORES:
        raise c.fail('unknown score %.60r (known: %s)'
                     % (score, ', '.join(SCORES)))
    # figure file names are made from it: a plain name, no path
    if not re.fullmatch(r'[A-Za-z0-9_][A-Za-z0-9_.-]*', summary['experiment']):
        raise c.fail('experiment %.60r is not a plain name'
                     % summary['experiment'])
    settings = summary.get('runtime_settings')
    if settings is not None:
        c.field(summary, 'runtime_settings', 'dict')
        providers = settings.get('providers', [])
        if not (isinstance(providers, list)
                and all(isinstance(p, str) for p in providers)):
            raise c.fail('runtime_settings.providers should be a list of '
                         'names')


def _check_measurements(c, summary):
    """The numbers: baseline, sweep rows, the choice, multiply-adds,
    validation."""
    c.field(summary, 'n_test', 'count')
    c.fields(c.field(summary, 'baseline', 'dict'),
             {'ms': 'positive', 'test_accuracy': 'number'}, 'baseline.')
    rows = c.field(summary, 'sweep_test', 'list')
    if not rows:
        raise c.fail('sweep_test is empty')
    for i, row in enumerate(rows):
        c.fields(row, _SWEEP_ROW, 'sweep_test[%d].' % i)
    if 'sweep_tune' in summary:      # the alpha figure chooses on it
        tune_rows = c.field(summary, 'sweep_tune', 'list')
        if len(tune_rows) != len(rows):
            raise c.fail('sweep_tune has %d rows, sweep_test %d'
                         % (len(tune_rows), len(rows)))
        for i, row in enumerate(tune_rows):
            c.fields(row, _SWEEP_ROW, 'sweep_tune[%d].' % i)
    index = c.field(summary, 'chosen_index', 'count')
    if index >= len(rows):
        raise c.fail('chosen_index %d is outside the %d sweep points'
                     % (index, len(rows)))
    macs = c.field(summary, 'macs', 'dict')
    c.field(macs, 'baseline', 'positive', 'macs.')
    path_macs = c.field(macs, 'path', 'numbers', 'macs.')
    fractions = rows[index]['exit_fractions']
    if len(path_macs) != len(fractions) or \
            sum(f * m for f, m in zip(fractions, path_macs)) <= 0:
        raise c.fail('macs.path does not match the chosen exit fractions')
    for i, row in enumerate(c.field(summary, 'validation', 'list')):
        c.fields(row, _VALIDATION_ROW, 'validation[%d].' % i)
    if summary.get('model_dir') is not None:
        c.field(summary, 'model_dir', 'text')
