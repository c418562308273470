"""``branchynet compare`` drawn: the table and the figure of every exit
score under every rule (:mod:`branchynet.measurement.compare` computes
them from a sweep's records), and the command's read-compare-write."""
import os
import time

import numpy

from branchynet.errors import BranchyNetError
from branchynet.measurement.compare import REQUIRED, compare, read_records
from branchynet.report.figures import plt, save_figure
from branchynet.report.table import load_result
from branchynet.utils.atomic import write_bytes_atomic, write_json_atomic


def _cell(value, fmt):
    return '-' if value is None else fmt(value)


def to_markdown(result):
    """The comparison table, and a line saying where it was tuned."""
    lines = ['| score | rule | setting | T | acc % (tune) | acc % | exit % | '
             'ms | gain |', '| --- ' * 9 + '|']
    for r in result['rows']:
        lines.append('| %s |' % ' | '.join([
            r['score'], r['rule'], r['setting'] or '-',
            _cell(r['thresholds'], lambda t: ', '.join('%.4g' % v
                                                       for v in t)),
            _cell(r['tune_accuracy'], lambda a: '%.2f' % (100 * a)),
            _cell(r['accuracy'], lambda a: '%.2f' % (100 * a)),
            _cell(r['exit_fractions'], lambda f: ', '.join(
                '%.1f' % (100 * v) for v in f)),
            _cell(r['ms'], lambda m: '%.3f' % m),
            _cell(r['gain'], lambda g: '%.2fx' % g)]))
    split = ('the validation split (%d samples)' % result['n_tune']
             if result['tuned_on'] == 'val' else
             'THE TEST SPLIT (the model has no validation split: trained '
             'with --protocol reference), so the test figures are not '
             'held out')
    lines += ['', 'Thresholds chosen on %s; accuracy, exit %% and ms on the '
              '%d test samples (ms predicted from the sweep\'s batch-1 '
              'profile, baseline %.3f ms). "-": no threshold vector meets '
              'the rule.' % (split, result['n_test'], result['baseline_ms'])]
    return '\n'.join(lines) + '\n'


def frontier_figure(result, prefix):
    """Each score's test frontier, accuracy against ms; the sweep's choice
    and the baseline marked."""
    fig, ax = plt.subplots(figsize=(5, 3.8))
    for score, line in result['frontiers'].items():
        ax.plot(line['ms'], 100 * numpy.array(line['accuracy']), '-o', ms=2,
                lw=1, label=score)
    first = result['rows'][0]
    ax.plot([first['ms']], [100 * first['accuracy']], '*', color='k',
            ms=11, label='sweep (%s, %s)' % (first['score'],
                                             first['rule'][7:]))
    ax.plot([result['baseline_ms']], [100 * result['baseline_accuracy']],
            'D', color='C3', ms=6, label='baseline')
    ax.set_xlabel('ms per sample (batch size 1, predicted)')
    ax.set_ylabel('test accuracy (%)')
    ax.set_title('%s: exit scores, tuned on %s' % (
        result['experiment'], 'validation' if result['tuned_on'] == 'val'
        else 'test'))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc='lower right')
    return save_figure(fig, prefix)


def run_compare(model_dir, results_dir, figs_dir, alpha=0.01, target=None,
                grid_size=33):
    """What ``branchynet compare`` does: read, compare, write.

    Writes ``RESULTS/compare.md`` and ``compare.json``, and
    ``FIGS/compare_NAME.pdf/.png`` (``NAME``: the results folder's name).

    Returns:
        tuple: ``(result, markdown, written paths)``;
        ``result['seconds']`` is the comparison's own time (reading and
        evaluating), ``result['records_seconds']`` that of the records pass
        the sweep made.
    """
    start = time.perf_counter()
    path = os.path.join(results_dir, 'sweep.json')
    if not os.path.isfile(path):
        raise BranchyNetError('no sweep result %s: run `branchynet sweep %s '
                              '--out %s` first' % (path, model_dir,
                                                   results_dir))
    summary = load_result(path, require=REQUIRED)
    records = read_records(model_dir, results_dir, summary, path)
    result = compare(summary, records, alpha, target, grid_size)
    result['seconds'] = time.perf_counter() - start
    result['records_seconds'] = summary.get('seconds', {}).get('records')
    name = os.path.basename(os.path.normpath(results_dir))
    markdown = to_markdown(result)
    written = [os.path.join(results_dir, 'compare.md'),
               os.path.join(results_dir, 'compare.json')]
    write_bytes_atomic(written[0], markdown.encode())
    write_json_atomic(written[1], result)
    written += frontier_figure(result, os.path.join(figs_dir,
                                                    'compare_%s' % name))
    return result, markdown, written
