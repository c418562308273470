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
import os
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


def _field(obj, key, path):
    try:
        return obj[key]
    except (KeyError, TypeError, IndexError):
        raise SpreadError('%s: no %r in the sweep result (is it a '
                          'branchynet sweep.json?)' % (path, key)) from None


def at_paper_t(sweep_test):
    """The sweep's test point at ``T = PAPER_T`` (one threshold), or None
    when its grid does not hold it."""
    for point in sweep_test:
        t = point.get('thresholds') if isinstance(point, dict) else None
        if isinstance(t, list) and len(t) == 1 and \
                math.isclose(float(t[0]), PAPER_T, rel_tol=1e-9):
            return point
    return None


def read_seed(path):
    """The figures of one ``sweep.json``."""
    try:
        with open(path) as f:
            s = json.load(f)
    except (OSError, ValueError) as e:
        raise SpreadError('%s: cannot read it as JSON (%s)' % (path, e)) \
            from None
    after = [b for b in _field(s, 'baselines', path)
             if isinstance(b, dict) and b.get('model') == 'baseline_after_joint']
    if not after:
        raise SpreadError('%s: no baseline_after_joint among its baselines '
                          '(trained before phase 2 recorded it?)' % path)
    sweep_test = _field(s, 'sweep_test', path)
    chosen = _field(sweep_test, _field(s, 'chosen_index', path), path)
    base = _field(s, 'baseline', path)
    settings = (s.get('training') or {}).get('branchynet', {}).get(
        'settings', {})
    mean_ms, chosen_mean = base.get('ms_mean'), chosen.get('ms_mean')
    try:
        paper_t = at_paper_t(sweep_test)
        row = {
            'folder': os.path.basename(os.path.dirname(path)),
            'seed': settings.get('seed'),
            'schedule': settings.get('schedule', 'script'),
            'T': list(_field(chosen, 'thresholds', path)),
            'lenet_after_phase2': 100 * float(after[0]['test_accuracy']),
            'b_lenet': 100 * float(_field(chosen, 'accuracy', path)),
            'exit1_share': 100 * float(_field(chosen, 'exit_fractions',
                                              path)[0]),
            'gain': float(_field(base, 'ms', path)) / float(
                _field(chosen, 'ms', path)),
            'gain_mean': None if mean_ms is None or chosen_mean is None
            else float(mean_ms) / float(chosen_mean),
            'b_lenet_paper_T': None if paper_t is None
            else 100 * float(_field(paper_t, 'accuracy', path)),
            'exit1_share_paper_T': None if paper_t is None
            else 100 * float(_field(paper_t, 'exit_fractions', path)[0]),
        }
    except (TypeError, ValueError, ZeroDivisionError, KeyError) as e:
        raise SpreadError('%s: a field is not a number (%s)' % (path, e)) \
            from None
    return row


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
    sys.stdout.write(report(rows, summary))
    if args.json:
        # atomic: a half-written spread.json is never left behind
        from branchynet.utils.atomic import write_json_atomic
        write_json_atomic(args.json, {'rows': rows, 'spread': summary})
    return 0


if __name__ == '__main__':
    sys.exit(main())
