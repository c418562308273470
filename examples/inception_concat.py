"""An Inception-like network: branches joined by ``F.concat``, 2 exits.

Each ``Inception`` block runs a 1x1 branch, a 1x1-then-3x3 branch, a
1x1-then-two-3x3 (5x5-like) branch and a 3x3 max-pooling-then-1x1 branch
side by side and concatenates their channels, as GoogLeNet's blocks do; a
squeeze-excite gate (a softmax-free sigmoid of the pooled channels)
follows the second block::

    branchynet train --network examples/inception_concat.py:mini_inception \\
        --dataset npz:data/mnist_rgb32.npz --out _models/mini_inception
"""
# branchynet first: it lets Chainer 7 run on NumPy 2
from branchynet import BranchyNet
from branchynet.networks.layers import flatten, max_pool

import functools

import chainer
import chainer.functions as F
import chainer.links as L


def _conv(c_in, c_out, k):
    return chainer.Sequential(L.Convolution2D(c_in, c_out, k, pad=k // 2),
                              F.relu)


class Inception(chainer.Chain):
    """Four branches of ``c_out // 4`` channels each, concatenated."""

    def __init__(self, c_in, c_out):
        super().__init__()
        b = c_out // 4
        with self.init_scope():
            self.one = _conv(c_in, b, 1)
            self.three = chainer.Sequential(_conv(c_in, b, 1), _conv(b, b, 3))
            self.five = chainer.Sequential(_conv(c_in, b, 1), _conv(b, b, 3),
                                           _conv(b, b, 3))
            self.pool = _conv(c_in, b, 1)

    def forward(self, x):
        pooled = F.max_pooling_2d(x, 3, 1, 1, cover_all=False)
        return F.concat([self.one(x), self.three(x), self.five(x),
                         self.pool(pooled)], axis=1)


class SqueezeExcite(chainer.Chain):
    """Channel gates from the pooled map: ``x * sigmoid(W2 relu(W1 m))``."""

    def __init__(self, c, reduction=4):
        super().__init__()
        with self.init_scope():
            self.down = L.Linear(c, c // reduction)
            self.up = L.Linear(c // reduction, c)

    def forward(self, x):
        m = F.mean(x, axis=(2, 3))
        gate = F.sigmoid(self.up(F.relu(self.down(m))))
        return x * F.broadcast_to(F.reshape(gate, gate.shape + (1, 1)),
                                  x.shape)


def mini_inception(n_classes=10, in_shape=(3, 32, 32)):
    c, h, w = in_shape
    stages = [
        chainer.Sequential(_conv(c, 16, 3), max_pool(2, 2),
                           Inception(16, 32)),                       # exit 1
        chainer.Sequential(max_pool(2, 2), Inception(32, 64),
                           SqueezeExcite(64), max_pool(2, 2)),       # exit 2
    ]
    h4, w4 = -(-h // 2), -(-w // 2)
    exits = [
        chainer.Sequential(max_pool(2, 2), flatten,
                           L.Linear(32 * -(-h4 // 2) * -(-w4 // 2),
                                    n_classes)),
        chainer.Sequential(functools.partial(F.mean, axis=(2, 3)),
                           L.Linear(64, n_classes)),
    ]
    return BranchyNet(stages, exits)


mini_inception.name = 'MiniInception'
