"""Measure a trained experiment: profile, one-pass sweep, choice, validation.

``measure_experiment`` is what ``branchynet sweep`` runs. For the models in
``MODEL_DIR`` (as written by training) it runs five stages, one function
each:

1. :func:`record`: every sample's entropy and prediction at every exit, in
   one batched pass, on the tuning split and the test set; the baselines'
   predictions;
2. :func:`profile`: the batch-1 latency of the baseline and of every exit
   path, and their multiply-adds;
3. :func:`sweep_and_choose`: the whole threshold grid evaluated from the
   records (no re-run), thresholds chosen on the tuning split (knee of the
   reference frontier by default) and reported on the test set;
4. :func:`validate`: real batch-1 early-exit inference for the baseline and
   a few sweep points (the choice among them), predicted vs measured
   accuracy, exit counts and time;
5. :func:`write`: ``sweep.json`` and ``records.npz``.

The tuning split is the validation split held out of training, or the test
set (as the paper did) for a model trained on every training image
(``--protocol reference``). Two baselines are measured: the main network
after phase 2 (``baseline_after_joint``: the phase-2 trunk with main's own
classifier, what the reference's Table I reports) and after phase 1.

Steps 1, 2 and 5 run on the chosen runtime (``runtime='onnxruntime'``:
the models exported in memory, see :mod:`branchynet.runtime`); the summary
records which, with its thread settings.

Results go to ``OUT/sweep.json`` and ``OUT/records.npz``.
"""
import os
import time

import numpy

from branchynet import sweep as sweep_lib
from branchynet.data.download import atomic_path, write_json_atomic
from branchynet.errors import BranchyNetError
from branchynet.evaluation import evaluation_split, predict, summarize
from branchynet.experiments import EXPERIMENTS
from branchynet.profiling import count_macs, profile_paths, robust_ms
from branchynet.runtime import as_runtime, make_runtime
from branchynet.serialization import load_model


def timed_predict(model, x, thresholds):
    """Batch-1 inference of ``x`` as the profiler times it, sample by sample.

    Returns:
        tuple: prediction, exit_index (numpy int32 ``(N,)``), the
        milliseconds per sample and the list of per-exit milliseconds
        (None for an exit no sample left at). Per exit: the trimmed mean of
        the samples that left there (as the profiler reports a path); per
        sample: those weighted by the fraction that left at each exit. (A
        trimmed mean over all samples would cut the rare slow paths, not
        just the interrupted samples.)
    """
    rt = as_runtime(model)
    times, outcomes = [], []
    for i in range(len(x)):
        x1 = rt.send(x[i:i + 1])
        rt.synchronize()
        start = time.perf_counter()
        outcomes.append(rt.run_one(x1, thresholds))
        rt.synchronize()
        times.append(time.perf_counter() - start)
    outcomes = numpy.array(outcomes, numpy.int32).reshape(-1, 2)
    times = 1000 * numpy.array(times)
    exit_index = outcomes[:, 1]
    counts = numpy.bincount(exit_index, minlength=rt.n_exits)
    exit_ms = [robust_ms(times[exit_index == k]) if n else None
               for k, n in enumerate(counts)]
    ms = sum(t * n for t, n in zip(exit_ms, counts) if n) / len(times)
    return outcomes[:, 0], exit_index, float(ms), exit_ms


def validate_point(model, x, y, thresholds, predicted):
    """Real batch-1 inference at one point, against its prediction.

    Args:
        thresholds (tuple or None): None runs the main network alone.
        predicted (dict): ``accuracy``, ``exit_counts`` and ``ms`` predicted
            from the records and the profile.

    Returns:
        dict: predicted and measured accuracy, exit counts and ms per
        sample, ``time_error`` (measured / predicted - 1) and
        ``exact_match`` (accuracy and exit counts identical).
    """
    p, e, measured_ms, measured_exit_ms = timed_predict(model, x, thresholds)
    measured = summarize(p, e, y, as_runtime(model).n_exits)
    return {
        'thresholds': None if thresholds is None else list(thresholds),
        'predicted_accuracy': predicted['accuracy'],
        'measured_accuracy': measured['accuracy'],
        'predicted_exit_counts': predicted['exit_counts'],
        'measured_exit_counts': measured['exit_counts'],
        'predicted_ms': predicted['ms'],
        'measured_ms': measured_ms,
        'measured_exit_ms': measured_exit_ms,
        'time_error': measured_ms / predicted['ms'] - 1,
        'exact_match': (predicted['accuracy'] == measured['accuracy'] and
                        predicted['exit_counts'] == measured['exit_counts']),
    }


def _grid_rows(grid_result):
    keys = ('thresholds', 'accuracy', 'exit_fractions', 'ms', 'trunk_ms')
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
        dict: ``records[split] = (entropies, predictions)``,
        ``baseline[name][split]`` accuracy, and the ``seconds`` taken.
    """
    print('recording entropies and predictions (one batched pass)...')
    start = time.perf_counter()
    records = {'test': model.exit_records(splits['test'][0])}
    records['tune'] = records['test'] if splits['tune'] is splits['test'] \
        else model.exit_records(splits['tune'][0])
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


def sweep_and_choose(records, labels, thresholds, paths, choice):
    """Stage 3: every threshold vector on both splits; the choice.

    Args:
        records (dict): split -> ``(entropies, predictions)``.
        labels (dict): split -> labels.
        thresholds (array): ``(V, K - 1)`` threshold vectors.
        paths (PathProfile): the latency profile.
        choice (dict): ``rule``, ``epsilon``, ``budget_ms`` and the tuning
            split's ``baseline_accuracy`` (see :func:`sweep.choose`).

    Returns:
        tuple: ``(results by split, chosen index, tuning frontier,
        seconds)``.
    """
    start = time.perf_counter()
    results = {}
    for split, (entropies, predictions) in records.items():
        r = sweep_lib.evaluate_thresholds(entropies, predictions,
                                          labels[split], thresholds,
                                          paths.exit_ms)
        r['trunk_ms'] = r['exit_fractions'] @ numpy.asarray(paths.trunk_ms)
        r['thresholds'] = thresholds
        results[split] = r
    chosen = sweep_lib.choose(results['tune']['ms'],
                              results['tune']['accuracy'], **choice)
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
             paths, baseline_accuracy, n):
    """Stage 4: real batch-1 runs of ``n`` test samples against the sweep.

    Args:
        baseline: the runtime of the baseline that Table I reports.
        test (tuple): the test split ``(x, y)``.
        points (dict): name -> index into ``thresholds``.
        baseline_accuracy (float): its predicted accuracy on the ``n``.
    """
    x, y = test[0][:n], test[1][:n]
    print('validating the baseline and %d sweep points against real '
          'batch-1 inference on %d test samples...' % (len(points), n))
    rows = [dict(validate_point(baseline, x, y, None, {
        'accuracy': baseline_accuracy,
        'exit_counts': [0] * (model.n_exits - 1) + [n],
        'ms': paths.baseline_ms}), point='baseline')]
    for name, index in points.items():
        t = tuple(thresholds[index])
        one = sweep_lib.evaluate_thresholds(
            test_records[0][:n], test_records[1][:n], y, [t], paths.exit_ms)
        rows.append(dict(validate_point(model, x, y, t, {
            'accuracy': float(one['accuracy'][0]),
            'exit_counts': one['exit_counts'][0].tolist(),
            'ms': float(one['ms'][0])}), point=name))
    return rows


def write(out, summary, records, labels):
    """Stage 5: ``OUT/records.npz`` and ``OUT/sweep.json`` (atomic)."""
    os.makedirs(out, exist_ok=True)
    with atomic_path(os.path.join(out, 'records.npz')) as tmp:
        numpy.savez_compressed(
            tmp, test_entropy=records['test'][0],
            test_prediction=records['test'][1], test_label=labels['test'],
            tune_entropy=records['tune'][0],
            tune_prediction=records['tune'][1], tune_label=labels['tune'])
    write_json_atomic(os.path.join(out, 'sweep.json'), summary)


def measure_experiment(model_dir, out, device='@numpy', data_dir='auto',
                       tune_on=None, rule='knee', epsilon=0.0,
                       budget_ms=None, grid=None, profile_samples=200,
                       validate_samples=1000, warmup=20, runtime='chainer',
                       threads=1):
    """Run the whole measurement of one trained experiment (see module doc).

    Args:
        model_dir (str): folder written by ``branchynet train``.
        out (str): results folder (``sweep.json``, ``records.npz``).
        device (str): Chainer device specifier.
        data_dir (str): the data root, ``'auto'`` for the default.
        tune_on (str or None): ``val`` (held out of training) or ``test``
            (as the paper did); None: ``val`` when the model has it.
        rule (str): ``knee``, ``accuracy`` or ``budget`` (see
            :func:`branchynet.sweep.choose`).
        grid (sequence of float): threshold values; default: the
            experiment's reference grid.
        profile_samples (int): samples timed per path.
        validate_samples (int): test samples run for real at batch size 1
            per validation point (0 skips validation).
        runtime (str): ``chainer`` or ``onnxruntime`` (records, profile and
            validation; multiply-adds are counted on the Chainer model).
        threads (int): ONNX Runtime intra-op threads.

    Returns:
        dict: what is written to ``sweep.json``.
    """
    model, chainer_model, info, baselines = load_models(
        model_dir, runtime, device, threads)
    tune_on = tuning_split(info, tune_on)
    experiment = EXPERIMENTS[info['settings']['experiment']]
    grid = sweep_lib.check_grid(experiment.grid if grid is None else grid)
    thresholds = sweep_lib.threshold_grid(grid, chainer_model.n_exits)
    splits = {'test': evaluation_split(info, 'test', data_dir)}
    splits['tune'] = splits['test'] if tune_on == 'test' else \
        evaluation_split(info, 'val', data_dir)
    labels = {split: y for split, (_, y) in splits.items()}

    recorded = record(model, baselines, splits)
    paths, macs, profile_s = profile(model, chainer_model, splits['test'][0],
                                     profile_samples, warmup)
    main_name, main_description, main_baseline, _ = baselines[0]
    base_acc = recorded['baseline'][main_name]
    results, chosen, frontier, sweep_s = sweep_and_choose(
        recorded['records'], labels, thresholds, paths,
        dict(rule=rule, baseline_accuracy=base_acc['tune'], epsilon=epsilon,
             budget_ms=budget_ms))
    validation = []
    if validate_samples:
        n = min(validate_samples, len(labels['test']))
        base_pred = predict(main_baseline, splits['test'][0][:n])[0]
        validation = validate(
            model, main_baseline, splits['test'], recorded['records']['test'],
            thresholds, validation_points(results['test']['ms'], chosen),
            paths, float((base_pred == labels['test'][:n]).mean()), n)

    summary = {
        'experiment': experiment.name,
        'network': info['network'],
        'model_dir': model_dir,
        'device': model.device,
        'runtime': model.name,
        'runtime_settings': model.settings,
        'tuned_on': tune_on,
        'rule': rule,
        'grid': list(grid),
        'n_test': int(len(labels['test'])),
        'n_tune': int(len(labels['tune'])),
        'baseline': {
            'model': main_name, 'definition': main_description,
            'test_accuracy': base_acc['test'],
            'tune_accuracy': base_acc['tune'],
            'ms': paths.baseline_ms,
        },
        'baselines': [
            {'model': name, 'definition': description,
             'test_accuracy': recorded['baseline'][name]['test'],
             'tune_accuracy': recorded['baseline'][name]['tune']}
            for name, description, _, _ in baselines],
        'profile': paths.to_dict(),
        'macs': macs,
        'chosen_index': chosen,
        'frontier_tune': frontier.tolist(),
        'sweep_tune': _grid_rows(results['tune']),
        'sweep_test': _grid_rows(results['test']),
        'validation': validation,
        'seconds': {'records': recorded['seconds'], 'profile': profile_s,
                    'sweep': sweep_s},
        'training': {name: base_info for name, _, _, base_info in baselines},
    }
    summary['training']['branchynet'] = info
    write(out, summary, recorded['records'], labels)
    return summary
