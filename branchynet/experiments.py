"""Experiments: a network, its data set, its training schedule, its sweep grid.

The names are the ones ``get_results.sh`` and ``branchynet train`` take.
Schedules and grids are the reference scripts' (BRANCHYNET.md).
"""
import dataclasses

from branchynet.errors import BranchyNetError

#: threshold grid of the reference's B-LeNet and B-ResNet sweeps (17 values)
GRID_17 = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
           0.25, 0.5, 0.75, 1, 2, 3, 5, 10)
#: threshold grid of the reference's B-AlexNet sweep (11 values)
GRID_11 = (0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 0.75, 1, 5, 10)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """What to train on what, and how, as the reference scripts do.

    Attributes:
        name: experiment name (``lenet_mnist`` ...).
        network: key of :data:`branchynet.networks.NETWORKS`.
        dataset: ``mnist`` or ``pcifar10``.
        batch_size: training batch size.
        epochs_main: phase-1 epochs (main network alone, the baseline).
        epochs_joint: phase-2 epochs (all exits jointly).
        grid: candidate values per threshold for the sweep.
    """
    name: str
    network: str
    dataset: str
    batch_size: int
    epochs_main: int
    epochs_joint: int
    grid: tuple


EXPERIMENTS = {e.name: e for e in [
    Experiment('lenet_mnist', 'b_lenet', 'mnist', 512, 50, 100, GRID_17),
    Experiment('alexnet_cifar10', 'b_alexnet', 'pcifar10', 512, 50, 100,
               GRID_11),
    Experiment('resnet_cifar10', 'b_resnet110', 'pcifar10', 64, 100, 100,
               GRID_17),
]}


def get_experiment(name):
    """The :class:`Experiment` called ``name``; a clear error otherwise."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise BranchyNetError('unknown network %r (choose from %s)' % (
            name, ', '.join(sorted(EXPERIMENTS)))) from None
