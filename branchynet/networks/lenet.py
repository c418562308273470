"""B-LeNet for MNIST (input float32 ``(N, 1, 28, 28)``), 2 exits.

Layer for layer as the reference code (kunglab/branchynet
``networks/lenet_mnist.py``). There is no
nonlinearity between ``linear(720->84)`` and ``linear(84->10)``: the
reference has none.
"""
import chainer
import chainer.links as L

from branchynet.networks.layers import max_pool, relu
from branchynet.networks.model import BranchyNet
from branchynet.networks.registry import NetworkSpec


def b_lenet():
    """Build B-LeNet.

    Returns:
        BranchyNet: stages output ``(N, 5, 30, 30)`` and ``(N, 84)``; both
        exits output float32 logits ``(N, 10)``.
    """
    stages = [
        # stage 1                                          -> 5x30x30
        chainer.Sequential(L.Convolution2D(1, 5, 5, pad=3)),
        # stage 2                                          -> 84
        chainer.Sequential(
            max_pool(2, 2), relu, L.Convolution2D(5, 10, 5, pad=3),
            max_pool(2, 2), relu, L.Convolution2D(10, 20, 5, pad=3),
            max_pool(2, 2), relu, L.Linear(720, 84)),
    ]
    exits = [
        # exit 1
        chainer.Sequential(
            max_pool(2, 2), relu, L.Convolution2D(5, 10, 3, pad=1),
            max_pool(2, 2), relu, L.Linear(640, 10)),
        # exit 2 (main classifier)
        chainer.Sequential(L.Linear(84, 10)),
    ]
    return BranchyNet(stages, exits)


#: B-LeNet in the registry (:mod:`branchynet.networks.registry`)
SPEC = NetworkSpec('b_lenet', b_lenet, input_shape=(1, 28, 28), n_exits=2,
                   display='B-LeNet', baseline_display='LeNet')
