"""The paper's figures, as PDF and PNG, from sweep results and training logs.

* Fig. 3: accuracy vs ms per sample over the threshold sweep (the
  reference's frontier), the baseline as a diamond, the chosen point
  (knee) as a star; one figure per network and device.
* Fig. 4: only exit 1 and the final exit active: overall accuracy and the
  largest entropy among samples leaving at exit 1, vs the % leaving there.
* Training curves: per-exit test accuracy and training loss per epoch.
* Ours: the point ``--rule tradeoff`` chooses as alpha runs from 1e-4 to 1.
"""
import json
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy  # noqa: E402

from branchynet.utils.atomic import atomic_path  # noqa: E402
from branchynet.errors import BranchyNetError  # noqa: E402
from branchynet.exits.records import load_records  # noqa: E402
from branchynet.report.table import (DISPLAY, RUNTIMES, device_name,  # noqa: E402
                               runtime_of)
from branchynet.measurement.rules import best_tradeoff, reference_frontier  # noqa: E402


def save_figure(fig, prefix):
    """Save ``fig`` as ``PREFIX.pdf`` and ``PREFIX.png``, atomically."""
    paths = []
    for ext in ('pdf', 'png'):
        path = '%s.%s' % (prefix, ext)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches='tight')
        paths.append(path)
    plt.close(fig)
    return paths


def fig3(summary, prefix):
    """Accuracy vs runtime of one sweep result (Fig. 3)."""
    base_name, branchy_name = DISPLAY[summary['network']]
    rows = summary['sweep_test']
    ms = numpy.array([r['ms'] for r in rows])
    acc = 100 * numpy.array([r['accuracy'] for r in rows])
    keep = reference_frontier(ms, acc / 100)
    chosen = rows[summary['chosen_index']]
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.plot(ms[keep], acc[keep], '-o', ms=3, label=branchy_name)
    ax.plot([summary['baseline']['ms']],
            [100 * summary['baseline']['test_accuracy']], 'D', color='C3',
            ms=7, label=base_name)
    ax.plot([chosen['ms']], [100 * chosen['accuracy']], '*', color='C2',
            ms=14, label='chosen (T=%s)' % ', '.join(
                '%g' % t for t in chosen['thresholds']))
    where = '%s, %s' % (device_name(summary['device']),
                        RUNTIMES[runtime_of(summary)])
    ax.set_xlabel('runtime (ms per sample, %s, end to end)' % where)
    ax.set_ylabel('accuracy (%)')
    ax.set_title('%s, %s' % (branchy_name, where))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='best')
    return save_figure(fig, prefix)


#: the trade-off weights the alpha figure runs over
ALPHAS = numpy.logspace(-4, 0, 41)


def tradeoff_path(summary, alphas=ALPHAS):
    """The sweep point ``--rule tradeoff --alpha A`` chooses on the tuning
    split, for each ``A`` in ``alphas``.

    Returns:
        list of int: indices into ``summary['sweep_test']``.
    """
    rows = summary['sweep_tune']
    ms = [r['ms'] for r in rows]
    accuracy = [r['accuracy'] for r in rows]
    return [best_tradeoff(ms, accuracy, a, summary['baseline']['ms'])
            for a in alphas]


def alpha_figure(summary, prefix, alphas=ALPHAS):
    """The trade-off rule's choice as alpha runs over ``alphas``: on the test
    frontier (left), and its ms and accuracy against alpha (right)."""
    rows = summary['sweep_test']
    ms = numpy.array([r['ms'] for r in rows])
    acc = 100 * numpy.array([r['accuracy'] for r in rows])
    chosen = numpy.array(tradeoff_path(summary, alphas))
    keep = reference_frontier(ms, acc / 100)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8),
                                      constrained_layout=True)
    left.plot(ms[keep], acc[keep], '-', color='0.7', label='frontier')
    dots = left.scatter(ms[chosen], acc[chosen], c=numpy.log10(alphas),
                        cmap='viridis', s=18, zorder=3)
    fig.colorbar(dots, ax=left, label='log10 alpha')
    left.set_xlabel('ms per sample')
    left.set_ylabel('test accuracy (%)')
    left.legend(fontsize=8, loc='lower right')
    right.step(alphas, ms[chosen], where='post', color='C0')
    right.set_xscale('log')
    right.set_xlabel('alpha')
    right.set_ylabel('ms per sample', color='C0')
    other = right.twinx()
    other.step(alphas, acc[chosen], where='post', color='C1')
    other.set_ylabel('test accuracy (%)', color='C1')
    # the ms line in front where the two meet
    other.set_zorder(right.get_zorder() - 1)
    right.patch.set_visible(False)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle('%s (%s): min (1 - acc) + alpha x ms / baseline ms, tuned '
                 'on %s' % (DISPLAY[summary['network']][1],
                            summary.get('score', 'entropy'),
                            summary['tuned_on']))
    return save_figure(fig, prefix)


def exit1_curve(entropies, predictions, labels):
    """Only exit 1 and the final exit active, for every possible T1.

    Samples leave at exit 1 in order of increasing entropy, so the m
    samples with the lowest exit-1 entropy are the ones exited.

    Returns:
        tuple of numpy arrays over m = 0..N: percent exited at exit 1,
        overall accuracy (%), max entropy of exited samples (NaN at m=0).
    """
    order = numpy.argsort(entropies[:, 0], kind='stable')
    correct_first = (predictions[order, 0] == labels[order]).astype(float)
    correct_last = (predictions[order, -1] == labels[order]).astype(float)
    n = len(labels)
    # accuracy when the first m leave at exit 1 and the rest at the end
    head = numpy.concatenate([[0], numpy.cumsum(correct_first)])
    tail = numpy.concatenate([numpy.cumsum(correct_last[::-1])[::-1], [0]])
    accuracy = 100 * (head + tail) / n
    max_entropy = numpy.concatenate([[numpy.nan], entropies[order, 0]])
    return 100 * numpy.arange(n + 1) / n, accuracy, max_entropy


def read_records(path):
    """The test split of a ``records.npz``, through the one reader of that
    file (:func:`branchynet.exits.records.load_records`: its checks, its size
    cap)."""
    return load_records(path, ('test',))['test']


def fig4(records, network, prefix):
    """Fig. 4 from the test split's :class:`~branchynet.exits.records.Records`:
    exit 1 and the final exit only."""
    exited, accuracy, max_entropy = exit1_curve(
        records.entropy, records.prediction, records.labels)
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.plot(exited, accuracy, color='C0')
    ax.set_xlabel('samples exited at exit 1 (%)')
    ax.set_ylabel('overall accuracy (%)', color='C0')
    other = ax.twinx()
    other.plot(exited, max_entropy, color='C1')
    other.set_ylabel('max entropy of exited samples (nats)', color='C1')
    ax.set_title('%s: exit 1 and the final exit only' % DISPLAY[network][1])
    ax.grid(alpha=0.3)
    return save_figure(fig, prefix)


def read_log(path):
    """A Chainer LogReport file: a JSON list of per-epoch dicts.

    Raises:
        BranchyNetError: unreadable, or not a list of objects.
    """
    try:
        with open(path) as f:
            log = json.load(f)
    except (OSError, ValueError, RecursionError) as e:
        raise BranchyNetError('training log %s is unreadable (%s)' % (
            path, type(e).__name__ if isinstance(e, RecursionError)
            else e)) from None
    if not (isinstance(log, list) and all(isinstance(e, dict) for e in log)):
        raise BranchyNetError('training log %s is not a list of per-epoch '
                              'objects' % path)
    return log


def _series(log, key, offset=0, scale=1):
    """``(epochs, values)`` of the entries that hold a number for ``key``
    (the test accuracy is absent from epochs without a test pass)."""
    points = [(offset + e['epoch'], scale * e[key]) for e in log
              if all(isinstance(e.get(k), (int, float))
                     and not isinstance(e.get(k), bool)
                     for k in ('epoch', key))]
    return tuple(zip(*points)) if points else ((), ())


def training_curves(model_dir, network, prefix):
    """Per-exit test accuracy and training loss of both phases, by epoch."""
    phase1 = read_log(os.path.join(model_dir, 'phase1', 'log'))
    phase2 = read_log(os.path.join(model_dir, 'phase2', 'log'))
    n1 = len(phase1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(*_series(phase1, 'main/loss'), 'k-',
                 label='main network (phase 1)')
    ax_acc.plot(*_series(phase1, 'test/main/accuracy', scale=100), 'k-',
                label='main network (phase 1)')
    k = 1
    while any('main/exit%d/loss' % k in e for e in phase2):
        ax_loss.plot(*_series(phase2, 'main/exit%d/loss' % k, n1),
                     label='exit %d' % k)
        ax_acc.plot(*_series(phase2, 'test/main/exit%d/accuracy' % k, n1,
                             100), label='exit %d' % k)
        k += 1
    ax_loss.set_ylabel('training loss')
    ax_acc.set_ylabel('test accuracy (%)')
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel('epoch')
        ax.axvline(n1 + 0.5, color='gray', lw=0.5)
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=8, loc='lower right')
    fig.suptitle('%s training (phase 1 | phase 2)' % DISPLAY[network][1])
    return save_figure(fig, prefix)


def figure_name(summary):
    """The name figures of one result carry: its result folder's.

    Results loaded by :func:`branchynet.report.table.load_results` know their
    folder (``results/lenet_mnist_gpu`` -> ``lenet_mnist_gpu``), so two
    folders never write the same figure; otherwise experiment, device and
    (for runtimes other than Chainer) runtime.
    """
    if summary.get('result_dir'):
        return summary['result_dir']
    runtime = runtime_of(summary)
    return '%s_%s%s' % (summary['experiment'],
                        device_name(summary['device']).lower(),
                        '' if runtime == 'chainer' else '_' + runtime)


def make_figures(results, results_dir, figs_dir):
    """Every figure that the results allow; returns the written paths.

    For each result, named after its folder (:func:`figure_name`): Fig. 3;
    the trade-off rule's choice as alpha runs (:func:`alpha_figure`, where
    the result holds its tuning split's sweep); Fig. 4
    where the folder holds its records (the paper shows it for B-AlexNet);
    training curves where the model folder still holds its phase logs.
    """
    written = []
    for summary in results:
        name = figure_name(summary)
        written += fig3(summary, os.path.join(figs_dir, 'fig3_' + name))
        if 'sweep_tune' in summary:
            written += alpha_figure(summary, os.path.join(figs_dir,
                                                          'alpha_' + name))
        records_path = os.path.join(results_dir,
                                    summary.get('result_dir', name),
                                    'records.npz')
        if os.path.exists(records_path):
            written += fig4(read_records(records_path), summary['network'],
                            os.path.join(figs_dir, 'fig4_' + name))
        model_dir = summary.get('model_dir')
        if model_dir and os.path.exists(os.path.join(model_dir, 'phase2',
                                                     'log')):
            written += training_curves(model_dir, summary['network'],
                                       os.path.join(figs_dir,
                                                    'training_' + name))
    return written
