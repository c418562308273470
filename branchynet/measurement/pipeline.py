"""Measure a trained experiment: profile, one-pass sweep, choice, validation.

``measure_experiment`` is what ``branchynet sweep`` runs. For the models in
``MODEL_DIR`` (as written by training) it runs five stages, one function
each:

1. :func:`record`: every sample's logits and entropy at every exit
   (:class:`~branchynet.exits.records.Records`), in one batched pass, on the
   tuning split and the test set; the baselines' predictions;
2. :func:`profile`: the batch-1 latency of the baseline and of every exit
   path, and their multiply-adds;
3. :func:`sweep_and_choose`: the whole threshold grid of the exit score
   (entropy, the paper's, by default; :mod:`branchynet.exits.scores`) evaluated
   from the records (no re-run), thresholds chosen on the tuning split
   (knee of the reference frontier by default; or by accuracy, budget,
   trade-off weight, or per exit to a target accuracy) and reported on the
   test set;
4. :func:`validate`: real batch-1 early-exit inference for the baseline and
   a few sweep points (the choice among them), predicted vs measured
   accuracy, exit counts and time;
5. :func:`write`: ``sweep.json`` and ``records.npz``.

The tuning split is the validation split held out of training, or the test
set (as the paper did) for a model trained on every training image
(``--protocol reference``). Two baselines are measured: the main network
after phase 2 (``baseline_after_joint``: the phase-2 trunk with main's own
classifier, what the reference's Table I reports) and after phase 1.

Steps 1, 2 and 4 run on the chosen runtime (``runtime='onnxruntime'``:
the models exported in memory, see :mod:`branchynet.runtimes.runtime`); the summary
records which, with its thread settings.

Results go to ``OUT/sweep.json`` and ``OUT/records.npz``.
"""
import math
import os
import time

import numpy

from branchynet.measurement import sweep as sweep_lib
from branchynet.data.download import write_json_atomic
from branchynet.errors import BranchyNetError
from branchynet.measurement.evaluation import evaluation_split, predict, summarize
from branchynet.experiments import EXPERIMENTS
from branchynet.exits.inference import choose_exits, score_of
from branchynet.measurement.profiling import (TRIM, count_macs, plain_ms, profile_paths,
                                  robust_ms)

#: what the validation's ``predicted_ms``/``measured_ms`` compare (and the
#: ``*_ms_mean`` pair beside them)
TIME_STATISTIC = ('per exit path, the %d%%-trimmed mean of its samples, '
                  'mixed by the exit fractions; *_ms_mean: plain means '
                  '(the reference\'s statistic)' % round(100 * TRIM))
from branchynet.exits.records import Records, save_records
from branchynet.runtimes.runtime import as_runtime, make_runtime
from branchynet.networks.serialization import load_model


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


def _grid_rows(grid_result):
    keys = ('thresholds', 'accuracy', 'exit_fractions', 'ms', 'trunk_ms') + \
        tuple(k for k in ('ms_mean', 'trunk_ms_mean') if k in grid_result)
    return [{k: numpy.asarray(grid_result[k][i]).tolist() for k in keys}
            for i in range(len(grid_result['accuracy']))]


#: the baselines, by file name in MODEL_DIR: the reference's Table I one
#: first (absent in folders trained before it existed)
BASELINES = (('baseline_after_joint', 'after phase 2 (the reference)'),
             ('baseline', 'after phase 1'))


def tuning_split(info, tune_on=None):
    """``val`` or ``test``: ``tune_on``, or the validation split if the
    model has one (``--protocol reference`` models have none)."""
    has_val = info['settings'].get('val_size', 0) > 0
    if tune_on is None:
        return 'val' if has_val else 'test'
    if tune_on not in ('val', 'test'):
        raise BranchyNetError("tune_on must be 'val' or 'test'")
    if tune_on == 'val' and not has_val:
        raise BranchyNetError('the model was trained on every training '
                              'image (no validation split): tune on the '
                              'test set (--tune-on test)')
    return tune_on


def load_models(model_dir, runtime, device, threads):
    """The B-network and the baselines of ``model_dir`` as runtimes.

    Returns:
        tuple: ``(model, chainer_model, info, baselines)``; ``baselines`` is
        a list of ``(name, description, runtime, info)``, the reference's
        Table I baseline first.
    """
    chainer_model, info = load_model(os.path.join(model_dir, 'branchynet'))
    model = make_runtime(chainer_model, info['network'], runtime, device,
                         threads)
    baselines = []
    for name, description in BASELINES:
        prefix = os.path.join(model_dir, name)
        if not os.path.exists(prefix + '.json'):
            continue
        base, base_info = load_model(prefix)
        baselines.append((name, description, make_runtime(
            base, base_info['network'], runtime, device, threads,
            main_only=True), base_info))
    if not baselines:
        raise BranchyNetError('%s holds no baseline model' % model_dir)
    return model, chainer_model, info, baselines


def record(model, baselines, splits):
    """Stage 1: records of both splits, and the baselines' predictions.

    Args:
        splits (dict): ``test`` and ``tune`` as ``(x, y)`` (the same arrays
            when tuning on the test set).

    Returns:
        dict: ``records[split]`` (:class:`~branchynet.exits.records.Records`),
        ``baseline[name][split]`` accuracy, and the ``seconds`` taken.
    """
    print('recording logits at every exit (one batched pass)...')
    start = time.perf_counter()
    records = {'test': Records.from_runtime(model, *splits['test'])}
    records['tune'] = records['test'] if splits['tune'] is splits['test'] \
        else Records.from_runtime(model, *splits['tune'])
    accuracy = {}
    for name, _, base, _ in baselines:
        accuracy[name] = {
            split: float((predict(base, x)[0] == y).mean())
            for split, (x, y) in splits.items()}
    return {'records': records, 'baseline': accuracy,
            'seconds': time.perf_counter() - start}


def profile(model, chainer_model, x, profile_samples, warmup):
    """Stage 2: batch-1 latency per exit path, and multiply-adds.

    The baseline's architecture is the B-network's main path, so one
    profile gives both (``profile.baseline_ms``).
    """
    print('profiling batch-1 latency (%d samples per path)...'
          % profile_samples)
    start = time.perf_counter()
    result = profile_paths(model, x, profile_samples, warmup)
    seconds = time.perf_counter() - start
    macs = count_macs(chainer_model, chainer_model.device.send(x[:1]))
    return result, macs, seconds


def sweep_and_choose(records, labels, thresholds, paths, choice,
                     score='entropy'):
    """Stage 3: every threshold vector on both splits; the choice.

    Args:
        records (dict): split -> :class:`~branchynet.exits.records.Records`.
        labels (dict): split -> labels.
        thresholds (array): ``(V, K - 1)`` threshold vectors.
        paths (PathProfile): the latency profile.
        choice (dict): ``rule``, ``epsilon``, ``budget_ms``, ``alpha``,
            ``baseline_ms`` and the tuning split's ``baseline_accuracy``
            (see :func:`sweep.choose`); ``target`` for the ``per-exit``
            rule, whose vector (:func:`sweep.per_exit_thresholds`) is
            appended to the grid and chosen.
        score (str): the exit score.

    Returns:
        tuple: ``(results by split, chosen index, tuning frontier,
        seconds)``; ``results[split]['thresholds']`` is the grid swept.
    """
    start = time.perf_counter()
    choice = dict(choice)
    target = choice.pop('target', None)
    if choice['rule'] == 'per-exit':
        tune = records['tune']
        thresholds = numpy.vstack([thresholds, [
            sweep_lib.per_exit_thresholds(
                tune.scores(score), tune.prediction, labels['tune'], target,
                score, tune.n_classes)]])
    results = {}
    for split, r in records.items():
        r = sweep_lib.evaluate_thresholds(r.scores(score), r.prediction,
                                          labels[split], thresholds,
                                          paths.exit_ms, score=score)
        r['trunk_ms'] = r['exit_fractions'] @ numpy.asarray(paths.trunk_ms)
        if paths.exit_ms_mean is not None:     # the reference's statistic
            r['ms_mean'] = r['exit_fractions'] @ numpy.asarray(
                paths.exit_ms_mean)
            r['trunk_ms_mean'] = r['exit_fractions'] @ numpy.asarray(
                paths.trunk_ms_mean)
        r['thresholds'] = thresholds
        results[split] = r
    chosen = len(thresholds) - 1 if choice['rule'] == 'per-exit' else \
        sweep_lib.choose(results['tune']['ms'], results['tune']['accuracy'],
                         **choice)
    frontier = sweep_lib.reference_frontier(results['tune']['ms'],
                                            results['tune']['accuracy'])
    seconds = time.perf_counter() - start
    print('swept %d threshold vectors in %.3f s' % (len(thresholds), seconds))
    return results, chosen, frontier, seconds


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
        one = sweep_lib.evaluate_thresholds(
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


def write(out, summary, records):
    """Stage 5: ``OUT/records.npz`` (:func:`~branchynet.exits.records.save_records`)
    and ``OUT/sweep.json`` (atomic)."""
    os.makedirs(out, exist_ok=True)
    save_records(os.path.join(out, 'records.npz'), records)
    write_json_atomic(os.path.join(out, 'sweep.json'), summary)


def measure_experiment(model_dir, out, device='@numpy', data_dir='auto',
                       tune_on=None, rule='knee', epsilon=0.0,
                       budget_ms=None, grid=None, profile_samples=200,
                       validate_samples=1000, warmup=20, runtime='chainer',
                       threads=1, score='entropy', alpha=None, target=None):
    """Run the whole measurement of one trained experiment (see module doc).

    Args:
        model_dir (str): folder written by ``branchynet train``.
        out (str): results folder (``sweep.json``, ``records.npz``).
        device (str): Chainer device specifier.
        data_dir (str): the data root, ``'auto'`` for the default.
        tune_on (str or None): ``val`` (held out of training) or ``test``
            (as the paper did); None: ``val`` when the model has it.
        rule (str): ``knee``, ``accuracy``, ``budget``, ``tradeoff`` (with
            ``alpha``) or ``per-exit`` (with ``target``); see
            :func:`branchynet.measurement.sweep.choose` and
            :func:`branchynet.measurement.sweep.per_exit_thresholds`.
        grid (sequence of float): threshold values; default: the
            experiment's reference grid for entropy, the score's grid
            (:func:`branchynet.measurement.sweep.score_grid`) for the others.
        profile_samples (int): samples timed per path.
        validate_samples (int): test samples run for real at batch size 1
            per validation point (0 skips validation).
        runtime (str): ``chainer`` or ``onnxruntime`` (records, profile and
            validation; multiply-adds are counted on the Chainer model).
        threads (int): ONNX Runtime intra-op threads.
        score (str): the exit score (default: entropy, the paper's).
        alpha (float): the trade-off weight of ``rule='tradeoff'``.
        target (float): the per-exit accuracy of ``rule='per-exit'``.

    Returns:
        dict: what is written to ``sweep.json``.
    """
    score = score_of(score).name
    _check_rule(rule, alpha, target, epsilon, budget_ms)
    if grid is not None:
        grid = sweep_lib.check_grid(grid, score)
    model, chainer_model, info, baselines = load_models(
        model_dir, runtime, device, threads)
    tune_on = tuning_split(info, tune_on)
    experiment = EXPERIMENTS[info['settings']['experiment']]
    if grid is None and score == 'entropy':
        grid = sweep_lib.check_grid(experiment.grid)
    splits = load_splits(info, tune_on, data_dir)
    labels = {split: y for split, (_, y) in splits.items()}

    recorded = record(model, baselines, splits)
    if grid is None:
        tune = recorded['records']['tune']
        grid = sweep_lib.score_grid(score, tune.scores(score)[:, :-1],
                                    tune.n_classes)
    thresholds = sweep_lib.threshold_grid(grid, chainer_model.n_exits, score)
    paths, macs, profile_s = profile(model, chainer_model, splits['test'][0],
                                     profile_samples, warmup)
    main_name, _, main_baseline, _ = baselines[0]
    results, chosen, frontier, sweep_s = sweep_and_choose(
        recorded['records'], labels, thresholds, paths,
        dict(rule=rule, epsilon=epsilon, budget_ms=budget_ms, alpha=alpha,
             baseline_ms=paths.baseline_ms, target=target,
             baseline_accuracy=recorded['baseline'][main_name]['tune']),
        score)
    validation = []
    if validate_samples:
        n = min(validate_samples, len(labels['test']))
        validation = validate(
            model, main_baseline, splits['test'], recorded['records']['test'],
            results['test']['thresholds'],
            validation_points(results['test']['ms'], chosen), paths,
            predict(main_baseline, splits['test'][0][:n])[0], n, score)

    summary = summarise(
        model, info, baselines, recorded,
        dict(experiment=experiment.name, model_dir=model_dir,
             result_dir=os.path.basename(os.path.normpath(out)),
             tuned_on=tune_on, score=score, rule=rule, alpha=alpha,
             target=target, grid=list(grid)),
        dict(paths=paths, macs=macs, chosen=chosen, frontier=frontier,
             results=results, validation=validation,
             seconds={'records': recorded['seconds'], 'profile': profile_s,
                      'sweep': sweep_s}))
    write(out, summary, recorded['records'])
    return summary


def load_splits(info, tune_on, data_dir):
    """The test split and the tuning split (the same arrays when tuning on
    the test set), each ``(x, y)``."""
    splits = {'test': evaluation_split(info, 'test', data_dir)}
    splits['tune'] = splits['test'] if tune_on == 'test' else \
        evaluation_split(info, 'val', data_dir)
    return splits


def summarise(model, info, baselines, recorded, run, measured):
    """What ``sweep.json`` holds (checked by :mod:`branchynet.report.schema`).

    Args:
        run (dict): what was asked: ``experiment``, ``model_dir``,
            ``result_dir`` (figures are named after it, see
            ``figures.figure_name``), ``tuned_on``, ``score``, ``rule``,
            ``alpha``, ``target``, ``grid``.
        measured (dict): ``paths`` (the profile), ``macs``, ``chosen``,
            ``frontier``, ``results`` by split, ``validation``,
            ``seconds`` by stage.
    """
    main_name, main_description, _, _ = baselines[0]
    base_acc = recorded['baseline'][main_name]
    results = measured['results']
    summary = dict(run, network=info['network'], device=model.device,
                   runtime=model.name, runtime_settings=model.settings,
                   n_test=len(recorded['records']['test']),
                   n_tune=len(recorded['records']['tune']))
    summary.update({
        'baseline': {
            'model': main_name, 'definition': main_description,
            'test_accuracy': base_acc['test'],
            'tune_accuracy': base_acc['tune'],
            'ms': measured['paths'].baseline_ms,
            'ms_mean': measured['paths'].baseline_ms_mean,
        },
        'baselines': [
            {'model': name, 'definition': description,
             'test_accuracy': recorded['baseline'][name]['test'],
             'tune_accuracy': recorded['baseline'][name]['tune']}
            for name, description, _, _ in baselines],
        'profile': measured['paths'].to_dict(),
        'macs': measured['macs'],
        'chosen_index': measured['chosen'],
        'frontier_tune': measured['frontier'].tolist(),
        'sweep_tune': _grid_rows(results['tune']),
        'sweep_test': _grid_rows(results['test']),
        'validation': measured['validation'],
        'seconds': measured['seconds'],
        'training': {name: base_info for name, _, _, base_info in baselines},
    })
    summary['training']['branchynet'] = info
    return summary


def _check_rule(rule, alpha, target, epsilon=0.0, budget_ms=None):
    """The rule's own setting, before any work starts."""
    if rule not in sweep_lib.RULES:
        raise BranchyNetError('unknown rule %r (choose from %s)'
                              % (rule, ', '.join(sweep_lib.RULES)))
    if not 0 <= epsilon <= 1:
        raise BranchyNetError('--epsilon is an accuracy allowance in [0, 1], '
                              'got %r' % (epsilon,))
    if rule == 'budget' and (budget_ms is None
                             or not 0 < budget_ms < math.inf):
        raise BranchyNetError('--rule budget needs --budget-ms, a positive '
                              'number of ms per sample (got %r)'
                              % (budget_ms,))
    if rule == 'tradeoff' and (alpha is None or not 0 <= alpha < math.inf):
        raise BranchyNetError('--rule tradeoff needs --alpha, a finite '
                              'number >= 0 (got %r)' % (alpha,))
    if rule == 'per-exit' and (target is None or not 0 <= target <= 1):
        raise BranchyNetError('--rule per-exit needs --target, an accuracy '
                              'in [0, 1] (got %r)' % (target,))
