"""Whether a sweep reproduces a shipped one (``branchynet recheck``).

Everything that does not depend on the clock must come out the same on any
machine: the baselines' accuracies, the accuracy and exit shares at every
threshold of the grid on both splits, and the multiply-adds. The thresholds
that the rule chooses may move with this machine's timings only where the
rule reads them (the knee of a B-network with three or more exits; with two
exits the latency is affine in the exit share and the knee cannot move), so
the row at the shipped thresholds is compared as well.

The data come first: a sweep records what its data set's copy was built
from (pcifar10: an image folder or the CIFAR-10 batches, and the recipe),
and a copy built otherwise is refused before any work
(:func:`check_same_origin`). Copies built the same way on two machines may
still differ in the last bits (pcifar10's whitening rounds differently with
another BLAS); each split's sha256 says whether they do
(:func:`data_differences`), so that a sample moved across a threshold is
not taken for another model.
"""
import numpy

from branchynet.errors import BranchyNetError
from branchynet.networks.registry import REGISTRY as NETWORK_REGISTRY

#: accuracies and exit shares are counts over the same samples divided by
#: their number: equal up to the division's last bit
TOLERANCE = 1e-9
#: the columns of :func:`agreement_markdown`
COLUMNS = ('quantity', 'shipped', 'this run', 'same')


def _same(a, b):
    a, b = numpy.asarray(a, float), numpy.asarray(b, float)
    return a.shape == b.shape and bool(
        numpy.allclose(a, b, rtol=0, atol=TOLERANCE))


def _percent(values):
    return ', '.join('%.2f' % (100 * v) for v in numpy.atleast_1d(values))


def _thresholds(values):
    return ', '.join('%g' % t for t in values)


def _point_at(rows, thresholds):
    """The row of ``rows`` swept at ``thresholds`` (None if none was)."""
    for row in rows:
        if _same(row['thresholds'], thresholds):
            return row
    return None


def _curve_row(split, shipped_rows, fresh_rows):
    """How many of a split's grid points agree in accuracy and exit shares.
    """
    same = sum(1 for s in shipped_rows
               if (f := _point_at(fresh_rows, s['thresholds'])) is not None
               and _same(s['accuracy'], f['accuracy'])
               and _same(s['exit_fractions'], f['exit_fractions']))
    return ('every point of the %s grid: accuracy and exit %%' % split,
            '%d points' % len(shipped_rows),
            '%d the same' % same,
            same == len(shipped_rows) == len(fresh_rows))


def _baseline_rows(base_name, shipped, fresh):
    s_entries = shipped.get('baselines') or [shipped['baseline']]
    f_entries = fresh.get('baselines') or [fresh['baseline']]
    f_by_model = {e.get('model'): e for e in f_entries}
    rows = []
    for entry in s_entries:
        name = base_name
        if entry.get('model') == 'baseline' and len(s_entries) > 1:
            name += ' (phase 1)'
        other = f_by_model.get(entry.get('model'))
        for key, split in (('test_accuracy', 'test'),
                           ('tune_accuracy', shipped['tuned_on'])):
            if key not in entry:
                continue
            got = None if other is None else other.get(key)
            rows.append(('%s accuracy %% (%s)' % (name, split),
                         _percent(entry[key]),
                         '-' if got is None else _percent(got),
                         got is not None and _same(entry[key], got)))
    return rows


def _chosen_rows(name, shipped, fresh):
    s_row = shipped['sweep_test'][shipped['chosen_index']]
    f_row = fresh['sweep_test'][fresh['chosen_index']]
    at = _point_at(fresh['sweep_test'], s_row['thresholds'])
    rows = [('%s T chosen (%s)' % (name, shipped['rule']),
             _thresholds(s_row['thresholds']),
             _thresholds(f_row['thresholds']),
             _same(s_row['thresholds'], f_row['thresholds']))]
    for key, what in (('accuracy', 'accuracy %'),
                      ('exit_fractions', 'exit %')):
        rows.append(('%s %s at the shipped T' % (name, what),
                     _percent(s_row[key]),
                     '-' if at is None else _percent(at[key]),
                     at is not None and _same(s_row[key], at[key])))
    return rows


def agreement(shipped, fresh):
    """The quantities of ``shipped`` (a checked ``sweep.json``) set against
    a new sweep of the same model, ``fresh``.

    Returns:
        list of tuple: ``(quantity, shipped, this run, same)``, the first
        three as text.
    """
    spec = NETWORK_REGISTRY[shipped['network']]
    rows = [('test and tuning samples',
             '%d, %d' % (shipped['n_test'], shipped['n_tune']),
             '%d, %d' % (fresh['n_test'], fresh['n_tune']),
             (shipped['n_test'], shipped['n_tune'])
             == (fresh['n_test'], fresh['n_tune']))]
    rows += _baseline_rows(spec.baseline_display, shipped, fresh)
    rows += _chosen_rows(spec.display, shipped, fresh)
    rows.append(_curve_row('test', shipped['sweep_test'],
                           fresh['sweep_test']))
    if 'sweep_tune' in shipped and 'sweep_tune' in fresh:
        rows.append(_curve_row(shipped['tuned_on'], shipped['sweep_tune'],
                               fresh['sweep_tune']))
    rows.append(('multiply-adds per exit path',
                 ', '.join('%d' % m for m in shipped['macs']['path']),
                 ', '.join('%d' % m for m in fresh['macs']['path']),
                 _same(shipped['macs']['path'], fresh['macs']['path'])))
    return rows


def differences(rows):
    """The quantities of :func:`agreement`'s rows that differ, except the
    chosen T when only the clock moved it: the row at the shipped T and
    every grid point agree, so the model is the same and the rule read
    another machine's timings."""
    curves_same = all(same for what, _, _, same in rows
                      if what.startswith('every point'))
    return [what for what, _, _, same in rows if not same
            and not (' T chosen ' in what and curves_same)]


def _built(origin):
    """``built from an image folder, recipe zca``, or ``not built``."""
    origin = origin or {'built_from': 'files verified by checksum'}
    if origin.get('built_from') is None:
        return 'not built'
    recipe = origin.get('recipe')
    return 'built from %s%s' % (origin['built_from'],
                                ', recipe %s' % recipe if recipe else '')


def check_same_origin(shipped, origin, where):
    """Raise unless the data set's copy here, built from ``origin``
    (:func:`~branchynet.data.dataset_origin`; ``where`` names it), was built
    as the one ``shipped`` ran on: another source or recipe gives other
    numbers, and the comparison would only list them. Older sweeps, and
    data sets of fixed verified files, record no origin."""
    recorded = (shipped.get('data') or {}).get('origin')
    if recorded is None or origin == recorded:
        return
    raise BranchyNetError(
        'the sweep ran on %s %s; %s is %s: build it as the sweep\'s was '
        '(for pcifar10: README, "Reproducing the CIFAR-10 rows without the '
        'official tarball")' % (shipped['data']['dataset'], _built(recorded),
                                where, _built(origin)))


def data_differences(shipped, fresh):
    """The splits whose arrays differ bitwise from those ``shipped`` ran
    on (pcifar10 built on another machine: its whitening's rounding),
    by their sha256; empty when they agree or are not recorded."""
    old = (shipped.get('data') or {}).get('sha256') or {}
    new = (fresh.get('data') or {}).get('sha256') or {}
    return [split for split in old if new.get(split) != old[split]]


def agreement_markdown(rows):
    """The rows of :func:`agreement` as a markdown table."""
    lines = ['| ' + ' | '.join(COLUMNS) + ' |',
             '| ' + ' | '.join('---' for _ in COLUMNS) + ' |']
    for what, shipped, fresh, same in rows:
        lines.append('| %s | %s | %s | %s |'
                     % (what, shipped, fresh, 'yes' if same else 'NO'))
    return '\n'.join(lines) + '\n'
