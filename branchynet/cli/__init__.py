"""The ``branchynet`` command (:mod:`branchynet.cli.main`; one module per
sub-command in :mod:`branchynet.cli.commands`)."""
from branchynet.cli.args import float_in, int_in, threshold_list  # noqa
from branchynet.cli.main import build_parser, main  # noqa
