"""The sub-commands of ``branchynet``, one module each.

Each module holds ``NAME`` (the sub-command), ``add_parser(subparsers)``
(adds its parser, with its options, and returns it) and ``run(args)`` (the
command; heavy imports inside it, so that ``branchynet --help`` starts
fast). ``RUNS_NETWORKS = True`` marks the commands that run the networks on
the CPU (see :func:`branchynet.cli.main._run`; absent: False).

Adding a sub-command: one module here, and one line in :data:`COMMANDS`.
"""
from branchynet.cli.commands import (compare, data, evaluate, export,
                                     recheck, report, sweep, train)

#: the sub-commands, in the order ``branchynet --help`` lists them
COMMANDS = (
    train,
    evaluate,
    sweep,
    compare,
    export,
    data,
    report,
    recheck,
)


def get(name):
    """The command module called ``name`` (a KeyError otherwise)."""
    return {command.NAME: command for command in COMMANDS}[name]
