"""The ``branchynet`` command.

Every user mistake (unknown network, bad thresholds, missing data...) ends
with one line ``branchynet: error: ...`` and exit status 2.
"""
import argparse
import math
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
        batch_size=args.batch_size, seed=args.seed, betas=args.betas,
        exit_weights=weights, val_size=args.val_size,
        train_limit=args.train_limit, test_limit=args.test_limit)
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
                   split=args.split)


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
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--betas', choices=['code', 'paper'], default='code',
                   help="Adam betas: 'code' (0.9, 0.999, the reference "
                        "code) or 'paper' (0.99, 0.999)")
    p.add_argument('--exit-weights', default='code',
                   help="'code' (all 1), 'paper' (1.0 ... 0.3) or numbers "
                        "like 1,0.3")
    p.add_argument('--val-size', type=non_negative_int, default=5000,
                   help='training samples held out to tune thresholds '
                        '(0 trains on all, as the reference)')
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
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from branchynet.cpu import tune_malloc
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
