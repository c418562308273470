"""``branchynet sweep``: profile, sweep the thresholds, validate."""
from branchynet.cli.args import (MAX_MS, MAX_TIMED, add_common, add_model_dir,
                                 add_rule_settings, add_runtime, add_score,
                                 add_user_network, default_results, float_in,
                                 int_in, threshold_list, words)

NAME = 'sweep'
#: the model argument (a user network's code is run for it first)
MODEL_ARG = 'model_dir'
#: runs the networks on the CPU (see :func:`branchynet.cli.main._run`)
RUNS_NETWORKS = True


def add_parser(subparsers):
    """The ``sweep`` sub-command's options."""
    p = subparsers.add_parser(NAME, help='measure a trained experiment: '
                              'latency profile, one-pass threshold sweep, '
                              'validation')
    add_model_dir(p, 'holds baseline.* and branchynet.*')
    p.add_argument('--out', help='results folder (default results/NAME)')
    _add_rule(p)
    _add_samples(p)
    add_common(p)
    add_runtime(p)
    add_user_network(p)
    return p


def _add_rule(p):
    """Where and how the thresholds are chosen: split, rule, score, grid."""
    from branchynet.measurement.rules import REGISTRY, RULES
    # the splits are named in branchynet.measurement.pipeline.tuning_split
    # (no constant)
    p.add_argument('--tune-on', choices=['val', 'test'],
                   help='split the thresholds are chosen on (default: the '
                        'validation split held out of training; the test '
                        'set, as the paper did, for a model trained with '
                        '--protocol reference)')
    p.add_argument('--rule', choices=list(RULES), default='knee',
                   help='how to choose the thresholds: ' + words(
                       [REGISTRY[rule].help or "'%s'" % rule for rule in RULES],
                       oxford=True))
    add_score(p)
    add_rule_settings(p)
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


#: samples timed per exit path, untimed runs before, samples validated
#: (the defaults; ``recheck`` sweeps with them too)
SAMPLES = {'profile_samples': 200, 'warmup': 20, 'validate_samples': 1000}


def _add_samples(p):
    """How many samples are timed and validated."""
    p.add_argument('--profile-samples', type=int_in(1, MAX_TIMED),
                   default=SAMPLES['profile_samples'],
                   help='samples timed per exit path, 1 to %d (default %d)'
                   % (MAX_TIMED, SAMPLES['profile_samples']))
    p.add_argument('--warmup', type=int_in(0, MAX_TIMED),
                   default=SAMPLES['warmup'],
                   help='untimed runs before timing, 0 to %d (default %d)'
                        % (MAX_TIMED, SAMPLES['warmup']))
    p.add_argument('--validate-samples', type=int_in(0, MAX_TIMED),
                   default=SAMPLES['validate_samples'],
                   help='test samples run for real at batch size 1 per '
                        'validation point, 0 to %d (0: skip validation)'
                        % MAX_TIMED)
    add_quick(p)


def add_quick(p, note=None):
    """``--quick`` (:func:`apply_quick`), in ``sweep`` and ``recheck``
    (``note``: what the command adds about it, in parentheses)."""
    p.add_argument('--quick', action='store_true',
                   help='few profiling and validation samples%s'
                        % ('' if note is None else ' (%s)' % note))


def apply_quick(args):
    """``--quick``: at most 30 timed, 5 warm-up and 200 validated samples."""
    if args.quick:
        args.profile_samples = min(args.profile_samples, 30)
        args.warmup = min(args.warmup, 5)
        args.validate_samples = min(args.validate_samples, 200)


def run(args):
    from branchynet.measurement.pipeline import measure_experiment
    from branchynet.report.table import (to_markdown, validation_markdown,
                                         write_table)
    apply_quick(args)
    out = args.out or default_results(args.model_dir)
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
