"""Stage 4 of ``branchynet sweep``: the sweep's predictions against real
batch-1 early-exit runs.

The sweep predicts each threshold vector's accuracy, exit counts and time
from the batched records and the latency profile. Here the baseline and a
few sweep points (the choice, the fastest, the middle and the slowest
vector) are run for real, sample by sample at batch size 1, on the first
test samples, and each prediction is set against what was measured
(:func:`validate`, one row per point: :func:`validate_point`).
"""
import time

import numpy

from branchynet.exits.inference import choose_exits
from branchynet.measurement.evaluation import summarize
from branchynet.measurement.profiling import TRIM, plain_ms, robust_ms
from branchynet.measurement.sweep import evaluate_thresholds
from branchynet.runtimes import as_runtime

#: what the validation's ``predicted_ms``/``measured_ms`` compare (and the
#: ``*_ms_mean`` pair beside them)
TIME_STATISTIC = ('per exit path, the %d%%-trimmed mean of its samples, '
                  'mixed by the exit fractions; *_ms_mean: plain means '
                  '(the reference\'s statistic)' % round(100 * TRIM))


def timed_predict(model, x, thresholds, score='entropy', plain=False):
    """Batch-1 inference of ``x`` as the profiler times it, sample by sample.

    ``thresholds`` are thresholds of the exit score ``score``.

    Returns:
        tuple: prediction, exit_index (numpy int32 ``(N,)``), the
        milliseconds per sample and the list of per-exit milliseconds
        (None for an exit no sample left at). Per exit: the trimmed mean of
        the samples that left there (as the profiler reports a path); per
        sample: those weighted by the fraction that left at each exit. (A
        trimmed mean over all samples would cut the rare slow paths, not
        just the interrupted samples.) With ``plain``, a fifth item: the
        plain mean over all samples (the reference's statistic).
    """
    rt = as_runtime(model)
    times, outcomes = [], []
    for i in range(len(x)):
        x1 = rt.send(x[i:i + 1])
        rt.synchronize()
        start = time.perf_counter()
        outcomes.append(rt.run_one(x1, thresholds, score))
        rt.synchronize()
        times.append(time.perf_counter() - start)
    outcomes = numpy.array(outcomes, numpy.int32).reshape(-1, 2)
    times = 1000 * numpy.array(times)
    exit_index = outcomes[:, 1]
    counts = numpy.bincount(exit_index, minlength=rt.n_exits)
    exit_ms = [robust_ms(times[exit_index == k]) if n else None
               for k, n in enumerate(counts)]
    ms = sum(t * n for t, n in zip(exit_ms, counts) if n) / len(times)
    if plain:
        return outcomes[:, 0], exit_index, float(ms), exit_ms, plain_ms(times)
    return outcomes[:, 0], exit_index, float(ms), exit_ms


def validate_point(model, x, y, thresholds, predicted, score='entropy'):
    """Real batch-1 inference at one point, against its prediction.

    Args:
        thresholds (tuple or None): None runs the main network alone.
        score (str): the exit score the thresholds are for.
        predicted (dict): ``accuracy``, ``exit_counts`` and ``ms`` predicted
            from the records and the profile, and each sample's
            ``prediction`` and ``exit_index`` (int arrays ``(N,)``).

    Returns:
        dict: predicted and measured accuracy, exit counts and ms per
        sample, ``time_error`` (measured / predicted - 1), ``mismatched``
        (samples whose prediction or exit differ between the records and
        the real run: batched float32 results can differ from batch-1 ones
        in the last bits, which moves a sample lying that close to a
        threshold) and ``exact_match`` (accuracy and exit counts identical).
    """
    p, e, measured_ms, measured_exit_ms, measured_ms_mean = timed_predict(
        model, x, thresholds, score, plain=True)
    measured = summarize(p, e, y, as_runtime(model).n_exits)
    row = {
        'thresholds': None if thresholds is None else list(thresholds),
        'predicted_accuracy': predicted['accuracy'],
        'measured_accuracy': measured['accuracy'],
        'predicted_exit_counts': predicted['exit_counts'],
        'measured_exit_counts': measured['exit_counts'],
        'predicted_ms': predicted['ms'],
        'measured_ms': measured_ms,
        'measured_exit_ms': measured_exit_ms,
        'time_error': measured_ms / predicted['ms'] - 1,
        'mismatched': int(numpy.sum(
            (p != predicted['prediction']) | (e != predicted['exit_index']))),
        'exact_match': (predicted['accuracy'] == measured['accuracy'] and
                        predicted['exit_counts'] == measured['exit_counts']),
        'time_statistic': TIME_STATISTIC,
    }
    if predicted.get('ms_mean') is not None:
        # the plain mean over the samples actually run, against the
        # profile's plain means mixed by the predicted exit fractions
        row['predicted_ms_mean'] = predicted['ms_mean']
        row['measured_ms_mean'] = measured_ms_mean
    return row


def validation_points(ms, chosen):
    """The chosen point plus the fastest and slowest vectors of the grid
    and the one whose predicted time is nearest the middle of the two."""
    return {'chosen': chosen, 'fastest': int(numpy.argmin(ms)),
            'middle': int(numpy.argmin(abs(ms - (ms.min() + ms.max()) / 2))),
            'slowest': int(numpy.argmax(ms))}


def validate(model, baseline, test, test_records, thresholds, points,
             paths, baseline_prediction, n, score='entropy'):
    """Stage 4: real batch-1 runs of ``n`` test samples against the sweep.

    Args:
        baseline: the runtime of the baseline that Table I reports.
        test (tuple): the test split ``(x, y)``.
        test_records (Records): the test split's records.
        points (dict): name -> index into ``thresholds``.
        baseline_prediction (numpy.ndarray): its batched predictions of the
            ``n`` samples.
        score (str): the exit score the thresholds are for.
    """
    x, y = test[0][:n], test[1][:n]
    print('validating the baseline and %d sweep points against real '
          'batch-1 inference on %d test samples...' % (len(points), n))
    last = model.n_exits - 1
    rows = [dict(validate_point(baseline, x, y, None, {
        'accuracy': float((baseline_prediction == y).mean()),
        'exit_counts': [0] * last + [n],
        'ms': paths.baseline_ms, 'ms_mean': paths.baseline_ms_mean,
        'prediction': baseline_prediction,
        'exit_index': numpy.full(n, last)}), point='baseline')]
    first = test_records.subset(n)
    for name, index in points.items():
        t = tuple(thresholds[index])
        one = evaluate_thresholds(
            first.scores(score), first.prediction, y, [t], paths.exit_ms,
            score=score)
        exit_index = choose_exits(first.scores(score), t, score)
        rows.append(dict(validate_point(model, x, y, t, {
            'accuracy': float(one['accuracy'][0]),
            'exit_counts': one['exit_counts'][0].tolist(),
            'ms': float(one['ms'][0]),
            'ms_mean': None if paths.exit_ms_mean is None else float(
                one['exit_fractions'][0] @ numpy.asarray(paths.exit_ms_mean)),
            'prediction': first.prediction[numpy.arange(n), exit_index],
            'exit_index': exit_index}, score), point=name))
    return rows
