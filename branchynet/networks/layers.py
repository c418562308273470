"""Small building blocks so that a network file reads like its layer table.

Each helper returns a callable suitable for :class:`chainer.Sequential`.
Pooling keeps Chainer's default ``cover_all=True`` (output size rounds up),
which is what the reference code used and what the layer tables assume.
"""
import functools
import math

import chainer
import chainer.functions as F


def max_pool(ksize, stride):
    """Max pooling, ``cover_all=True`` as in the reference."""
    return functools.partial(F.max_pooling_2d, ksize=ksize, stride=stride)


def avg_pool(ksize, stride):
    """Average pooling without padding."""
    return functools.partial(F.average_pooling_2d, ksize=ksize, stride=stride)


def lrn():
    """Local response normalisation: n=3, k=2, alpha=5e-5, beta=0.75."""
    return functools.partial(F.local_response_normalization,
                             n=3, k=2, alpha=5e-5, beta=0.75)


def dropout(ratio):
    """Dropout; active only when ``chainer.config.train`` is True."""
    return functools.partial(F.dropout, ratio=ratio)


relu = F.relu


def flatten(x):
    """``(N, ...) -> (N, -1)``: every axis after the batch axis in one.

    ``F.flatten`` is not this: it flattens the batch axis too.
    """
    return F.reshape(x, (x.shape[0], -1))


def v1_wscale(wscale):
    """The initializer Chainer v1 used for a link given ``wscale``.

    Chainer v1's ``links/connection/convolution_2d.py`` passed
    ``scale=math.sqrt(wscale)`` to the link's default initializer, whose
    std is ``scale / sqrt(fan_in)`` (LeCunNormal; the v1 releases spell it
    ``init_weight(...)`` or ``HeNormal(scale / sqrt(2))``, the same
    distribution), so std is
    ``sqrt(wscale / fan_in)``: for the reference's ``wscale=math.sqrt(2)``,
    about ``1.19 / sqrt(fan_in)``, not He's ``sqrt(2 / fan_in)``.
    """
    return chainer.initializers.LeCunNormal(scale=math.sqrt(wscale))


#: the reference ResNet's ``w = math.sqrt(2)`` passed as wscale
RESNET_WSCALE = math.sqrt(2)


class ResBlock(chainer.Chain):
    """Residual block of the reference ResNet-110.

    ``relu(BN(conv(relu(BN(conv(x))))) + shortcut(x))``. The shortcut
    subsamples ``x`` by average pooling with window 1 and stride ``stride``
    when the spatial size changes, and concatenates zero channels IN FRONT
    of ``x`` when the channel count grows (as the reference does).

    Args:
        in_channels (int): channels of the input.
        out_channels (int): channels of the output.
        stride (int): stride of the first convolution (1 or 2).
    """

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        init = v1_wscale(RESNET_WSCALE)
        with self.init_scope():
            self.conv1 = chainer.links.Convolution2D(
                in_channels, out_channels, 3, stride, 1, initialW=init)
            self.bn1 = chainer.links.BatchNormalization(out_channels)
            self.conv2 = chainer.links.Convolution2D(
                out_channels, out_channels, 3, 1, 1, initialW=init)
            self.bn2 = chainer.links.BatchNormalization(out_channels)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        if self.stride != 1:
            x = F.average_pooling_2d(x, 1, self.stride)
        if self.out_channels != self.in_channels:
            # zero channels in front, as the reference's concat of zeros:
            # by F.pad, so that no constant's shape follows the batch size
            # and the block is exported by what it runs (the same values,
            # and the same gradient for x)
            grow = self.out_channels - x.shape[1]
            x = F.pad(x, ((0, 0), (grow, 0), (0, 0), (0, 0)), 'constant')
        return F.relu(h + x)
