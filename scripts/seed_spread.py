"""The LeNet row over seeds: mean, sd and range of each figure, against the
paper's.

Reads ``RESULTS/*/sweep.json`` (one ``branchynet sweep`` folder per seed, as
``scripts/run_seeds.sh`` writes them) and prints, per seed and then as
mean, sample sd (n - 1) and range:

- LeNet after phase 2 (the reference's Table I baseline, model
  ``baseline_after_joint``), test accuracy;
- B-LeNet at the sweep's chosen point (the knee by default): test accuracy,
  exit-1 share, gain (trimmed means, ours) and gain (plain means, the
  reference's statistic, where the sweep recorded them);
- B-LeNet at the paper's own T = 0.025 (where the sweep's grid holds it):
  test accuracy and exit-1 share, the like-for-like comparison with the
  paper's row, since the knee may pick another T;

and whether the paper's figures lie inside the range of the seeds and
within mean +- 2 sd. ``--json FILE`` writes the same as JSON.

usage: python scripts/seed_spread.py RESULTS [--json FILE]
"""
import argparse
import glob
import json
import math
import numbers
import os
import stat
import sys

#: the paper's Table I (ICPR 2016): LeNet 99.20%, B-LeNet 99.25% with
#: 94.3% of the test images leaving at exit 1 (shared/BRANCHYNET.md)
PAPER = {'lenet_after_phase2': 99.20, 'b_lenet': 99.25, 'exit1_share': 94.3}
# the same row of the paper, read at its own T
PAPER.update(b_lenet_paper_T=PAPER['b_lenet'],
             exit1_share_paper_T=PAPER['exit1_share'])
#: the paper's B-LeNet threshold (Table I, T = 0.025)
PAPER_T = 0.025

FIGURES = (('lenet_after_phase2', 'LeNet after phase 2 (%)'),
           ('b_lenet', 'B-LeNet at the chosen T (%)'),
           ('exit1_share', 'exit-1 share (%)'),
           ('gain', 'gain, trimmed means (x)'),
           ('gain_mean', 'gain, plain means (x)'),
           ('b_lenet_paper_T', 'B-LeNet at the paper\'s T = %g (%%)' % PAPER_T),
           ('exit1_share_paper_T', 'exit-1 share at T = %g (%%)' % PAPER_T))


class SpreadError(Exception):
    """A result folder that cannot be read: one line naming it."""


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value)


class _Reader:
    """Typed access to one parsed ``sweep.json``: each wrong field is a
    :class:`SpreadError` naming the file and the field."""

    def __init__(self, path):
        self.path = path

    def fail(self, what):
        return SpreadError('%s: %s' % (self.path, what))

    def field(self, obj, key, where=''):
        if not isinstance(obj, dict) or key not in obj:
            raise self.fail('no %r in the sweep result (is it a branchynet '
                            'sweep.json?)' % (where + key))
        return obj[key]

    def object(self, value, where, optional=False):
        if optional and value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail('%s should be an object, got %.60r'
                            % (where, value))
        return value

    def number(self, value, where, low=None, high=None, positive=False):
        if not _is_number(value) or (positive and value <= 0) or (
                low is not None and not low <= value <= high):
            raise self.fail('%s should be %s, got %.60r' % (
                                where, 'a number > 0' if positive else
                                'a number in [%g, %g]' % (low, high)
                                if low is not None else 'a finite number',
                                value))
        return float(value)

    def numbers(self, value, where, low=None, high=None):
        if not isinstance(value, list) or not value:
            raise self.fail('%s should be a non-empty list of numbers, got '
                            '%.60r' % (where, value))
        return [self.number(v, '%s[%d]' % (where, i), low, high)
                for i, v in enumerate(value)]


def at_paper_t(sweep_test, reader=None):
    """The sweep's test point at ``T = PAPER_T`` (one threshold), or None
    when its grid does not hold it."""
    for i, point in enumerate(sweep_test):
        t = point.get('thresholds') if isinstance(point, dict) else None
        if reader is not None:
            t = reader.numbers(t, 'sweep_test[%d].thresholds' % i)
        if isinstance(t, list) and len(t) == 1 and _is_number(t[0]) and \
                math.isclose(float(t[0]), PAPER_T, rel_tol=1e-9):
            return point
    return None


def _read_regular(path, max_bytes=1 << 26):
    """The bytes of ``path`` if it is a regular file (opened without
    blocking, so a FIFO is an error, not a wait; as
    ``branchynet.data.files.open_regular``, kept here so that reading needs
    only the standard library)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, 'rb') as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError('not a regular file')
        if st.st_size > max_bytes:
            raise OSError('larger than %d bytes' % max_bytes)
        os.set_blocking(fd, True)
        return f.read(max_bytes + 1)


def read_seed(path):
    """The figures of one ``sweep.json``."""
    r = _Reader(path)
    try:
        s = json.loads(_read_regular(path))
    except (OSError, ValueError, RecursionError) as e:
        raise SpreadError('%s: cannot read it as JSON (%s)' % (path, e)) \
            from None
    r.object(s, 'the file')
    baselines = r.field(s, 'baselines')
    if not isinstance(baselines, list):
        raise r.fail('baselines should be a list, got %.60r' % (baselines,))
    after = [b for b in baselines
             if isinstance(b, dict) and b.get('model') == 'baseline_after_joint']
    if not after:
        raise SpreadError('%s: no baseline_after_joint among its baselines '
                          '(trained before phase 2 recorded it?)' % path)
    sweep_test = r.field(s, 'sweep_test')
    if not isinstance(sweep_test, list) or not sweep_test:
        raise r.fail('sweep_test should be a non-empty list of points, got '
                     '%.60r' % (sweep_test,))
    for i, point in enumerate(sweep_test):
        r.object(point, 'sweep_test[%d]' % i)
    index = r.field(s, 'chosen_index')
    if not isinstance(index, int) or isinstance(index, bool) or \
            not 0 <= index < len(sweep_test):
        raise r.fail('chosen_index should be the index of one of the %d '
                     'sweep points (0 to %d), got %.60r'
                     % (len(sweep_test), len(sweep_test) - 1, index))
    where = 'sweep_test[%d].' % index
    chosen = sweep_test[index]
    base = r.object(r.field(s, 'baseline'), 'baseline')
    training = r.object(s.get('training'), 'training', optional=True)
    branchy = r.object(training.get('branchynet'), 'training.branchynet',
                       optional=True)
    settings = r.object(branchy.get('settings'),
                        'training.branchynet.settings', optional=True)
    seed, schedule = settings.get('seed'), settings.get('schedule', 'script')
    if seed is not None and (not isinstance(seed, int)
                             or isinstance(seed, bool)):
        raise r.fail('training.branchynet.settings.seed should be an '
                     'integer, got %.60r' % (seed,))
    if not isinstance(schedule, str):
        raise r.fail('training.branchynet.settings.schedule should be a '
                     'name, got %.60r' % (schedule,))
    mean_ms, chosen_mean = base.get('ms_mean'), chosen.get('ms_mean')
    paper_t = at_paper_t(sweep_test, r)
    return {
        'folder': os.path.basename(os.path.dirname(path)),
        'seed': seed,
        'schedule': schedule,
        'T': r.numbers(r.field(chosen, 'thresholds', where),
                       where + 'thresholds'),
        'lenet_after_phase2': 100 * r.number(
            after[0].get('test_accuracy'),
            'the baseline_after_joint test_accuracy', 0, 1),
        'b_lenet': 100 * r.number(r.field(chosen, 'accuracy', where),
                                  where + 'accuracy', 0, 1),
        'exit1_share': 100 * r.numbers(
            r.field(chosen, 'exit_fractions', where),
            where + 'exit_fractions', 0, 1)[0],
        'gain': r.number(r.field(base, 'ms', 'baseline.'), 'baseline.ms',
                         positive=True) /
        r.number(r.field(chosen, 'ms', where), where + 'ms', positive=True),
        'gain_mean': None if mean_ms is None or chosen_mean is None
        else r.number(mean_ms, 'baseline.ms_mean', positive=True) /
        r.number(chosen_mean, where + 'ms_mean', positive=True),
        'b_lenet_paper_T': None if paper_t is None
        else 100 * r.number(paper_t.get('accuracy'),
                            'the accuracy at T = %g' % PAPER_T, 0, 1),
        'exit1_share_paper_T': None if paper_t is None
        else 100 * r.numbers(paper_t.get('exit_fractions'),
                             'the exit_fractions at T = %g' % PAPER_T,
                             0, 1)[0],
    }


def spread(values):
    """``mean, sd (n - 1; None for one value), min, max`` of ``values``."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) \
        if n > 1 else None
    return {'n': n, 'mean': mean, 'sd': sd, 'min': min(values),
            'max': max(values)}


def summarise(rows):
    """Per figure: its spread and, for the paper's, where the paper lies."""
    out = {}
    for key, _ in FIGURES:
        values = [r[key] for r in rows if r[key] is not None]
        if not values:
            continue
        s = spread(values)
        if key in PAPER:
            p = PAPER[key]
            s['paper'] = p
            s['paper_in_range'] = s['min'] <= p <= s['max']
            s['paper_within_2sd'] = None if s['sd'] is None else \
                abs(p - s['mean']) <= 2 * s['sd']
        out[key] = s
    return out


def _fmt(v, key):
    if v is None:
        return '-'
    return ('%.3fx' if key.startswith('gain') else '%.2f') % v


def report(rows, summary):
    lines = ['| seed | schedule | folder | T | LeNet after phase 2 %% | '
             'B-LeNet %% | exit-1 %% | gain | gain (mean) | B-LeNet %% at '
             'T = %g | exit-1 %% at T = %g |' % (PAPER_T, PAPER_T),
             '|' + ' --- |' * 11]
    for r in rows:
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | '
                     '%s |' % (
                         r['seed'], r['schedule'], r['folder'],
                         ', '.join('%g' % t for t in r['T']),
                         _fmt(r['lenet_after_phase2'], ''),
                         _fmt(r['b_lenet'], ''), _fmt(r['exit1_share'], ''),
                         _fmt(r['gain'], 'gain'),
                         _fmt(r['gain_mean'], 'gain'),
                         _fmt(r['b_lenet_paper_T'], ''),
                         _fmt(r['exit1_share_paper_T'], '')))
    lines += ['', '| figure | n | mean | sd | min | max | paper | paper in '
              'range | paper within 2 sd |',
              '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    yes = {True: 'yes', False: 'no', None: '-'}
    for key, label in FIGURES:
        if key not in summary:
            continue
        s = summary[key]
        lines.append('| %s | %d | %s | %s | %s | %s | %s | %s | %s |' % (
            label, s['n'], _fmt(s['mean'], key), _fmt(s['sd'], key),
            _fmt(s['min'], key), _fmt(s['max'], key),
            _fmt(s.get('paper'), key), yes[s.get('paper_in_range')],
            yes[s.get('paper_within_2sd')]))
    return '\n'.join(lines) + '\n'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('results', help='folder holding one sweep folder per seed')
    p.add_argument('--json', help='also write the rows and spread here')
    args = p.parse_args(argv)
    try:
        paths = sorted(glob.glob(os.path.join(args.results, '*',
                                              'sweep.json')))
        if not paths:
            raise SpreadError('%s: no */sweep.json below it (run '
                              'scripts/run_seeds.sh first)' % args.results)
        rows = [read_seed(path) for path in paths]
        schedules = {r['schedule'] for r in rows}
        if len(schedules) > 1:
            raise SpreadError('%s holds seeds of several schedules (%s): '
                              'one spread per schedule' % (
                                  args.results, ', '.join(sorted(schedules))))
    except SpreadError as e:
        print('seed_spread.py: error: %s' % e, file=sys.stderr)
        return 2
    summary = summarise(rows)
    if args.json:
        # first, and atomic: a half-written spread.json is never left
        # behind, and a failure prints no table
        from branchynet.utils.atomic import write_json_atomic
        try:
            write_json_atomic(args.json, {'rows': rows, 'spread': summary})
        except OSError as e:
            print('seed_spread.py: error: --json %s: cannot write it (%s)'
                  % (args.json, e.strerror or e), file=sys.stderr)
            return 2
    sys.stdout.write(report(rows, summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
