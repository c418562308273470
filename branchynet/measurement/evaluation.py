"""Evaluating a saved model: accuracy and where the samples leave."""
import time

import numpy

from branchynet.data import check_classes, dataset_origin
from branchynet.errors import BranchyNetError
from branchynet.experiments import get_experiment, load_trained
from branchynet.exits.inference import check_thresholds
from branchynet.runtimes import as_runtime, get_runtime, make_runtime
from branchynet.training.settings import TrainSettings, prepare_data
from branchynet.utils.digest import sha256_of_arrays


def evaluation_split(info, split='test', data_dir='auto'):
    """The ``(x, y)`` a saved model is evaluated on, as its training split it.

    ``val`` is the validation split held out of training (same seed and size
    as training used), ``test`` the test set.
    """
    settings = TrainSettings.from_saved(info.get('settings'))
    # its labels mean the classes it was trained on (a renamed class folder)
    check_classes(_dataset(settings), info.get('classes'), data_dir)
    splits = prepare_data(settings, data_dir)
    x, y = splits[split]
    if len(x) == 0:
        raise BranchyNetError('the model was trained with no %s split '
                              '(--val-size 0)' % split)
    return x, y


def _dataset(settings):
    return settings.dataset or get_experiment(settings.experiment).dataset


def evaluated_data(info, splits, data_dir='auto'):
    """What ``sweep.json`` records of the data a saved model was evaluated
    on: its data set, what that copy was built from
    (:func:`~branchynet.data.dataset_origin`), and the sha256 of each of
    ``splits`` (name -> ``(x, y)``), equal only for bitwise equal inputs.
    """
    name = _dataset(TrainSettings.from_saved(info.get('settings')))
    return {'dataset': name, 'origin': dataset_origin(name, data_dir),
            'sha256': {split: sha256_of_arrays(*xy)
                       for split, xy in splits.items()}}


def predict(model, x, thresholds=None, batch_size=1000, score='entropy'):
    """Early-exit predictions and exit indices of ``x`` (host arrays).

    ``thresholds=None`` runs the main network alone (every sample at the
    final exit). ``batch_size=1`` runs the per-sample procedure.
    ``thresholds`` are thresholds of the exit score ``score``.

    Args:
        model: a BranchyNet (on its device) or a runtime of
            :mod:`branchynet.runtimes.runtime`.

    Returns:
        tuple of numpy arrays: prediction int32 ``(N,)``, exit_index int32
        ``(N,)`` (0-based).
    """
    rt = as_runtime(model)
    predictions, exits = [], []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        if thresholds is None:
            p = rt.predict_main(xb)
            e = numpy.full(len(xb), rt.n_exits - 1, numpy.int32)
        elif batch_size == 1:
            p, e = rt.run_one(rt.send(xb), thresholds, score)
            p, e = numpy.array([p], numpy.int32), numpy.array([e], numpy.int32)
        else:
            p, e = rt.early_exit(xb, thresholds, score)
        predictions.append(p)
        exits.append(e)
    return numpy.concatenate(predictions), numpy.concatenate(exits)


def summarize(prediction, exit_index, y, n_exits):
    """Accuracy (fraction) and the fraction of samples leaving at each exit."""
    counts = numpy.bincount(exit_index, minlength=n_exits)
    return {'accuracy': float((prediction == y).mean()),
            'exit_counts': counts.tolist(),
            'exit_fractions': (counts / len(y)).tolist()}


def evaluate_saved(path, thresholds=None, device='@numpy', data_dir='auto',
                   batch_size=1000, split='test', runtime='chainer',
                   threads=1, score='entropy'):
    """Load a saved model and print its early-exit accuracy and exit %.

    ``runtime`` is ``chainer`` or ``onnxruntime`` (the model exported in
    memory; ``threads`` intra-op threads); ``thresholds`` are thresholds of
    the exit score ``score`` (:mod:`branchynet.exits.scores`).
    """
    model, info = load_trained(path)
    if thresholds is not None:
        if info.get('role') == 'baseline':
            raise BranchyNetError('%s is a baseline (main network only); it '
                                  'takes no thresholds' % path)
        thresholds = check_thresholds(thresholds, model.n_exits, score)
    model = make_runtime(model, info['network'], runtime, device, threads,
                         main_only=thresholds is None)
    x, y = evaluation_split(info, split, data_dir)
    start = time.perf_counter()
    prediction, exit_index = predict(model, x, thresholds, batch_size,
                                     score)
    seconds = time.perf_counter() - start
    result = summarize(prediction, exit_index, y, model.n_exits)
    print('%s%s on %d %s samples, thresholds %s' % (
        info['network'], ' baseline' if info.get('role') == 'baseline' else '',
        len(y), split,
        'none (main network)' if thresholds is None else
        '%s (%s)' % (', '.join('%g' % t for t in thresholds), score)))
    print('accuracy: %.2f%%' % (100 * result['accuracy']))
    print('exits: %s' % ', '.join(
        'exit %d %.2f%%' % (k, 100 * f)
        for k, f in enumerate(result['exit_fractions'], 1)))
    print('wall time: %.2f s (%.3f ms per sample, batch size %d, %s)'
          % (seconds, 1000 * seconds / len(y), min(batch_size, len(y)),
             _runtime_line(model.settings)))
    return result


def _runtime_line(settings):
    """``chainer 7.8.1`` or ``onnxruntime 1.32.0, 1 intra-op thread(s)``:
    the line of the runtime that ran (:mod:`branchynet.runtimes.registry`)."""
    return get_runtime(settings['runtime']).line(settings)
