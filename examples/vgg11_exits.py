"""VGG11 with an exit after every convolutional block: 5 exits.

The Modular VGG11 early-exit study's network for CIFAR-sized inputs:
VGG's configuration A (each convolution 3x3, padding 1, with batch
normalisation and ReLU, as the CIFAR variants of VGG do), one exit after
each of the first four blocks, each exit one convolution, pooling and one
linear layer (:func:`branchynet.networks.attach.default_head`), the fifth
exit VGG's own classifier. Trained with the joint cross-entropy and exited
by entropy, as BranchyNet does::

    branchynet train --network examples/vgg11_exits.py:vgg11 \\
        --dataset npz:data/mnist_rgb32.npz --out _models/vgg11

(``examples/mnist_rgb32.py`` makes that data set from MNIST.)
"""
# branchynet first: it lets Chainer 7 run on NumPy 2
from branchynet import attach_exits
from branchynet.networks.layers import flatten, max_pool, relu

import chainer.links as L


def _block(c_in, widths):
    """Convolutions of ``widths`` (3x3, BN, ReLU), then 2x2 max pooling."""
    layers = []
    for c_out in widths:
        layers += [L.Convolution2D(c_in, c_out, 3, pad=1, nobias=True),
                   L.BatchNormalization(c_out), relu]
        c_in = c_out
    return layers + [max_pool(2, 2)]


def vgg11(n_classes=10, in_shape=(3, 32, 32)):
    c, h, w = in_shape
    blocks = [_block(c, [64]),                 # -> 64 x H/2 x W/2   exit 1
              _block(64, [128]),               # -> 128 x H/4        exit 2
              _block(128, [256, 256]),         # -> 256 x H/8        exit 3
              _block(256, [512, 512]),         # -> 512 x H/16       exit 4
              _block(512, [512, 512])]         # -> 512 x H/32
    classifier = [flatten, L.Linear(512 * (h // 32) * (w // 32), n_classes)]
    layers = sum(blocks, []) + classifier      #                     exit 5
    ends = [sum(map(len, blocks[:k + 1])) - 1 for k in range(4)]
    return attach_exits(layers, after=ends, in_shape=in_shape,
                        n_classes=n_classes)


vgg11.name = 'VGG11'
