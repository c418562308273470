"""B-AlexNet for CIFAR-10 (input float32 ``(N, 3, 32, 32)``), 3 exits.

Layer for layer as the reference code, which places the branches after
conv 2 and conv 3 (the paper's text says after conv 1 and conv 2).
"""
import chainer
import chainer.links as L

from branchynet.networks.layers import dropout, lrn, max_pool, relu
from branchynet.networks.model import BranchyNet
from branchynet.networks.registry import NetworkSpec


def b_alexnet():
    """Build B-AlexNet.

    Returns:
        BranchyNet: stages output ``(N, 64, 16, 16)``, ``(N, 96, 8, 8)`` and
        ``(N, 128)``; every exit outputs float32 logits ``(N, 10)``.
    """
    stages = [
        # stage 1                                          -> 64x16x16
        chainer.Sequential(
            L.Convolution2D(3, 32, 5, pad=2), relu, max_pool(3, 2), lrn(),
            L.Convolution2D(32, 64, 5, pad=2)),
        # stage 2                                          -> 96x8x8
        chainer.Sequential(
            relu, max_pool(3, 2), lrn(), L.Convolution2D(64, 96, 3, pad=1)),
        # stage 3                                          -> 128
        chainer.Sequential(
            relu, L.Convolution2D(96, 96, 3, pad=1),
            relu, L.Convolution2D(96, 64, 3, pad=1), relu, max_pool(3, 2),
            L.Linear(1024, 256), relu, dropout(0.5),
            L.Linear(256, 128), relu, dropout(0.5)),
    ]
    exits = [
        # exit 1
        chainer.Sequential(
            relu, max_pool(3, 2), lrn(), L.Convolution2D(64, 32, 3, pad=1),
            relu, L.Convolution2D(32, 32, 3, pad=1), relu, max_pool(3, 2),
            L.Linear(512, 10)),
        # exit 2
        chainer.Sequential(
            relu, max_pool(3, 2), lrn(), L.Convolution2D(96, 32, 3, pad=1),
            relu, max_pool(3, 2), L.Linear(128, 10)),
        # exit 3 (main classifier)
        chainer.Sequential(L.Linear(128, 10)),
    ]
    return BranchyNet(stages, exits)


#: B-AlexNet in the registry (:mod:`branchynet.networks.registry`)
SPEC = NetworkSpec('b_alexnet', b_alexnet, input_shape=(3, 32, 32),
                   n_exits=3, display='B-AlexNet',
                   baseline_display='AlexNet')
