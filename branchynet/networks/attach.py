"""Exits attached to a plain network: :func:`attach_exits`.

A plain network is a :class:`chainer.Sequential` (or a list of links and
functions) whose output is the class logits. It is cut after the layers
named in ``after``; the pieces are the BranchyNet's stages, a head is put
after each cut, and the network's last layer (its classifier) is the final
exit. So the BranchyNet's main path is the plain network, layer for layer.
"""
import chainer
import chainer.links as L
import numpy

from branchynet.errors import BranchyNetError
from branchynet.networks.layers import flatten, max_pool, relu
from branchynet.networks.model import BranchyNet


def default_head(shape, n_classes):
    """The Modular VGG11 study's exit: one 3x3 convolution (the stage's
    channels, padding 1) and ReLU, 2x2 max pooling where the map is larger
    than 1x1, and one linear layer; a flat ``(D,)`` stage output gets the
    linear layer alone.

    Args:
        shape (tuple): the stage's output shape, ``(C, H, W)`` or ``(D,)``.
        n_classes (int): the classes.
    """
    if len(shape) == 1:
        return chainer.Sequential(L.Linear(shape[0], n_classes))
    c, h, w = shape
    layers = [L.Convolution2D(c, c, 3, pad=1), relu]
    if min(h, w) > 1:
        layers.append(max_pool(2, 2))
        h, w = -(-h // 2), -(-w // 2)       # cover_all rounds up
    layers += [flatten, L.Linear(c * h * w, n_classes)]
    return chainer.Sequential(*layers)


def _check(layers, after, in_shape):
    if not layers:
        raise BranchyNetError('attach_exits: the network has no layers')
    cuts = list(after)
    if not cuts or any(not isinstance(i, int) for i in cuts) or \
            cuts != sorted(set(cuts)) or cuts[0] < 0 or \
            cuts[-1] > len(layers) - 3:
        raise BranchyNetError(
            'attach_exits: after must be increasing layer indices in 0..%d '
            '(the last stage needs a layer, and the last layer is the main '
            'classifier), got %r' % (len(layers) - 3, list(after)))
    if len(in_shape) != 3 or not all(isinstance(s, int) and s > 0
                                     for s in in_shape):
        raise BranchyNetError('attach_exits: in_shape must be (C, H, W), '
                              'got %r' % (tuple(in_shape),))
    return cuts


def _stage_shapes(stages, in_shape):
    """Output shape of each stage for one zero sample (this also sizes
    parameters Chainer leaves unsized until the first input)."""
    h = numpy.zeros((1,) + tuple(in_shape), numpy.float32)
    shapes = []
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for stage in stages:
            h = stage(h)
            shapes.append(tuple(h.shape[1:]))
    return shapes


def attach_exits(net, after, in_shape, n_classes, head=default_head):
    """A BranchyNet from a plain network, with an exit after each cut.

    Args:
        net (chainer.Sequential or list): the layers, the last one the
            classifier (its output the logits).
        after (list of int): cut after these layer indices (0-based).
        in_shape (tuple): ``(C, H, W)`` of the input images.
        n_classes (int): the classes of the heads.
        head (callable): ``head(shape, n_classes)`` -> the exit head for a
            stage whose output shape is ``shape``.

    Returns:
        BranchyNet: ``len(after) + 1`` exits, the last ``net``'s last
        layer; its main path is ``net``.
    """
    layers = list(net)
    cuts = _check(layers, after, in_shape)
    bounds = [0] + [i + 1 for i in cuts] + [len(layers) - 1]
    stages = [chainer.Sequential(*layers[a:b])
              for a, b in zip(bounds, bounds[1:])]
    shapes = _stage_shapes(stages, in_shape)
    exits = [head(shape, n_classes) for shape in shapes[:-1]]
    return BranchyNet(stages, exits + [chainer.Sequential(layers[-1])])
