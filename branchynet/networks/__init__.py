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

#: input shape ``(C, H, W)`` of each network (float32 images)
INPUT_SHAPES = {'b_lenet': (1, 28, 28), 'b_alexnet': (3, 32, 32),
                'b_resnet110': (3, 32, 32)}

#: number of exits of each network (the last is the main classifier), known
#: without building it (B-ResNet-110 takes a second to build)
N_EXITS = {'b_lenet': 2, 'b_alexnet': 3, 'b_resnet110': 3}

__all__ = ['INPUT_SHAPES', 'NETWORKS', 'N_EXITS', 'b_alexnet', 'b_lenet',
           'b_resnet110']
