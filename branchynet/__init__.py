"""BranchyNet: fast inference via early exiting (Teerapittayanon et al. 2016).

The path of a sample through the package::

    data (branchynet.data) -> network (branchynet.networks: stages and exits)
    -> training (branchynet.training.trainer) -> early exit (branchynet.exits.inference)
"""
# Before anything imports chainer: let Chainer 7.8.1 run on NumPy 2 and
# Python 3.12 (a plain `import chainer` on NumPy 1.x and Python 3.11).
from branchynet.compat import import_chainer

import_chainer()

from branchynet.errors import BranchyNetError  # noqa: E402
from branchynet.experiments import EXPERIMENTS, get_experiment
from branchynet.exits.inference import (choose_exits, early_exit, early_exit_one,
                                  entropy, exit_records)
from branchynet.networks.model import BranchyNet, JointLoss
from branchynet.networks import NETWORKS, b_alexnet, b_lenet, b_resnet110
from branchynet.networks.attach import attach_exits
from branchynet.networks.serialization import load_model, save_model

__version__ = '0.1.0'

__all__ = [
    'BranchyNet', 'BranchyNetError', 'EXPERIMENTS', 'JointLoss', 'NETWORKS',
    'attach_exits', 'b_alexnet', 'b_lenet', 'b_resnet110', 'choose_exits', 'early_exit',
    'early_exit_one', 'entropy', 'exit_records', 'get_experiment',
    'load_model', 'save_model',
]
