"""``branchynet evaluate``: early-exit inference of a saved model."""
from branchynet.cli.args import (MAX_BATCH, add_common, add_runtime, add_score,
                                 add_user_network, int_in, threshold_list)

NAME = 'evaluate'
#: the model argument (a user network's code is run for it first)
MODEL_ARG = 'model'
#: runs the networks on the CPU (see :func:`branchynet.cli.main._run`)
RUNS_NETWORKS = True


def add_parser(subparsers):
    """The ``evaluate`` sub-command's options."""
    from branchynet.measurement.ood import TRANSFORMS
    p = subparsers.add_parser(NAME, help='early-exit inference of a saved '
                              'model on the test set')
    p.add_argument('model', help='saved model (PREFIX, PREFIX.npz)')
    p.add_argument('--thresholds', '-t', type=threshold_list,
                   help='thresholds of --score, comma-separated, one per '
                        'non-final exit (omit for the main network alone)')
    p.add_argument('--batch-size', type=int_in(1, MAX_BATCH), default=1000,
                   help='batched early exit, 1 to %d (1: the per-sample '
                        'procedure; default 1000)' % MAX_BATCH)
    # the splits are named in branchynet.data.load_splits (no constant)
    p.add_argument('--split', choices=['test', 'val'], default='test')
    add_score(p)
    p.add_argument('--ood', metavar='SOURCE',
                   help='out-of-distribution check instead: npz:PATH (key '
                        'x, images of the input shape) or a transform of '
                        'the test set (%s); every score matched to the exit '
                        'shares that -t gives on in-distribution data, then '
                        'how many OOD samples leave early and how confident '
                        'they were' % ', '.join(TRANSFORMS))
    add_common(p)
    add_runtime(p)
    add_user_network(p)
    return p


def run(args):
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
