"""Measure a trained experiment: profile, one-pass sweep, choice, validation.

``measure_experiment`` is what ``branchynet sweep`` runs. For the models in
``MODEL_DIR`` (``baseline`` and ``branchynet``, as written by training) it

1. records every sample's entropy and prediction at every exit, in one
   batched pass, on the tuning split (validation by default) and the test
   set;
2. profiles the batch-1 latency of the baseline and of every exit path;
3. evaluates the whole threshold grid from those records (no re-run);
4. chooses thresholds on the tuning split (knee of the reference frontier by
   default) and reports them on the test set;
5. validates against reality: real batch-1 early-exit inference for the
   baseline and a few sweep points (the choice among them), predicted vs
   measured accuracy, exit counts and time.

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


def measure_experiment(model_dir, out, device='@numpy', data_dir='auto',
                       tune_on='val', rule='knee', epsilon=0.0,
                       budget_ms=None, grid=None, profile_samples=200,
                       validate_samples=1000, warmup=20, runtime='chainer',
                       threads=1):
    """Run the whole measurement of one trained experiment (see module doc).

    Args:
        model_dir (str): folder with ``baseline.*`` and ``branchynet.*``.
        out (str): results folder (``sweep.json``, ``records.npz``).
        device (str): Chainer device specifier.
        data_dir (str): data folder, ``'auto'`` for the data root.
        tune_on (str): ``val`` (held out of training) or ``test`` (as the
            paper did).
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
    if tune_on not in ('val', 'test'):
        raise BranchyNetError("tune_on must be 'val' or 'test'")
    baseline, base_info = load_model(os.path.join(model_dir, 'baseline'))
    chainer_model, info = load_model(os.path.join(model_dir, 'branchynet'))
    experiment = EXPERIMENTS[info['settings']['experiment']]
    grid = sweep_lib.check_grid(experiment.grid if grid is None else grid)
    thresholds = sweep_lib.threshold_grid(grid, chainer_model.n_exits)
    baseline = make_runtime(baseline, base_info['network'], runtime, device,
                            threads, main_only=True)
    model = make_runtime(chainer_model, info['network'], runtime, device,
                         threads)

    x_test, y_test = evaluation_split(info, 'test', data_dir)
    x_tune, y_tune = (x_test, y_test) if tune_on == 'test' else \
        evaluation_split(info, 'val', data_dir)
    print('recording entropies and predictions (one batched pass)...')
    start = time.perf_counter()
    test_records = model.exit_records(x_test)
    tune_records = test_records if tune_on == 'test' else \
        model.exit_records(x_tune)
    base_pred = {name: predict(baseline, xs)[0] for name, xs in
                 (('test', x_test), ('tune', x_tune))}
    records_s = time.perf_counter() - start

    print('profiling batch-1 latency (%d samples per path)...'
          % profile_samples)
    start = time.perf_counter()
    # the baseline's architecture is the BranchyNet's main path, so one
    # profile gives both (profile.baseline_ms)
    profile = profile_paths(model, x_test, profile_samples, warmup)
    profile_s = time.perf_counter() - start
    macs = count_macs(chainer_model,
                      chainer_model.device.send(x_test[:1]))

    start = time.perf_counter()
    results = {}
    for split, (entropies, predictions), labels in (
            ('tune', tune_records, y_tune), ('test', test_records, y_test)):
        r = sweep_lib.evaluate_thresholds(entropies, predictions, labels,
                                          thresholds, profile.exit_ms)
        r['trunk_ms'] = r['exit_fractions'] @ numpy.asarray(profile.trunk_ms)
        r['thresholds'] = thresholds
        results[split] = r
    tune_base_acc = float((base_pred['tune'] == y_tune).mean())
    chosen = sweep_lib.choose(results['tune']['ms'],
                              results['tune']['accuracy'], rule,
                              baseline_accuracy=tune_base_acc,
                              epsilon=epsilon, budget_ms=budget_ms)
    frontier = sweep_lib.reference_frontier(results['tune']['ms'],
                                            results['tune']['accuracy'])
    sweep_s = time.perf_counter() - start
    print('swept %d threshold vectors in %.3f s' % (len(thresholds), sweep_s))

    validation = []
    if validate_samples:
        n = min(validate_samples, len(y_test))
        # the chosen point plus the fastest and slowest vectors of the grid
        # and the one whose predicted time is nearest the middle of the two
        ms = results['test']['ms']
        points = {'chosen': chosen, 'fastest': int(numpy.argmin(ms)),
                  'middle': int(numpy.argmin(abs(ms - (ms.min() + ms.max())
                                                 / 2))),
                  'slowest': int(numpy.argmax(ms))}
        print('validating the baseline and %d sweep points against real '
              'batch-1 inference on %d test samples...' % (len(points), n))
        x_n, y_n = x_test[:n], y_test[:n]
        row = validate_point(baseline, x_n, y_n, None, {
            'accuracy': float((base_pred['test'][:n] == y_n).mean()),
            'exit_counts': [0] * (model.n_exits - 1) + [n],
            'ms': profile.baseline_ms})
        validation.append(dict(row, point='baseline'))
        for name, index in points.items():
            t = tuple(thresholds[index])
            one = sweep_lib.evaluate_thresholds(
                test_records[0][:n], test_records[1][:n], y_n, [t],
                profile.exit_ms)
            row = validate_point(model, x_n, y_n, t, {
                'accuracy': float(one['accuracy'][0]),
                'exit_counts': one['exit_counts'][0].tolist(),
                'ms': float(one['ms'][0])})
            validation.append(dict(row, point=name))

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
        'n_test': int(len(y_test)),
        'n_tune': int(len(y_tune)),
        'baseline': {
            'test_accuracy': float((base_pred['test'] == y_test).mean()),
            'tune_accuracy': tune_base_acc,
            'ms': profile.baseline_ms,
        },
        'profile': profile.to_dict(),
        'macs': macs,
        'chosen_index': chosen,
        'frontier_tune': frontier.tolist(),
        'sweep_tune': _grid_rows(results['tune']),
        'sweep_test': _grid_rows(results['test']),
        'validation': validation,
        'seconds': {'records': records_s, 'profile': profile_s,
                    'sweep': sweep_s},
        'training': {'baseline': base_info, 'branchynet': info},
    }
    os.makedirs(out, exist_ok=True)
    with atomic_path(os.path.join(out, 'records.npz')) as tmp:
        numpy.savez_compressed(
            tmp, test_entropy=test_records[0], test_prediction=test_records[1],
            test_label=y_test, tune_entropy=tune_records[0],
            tune_prediction=tune_records[1], tune_label=y_tune)
    write_json_atomic(os.path.join(out, 'sweep.json'), summary)
    return summary
