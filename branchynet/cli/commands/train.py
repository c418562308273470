"""``branchynet train``: the baseline, then the B-network (two phases)."""
import argparse

from branchynet.cli.args import (MAX_BATCH, MAX_EPOCHS, MAX_SAMPLES,
                                 MAX_WEIGHT, add_common, float_in, int_in,
                                 non_negative_int, one_of, words)
from branchynet.errors import BranchyNetError

NAME = 'train'
#: runs the networks on the CPU (see :func:`branchynet.cli.main._run`)
RUNS_NETWORKS = True


def add_parser(subparsers):
    """The ``train`` sub-command's options."""
    from branchynet.experiments import EXPERIMENTS
    p = subparsers.add_parser(NAME, help='train the baseline, then the '
                              'BranchyNet (two phases)')
    p.add_argument('network', nargs='?', help='one of: %s (or --network)'
                   % ', '.join(EXPERIMENTS))
    # the network to train (a file, or an experiment as NETWORK): not the
    # trained model's network code of the other commands (dest
    # network_code, which main._run installs)
    p.add_argument('--network', dest='own_network',
                   metavar='FILE.py:FUNCTION',
                   help='your own network instead: FUNCTION(n_classes=, '
                        'in_shape=) in FILE.py (or package.module:FUNCTION) '
                        'returns a branchynet.BranchyNet; needs --dataset; '
                        'the file is recorded (sha256) and copied to '
                        'OUT/network.py; an experiment name here is the '
                        'same as the positional one')
    p.add_argument('--from-trained', metavar='MODEL',
                   help="start from a trained network instead of phase 1: "
                        "the stages and the final exit from MODEL (a folder "
                        "of `branchynet train`, whose baseline.npz is used, "
                        "or a saved model PREFIX.npz with matching shapes); "
                        "it is the baseline, and phase 2 trains the exits")
    p.add_argument('--freeze-trunk', action='store_true',
                   help='with --from-trained: phase 2 trains the exit heads '
                        'only; the stages and the final exit stay bit for '
                        'bit as loaded')
    p.add_argument('--out', help='output folder (default _models/NETWORK)')
    _add_schedule(p)
    _add_optimization(p)
    _add_splits(p)
    _add_run_control(p)
    add_common(p)
    return p


#: the recipes' descriptions, for ``--recipe``'s help (a
#: :class:`~branchynet.experiments.Recipe` has none; which experiments have
#: each comes from the experiments)
RECIPE_HELP = {
    'reference': 'Adam, the reference schedule',
    'modern': 'SGD, weight decay, lr drops, crop and flip',
}
#: the reference recipe's schedules, for ``--schedule``'s help (their
#: epochs and batch sizes come from each experiment)
SCHEDULE_HELP = {
    'notebook': "the reference's notebooks",
    'script': 'its experiment_*.py',
}


def _builtin_experiments():
    from branchynet.experiments import EXPERIMENTS
    return [e for e in EXPERIMENTS.values() if e.stands_for is None]


def _recipes():
    """Recipe name -> the experiments that have it, in order: the
    ``reference`` recipe (every experiment's), then the experiments'
    others."""
    experiments = _builtin_experiments()
    recipes = {'reference': [e.name for e in experiments]}
    for experiment in experiments:
        for name in experiment.recipes:
            recipes.setdefault(name, []).append(experiment.name)
    return recipes


def _recipe_help():
    """Each recipe, and the experiments that have it where not all do."""
    everywhere = len(_builtin_experiments())
    recipes = _recipes()
    described = {}
    for name, experiments in recipes.items():
        parts = [RECIPE_HELP[name]] if name in RECIPE_HELP else []
        if len(experiments) < everywhere:
            parts.append('%s only' % words(experiments, last='and'))
        described[name] = '; '.join(parts)
    return one_of(recipes, described)


def _schedule_help():
    """The schedules, and each experiment's epochs and batch size in
    them."""
    from branchynet.experiments import DEFAULT_SCHEDULE, SCHEDULES
    runs = []
    for experiment in _builtin_experiments():
        each = ['%d+%d at %d' % (main, joint, batch) for batch, main, joint
                in (experiment.schedules[name] for name in SCHEDULES)]
        if len(set(each)) == 1:
            each = ['%s in %s' % (each[0], 'both' if len(each) == 2
                                  else 'all')]
        runs.append('%s %s' % (experiment.name, ' / '.join(each)))
    return ("the reference recipe's epochs and batch size: %s; phase-1+"
            'phase-2 epochs at batch size (%s): %s'
            % (one_of(SCHEDULES, SCHEDULE_HELP, DEFAULT_SCHEDULE),
               ' / '.join(SCHEDULES), ', '.join(runs)))


def _add_schedule(p):
    """How long and with which recipe: epochs, batch size, learning rate."""
    from branchynet.experiments import SCHEDULES
    p.add_argument('--epochs-main', type=int_in(1, MAX_EPOCHS),
                   help='phase-1 epochs, 1 to %d (default: the reference '
                        'schedule)' % MAX_EPOCHS)
    p.add_argument('--epochs-joint', type=int_in(1, MAX_EPOCHS),
                   help='phase-2 epochs, 1 to %d (default: the reference '
                        'schedule)' % MAX_EPOCHS)
    p.add_argument('--batch-size', type=int_in(1, MAX_BATCH),
                   help='training batch size, 1 to %d (default: the '
                        'reference)' % MAX_BATCH)
    p.add_argument('--recipe', choices=list(_recipes()), default='reference',
                   help=_recipe_help())
    p.add_argument('--schedule', choices=list(SCHEDULES),
                   help=_schedule_help())
    p.add_argument('--lr', type=float_in(0, 10, low_open=True),
                   help="learning rate in (0, 10] (Adam's alpha for the "
                        "reference recipe; default: the recipe's)")


#: what each Adam betas setting is besides its values, how each phase-2
#: mode starts, each protocol (for the help; the registries,
#: ``ADAM_BETAS``, ``PHASE2_MODES`` and ``PROTOCOLS``, have no
#: descriptions)
BETAS_HELP = {'code': 'the reference code'}
PHASE2_HELP = {
    'reference': "exit heads from their initial weights, main's optimizer "
                 'carried over, as the reference code',
    'warm': 'final exit from the phase-1 classifier, one fresh optimizer',
}
PROTOCOL_HELP = {
    'holdout': '--val-size images held out to tune thresholds',
    'reference': 'all training images, short last batch, test set only '
                 'after training; sweep then tunes on the test set, as the '
                 'paper did',
}
#: where each ChainerMN communicator runs, for ``--communicator``'s help
COMMUNICATOR_HELP = {'naive': 'CPUs', 'flat': 'CPUs',
                     'pure_nccl': 'GPUs (one per process)'}


def _add_optimization(p):
    """Seed, Adam betas, the exits' loss weights, how phase 2 starts."""
    from branchynet.training.settings import PHASE2_MODES
    from branchynet.training.updater import ADAM_BETAS
    p.add_argument('--seed', type=int_in(0, 2 ** 32 - 1), default=0,
                   help='random seed of initialisation, order, dropout and '
                        'augmentation, 0 to 2**32-1 (default 0)')
    p.add_argument('--betas', choices=list(ADAM_BETAS), default='code',
                   help='Adam betas: ' + one_of(ADAM_BETAS, {
                       name: _betas_help(name, betas)
                       for name, betas in ADAM_BETAS.items()}))
    p.add_argument('--exit-weights', default='code',
                   help="'code' (all 1), 'paper' (1.0 ... 0.3) or numbers "
                        "in [0, %g] like 1,0.3" % MAX_WEIGHT)
    p.add_argument('--phase2', choices=list(PHASE2_MODES),
                   help='how phase 2 starts: %s; default: the recipe\'s'
                        % one_of(PHASE2_MODES, PHASE2_HELP))


def _add_splits(p):
    """The protocol, the held-out split, the data set and its limits."""
    from branchynet.training.settings import PROTOCOLS
    p.add_argument('--protocol', choices=list(PROTOCOLS), default='holdout',
                   help=one_of(PROTOCOLS, PROTOCOL_HELP, 'holdout'))
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


def _add_run_control(p):
    """Resume, MPI, progress."""
    from branchynet.training.distributed import COMMUNICATORS
    p.add_argument('--resume', action='store_true',
                   help='continue an interrupted phase from its snapshot '
                        '(with the settings the run started with)')
    p.add_argument('--communicator', choices=list(COMMUNICATORS),
                   help='train data-parallel across the processes of an MPI '
                        'job (mpiexec -n N branchynet train ...) with this '
                        'ChainerMN communicator: %s; --batch-size stays the '
                        'global batch' % _communicator_help(COMMUNICATORS))
    p.add_argument('--allow-changed-settings', action='store_true',
                   help='--resume even though the settings differ from '
                        "those the run started with (the saved models "
                        "record the new ones)")
    p.add_argument('--no-progress', action='store_true',
                   help='no progress bar')


def _betas_help(name, betas):
    """``0.9, 0.999, the reference code``: the values, then what they are.
    """
    return ', '.join(['%g' % beta for beta in betas]
                     + ([BETAS_HELP[name]] if name in BETAS_HELP else []))


def _communicator_help(communicators):
    """``naive or flat on CPUs, pure_nccl on GPUs (one per process)``."""
    where = {}       # CPUs -> the communicators for them, in order
    for name in communicators:
        where.setdefault(COMMUNICATOR_HELP.get(name), []).append(name)
    return ', '.join(words(names) + (' on ' + devices if devices else '')
                     for devices, names in where.items())


def _exit_weights(text):
    """``--exit-weights``: 'code', 'paper' or a tuple of numbers."""
    if text in ('code', 'paper'):
        return text
    try:
        return tuple(map(float_in(0, MAX_WEIGHT), text.split(',')))
    except argparse.ArgumentTypeError:
        raise BranchyNetError("--exit-weights: the exit weights are "
                              "'code', 'paper' or comma-separated "
                              "numbers in [0, %g], got %.60r"
                              % (MAX_WEIGHT, text)) from None


def _experiment(args):
    """The experiment to train: a built-in one, or ``--network``'s, run
    and registered now (:mod:`branchynet.networks.user`)."""
    if (args.network is None) == (args.own_network is None):
        raise BranchyNetError('train takes a network: one of the '
                              'experiments, or --network FILE.py:FUNCTION '
                              '(not both)')
    from branchynet.experiments import EXPERIMENTS
    if args.own_network in EXPERIMENTS:      # --network lenet_mnist
        args.network, args.own_network = args.own_network, None
    if args.own_network is None:
        return args.network, args.network
    if args.dataset is None:
        raise BranchyNetError('--network needs --dataset (npz:PATH, '
                              'images:DIR or a named data set): the network '
                              'is built for its image shape and classes')
    from branchynet.data import describe_dataset
    from branchynet.networks import user as user_lib
    from branchynet.measurement.preflight import check_supported
    shape, n_classes = describe_dataset(args.dataset)
    user, builder = user_lib.load_user_network(args.own_network, shape,
                                               n_classes)
    check_supported(builder(), shape)    # before any training
    # a folder trained with another file: that line, before the registry's
    user_lib.check_folder(args.out or '_models/%s' % user.name, user)
    user_lib.register(user, builder)
    return user.key, user.name


def run(args):
    from branchynet.data import resolve_dataset
    from branchynet.training.trainer import train_experiment
    weights = _exit_weights(args.exit_weights)
    if args.freeze_trunk and not args.from_trained:
        raise BranchyNetError('--freeze-trunk needs --from-trained MODEL '
                              '(the trained trunk to keep)')
    name, folder = _experiment(args)
    out = args.out or '_models/%s' % folder
    results = train_experiment(
        name, out, device=args.device, data_dir=args.data_dir,
        resume=args.resume, progress=not args.no_progress,
        allow_changed_settings=args.allow_changed_settings,
        epochs_main=args.epochs_main, epochs_joint=args.epochs_joint,
        batch_size=args.batch_size, recipe=args.recipe, lr=args.lr,
        schedule=args.schedule, seed=args.seed, betas=args.betas,
        exit_weights=weights, phase2=args.phase2, protocol=args.protocol,
        val_size=args.val_size, eval_every=args.eval_every,
        train_limit=args.train_limit, test_limit=args.test_limit,
        communicator=args.communicator,
        from_trained=args.from_trained, freeze_trunk=args.freeze_trunk,
        dataset=None if args.dataset is None else resolve_dataset(
            args.dataset))
    if results['baseline'] is None:      # not rank 0 of an MPI job
        return
    _print_results(results, out)


def _print_results(results, out):
    base, branchy = results['baseline'], results['branchynet']
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
