"""BranchyNet: fast inference via early exiting (Teerapittayanon et al. 2016).

The path of a sample through the package::

    data (branchynet.data) -> network (branchynet.networks: stages and exits)
    -> training (branchynet.training.trainer) -> early exit (branchynet.exits.inference)

Importing the package imports no chainer: the names below are loaded when
first used (PEP 562), so ``import branchynet.exits.scores``, the NumPy-only
module a deployment copies, stays light. Chainer 7.8.1 runs on NumPy 2 and
Python 3.12+ through :func:`branchynet.compat.install_import_hook`, which
prepares the first ``import chainer`` made after this package's import.
"""
import importlib

from branchynet.compat import install_import_hook

install_import_hook()

from branchynet.errors import BranchyNetError  # noqa: E402
from branchynet.version import __version__  # noqa: E402

#: the package's public names, by the module that defines each
_LAZY = {
    'EXPERIMENTS': 'branchynet.experiments',
    'get_experiment': 'branchynet.experiments',
    'choose_exits': 'branchynet.exits.inference',
    'early_exit': 'branchynet.exits.inference',
    'early_exit_one': 'branchynet.exits.inference',
    'entropy': 'branchynet.exits.inference',
    'exit_records': 'branchynet.exits.inference',
    'BranchyNet': 'branchynet.networks.model',
    'JointLoss': 'branchynet.networks.model',
    'NETWORKS': 'branchynet.networks',
    'b_alexnet': 'branchynet.networks',
    'b_lenet': 'branchynet.networks',
    'b_resnet110': 'branchynet.networks',
    'attach_exits': 'branchynet.networks.attach',
    'load_model': 'branchynet.networks.serialization',
    'save_model': 'branchynet.networks.serialization',
}

__all__ = sorted(['BranchyNetError', '__version__', *_LAZY])


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError('module %r has no attribute %r'
                             % (__name__, name))
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
