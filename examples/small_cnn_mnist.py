"""A small CNN for MNIST-sized inputs with one early exit: 2 exits.

Two convolutional blocks and a two-layer classifier; the exit after the
first block is :func:`branchynet.networks.attach.default_head`::

    branchynet train --network examples/small_cnn_mnist.py:small_cnn \\
        --dataset mnist --out _models/small_cnn
"""
# branchynet first: it lets Chainer 7 run on NumPy 2
from branchynet import attach_exits
from branchynet.networks.layers import flatten, max_pool, relu

import chainer.links as L


def small_cnn(n_classes=10, in_shape=(1, 28, 28)):
    c, h, w = in_shape
    layers = [
        L.Convolution2D(c, 16, 3, pad=1), relu, max_pool(2, 2),   # exit 1
        L.Convolution2D(16, 32, 3, pad=1), relu, max_pool(2, 2),
        flatten, L.Linear(32 * -(-h // 4) * -(-w // 4), 64), relu,
        L.Linear(64, n_classes),                                  # exit 2
    ]
    return attach_exits(layers, after=[2], in_shape=in_shape,
                        n_classes=n_classes)


small_cnn.name = 'SmallCNN'
