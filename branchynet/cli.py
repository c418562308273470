"""The ``branchynet`` command.

Every user mistake (unknown network, bad thresholds, missing data...) ends
with one line ``branchynet: error: ...`` and exit status 2.
"""
import argparse
import math
import os
import sys

from branchynet.errors import BranchyNetError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (not usage + error)."""

    def error(self, message):
        self.exit(2, '%s: error: %s\n' % (self.prog, message))


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('expected an integer, got %r'
                                         % text) from None
    if value <= 0:
        raise argparse.ArgumentTypeError('must be positive, got %d' % value)
    return value


def non_negative_int(text):
    value = int(text) if text.lstrip('-').isdigit() else None
    if value is None or value < 0:
        raise argparse.ArgumentTypeError('expected an integer >= 0, got %r'
                                         % text)
    return value


def threshold_list(text):
    """``0.025`` or ``0.0001,0.05`` -> tuple of floats >= 0, not NaN."""
    try:
        values = tuple(float(t) for t in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(
            'thresholds must be comma-separated numbers, got %r'
            % text) from None
    for t in values:
        if math.isnan(t) or t < 0:
            raise argparse.ArgumentTypeError(
                'thresholds must be >= 0 and not NaN, got %r' % text)
    return values


def _add_common(p):
    p.add_argument('--device', default='@numpy',
                   help='Chainer device specifier: @numpy (default), '
                        '@cupy:0, ...')
    p.add_argument('--data-dir', default='auto',
                   help="folder holding the data set's files "
                        "(default: the data root, datasets/data/<name>)")


def _add_runtime(p):
    p.add_argument('--runtime', choices=['chainer', 'onnxruntime'],
                   default='chainer',
                   help="inference engine: 'chainer' (default) or "
                        "'onnxruntime' (the model exported to ONNX in memory)")
    p.add_argument('--threads', type=positive_int, default=1,
                   help='ONNX Runtime intra-op threads (default 1)')


def cmd_train(args):
    from branchynet.training import train_experiment
    weights = args.exit_weights
    if weights not in ('code', 'paper'):
        try:
            weights = tuple(float(w) for w in weights.split(','))
        except ValueError:
            raise BranchyNetError("--exit-weights takes 'code', 'paper' or "
                                  "comma-separated numbers") from None
    out = args.out or '_models/%s' % args.network
    results = train_experiment(
        args.network, out, device=args.device, data_dir=args.data_dir,
        resume=args.resume, progress=not args.no_progress,
        epochs_main=args.epochs_main, epochs_joint=args.epochs_joint,
        batch_size=args.batch_size, recipe=args.recipe, lr=args.lr,
        seed=args.seed, betas=args.betas, exit_weights=weights,
        phase2=args.phase2, protocol=args.protocol, val_size=args.val_size,
        eval_every=args.eval_every, train_limit=args.train_limit,
        test_limit=args.test_limit)
    base, branchy = results['baseline'], results['branchynet']
    print('baseline test accuracy: %.2f%%'
          % (100 * base['test_accuracy_main']))
    print('B-network test accuracy per exit: %s' % ', '.join(
        'exit %d %.2f%%' % (k, 100 * a)
        for k, a in enumerate(branchy['test_accuracy_per_exit'], 1)))
    print('models saved in %s' % out)


def cmd_evaluate(args):
    from branchynet.evaluation import evaluate_saved
    evaluate_saved(args.model, args.thresholds, device=args.device,
                   data_dir=args.data_dir, batch_size=args.batch_size,
                   split=args.split, runtime=args.runtime,
                   threads=args.threads)


def cmd_sweep(args):
    from branchynet.measurement import measure_experiment
    from branchynet.report import (to_markdown, validation_markdown,
                                   write_table)
    out = args.out or os.path.join(
        'results', os.path.basename(os.path.normpath(args.model_dir)))
    summary = measure_experiment(
        args.model_dir, out, device=args.device, data_dir=args.data_dir,
        tune_on=args.tune_on, rule=args.rule, epsilon=args.epsilon,
        budget_ms=args.budget_ms, grid=args.grid,
        profile_samples=args.profile_samples,
        validate_samples=args.validate_samples, warmup=args.warmup,
        runtime=args.runtime, threads=args.threads)
    rows = write_table([summary], out)
    print(to_markdown(rows))
    if summary['validation']:
        print(validation_markdown(summary))
    print('thresholds tuned on the %s split; results in %s'
          % ('validation' if args.tune_on == 'val' else 'test', out))


def cmd_export(args):
    from branchynet.onnx_export import export_model_dir
    out = args.out or os.path.join(args.model_dir, 'onnx')
    sidecar = export_model_dir(args.model_dir, out)
    print('%s, %d exits, %d classes, input %s, opset %d:' % (
        sidecar['network'], sidecar['exits'], sidecar['classes'],
        'x'.join(map(str, sidecar['input_shape'])), sidecar['opset']))
    for name in sorted(sidecar['files']):
        print('  %s' % os.path.join(out, name))
    print('  %s (sidecar)' % os.path.join(out, 'export.json'))


def cmd_report(args):
    from branchynet.report import load_results, to_markdown, write_table
    from branchynet.figures import make_figures
    results = load_results(args.results)
    rows = write_table(results, args.results)
    print(to_markdown(rows))
    for path in make_figures(results, args.results, args.figs):
        print('wrote %s' % path)


def cmd_data(args):
    from branchynet.data.cifar10 import prepare_pcifar10
    path = prepare_pcifar10(data_dir=args.data_dir, cifar_dir=args.cifar_dir,
                            recipe=args.recipe, force=args.force)
    print('pcifar10 (%s recipe): %s' % (args.recipe, path))


def build_parser():
    from branchynet.experiments import EXPERIMENTS
    parser = _Parser(prog='branchynet', description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', parser_class=_Parser,
                                required=True)

    p = sub.add_parser('train', help='train the baseline, then the '
                       'BranchyNet (two phases)')
    p.add_argument('network', help='one of: %s' % ', '.join(EXPERIMENTS))
    p.add_argument('--out', help='output folder (default _models/NETWORK)')
    p.add_argument('--epochs-main', type=positive_int,
                   help='phase-1 epochs (default: the reference schedule)')
    p.add_argument('--epochs-joint', type=positive_int,
                   help='phase-2 epochs (default: the reference schedule)')
    p.add_argument('--batch-size', type=positive_int,
                   help='training batch size (default: the reference)')
    p.add_argument('--recipe', choices=['reference', 'modern'],
                   default='reference',
                   help="'reference' (Adam, the reference schedule) or "
                        "'modern' (CIFAR only: SGD, weight decay, lr drops, "
                        "crop and flip)")
    p.add_argument('--lr', type=float,
                   help="learning rate (Adam's alpha for the reference "
                        "recipe; default: the recipe's)")
    p.add_argument('--seed', type=non_negative_int, default=0,
                   help='random seed of initialisation, order, dropout and '
                        'augmentation (default 0)')
    p.add_argument('--betas', choices=['code', 'paper'], default='code',
                   help="Adam betas: 'code' (0.9, 0.999, the reference "
                        "code) or 'paper' (0.99, 0.999)")
    p.add_argument('--exit-weights', default='code',
                   help="'code' (all 1), 'paper' (1.0 ... 0.3) or numbers "
                        "like 1,0.3")
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
                   help='training samples held out to tune thresholds '
                        '(default 5000; 0 with --protocol reference)')
    p.add_argument('--eval-every', type=non_negative_int,
                   help='epochs between test-set passes during training '
                        '(default 1; 0: only after training)')
    p.add_argument('--train-limit', type=non_negative_int, default=0,
                   help='use only the first N training samples (0: all)')
    p.add_argument('--test-limit', type=non_negative_int, default=0,
                   help='use only the first N test samples (0: all)')
    p.add_argument('--resume', action='store_true',
                   help='continue an interrupted phase from its snapshot')
    p.add_argument('--no-progress', action='store_true',
                   help='no progress bar')
    _add_common(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser('evaluate', help='early-exit inference of a saved '
                       'model on the test set')
    p.add_argument('model', help='saved model (PREFIX, PREFIX.npz)')
    p.add_argument('--thresholds', '-t', type=threshold_list,
                   help='entropy thresholds, comma-separated, one per '
                        'non-final exit (omit for the main network alone)')
    p.add_argument('--batch-size', type=positive_int, default=1000,
                   help='batched early exit (1: the per-sample procedure)')
    p.add_argument('--split', choices=['test', 'val'], default='test')
    _add_common(p)
    _add_runtime(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser('sweep', help='measure a trained experiment: latency '
                       'profile, one-pass threshold sweep, validation')
    p.add_argument('model_dir', help='folder written by `branchynet train` '
                   '(holds baseline.* and branchynet.*)')
    p.add_argument('--out', help='results folder (default results/NAME)')
    p.add_argument('--tune-on', choices=['val', 'test'], default='val',
                   help='split the thresholds are chosen on (default: the '
                        'validation split held out of training; the paper '
                        'used the test set)')
    p.add_argument('--rule', choices=['knee', 'accuracy', 'budget'],
                   default='knee', help='how to choose the thresholds: the '
                   'knee of the frontier, the fastest within --epsilon of '
                   'the baseline accuracy, or the most accurate within '
                   '--budget-ms')
    p.add_argument('--epsilon', type=float, default=0.0,
                   help="accuracy allowance for --rule accuracy (fraction)")
    p.add_argument('--budget-ms', type=float,
                   help='latency budget for --rule budget (ms per sample)')
    p.add_argument('--grid', type=threshold_list,
                   help='threshold values, comma-separated (default: the '
                        "reference's grid for this network)")
    p.add_argument('--profile-samples', type=positive_int, default=200,
                   help='samples timed per exit path (default 200)')
    p.add_argument('--warmup', type=non_negative_int, default=20)
    p.add_argument('--validate-samples', type=non_negative_int, default=1000,
                   help='test samples run for real at batch size 1 per '
                        'validation point (0: skip validation)')
    p.add_argument('--quick', action='store_true',
                   help='few profiling and validation samples')
    _add_common(p)
    _add_runtime(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser('export', help='write a trained experiment as ONNX '
                       'graphs (one per segment, and the baseline)')
    p.add_argument('model_dir', help='folder written by `branchynet train`')
    p.add_argument('--out', help='output folder (default MODEL_DIR/onnx)')
    p.set_defaults(func=cmd_export)

    p = sub.add_parser('data', help='prepare a data set: pcifar10 from the '
                       'CIFAR-10 python batches')
    p.add_argument('dataset', choices=['pcifar10'])
    p.add_argument('--recipe', choices=['zca', 'gcn'], default='zca',
                   help="'zca' (ZCA whitening + per-image min-max, the "
                        "reference's cifar10.py) or 'gcn' (global contrast "
                        "normalisation)")
    p.add_argument('--force', action='store_true',
                   help='rebuild data.npz even when it exists')
    p.add_argument('--data-dir', default='auto',
                   help='folder for data.npz (default <data root>/pcifar10)')
    p.add_argument('--cifar-dir', default='auto',
                   help='folder holding cifar-10-python.tar.gz or '
                        'cifar-10-batches-py/ (default <data root>/cifar10)')
    p.set_defaults(func=cmd_data)

    p = sub.add_parser('report', help='Table I and figures from all sweep '
                       'results')
    p.add_argument('--results', default='results',
                   help='folder holding NAME/sweep.json (default results)')
    p.add_argument('--figs', default='_figs',
                   help='figure folder (default _figs)')
    p.set_defaults(func=cmd_report)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, 'quick', False):
        args.profile_samples = min(args.profile_samples, 30)
        args.warmup = min(args.warmup, 5)
        args.validate_samples = min(args.validate_samples, 200)
    from branchynet.device import tune_malloc
    tune_malloc()
    try:
        args.func(args)
    except BranchyNetError as e:
        print('branchynet: error: %s' % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('branchynet: interrupted', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
