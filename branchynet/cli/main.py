"""The ``branchynet`` command.

Exit status: 0 on success; 2 with one line ``branchynet: error: ...`` for
every user mistake (unknown network, bad thresholds, missing or corrupt data
or models, a full disk or another operating-system error); 130 with
``branchynet: interrupted`` on Ctrl-C (SIGINT) and 143 with
``branchynet: interrupted (SIGTERM)`` on SIGTERM (128 + the signal number,
what a shell reports for a process the signal killed). Work stops the same
way for both signals: finished outputs stay, atomic writes leave no
half-written file.
"""
import argparse
import errno
import math
import os
import signal
import sys
import threading

from branchynet.errors import BranchyNetError

DESCRIPTION = ('BranchyNet (Teerapittayanon et al., ICPR 2016) reproduced: '
               'train the baseline and the B-network, evaluate early exit, '
               'sweep the thresholds, report Table I and the figures.')
EXIT_ERROR, EXIT_SIGINT, EXIT_SIGTERM = 2, 130, 128 + signal.SIGTERM


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line ``branchynet: error: ...``
    (not usage + ``branchynet evaluate: error: ...``)."""

    def error(self, message):
        if message.endswith('expected one argument'):
            # argparse reads "-t -3,-2" as a missing value and an option
            message += " (a value starting with '-' goes after '=', as in " \
                "-t=-3,-2)"
        command = self.prog.partition(' ')[2]
        hint = ' (see branchynet %s--help)' % (command + ' ' if command
                                                else '')
        self.exit(EXIT_ERROR, 'branchynet: error: %s%s\n'
                  % (_one_line(message), hint))

    def exit(self, status=0, message=None):
        from branchynet.training.distributed import launcher_rank, silent_status
        if status and launcher_rank() != 0:
            message = None       # under mpiexec rank 0 alone says it
        super().exit(silent_status(status), message)


def _one_line(text):
    return ' '.join(str(text).split())


#: ONNX Runtime intra-op threads: a few per CPU at most (10000 threads
#: took gigabytes and ran for half an hour)
MAX_THREADS = 4 * (os.cpu_count() or 1)
#: bounds of the numeric options: beyond them a value is a typo, not a
#: setting (epochs, samples and sizes far past any real run)
MAX_EPOCHS, MAX_BATCH, MAX_SAMPLES = 10 ** 4, 2 ** 16, 10 ** 8
#: samples timed or run one by one per point (sweep), and quantiles per
#: threshold (compare: B-AlexNet sweeps their square)
MAX_TIMED, MAX_GRID_SIZE = 10 ** 6, 1000
#: the trade-off weight; the longest latency a budget may name (a day);
#: an exit's loss weight
MAX_ALPHA, MAX_MS, MAX_WEIGHT = 1e6, 86400e3, 1e3


def int_in(low, high):
    """An argparse type: an integer in ``[low, high]``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:       # also more than 4300 digits
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                'expected an integer in [%d, %d], got %.40r'
                % (low, high, text))
        return value
    return parse


def float_in(low, high, low_open=False):
    """An argparse type: a number in ``[low, high]`` (``(low, high]`` with
    ``low_open``); never NaN or infinite."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (low < value if low_open else low <= value) or \
                not value <= high:
            raise argparse.ArgumentTypeError(
                'expected a number in %s%g, %g], got %.40r'
                % ('(' if low_open else '[', low, high, text))
        return value
    return parse


positive_int = int_in(1, MAX_SAMPLES)
non_negative_int = int_in(0, MAX_SAMPLES)


#: the most values a threshold list (-t, --grid) may hold
MAX_GRID = 1000


def threshold_list(text):
    """``0.025`` or ``0.0001,0.05`` -> tuple of finite floats.

    Infinity (``inf``, or ``1e400``, which overflows to it) is refused: it
    would land in ``sweep.json`` as ``Infinity``, which is not JSON. The
    range depends on ``--score`` (energy thresholds are negative): checked
    once every option is parsed (:func:`_check_score_values`).
    """
    try:
        values = tuple(float(t) for t in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(
            'thresholds must be comma-separated numbers, got %.80r'
            % text) from None
    for t in values:
        if not math.isfinite(t):
            raise argparse.ArgumentTypeError(
                'thresholds must be finite numbers, got %.80r' % text)
    if len(values) > MAX_GRID:      # a grid is swept per exit: its power
        raise argparse.ArgumentTypeError(
            'at most %d thresholds, got %d' % (MAX_GRID, len(values)))
    return values


def _check_score_values(parser, args):
    """``-t`` and ``--grid`` in the range of ``--score`` (entropy >= 0,
    probabilities in [0, 1]), as a usage error of the command."""
    if getattr(args, 'score', None) is None:
        return
    from branchynet.exits.scores import get_score
    score = get_score(args.score)
    for option in ('thresholds', 'grid'):
        for t in getattr(args, option, None) or ():
            reason = score.bad_threshold(t)
            if reason:
                parser.exit(EXIT_ERROR, 'branchynet: error: %s (see '
                            'branchynet %s --help)\n'
                            % (reason, args.command))


def _add_score(p):
    from branchynet.exits.scores import SCORES
    p.add_argument('--score', choices=list(SCORES), default='entropy',
                   help="exit score: 'entropy' (the paper's, leave when "
                        "H < T), 'maxprob' (leave when max p > T), 'margin' "
                        "(top-1 minus top-2 probability > T) or 'energy' "
                        "(-logsumexp of the logits < T; negative thresholds "
                        "as -t=-7.5,-6)")


def _add_data_root(p):
    p.add_argument('--data-dir', default='auto', metavar='DATA_ROOT',
                   help='the data root, the folder holding mnist/, cifar10/ '
                        'and pcifar10/ (default: $BRANCHYNET_DATA_ROOT, else '
                        'datasets/data)')


def _add_common(p):
    p.add_argument('--device', default='@numpy',
                   help='Chainer device specifier: @numpy (default), '
                        '@cupy:0, ...')
    _add_data_root(p)


def _add_runtime(p):
    p.add_argument('--runtime', choices=['chainer', 'onnxruntime'],
                   default='chainer',
                   help="inference engine: 'chainer' (default) or "
                        "'onnxruntime' (the model exported to ONNX in memory)")
    p.add_argument('--threads', type=int_in(1, MAX_THREADS), default=1,
                   help='ONNX Runtime intra-op threads, 1 to %d (4 per '
                        'CPU; default 1)' % MAX_THREADS)


def cmd_train(args):
    from branchynet.data import resolve_dataset
    from branchynet.training.trainer import train_experiment
    weights = args.exit_weights
    if weights not in ('code', 'paper'):
        try:
            weights = tuple(map(float_in(0, MAX_WEIGHT), weights.split(',')))
        except argparse.ArgumentTypeError:
            raise BranchyNetError("--exit-weights: the exit weights are "
                                  "'code', 'paper' or comma-separated "
                                  "numbers in [0, %g], got %.60r"
                                  % (MAX_WEIGHT, weights)) from None
    out = args.out or '_models/%s' % args.network
    results = train_experiment(
        args.network, out, device=args.device, data_dir=args.data_dir,
        resume=args.resume, progress=not args.no_progress,
        allow_changed_settings=args.allow_changed_settings,
        epochs_main=args.epochs_main, epochs_joint=args.epochs_joint,
        batch_size=args.batch_size, recipe=args.recipe, lr=args.lr,
        schedule=args.schedule, seed=args.seed, betas=args.betas, exit_weights=weights,
        phase2=args.phase2, protocol=args.protocol, val_size=args.val_size,
        eval_every=args.eval_every, train_limit=args.train_limit,
        test_limit=args.test_limit, communicator=args.communicator,
        dataset=None if args.dataset is None else resolve_dataset(
            args.dataset))
    base, branchy = results['baseline'], results['branchynet']
    if base is None:                 # not rank 0 of an MPI job
        return
    after = results['baseline_after_joint']
    print('baseline test accuracy: %.2f%% after phase 1, %.2f%% after '
          'phase 2 (the reference\'s Table I baseline)'
          % (100 * base['test_accuracy_main'],
             100 * after['test_accuracy_main']))
    print('B-network test accuracy per exit: %s' % ', '.join(
        'exit %d %.2f%%' % (k, 100 * a)
        for k, a in enumerate(branchy['test_accuracy_per_exit'], 1)))
    if branchy.get('classes'):
        print('classes (label: name): %s' % ', '.join(
            '%d: %s' % (i, c) for i, c in enumerate(branchy['classes'])))
    print('models saved in %s' % out)


def add_train(sub):
    """The ``train`` sub-command's options."""
    from branchynet.experiments import EXPERIMENTS, SCHEDULES
    p = sub.add_parser('train', help='train the baseline, then the '
                       'BranchyNet (two phases)')
    p.add_argument('network', help='one of: %s' % ', '.join(EXPERIMENTS))
    p.add_argument('--out', help='output folder (default _models/NETWORK)')
    p.add_argument('--epochs-main', type=int_in(1, MAX_EPOCHS),
                   help='phase-1 epochs, 1 to %d (default: the reference '
                        'schedule)' % MAX_EPOCHS)
    p.add_argument('--epochs-joint', type=int_in(1, MAX_EPOCHS),
                   help='phase-2 epochs, 1 to %d (default: the reference '
                        'schedule)' % MAX_EPOCHS)
    p.add_argument('--batch-size', type=int_in(1, MAX_BATCH),
                   help='training batch size, 1 to %d (default: the '
                        'reference)' % MAX_BATCH)
    p.add_argument('--recipe', choices=['reference', 'modern'],
                   default='reference',
                   help="'reference' (Adam, the reference schedule) or "
                        "'modern' (CIFAR only: SGD, weight decay, lr drops, "
                        "crop and flip)")
    p.add_argument('--schedule', choices=SCHEDULES,
                   help="the reference recipe's epochs and batch size: "
                        "'notebook' (default: the reference's notebooks, "
                        "LeNet 100 + 100 epochs, ResNet batch 128) or "
                        "'script' (its experiment_*.py: LeNet 50 + 100, "
                        "ResNet batch 64); AlexNet is 50 + 100 at 512 in "
                        "both")
    p.add_argument('--lr', type=float_in(0, 10, low_open=True),
                   help="learning rate in (0, 10] (Adam's alpha for the "
                        "reference recipe; default: the recipe's)")
    p.add_argument('--seed', type=int_in(0, 2 ** 32 - 1), default=0,
                   help='random seed of initialisation, order, dropout and '
                        'augmentation, 0 to 2**32-1 (default 0)')
    p.add_argument('--betas', choices=['code', 'paper'], default='code',
                   help="Adam betas: 'code' (0.9, 0.999, the reference "
                        "code) or 'paper' (0.99, 0.999)")
    p.add_argument('--exit-weights', default='code',
                   help="'code' (all 1), 'paper' (1.0 ... 0.3) or numbers "
                        "in [0, %g] like 1,0.3" % MAX_WEIGHT)
    p.add_argument('--phase2', choices=['reference', 'warm'],
                   help="how phase 2 starts: 'reference' (exit heads from "
                        "their initial weights, main's optimizer carried "
                        "over, as the reference code) or 'warm' (final exit "
                        "from the phase-1 classifier, one fresh optimizer); "
                        "default: the recipe's")
    p.add_argument('--protocol', choices=['holdout', 'reference'],
                   default='holdout',
                   help="'holdout' (default: --val-size images held out to "
                        "tune thresholds) or 'reference' (all training "
                        "images, short last batch, test set only after "
                        "training; sweep then tunes on the test set, as the "
                        "paper did)")
    p.add_argument('--val-size', type=non_negative_int,
                   help='training samples held out to tune thresholds, 0 to '
                        '%d (default 5000; 0 with --protocol reference)'
                        % MAX_SAMPLES)
    p.add_argument('--eval-every', type=int_in(0, MAX_EPOCHS),
                   help='epochs between test-set passes during training, 0 '
                        'to %d (default 1; 0: only after training)'
                        % MAX_EPOCHS)
    p.add_argument('--dataset', metavar='npz:PATH|images:DIR',
                   help="your own data set instead of the experiment's: an "
                        ".npz with train_x, train_y, test_x, test_y (float32 "
                        "images (N, C, H, W) of the network's input shape, "
                        "integer labels in [0, classes)), or an image folder "
                        "DIR/{train,test}/CLASS/*.{png,jpg,jpeg,bmp} of the "
                        "network's image size (classes: the sorted folder "
                        "names; pixels scaled to [0, 1])")
    p.add_argument('--train-limit', type=non_negative_int, default=0,
                   help='use only the first N training samples, N up to %d '
                        '(0: all)' % MAX_SAMPLES)
    p.add_argument('--test-limit', type=non_negative_int, default=0,
                   help='use only the first N test samples, N up to %d '
                        '(0: all)' % MAX_SAMPLES)
    p.add_argument('--resume', action='store_true',
                   help='continue an interrupted phase from its snapshot '
                        '(with the settings the run started with)')
    p.add_argument('--communicator', choices=['naive', 'flat', 'pure_nccl'],
                   help='train data-parallel across the processes of an MPI '
                        'job (mpiexec -n N branchynet train ...) with this '
                        'ChainerMN communicator: naive or flat on CPUs, '
                        'pure_nccl on GPUs (one per process); --batch-size '
                        'stays the global batch')
    p.add_argument('--allow-changed-settings', action='store_true',
                   help='--resume even though the settings differ from '
                        "those the run started with (the saved models "
                        "record the new ones)")
    p.add_argument('--no-progress', action='store_true',
                   help='no progress bar')
    _add_common(p)
    p.set_defaults(func=cmd_train)



def cmd_evaluate(args):
    from branchynet.measurement.evaluation import evaluate_saved
    if args.ood is not None:
        from branchynet.measurement.ood import evaluate_ood
        evaluate_ood(args.model, args.ood, args.thresholds, args.score,
                     device=args.device, data_dir=args.data_dir,
                     runtime=args.runtime, threads=args.threads)
        return
    evaluate_saved(args.model, args.thresholds, device=args.device,
                   data_dir=args.data_dir, batch_size=args.batch_size,
                   split=args.split, runtime=args.runtime,
                   threads=args.threads, score=args.score)


def add_evaluate(sub):
    """The ``evaluate`` sub-command's options."""
    p = sub.add_parser('evaluate', help='early-exit inference of a saved '
                       'model on the test set')
    p.add_argument('model', help='saved model (PREFIX, PREFIX.npz)')
    p.add_argument('--thresholds', '-t', type=threshold_list,
                   help='thresholds of --score, comma-separated, one per '
                        'non-final exit (omit for the main network alone)')
    p.add_argument('--batch-size', type=int_in(1, MAX_BATCH), default=1000,
                   help='batched early exit, 1 to %d (1: the per-sample '
                        'procedure; default 1000)' % MAX_BATCH)
    p.add_argument('--split', choices=['test', 'val'], default='test')
    _add_score(p)
    p.add_argument('--ood', metavar='SOURCE',
                   help='out-of-distribution check instead: npz:PATH (key '
                        'x, images of the input shape) or a transform of '
                        'the test set (inverted, noise, rotated); every '
                        'score matched to the exit shares that -t gives on '
                        'in-distribution data, then how many OOD samples '
                        'leave early and how confident they were')
    _add_common(p)
    _add_runtime(p)
    p.set_defaults(func=cmd_evaluate)



def cmd_sweep(args):
    from branchynet.measurement.pipeline import measure_experiment
    from branchynet.report.table import (to_markdown, validation_markdown,
                                   write_table)
    out = args.out or os.path.join(
        'results', os.path.basename(os.path.normpath(args.model_dir)))
    summary = measure_experiment(
        args.model_dir, out, device=args.device, data_dir=args.data_dir,
        tune_on=args.tune_on, rule=args.rule, epsilon=args.epsilon,
        budget_ms=args.budget_ms, grid=args.grid,
        profile_samples=args.profile_samples,
        validate_samples=args.validate_samples, warmup=args.warmup,
        runtime=args.runtime, threads=args.threads, score=args.score,
        alpha=args.alpha, target=args.target)
    rows = write_table([summary], out)
    print(to_markdown(rows))
    if summary['validation']:
        print(validation_markdown(summary))
    print('%s thresholds tuned on the %s split; results in %s'
          % (summary['score'], 'validation' if summary['tuned_on'] == 'val'
             else 'test', out))


def add_sweep(sub):
    """The ``sweep`` sub-command's options."""
    p = sub.add_parser('sweep', help='measure a trained experiment: latency '
                       'profile, one-pass threshold sweep, validation')
    p.add_argument('model_dir', help='folder written by `branchynet train` '
                   '(holds baseline.* and branchynet.*)')
    p.add_argument('--out', help='results folder (default results/NAME)')
    p.add_argument('--tune-on', choices=['val', 'test'],
                   help='split the thresholds are chosen on (default: the '
                        'validation split held out of training; the test '
                        'set, as the paper did, for a model trained with '
                        '--protocol reference)')
    p.add_argument('--rule', choices=['knee', 'accuracy', 'budget',
                                      'tradeoff', 'per-exit'],
                   default='knee', help='how to choose the thresholds: the '
                   'knee of the frontier, the fastest within --epsilon of '
                   'the baseline accuracy, the most accurate within '
                   '--budget-ms, the least (1 - accuracy) + ALPHA x ms / '
                   'baseline ms, or per exit the loosest threshold whose '
                   'leavers reach --target')
    _add_score(p)
    p.add_argument('--alpha', type=float_in(0, MAX_ALPHA),
                   help='trade-off weight for --rule tradeoff, 0 to %g'
                        % MAX_ALPHA)
    p.add_argument('--target', type=float_in(0, 1),
                   help='accuracy of the samples leaving at each exit for '
                        '--rule per-exit (fraction in [0, 1], e.g. 0.99)')
    p.add_argument('--epsilon', type=float_in(0, 1), default=0.0,
                   help="accuracy allowance for --rule accuracy (fraction "
                        "in [0, 1])")
    p.add_argument('--budget-ms', type=float_in(0, MAX_MS, low_open=True),
                   help='latency budget for --rule budget (ms per sample, '
                        'in (0, %g])' % MAX_MS)
    p.add_argument('--grid', type=threshold_list,
                   help='threshold values, comma-separated (default: the '
                        "reference's grid for this network for entropy; for "
                        "the other scores their range, with quantiles of "
                        "the tuning split's scores inside it)")
    p.add_argument('--profile-samples', type=int_in(1, MAX_TIMED),
                   default=200, help='samples timed per exit path, 1 to %d '
                   '(default 200)' % MAX_TIMED)
    p.add_argument('--warmup', type=int_in(0, MAX_TIMED), default=20,
                   help='untimed runs before timing, 0 to %d (default 20)'
                        % MAX_TIMED)
    p.add_argument('--validate-samples', type=int_in(0, MAX_TIMED),
                   default=1000,
                   help='test samples run for real at batch size 1 per '
                        'validation point, 0 to %d (0: skip validation)'
                        % MAX_TIMED)
    p.add_argument('--quick', action='store_true',
                   help='few profiling and validation samples')
    _add_common(p)
    _add_runtime(p)
    p.set_defaults(func=cmd_sweep)



def cmd_compare(args):
    from branchynet.measurement.compare import run_compare
    results = args.results or os.path.join(
        'results', os.path.basename(os.path.normpath(args.model_dir)))
    _check_folder('--figs', args.figs)
    result, markdown, written = run_compare(
        args.model_dir, results, args.figs, alpha=args.alpha,
        target=args.target, grid_size=args.grid_size)
    print(markdown)
    print('compared %d scores x %d rules in %.2f s (the records pass it '
          'reused took %s s in the sweep)' % (
              len(result['frontiers']), 5, result['seconds'],
              '?' if result['records_seconds'] is None
              else '%.2f' % result['records_seconds']))
    for path in written:
        print('wrote %s' % path)


def add_compare(sub):
    """The ``compare`` sub-command's options."""
    p = sub.add_parser('compare', help='every exit score under every '
                       'rule, side by side, from the records `sweep` wrote '
                       '(no network runs)')
    p.add_argument('model_dir', help='folder written by `branchynet train`')
    p.add_argument('--results', help="the sweep's results folder (default "
                   'results/NAME, as `sweep` writes it)')
    p.add_argument('--figs', default='_figs',
                   help='figure folder (default _figs)')
    p.add_argument('--alpha', type=float_in(0, MAX_ALPHA), default=0.01,
                   help='trade-off weight of the tradeoff rule, 0 to %g '
                        '(default 0.01)' % MAX_ALPHA)
    p.add_argument('--target', type=float_in(0, 1),
                   help="per-exit accuracy of the per-exit rule, in [0, 1] "
                        "(default: the sweep's choice's accuracy on the "
                        "tuning split)")
    p.add_argument('--grid-size', type=int_in(1, MAX_GRID_SIZE), default=33,
                   help="quantiles of each score's grid per threshold, 1 "
                        "to %d (default 33)" % MAX_GRID_SIZE)
    p.set_defaults(func=cmd_compare)



def cmd_export(args):
    from branchynet.runtimes.onnx.export import export_model_dir
    out = args.out or os.path.join(args.model_dir, 'onnx')
    sidecar = export_model_dir(args.model_dir, out)
    print('%s, %d exits, %d classes, input %s, opset %d:' % (
        sidecar['network'], sidecar['exits'], sidecar['classes'],
        'x'.join(map(str, sidecar['input_shape'])), sidecar['opset']))
    for name in sorted(sidecar['files']):
        print('  %s' % os.path.join(out, name))
    print('  %s (sidecar)' % os.path.join(out, 'export.json'))


def add_export(sub):
    """The ``export`` sub-command's options."""
    p = sub.add_parser('export', help='write a trained experiment as ONNX '
                       'graphs (one per segment, and the baseline)')
    p.add_argument('model_dir', help='folder written by `branchynet train`')
    p.add_argument('--out', help='output folder (default MODEL_DIR/onnx)')
    p.set_defaults(func=cmd_export)



def _check_folder(option, path):
    """An output folder must be a folder (or not exist yet)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise BranchyNetError('%s %s is a file, not a folder' % (option, path))


def cmd_report(args):
    from branchynet.report.table import load_results, to_markdown, write_table
    from branchynet.report.figures import make_figures
    _check_folder('--results', args.results)
    _check_folder('--figs', args.figs)
    results = load_results(args.results)
    rows = write_table(results, args.results)
    print(to_markdown(rows))
    for path in make_figures(results, args.results, args.figs):
        print('wrote %s' % path)


def add_report(sub):
    """The ``report`` sub-command's options."""
    p = sub.add_parser('report', help='Table I and figures from all sweep '
                       'results')
    p.add_argument('--results', default='results',
                   help='folder holding NAME/sweep.json (default results)')
    p.add_argument('--figs', default='_figs',
                   help='figure folder (default _figs)')
    p.set_defaults(func=cmd_report)



def cmd_data(args):
    if args.dataset == 'mnist':
        from branchynet.data.download import dataset_dir
        from branchynet.data.mnist import get_mnist
        x_train, _, x_test, _ = get_mnist(args.data_dir)
        print('mnist: %d training and %d test images, checksums verified, '
              'in %s' % (len(x_train), len(x_test),
                         dataset_dir('mnist', args.data_dir)))
        return
    from branchynet.data.pcifar10 import prepare_pcifar10
    if args.from_images is not None and args.cifar_dir != 'auto':
        raise BranchyNetError('data pcifar10: --from-images and --cifar-dir '
                              'name two sources; give one')
    path = prepare_pcifar10(data_root=args.data_dir, cifar_dir=args.cifar_dir,
                            recipe=args.recipe, force=args.force,
                            images_dir=args.from_images)
    print('pcifar10 (%s recipe): %s' % (args.recipe, path))
    if args.from_images is not None:
        _print_classes(os.path.join(os.path.dirname(path), 'data.json'))


def add_data(sub):
    """The ``data`` sub-command's options."""
    p = sub.add_parser('data', help='prepare a data set: pcifar10 from the '
                       'CIFAR-10 python batches')
    p.add_argument('dataset', choices=['mnist', 'pcifar10'],
                   help='mnist: verify the four files, downloading the '
                        'missing ones; pcifar10: build data.npz')
    from branchynet.data.pcifar10 import RECIPES
    p.add_argument('--recipe', choices=RECIPES, default='zca',
                   help="'zca' (ZCA whitening + per-image min-max, the "
                        "reference's cifar10.py, fitted in float64), 'zca32' "
                        "(the same fitted in float32, as the reference did) "
                        "or 'gcn' (global contrast normalisation)")
    p.add_argument('--force', action='store_true',
                   help='rebuild data.npz even when it exists')
    _add_data_root(p)
    p.add_argument('--cifar-dir', default='auto',
                   help='folder holding cifar-10-python.tar.gz or '
                        'cifar-10-batches-py/ (default <data root>/cifar10)')
    p.add_argument('--from-images', metavar='DIR',
                   help='pcifar10: build it from an image folder '
                        'DIR/{train,test}/CLASS/*.{png,jpg,jpeg,bmp} (32x32, '
                        '10 classes, sorted folder names as labels) instead '
                        'of the CIFAR-10 batches; same recipe')
    p.set_defaults(func=cmd_data)


def _print_classes(path):
    """Print the class mapping recorded in ``data.json`` (images source)."""
    import json
    with open(path) as f:
        source = json.load(f).get('source', {})
    classes = source.get('classes') or []
    print('classes (label: folder): %s' % ', '.join(
        '%d: %s' % (i, c) for i, c in enumerate(classes)))
    counts = source.get('counts')
    if counts:
        print('images: %d train, %d test, from %s' % (
            counts['train'], counts['test'], source.get('path')))



def build_parser():
    """The ``branchynet`` parser: one sub-parser per command (``add_*``)."""
    parser = _Parser(prog='branchynet', description=DESCRIPTION)
    sub = parser.add_subparsers(dest='command', parser_class=_Parser,
                                required=True)
    for add in (add_train, add_evaluate, add_sweep, add_compare, add_export,
                add_data, add_report):
        add(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C raises
    ``KeyboardInterrupt``, so that both stop work the same way."""


def _sigterm_handler(main_pid):
    def handler(signum, frame):
        if os.getpid() != main_pid:      # a forked worker: die as before
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated()
    return handler


def describe_os_error(e):
    """One line for an operating-system error, with the file it concerns."""
    text = e.strerror or _one_line(e) or type(e).__name__
    names = [n for n in (e.filename, e.filename2) if n is not None]
    if names:
        text = '%s: %s' % (' -> '.join(map(str, names)), text)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        text += (' (the disk is full: free some space and run again; '
                 'finished outputs were kept, nothing was half-written)')
    return text


def _run(args):
    if getattr(args, 'device', None) is not None:
        from branchynet.utils.device import get_device
        get_device(args.device)          # validated before any work starts
    if args.func in (cmd_train, cmd_evaluate, cmd_sweep):
        # a process-wide allocator setting, for the commands that run the
        # networks on the CPU (see branchynet.utils.device)
        from branchynet.utils.device import tune_malloc
        tune_malloc()
    args.func(args)


def main(argv=None):
    """Run the command; returns the exit status (see the module docstring).
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = None
    if in_main_thread:
        previous = signal.signal(signal.SIGTERM,
                                 _sigterm_handler(os.getpid()))
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        _check_score_values(parser, args)
        if getattr(args, 'quick', False):
            args.profile_samples = min(args.profile_samples, 30)
            args.warmup = min(args.warmup, 5)
            args.validate_samples = min(args.validate_samples, 200)
        _run(args)
    except BranchyNetError as e:
        return _fail(_one_line(e), e)
    except OSError as e:
        return _fail(describe_os_error(e), e)
    except MemoryError as e:
        return _fail('out of memory (try a smaller --batch-size or fewer '
                     'samples)', e)
    except Terminated as e:
        return _fail('interrupted (SIGTERM)', e, EXIT_SIGTERM)
    except KeyboardInterrupt as e:
        return _fail('interrupted', e, EXIT_SIGINT)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _fail(message, error, status=EXIT_ERROR):
    """Print ``branchynet: [error: ]MESSAGE``; the exit status.

    Under MPI the line is printed once, or the job is aborted when only this
    rank failed (:func:`branchynet.training.distributed.error_exit`).
    """
    from branchynet.training.distributed import error_exit
    prefix = 'branchynet: ' if status != EXIT_ERROR else 'branchynet: error: '
    return error_exit(prefix + message, error, status)


if __name__ == '__main__':
    sys.exit(main())
