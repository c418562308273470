"""The ``branchynet`` command.

Exit status: 0 on success; 2 with one line ``branchynet: error: ...`` for
every user mistake (unknown network, bad thresholds, missing or corrupt data
or models, a full disk or another operating-system error); 130 with
``branchynet: interrupted`` on Ctrl-C (SIGINT) and 143 with
``branchynet: interrupted (SIGTERM)`` on SIGTERM (128 + the signal number,
what a shell reports for a process the signal killed). Work stops the same
way for both signals: finished outputs stay, atomic writes leave no
half-written file.

The sub-commands are the modules of :mod:`branchynet.cli.commands`; what
they share (parser, argument types, option groups) is
:mod:`branchynet.cli.args`.
"""
import errno
import os
import signal
import sys
import threading

from branchynet.cli import commands
from branchynet.cli.args import EXIT_ERROR, Parser, check_score_values, \
    one_line
from branchynet.errors import BranchyNetError

DESCRIPTION = ('BranchyNet (Teerapittayanon et al., ICPR 2016) reproduced: '
               'train the baseline and the B-network, evaluate early exit, '
               'sweep the thresholds, report Table I and the figures.')
EXIT_SIGINT, EXIT_SIGTERM = 130, 128 + signal.SIGTERM


def build_parser():
    """The ``branchynet`` parser: one sub-parser per command of
    :data:`branchynet.cli.commands.COMMANDS`, in its order."""
    parser = Parser(prog='branchynet', description=DESCRIPTION)
    sub = parser.add_subparsers(dest='command', parser_class=Parser,
                                required=True)
    for command in commands.COMMANDS:
        command.add_parser(sub).set_defaults(func=command.run)
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
    text = e.strerror or one_line(e) or type(e).__name__
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
    command = commands.get(args.command)
    if hasattr(args, 'trust_saved_network'):
        from branchynet.networks.user import install_for_model
        install_for_model(getattr(args, command.MODEL_ARG),
                          args.network_code, args.trust_saved_network)
    if getattr(command, 'RUNS_NETWORKS', False):
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
        check_score_values(parser, args)
        _run(args)
    except BranchyNetError as e:
        return _fail(one_line(e), e)
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
