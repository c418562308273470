"""B-ResNet-110 for CIFAR-10 (input float32 ``(N, 3, 32, 32)``), 3 exits.

Layer for layer as the reference code: the first convolution has pad 0
(32 -> 30); the stem and every ResBlock convolution are initialised as
Chainer v1 did for ``wscale=math.sqrt(2)`` (std ``2**0.25 / sqrt(fan_in)``,
:func:`~branchynet.networks.layers.v1_wscale`), the exit-1 convolutions and all
linear layers with Chainer's default (std ``1 / sqrt(fan_in)``); the
residual shortcut puts zero channels in front.
"""
import chainer
import chainer.links as L

from branchynet.networks.layers import (RESNET_WSCALE, ResBlock, avg_pool, lrn, relu,
                               v1_wscale)
from branchynet.networks.model import BranchyNet
from branchynet.networks.registry import NetworkSpec


def _blocks(n, in_channels, out_channels, stride=1):
    """One ``ResBlock(in, out, stride)`` followed by ``n - 1`` of (out, out)."""
    return [ResBlock(in_channels, out_channels, stride)] + [
        ResBlock(out_channels, out_channels) for _ in range(n - 1)]


def b_resnet110():
    """Build B-ResNet-110 (54 residual blocks on the main path).

    Returns:
        BranchyNet: stages output ``(N, 16, 30, 30)``, ``(N, 16, 30, 30)``
        and ``(N, 64, 3, 3)``; every exit outputs float32 logits ``(N, 10)``.
    """
    stages = [
        # stage 1                                          -> 16x30x30
        chainer.Sequential(
            L.Convolution2D(3, 16, 3, pad=0,
                            initialW=v1_wscale(RESNET_WSCALE)),
            L.BatchNormalization(16), relu),
        # stage 2: 18 x ResBlock(16, 16)                   -> 16x30x30
        chainer.Sequential(*_blocks(18, 16, 16)),
        # stage 3                                          -> 64x3x3
        chainer.Sequential(
            *_blocks(18, 16, 32, stride=2),
            *_blocks(18, 32, 64, stride=2),
            avg_pool(6, 1)),
    ]
    exits = [
        # exit 1
        chainer.Sequential(
            L.Convolution2D(16, 64, 5, pad=2), relu, lrn(),
            L.Convolution2D(64, 32, 3, pad=1), relu,
            L.Convolution2D(32, 32, 3, pad=1), relu,
            L.Linear(28800, 10)),
        # exit 2
        chainer.Sequential(ResBlock(16, 16), L.Linear(14400, 10)),
        # exit 3 (main classifier)
        chainer.Sequential(L.Linear(576, 10)),
    ]
    return BranchyNet(stages, exits)


#: B-ResNet-110 in the registry (:mod:`branchynet.networks.registry`)
SPEC = NetworkSpec('b_resnet110', b_resnet110, input_shape=(3, 32, 32),
                   n_exits=3, display='B-ResNet',
                   baseline_display='ResNet-110')
