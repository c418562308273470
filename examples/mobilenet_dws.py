"""A MobileNet-style network of depthwise-separable blocks: 2 exits.

Each block is a 3x3 depthwise convolution (``groups`` = channels) and a
1x1 pointwise one, each with batch normalisation and ReLU6, as MobileNet
v1 (``L.DepthwiseConvolution2D``, the link, is there too); each exit
pools the map and classifies it::

    branchynet train --network examples/mobilenet_dws.py:mobilenet \\
        --dataset npz:data/mnist_rgb32.npz --out _models/mobilenet
"""
# branchynet first: it lets Chainer 7 run on NumPy 2
from branchynet import BranchyNet

import functools

import chainer
import chainer.functions as F
import chainer.links as L


class DWSeparable(chainer.Chain):
    """Depthwise 3x3 (stride ``stride``), then pointwise 1x1 to ``c_out``."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        with self.init_scope():
            self.depthwise = L.Convolution2D(c_in, c_in, 3, stride, 1,
                                             nobias=True, groups=c_in)
            self.bn1 = L.BatchNormalization(c_in)
            self.pointwise = L.Convolution2D(c_in, c_out, 1, nobias=True)
            self.bn2 = L.BatchNormalization(c_out)

    def forward(self, x):
        h = F.relu6(self.bn1(self.depthwise(x)))
        return F.relu6(self.bn2(self.pointwise(h)))


def _classifier(c, n_classes):
    return chainer.Sequential(functools.partial(F.average, axis=(2, 3)),
                              L.Linear(c, n_classes))


def mobilenet(n_classes=10, in_shape=(3, 32, 32)):
    c = in_shape[0]
    stages = [
        chainer.Sequential(
            L.Convolution2D(c, 16, 3, stride=2, pad=1, nobias=True),
            L.BatchNormalization(16), F.relu6,
            DWSeparable(16, 32, stride=2)),                         # exit 1
        chainer.Sequential(
            L.DepthwiseConvolution2D(32, 1, 3, pad=1), F.relu6,
            DWSeparable(32, 64, stride=2)),                         # exit 2
    ]
    exits = [_classifier(32, n_classes), _classifier(64, n_classes)]
    return BranchyNet(stages, exits)


mobilenet.name = 'MobileNetDWS'
