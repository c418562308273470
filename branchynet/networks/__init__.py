"""The three branched networks of the paper, by name."""
from branchynet.networks.alexnet import b_alexnet
from branchynet.networks.lenet import b_lenet
from branchynet.networks.resnet import b_resnet110

#: network name -> builder returning a fresh :class:`~branchynet.BranchyNet`
NETWORKS = {
    'b_lenet': b_lenet,
    'b_alexnet': b_alexnet,
    'b_resnet110': b_resnet110,
}

__all__ = ['NETWORKS', 'b_alexnet', 'b_lenet', 'b_resnet110']
