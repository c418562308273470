"""What the sub-commands share: the parser class, the argument types, the
options two commands take (each declared once here: ``--score``,
``--data-dir``, ``--device``, ``--runtime``, ``--alpha`` and ``--target``,
``--figs``, ``MODEL_DIR``, ``--network``) and the help of a registry's
choices (:func:`one_of`: the names come from the registry, so that a new
entry needs no help edit)."""
import argparse
import math
import os

#: the exit status of a user mistake (see :mod:`branchynet.cli.main`)
EXIT_ERROR = 2


class Parser(argparse.ArgumentParser):
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
                  % (one_line(message), hint))

    def exit(self, status=0, message=None):
        from branchynet.training.distributed import (launcher_rank,
                                                     silent_status)
        if status and launcher_rank() != 0:
            message = None       # under mpiexec rank 0 alone says it
        super().exit(silent_status(status), message)


def one_line(text):
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
    once every option is parsed (:func:`check_score_values`).
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


def check_score_values(parser, args):
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


def words(items, oxford=False, last='or'):
    """``a``, ``a or b``, ``a, b or c`` (``a, b, or c`` with ``oxford``;
    ``last``: the word before the last item)."""
    items = list(items)
    if len(items) < 2:
        return ''.join(items)
    return '%s%s %s %s' % (', '.join(items[:-1]), ',' if oxford else '',
                           last, items[-1])


def one_of(names, descriptions, default=None):
    """A registry's choices for a help text, in the registry's order:
    ``'a' (what a is), 'b' or 'c' (...)``.

    ``descriptions``: name -> its description; a name it lacks (a registry
    entry added since) is listed bare. The ``default``'s description starts
    with ``default``.
    """
    parts = []
    for name in names:
        text = descriptions.get(name)
        if name == default:
            text = 'default: ' + text if text else 'default'
        parts.append("'%s' (%s)" % (name, text) if text else "'%s'" % name)
    return words(parts)


def _score_help(score):
    """``leave when max p > T``: the score's quantity and direction; how
    to give a negative threshold where the score takes one."""
    text = '%s %s T' % (score.help or 'leave when its score',
                        '<' if score.low_is_confident else '>')
    if score.threshold_range[0] < 0:
        text += '; negative thresholds as -t=-7.5,-6'
    return text


def add_score(p):
    from branchynet.exits.scores import DEFAULT, SCORES
    p.add_argument('--score', choices=list(SCORES), default=DEFAULT,
                   help='exit score: ' + one_of(SCORES, {
                       name: _score_help(score)
                       for name, score in SCORES.items()}))


def add_data_root(p):
    p.add_argument('--data-dir', default='auto', metavar='DATA_ROOT',
                   help='the data root, the folder holding mnist/, cifar10/ '
                        'and pcifar10/ (default: $BRANCHYNET_DATA_ROOT, else '
                        'datasets/data)')


def add_common(p):
    p.add_argument('--device', default='@numpy',
                   help='Chainer device specifier: @numpy (default), '
                        '@cupy:0, ...')
    add_data_root(p)


#: ``--runtime``'s default (each runtime's words for the help are its own
#: ``help``, :class:`~branchynet.runtimes.runtime.Runtime`)
DEFAULT_RUNTIME = 'chainer'


def add_runtime(p):
    from branchynet.runtimes import REGISTRY
    p.add_argument('--runtime', choices=list(REGISTRY),
                   default=DEFAULT_RUNTIME,
                   help='inference engine: ' + one_of(
                       REGISTRY, {n: c.help for n, c in REGISTRY.items()},
                       DEFAULT_RUNTIME))
    p.add_argument('--threads', type=int_in(1, MAX_THREADS), default=1,
                   help='ONNX Runtime intra-op threads, 1 to %d (4 per '
                        'CPU; default 1)' % MAX_THREADS)


def add_figs(p):
    """``--figs``: where the figures go (``compare``, ``report``)."""
    p.add_argument('--figs', default='_figs',
                   help='figure folder (default _figs)')


def add_model_dir(p, note=None):
    """``MODEL_DIR``, a folder of ``branchynet train`` (``note``: what the
    command adds about it, in parentheses)."""
    p.add_argument('model_dir', help='folder written by `branchynet train`%s'
                   % ('' if note is None else ' (%s)' % note))


def _rule_needing(setting):
    """The rule that cannot do without ``setting`` (a key of
    :data:`branchynet.measurement.rules.SETTINGS`)."""
    from branchynet.measurement.rules import REGISTRY
    return next(rule.name for rule in REGISTRY.values()
                if setting in rule.needs)


def add_rule_settings(p, rule='--rule %s', alpha=None, target=None):
    """``--alpha`` and ``--target``: the settings of the rules that need
    them (``tradeoff`` and ``per-exit``, see
    :data:`branchynet.measurement.rules.SETTINGS`).

    Args:
        rule: how the help names a rule: ``'--rule %s'`` (``sweep``, which
            takes one rule), or ``'the %s rule'`` (``compare``, which runs
            them all).
        alpha: the default weight; None (``sweep``): none, the tradeoff
            rule refuses to start without one.
        target: the default target, in words; None (``sweep``): none, the
            per-exit rule refuses to start without one.
    """
    p.add_argument('--alpha', type=float_in(0, MAX_ALPHA), default=alpha,
                   help='trade-off weight for %s, 0 to %g%s'
                        % (rule % _rule_needing('alpha'), MAX_ALPHA,
                           '' if alpha is None else ' (default %g)' % alpha))
    p.add_argument('--target', type=float_in(0, 1),
                   help='accuracy of the samples leaving at each exit for '
                        '%s (fraction in [0, 1], e.g. 0.99%s)'
                        % (rule % _rule_needing('target'),
                           '' if target is None else '; default: ' + target))


def default_results(model_dir):
    """The results folder of a model folder when none is named:
    ``results/`` + its name (what ``sweep`` writes, ``compare`` reads)."""
    return os.path.join('results', os.path.basename(os.path.normpath(
        model_dir)))


def check_folder(option, path):
    """An output folder must be a folder (or not exist yet)."""
    from branchynet.errors import BranchyNetError
    if os.path.exists(path) and not os.path.isdir(path):
        raise BranchyNetError('%s %s is a file, not a folder' % (option, path))


def add_user_network(p):
    """``--network`` and ``--trust-saved-network``: the code of a model
    trained on a network of your own (:mod:`branchynet.networks.user`);
    :func:`branchynet.cli.main._run` runs it before the command."""
    from branchynet.networks.user import SAVED_FLAG
    # dest network_code: the code of the trained model's network, which
    # main._run installs for every command that has it; train's --network
    # (the network to train, a file or an experiment) has its own dest
    p.add_argument('--network', dest='network_code',
                   metavar='FILE.py:FUNCTION',
                   help='a model trained with --network: the same network '
                        'file again (its sha256 must be the recorded one)')
    p.add_argument(SAVED_FLAG, action='store_true',
                   help='a model trained with --network: run the copy of '
                        'the network file saved with it (MODEL_DIR/'
                        'network.py, checked against its sha256): only for '
                        'folders you trust, it is code')
