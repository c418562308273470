"""Table I of the paper from sweep results, as Markdown, CSV and JSON.

Columns are the paper's (network, accuracy, ms, gain, T, exit %) plus what
the paper's method hid: the time and gain under the reference's own
trunk-only accounting and its statistic (a plain mean), our end-to-end gain
from plain means beside the trimmed one, the multiply-adds of each exit path, and the
arithmetic bound on the gain (baseline multiply-adds over the expected
multiply-adds at the chosen exit fractions). Rows come per device and
runtime (Chainer, or ONNX Runtime with its thread settings in the notes).
"""
import csv
import glob
import io
import json
import os

import numpy

from branchynet.utils.atomic import write_bytes_atomic, write_json_atomic
from branchynet.errors import BranchyNetError
from branchynet.networks import REGISTRY as NETWORK_REGISTRY
from branchynet.networks.user import register_display
from branchynet.report.schema import check_sweep_result
from branchynet.runtimes import REGISTRY as RUNTIME_REGISTRY

#: network key -> (baseline name, branchy name), as in the paper's table:
#: a view of the network registry (:mod:`branchynet.networks.registry`)
DISPLAY = NETWORK_REGISTRY.view(
    lambda spec: (spec.baseline_display, spec.display))

#: runtime key -> as shown in the table: a view of the runtime registry
#: (:mod:`branchynet.runtimes.registry`)
RUNTIMES = RUNTIME_REGISTRY.view(lambda cls: cls.display)

COLUMNS = ['device', 'runtime', 'network', 'acc %', 'ms', 'gain',
           'gain (mean)', 'T', 'exit %', 'ms (ref.)', 'gain (ref.)',
           'MACs per exit path', 'MAC bound']

#: the statistic of each time column, for the table's notes
STATISTICS = (
    'ms, gain: end-to-end per-sample latency at batch size 1 (every stage, '
    'head, softmax, entropy and decision a sample passes through), each '
    'path a 10%-trimmed mean of its profiled samples (steady on a busy '
    'machine), mixed by the exit fractions. gain (mean): the same paths, '
    'plain means (what a stream of requests sees on average). ms (ref.), '
    'gain (ref.): the reference\'s accounting and statistic: trunk stages '
    'only for the B-network, the whole network for the baseline, plain '
    'means (its utils.test sums every sample\'s time, its scripts divide by '
    'N); \'-\' for sweeps recorded before plain means were. MAC bound: '
    'gain the multiply-adds allow at the chosen exit fractions.')


def _ratio(a, b):
    return None if a is None or b is None else a / b


def device_name(spec):
    """``@numpy`` -> ``CPU``, ``@cupy:0`` -> ``GPU``."""
    return 'GPU' if 'cupy' in spec else 'CPU'


def runtime_of(summary):
    """The runtime a sweep ran on (results from before the option: Chainer)."""
    return summary.get('runtime', 'chainer')


def runtime_note(summary):
    """``Chainer 7.8.1`` or ``ONNX Runtime 1.32.0, 1 intra-op thread``."""
    settings = summary.get('runtime_settings') or {}
    return RUNTIME_REGISTRY.lookup(runtime_of(summary)).note(settings)


def load_results(results_dir):
    """Every ``sweep.json`` directly below ``results_dir``, by path order,
    each read by :func:`load_result`."""
    paths = sorted(glob.glob(os.path.join(results_dir, '*', 'sweep.json')))
    if not paths:
        raise BranchyNetError('no sweep results (*/sweep.json) in %s; run '
                              '`branchynet sweep` first' % results_dir)
    return [load_result(path) for path in paths]


def load_result(path, require=()):
    """One ``sweep.json``, checked
    (:func:`~branchynet.report.schema.check_sweep_result`, with the
    optional parts ``require`` names); ``result_dir`` is its folder's name.
    """
    try:
        with open(path) as f:
            summary = json.load(f)
        register_display(summary)      # a network of your own
        summary = check_sweep_result(summary, path, DISPLAY, RUNTIMES,
                                     require=require)
    except (OSError, ValueError, RecursionError) as e:
        raise BranchyNetError('cannot read %s: %s' % (
            path, 'nested too deeply' if isinstance(e, RecursionError)
            else e)) from None
    # figures are named after the folder (figures.figure_name)
    summary['result_dir'] = os.path.basename(os.path.dirname(path))
    return summary


def baseline_rows(summary, device, runtime, base_name):
    """One row per measured baseline; the reference's Table I one first.

    ``LeNet`` is the main network after phase 2 (the phase-2 trunk with
    main's own classifier: what the reference measured for Table I);
    ``LeNet (phase 1)`` the main network as phase 1 left it. Results from
    before both were measured have one row, from ``baseline``.
    """
    base_ms = summary['baseline']['ms']
    base_mean = summary['baseline'].get('ms_mean')
    macs = [summary['macs']['baseline']]
    entries = summary.get('baselines') or [summary['baseline']]
    rows = []
    for entry in entries:
        name = base_name
        if entry.get('model') == 'baseline' and len(entries) > 1:
            name = '%s (phase 1)' % base_name
        rows.append({
            'device': device, 'runtime': runtime, 'network': name,
            'acc %': 100 * entry['test_accuracy'], 'ms': base_ms,
            'gain': None, 'gain (mean)': None, 'T': None, 'exit %': None,
            'ms (ref.)': base_mean, 'gain (ref.)': None,
            'MACs per exit path': macs,
            'MAC bound': None})
    return rows


def table_rows(summary):
    """The baseline rows and the BranchyNet row of one sweep result."""
    spec = NETWORK_REGISTRY[summary['network']]
    base_name, branchy_name = spec.baseline_display, spec.display
    device = device_name(summary['device'])
    runtime = RUNTIME_REGISTRY[runtime_of(summary)].display
    base_ms = summary['baseline']['ms']
    base_mean = summary['baseline'].get('ms_mean')
    chosen = summary['sweep_test'][summary['chosen_index']]
    macs = summary['macs']
    expected_macs = float(numpy.dot(chosen['exit_fractions'], macs['path']))
    branchy_row = {
        'device': device, 'runtime': runtime, 'network': branchy_name,
        'acc %': 100 * chosen['accuracy'], 'ms': chosen['ms'],
        'gain': base_ms / chosen['ms'],
        'gain (mean)': _ratio(base_mean, chosen.get('ms_mean')),
        'T': chosen['thresholds'],
        'exit %': [100 * f for f in chosen['exit_fractions']],
        'ms (ref.)': chosen.get('trunk_ms_mean'),
        'gain (ref.)': _ratio(base_mean, chosen.get('trunk_ms_mean')),
        'MACs per exit path': macs['path'],
        'MAC bound': macs['baseline'] / expected_macs}
    return baseline_rows(summary, device, runtime, base_name) + [branchy_row]


def _cell(column, value):
    if value is None:
        return '-'
    if column in ('gain', 'gain (mean)', 'gain (ref.)', 'MAC bound'):
        return '%.2fx' % value
    if column == 'acc %':
        return '%.2f' % value
    if column in ('ms', 'ms (ref.)'):
        return '%.3f' % value
    if column == 'T':
        return ', '.join('%g' % t for t in value)
    if column == 'exit %':
        return ', '.join('%.1f' % f for f in value)
    if column == 'MACs per exit path':
        return ', '.join('%.3gM' % (m / 1e6) for m in value)
    return str(value)


def to_markdown(rows):
    lines = ['| ' + ' | '.join(COLUMNS) + ' |',
             '| ' + ' | '.join('---' for _ in COLUMNS) + ' |']
    for row in rows:
        lines.append('| ' + ' | '.join(_cell(c, row[c]) for c in COLUMNS)
                     + ' |')
    return '\n'.join(lines) + '\n'


def to_csv(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(c, row[c]) for c in COLUMNS])
    return buffer.getvalue()


def validation_markdown(summary):
    """Predicted vs measured table of one sweep result's validation."""
    lines = ['| point | T | acc % pred. | acc % meas. | exit counts pred. | '
             'exit counts meas. | ms pred. | ms meas. | time error | '
             'ms pred. (mean) | ms meas. (mean) | mismatched | exact |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | '
             '--- | --- | --- |']
    for row in summary['validation']:
        lines.append('| %s | %s | %.2f | %.2f | %s | %s | %.3f | %.3f | '
                     '%+.1f%% | %s | %s | %s | %s |' % (
                         row['point'], _cell('T', row['thresholds']),
                         100 * row['predicted_accuracy'],
                         100 * row['measured_accuracy'],
                         row['predicted_exit_counts'],
                         row['measured_exit_counts'], row['predicted_ms'],
                         row['measured_ms'], 100 * row['time_error'],
                         _cell('ms', row.get('predicted_ms_mean')),
                         _cell('ms', row.get('measured_ms_mean')),
                         row.get('mismatched', '-'),
                         'yes' if row['exact_match'] else 'NO'))
    return '\n'.join(lines) + '\n'


def write_table(results, out_dir):
    """Write ``table1.md``, ``table1.csv``, ``table1.json`` into ``out_dir``.

    Returns:
        list of dict: the rows.
    """
    order = list(NETWORK_REGISTRY)
    runtimes = list(RUNTIME_REGISTRY)
    results = sorted(results, key=lambda s: (
        device_name(s['device']), runtimes.index(runtime_of(s)),
        order.index(s['network'])))
    rows = [row for s in results for row in table_rows(s)]
    markdown = to_markdown(rows)
    notes = ['', STATISTICS, '']
    for s in results:
        notes.append('%s on %s (%s): T (%s) chosen by rule %r on the %s '
                     'split; accuracy and exit %% on %d test samples.' % (
                         s['experiment'], device_name(s['device']),
                         runtime_note(s), s.get('score', 'entropy'),
                         s['rule'],
                         'validation' if s['tuned_on'] == 'val' else 'test',
                         s['n_test']))
        if s['validation']:
            notes += ['', 'Validation (%s, %s, %s): predicted vs real '
                      'batch-1 inference; ms: %s' % (
                          s['experiment'], device_name(s['device']),
                          RUNTIME_REGISTRY[runtime_of(s)].display,
                          s['validation'][0].get(
                              'time_statistic', 'trimmed means')), '',
                      validation_markdown(s)]
    os.makedirs(out_dir, exist_ok=True)
    write_bytes_atomic(os.path.join(out_dir, 'table1.md'),
                       (markdown + '\n'.join(notes) + '\n').encode())
    write_bytes_atomic(os.path.join(out_dir, 'table1.csv'),
                       to_csv(rows).encode())
    write_json_atomic(os.path.join(out_dir, 'table1.json'), rows)
    return rows
