"""What the readers of a ``sweep.json`` need from it, checked before use.

A ``sweep.json`` is written by ``branchynet sweep``, but the file may be
edited, truncated to ``{}``, or come from another version.
:func:`check_sweep_result` checks every field ``report`` (Table I, the
figures) and ``compare`` read (types, finite positive times below
:data:`MAX_MS`, an index inside the sweep, matching lengths), so that a bad
file is one line naming it instead of a ``KeyError`` deep in the table
code. Fields only some readers need are checked whenever present, and a
reader names those it cannot do without (``require``).
"""
import math
import numbers
import re

from branchynet.errors import BranchyNetError
from branchynet.exits.scores import SCORES

#: the shortest and longest times per sample a result may hold (a
#: nanosecond, a day): outside them a time is no measurement, and ratios
#: of times near float's limits overflow (the trade-off rule, the plots)
MIN_MS, MAX_MS = 1e-6, 86400e3

_SWEEP_ROW = {'ms': 'time', 'trunk_ms': 'time', 'accuracy': 'number',
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
    'time': lambda v: _is_number(v) and MIN_MS <= v <= MAX_MS,
    'times': lambda v: isinstance(v, list) and all(map(_KINDS['time'], v)),
    'seconds': lambda v: v is None or (_is_number(v) and v >= 0),
    'count': lambda v: isinstance(v, int) and not isinstance(v, bool)
    and v >= 0,
    'text': lambda v: isinstance(v, str),
    'list': lambda v: isinstance(v, list),
    'numbers': lambda v: isinstance(v, list) and all(map(_is_number, v)),
    'numbers or null': lambda v: v is None or _KINDS['numbers'](v),
    'dict': lambda v: isinstance(v, dict),
    'text or null': lambda v: v is None or isinstance(v, str),
    'sha256': lambda v: isinstance(v, str)
    and re.fullmatch('[0-9a-f]{64}', v) is not None,
}


#: how a kind reads in a message, where its name does not say it
_DESCRIBE = {'dict': 'an object', 'sha256': '64 hex digits',
             'time': 'a time in ms in [%g, %g]' % (MIN_MS, MAX_MS),
             'times': 'a list of times in ms in [%g, %g]' % (MIN_MS, MAX_MS),
             'seconds': 'a number of seconds >= 0, or null'}


class _Checker:
    def __init__(self, path):
        self.path = path

    def fail(self, what):
        return BranchyNetError(
            '%s is not a usable sweep result: %s (rerun `branchynet '
            'sweep`, or move the file out of the results folder)'
            % (self.path, what))

    def field(self, obj, key, kind, where=''):
        value = obj.get(key) if isinstance(obj, dict) else None
        if not _KINDS[kind](value):
            raise self.fail('%s%s should be %s, got %.60r' % (
                where, key, _DESCRIBE.get(kind, kind), value))
        return value

    def fields(self, obj, spec, where):
        if not isinstance(obj, dict):
            raise self.fail('%s should be an object' % where.rstrip('.'))
        for key, kind in spec.items():
            self.field(obj, key, kind, where)


def check_sweep_result(summary, path, networks, runtimes=None, require=()):
    """Raise :class:`BranchyNetError` unless ``summary`` (the parsed
    ``sweep.json`` at ``path``) holds what Table I and the figures read.

    Args:
        summary: the parsed JSON.
        path (str): its file, for the message.
        networks: the network names the table knows.
        runtimes: the runtime names it knows (None: any text).
        require: the optional fields (:data:`_OPTIONAL`) the reader needs.

    Returns:
        dict: ``summary``.
    """
    c = _Checker(path)
    if not isinstance(summary, dict):
        raise c.fail('it holds a JSON %s, not an object'
                     % type(summary).__name__)
    _check_identity(c, summary, networks, runtimes)
    _check_measurements(c, summary)
    for key in require:
        if key not in summary:
            raise c.fail('%s is missing' % key)
    n_exits = len(summary['macs']['path'])
    for key, check in _OPTIONAL.items():
        if key in summary:
            check(c, summary, n_exits)
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
             {'ms': 'time', 'test_accuracy': 'number'}, 'baseline.')
    rows = c.field(summary, 'sweep_test', 'list')
    if not rows:
        raise c.fail('sweep_test is empty')
    macs = c.field(summary, 'macs', 'dict')
    c.field(macs, 'baseline', 'positive', 'macs.')
    path_macs = c.field(macs, 'path', 'numbers', 'macs.')
    _check_rows(c, 'sweep_test', rows, len(path_macs))
    index = c.field(summary, 'chosen_index', 'count')
    if index >= len(rows):
        raise c.fail('chosen_index %d is outside the %d sweep points'
                     % (index, len(rows)))
    fractions = rows[index]['exit_fractions']
    if len(path_macs) != len(fractions) or \
            sum(f * m for f, m in zip(fractions, path_macs)) <= 0:
        raise c.fail('macs.path does not match the chosen exit fractions')
    for i, row in enumerate(c.field(summary, 'validation', 'list')):
        c.fields(row, _VALIDATION_ROW, 'validation[%d].' % i)
    if summary.get('model_dir') is not None:
        c.field(summary, 'model_dir', 'text')


def _check_rows(c, name, rows, n_exits):
    """Sweep rows: their fields, one threshold per non-final exit and one
    exit fraction per exit."""
    if n_exits < 2:
        raise c.fail('macs.path should hold one number per exit (2 or more)')
    for i, row in enumerate(rows):
        where = '%s[%d].' % (name, i)
        c.fields(row, _SWEEP_ROW, where)
        for key, n in (('thresholds', n_exits - 1), ('exit_fractions',
                                                      n_exits)):
            if len(row[key]) != n:
                raise c.fail('%s%s has %d values, the %d exits need %d'
                             % (where, key, len(row[key]), n_exits, n))


def _check_sweep_tune(c, summary, n_exits):
    """The tuning split's sweep: the alpha figure and compare choose on
    it."""
    rows = c.field(summary, 'sweep_tune', 'list')
    if len(rows) != len(summary['sweep_test']):
        raise c.fail('sweep_tune has %d rows, sweep_test %d'
                     % (len(rows), len(summary['sweep_test'])))
    _check_rows(c, 'sweep_tune', rows, n_exits)


def _check_profile(c, summary, n_exits):
    """The latency profile: compare predicts times from its exit paths."""
    profile = c.field(summary, 'profile', 'dict')
    exit_ms = c.field(profile, 'exit_ms', 'times', 'profile.')
    if len(exit_ms) != n_exits:
        raise c.fail('profile.exit_ms has %d times, the %d exits need %d'
                     % (len(exit_ms), n_exits, n_exits))


def _check_seconds(c, summary, n_exits):
    """How long the sweep's stages took (seconds each, or null)."""
    seconds = c.field(summary, 'seconds', 'dict')
    for key in seconds:
        c.field(seconds, key, 'seconds', 'seconds.')


def _check_training(c, summary, n_exits):
    """The models' saved information: compare matches it to the model."""
    c.field(summary, 'training', 'dict')


def _check_n_tune(c, summary, n_exits):
    c.field(summary, 'n_tune', 'count')


def _check_data(c, summary, n_exits):
    """What the data were: recheck compares them (older results lack
    it)."""
    data = c.field(summary, 'data', 'dict')
    c.field(data, 'dataset', 'text', 'data.')
    if data.get('origin') is not None:
        origin = c.field(data, 'origin', 'dict', 'data.')
        c.field(origin, 'built_from', 'text or null', 'data.origin.')
        c.field(origin, 'recipe', 'text or null', 'data.origin.')
    digests = c.field(data, 'sha256', 'dict', 'data.')
    for split in ('test', 'tune'):
        c.field(digests, split, 'sha256', 'data.sha256.')


#: fields only some readers need: checked whenever present
_OPTIONAL = {'sweep_tune': _check_sweep_tune, 'profile': _check_profile,
             'seconds': _check_seconds, 'training': _check_training,
             'n_tune': _check_n_tune, 'data': _check_data}
