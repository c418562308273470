"""The ``branchynet`` command."""
from branchynet.cli.main import (build_parser, float_in, int_in, main,  # noqa
                                 threshold_list)
