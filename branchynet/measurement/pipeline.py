"""Measure a trained experiment: profile, one-pass sweep, choice, validation.

``measure_experiment`` is what ``branchynet sweep`` runs. For the models in
``MODEL_DIR`` (as written by training) it runs five stages, one function
each (stages 2 to 4 together: :func:`measure`):

1. :func:`record`: every sample's logits and entropy at every exit
   (:class:`~branchynet.exits.records.Records`), in one batched pass, on the
   tuning split and the test set; the baselines' predictions;
2. :func:`profile`: the batch-1 latency of the baseline and of every exit
   path, and their multiply-adds;
3. :func:`sweep_and_choose`: the whole threshold grid of the exit score
   (entropy, the paper's, by default; :mod:`branchynet.exits.scores`) evaluated
   from the records (no re-run), thresholds chosen on the tuning split
   (knee of the reference frontier by default; or by accuracy, budget,
   trade-off weight, or per exit to a target accuracy:
   :mod:`branchynet.measurement.rules`) and reported on the test set;
4. :func:`~branchynet.measurement.validation.validate`: real batch-1
   early-exit inference for the baseline and a few sweep points (the choice
   among them), predicted vs measured accuracy, exit counts and time;
5. :func:`write`: ``sweep.json`` and ``records.npz``.

The tuning split is the validation split held out of training, or the test
set (as the paper did) for a model trained on every training image
(``--protocol reference``). Two baselines are measured: the main network
after phase 2 (``baseline_after_joint``: the phase-2 trunk with main's own
classifier, what the reference's Table I reports) and after phase 1.

Steps 1, 2 and 4 run on the chosen runtime (``runtime='onnxruntime'``:
the models exported in memory, see :mod:`branchynet.runtimes.runtime`); the
summary records which, with its thread settings.

Results go to ``OUT/sweep.json`` and ``OUT/records.npz``. ``sweep.json``
also says what the data were (``data``: the data set, what its copy was
built from, each split's sha256), for ``branchynet recheck``.
"""
import os
import time

import numpy

from branchynet.measurement import sweep as sweep_lib
from branchynet.utils.atomic import write_json_atomic
from branchynet.errors import BranchyNetError
from branchynet.measurement.evaluation import (evaluated_data,
                                               evaluation_split, predict)
from branchynet.experiments import get_experiment, load_trained
from branchynet.exits.inference import score_of
from branchynet.exits.records import Records, save_records
from branchynet.measurement.profiling import count_macs, profile_paths
from branchynet.measurement.rules import (check_rule, get_rule,
                                         reference_frontier, settings_of)
from branchynet.measurement.validation import validate, validation_points
from branchynet.runtimes import make_runtime


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
    chainer_model, info = load_trained(os.path.join(model_dir, 'branchynet'))
    model = make_runtime(chainer_model, info['network'], runtime, device,
                         threads)
    baselines = []
    for name, description in BASELINES:
        prefix = os.path.join(model_dir, name)
        if not os.path.exists(prefix + '.json'):
            continue
        base, base_info = load_trained(prefix)
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
        choice (dict): ``rule`` (a name of
            :data:`branchynet.measurement.rules.REGISTRY`) and its settings:
            ``epsilon``, ``budget_ms``, ``alpha``, ``baseline_ms``, the
            tuning split's ``baseline_accuracy``, ``target``. A rule that
            makes its own vector (``per-exit``) has it appended to the grid
            and chosen.
        score (str): the exit score.

    Returns:
        tuple: ``(results by split, chosen index, tuning frontier,
        seconds)``; ``results[split]['thresholds']`` is the grid swept.
    """
    start = time.perf_counter()
    settings = dict(choice)
    rule = get_rule(settings.pop('rule'))
    settings = settings_of(**settings)
    own = rule.own_thresholds(records['tune'], labels['tune'], score,
                              settings)
    if own is not None:
        thresholds = numpy.vstack([thresholds, [own]])
    results = {split: _sweep_split(r, labels[split], thresholds, paths, score)
               for split, r in records.items()}
    chosen = len(thresholds) - 1 if own is not None else rule.choose(
        results['tune']['ms'], results['tune']['accuracy'], settings)
    frontier = reference_frontier(results['tune']['ms'],
                                            results['tune']['accuracy'])
    seconds = time.perf_counter() - start
    print('swept %d threshold vectors in %.3f s' % (len(thresholds), seconds))
    return results, chosen, frontier, seconds


def _sweep_split(records, labels, thresholds, paths, score):
    """Every vector on one split: accuracy, exit fractions, both
    accountings of the time (and their plain means when profiled)."""
    r = sweep_lib.evaluate_thresholds(records.scores(score),
                                      records.prediction, labels, thresholds,
                                      paths.exit_ms, score=score)
    r['trunk_ms'] = r['exit_fractions'] @ numpy.asarray(paths.trunk_ms)
    if paths.exit_ms_mean is not None:     # the reference's statistic
        r['ms_mean'] = r['exit_fractions'] @ numpy.asarray(
            paths.exit_ms_mean)
        r['trunk_ms_mean'] = r['exit_fractions'] @ numpy.asarray(
            paths.trunk_ms_mean)
    r['thresholds'] = thresholds
    return r



def write(out, summary, records):
    """Stage 5: ``OUT/records.npz``
    (:func:`~branchynet.exits.records.save_records`) and ``OUT/sweep.json``
    (atomic)."""
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
            :mod:`branchynet.measurement.rules`.
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
    check_rule(rule, epsilon, alpha=alpha, target=target, budget_ms=budget_ms)
    loaded, tune_on, experiment, grid = prepare(
        model_dir, runtime, device, threads, tune_on, score, grid)
    model, _, info, baselines = loaded
    splits = load_splits(info, tune_on, data_dir)
    data = evaluated_data(info, splits, data_dir)     # as loaded
    recorded = record(model, baselines, splits)
    if grid is None:
        grid = default_grid(score, recorded['records']['tune'])
    measured = measure(loaded, splits, recorded, grid, score, dict(
        rule=rule, epsilon=epsilon, budget_ms=budget_ms, alpha=alpha,
        target=target), (profile_samples, warmup, validate_samples))
    summary = summarise(
        model, info, baselines, recorded,
        dict(experiment=experiment.name, model_dir=model_dir,
             result_dir=os.path.basename(os.path.normpath(out)),
             tuned_on=tune_on, score=score, rule=rule, alpha=alpha,
             target=target, grid=list(grid),
             data=data), measured)
    write(out, summary, recorded['records'])
    return summary


def prepare(model_dir, runtime, device, threads, tune_on, score, grid):
    """The checked grid, the models, the tuning split and the experiment.

    Returns:
        tuple: ``(what load_models returns, tune_on, experiment, grid)``;
        ``grid`` None for a score without a reference grid
        (:func:`default_grid`, once the tuning split is recorded).
    """
    if grid is not None:
        grid = sweep_lib.check_grid(grid, score)
    loaded = load_models(model_dir, runtime, device, threads)
    info = loaded[2]
    tune_on = tuning_split(info, tune_on)
    experiment = get_experiment(info['settings']['experiment'])
    if grid is None and score == 'entropy':
        grid = sweep_lib.check_grid(experiment.grid)
    return loaded, tune_on, experiment, grid


def default_grid(score, tune_records):
    """The grid of a score without a reference grid: its range, with
    quantiles of the tuning split's scores inside it."""
    return sweep_lib.score_grid(score, tune_records.scores(score)[:, :-1],
                                tune_records.n_classes)


def measure(loaded, splits, recorded, grid, score, choice, samples):
    """Stages 2 to 4: profile, sweep and choose, validate.

    Args:
        loaded (tuple): what :func:`load_models` returns.
        splits (dict): ``test`` and ``tune`` as ``(x, y)``.
        recorded (dict): what :func:`record` returns.
        grid (tuple of float): the threshold values.
        choice (dict): ``rule`` and its settings, as the command gave them.
        samples (tuple): ``(profile_samples, warmup, validate_samples)``.

    Returns:
        dict: the ``measured`` part of :func:`summarise`.
    """
    model, chainer_model, _, baselines = loaded
    profile_samples, warmup, validate_samples = samples
    labels = {split: y for split, (_, y) in splits.items()}
    thresholds = sweep_lib.threshold_grid(grid, chainer_model.n_exits, score)
    paths, macs, profile_s = profile(model, chainer_model, splits['test'][0],
                                     profile_samples, warmup)
    main_name, _, main_baseline, _ = baselines[0]
    results, chosen, frontier, sweep_s = sweep_and_choose(
        recorded['records'], labels, thresholds, paths,
        dict(choice, baseline_ms=paths.baseline_ms,
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
    return dict(paths=paths, macs=macs, chosen=chosen, frontier=frontier,
                results=results, validation=validation,
                seconds={'records': recorded['seconds'], 'profile': profile_s,
                         'sweep': sweep_s})



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
            ``alpha``, ``target``, ``grid``, ``data`` (what the data were:
            :func:`~branchynet.measurement.evaluation.evaluated_data`).
        measured (dict): ``paths`` (the profile), ``macs``, ``chosen``,
            ``frontier``, ``results`` by split, ``validation``,
            ``seconds`` by stage.
    """
    main_name, main_description, _, _ = baselines[0]
    base_acc = recorded['baseline'][main_name]
    results = measured['results']
    from branchynet.networks.user import display_of
    summary = dict(run, network=info['network'], device=model.device,
                   runtime=model.name, runtime_settings=model.settings,
                   n_test=len(recorded['records']['test']),
                   n_tune=len(recorded['records']['tune']),
                   **display_of(info['network']))
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

