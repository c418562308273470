"""A small ResNet with a residual block of the researcher's own: 3 exits.

``BasicBlock`` is written as one writes it for any Chainer project
(conv-BN-ReLU-conv-BN plus the shortcut, then ReLU; a 1x1 convolution with
BN as the projection shortcut where the stride or the width changes), and
global average pooling is ``F.mean`` over the map. Nothing needs to be
declared to the package: the multiply-add counter and the ONNX exporter
work from the functions the forward runs::

    branchynet train --network examples/own_resnet.py:small_resnet \\
        --dataset npz:data/mnist_rgb32.npz --out _models/small_resnet
"""
# branchynet first: it lets Chainer 7 run on NumPy 2
from branchynet import BranchyNet

import functools

import chainer
import chainer.functions as F
import chainer.links as L


class BasicBlock(chainer.Chain):
    """``relu(BN(conv(relu(BN(conv(x))))) + shortcut(x))``."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        with self.init_scope():
            self.conv1 = L.Convolution2D(c_in, c_out, 3, stride, 1,
                                         nobias=True)
            self.bn1 = L.BatchNormalization(c_out)
            self.conv2 = L.Convolution2D(c_out, c_out, 3, 1, 1, nobias=True)
            self.bn2 = L.BatchNormalization(c_out)
            if stride != 1 or c_in != c_out:
                self.project = chainer.Sequential(
                    L.Convolution2D(c_in, c_out, 1, stride, nobias=True),
                    L.BatchNormalization(c_out))
        if not hasattr(self, 'project'):
            self.project = None         # the identity shortcut

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        shortcut = x if self.project is None else self.project(x)
        return F.relu(h + shortcut)


def _head(c, n_classes):
    """Global average pooling and a linear classifier."""
    return chainer.Sequential(functools.partial(F.mean, axis=(2, 3)),
                              L.Linear(c, n_classes))


def small_resnet(n_classes=10, in_shape=(3, 32, 32)):
    c = in_shape[0]
    stages = [
        chainer.Sequential(L.Convolution2D(c, 16, 3, pad=1, nobias=True),
                           L.BatchNormalization(16), F.relu,
                           BasicBlock(16, 16)),                     # exit 1
        chainer.Sequential(BasicBlock(16, 32, stride=2),
                           BasicBlock(32, 32)),                     # exit 2
        chainer.Sequential(BasicBlock(32, 64, stride=2),
                           BasicBlock(64, 64)),                     # exit 3
    ]
    return BranchyNet(stages, [_head(16, n_classes), _head(32, n_classes),
                               _head(64, n_classes)])


small_resnet.name = 'OwnResNet'
