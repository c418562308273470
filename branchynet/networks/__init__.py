"""The branched networks, by name (:mod:`.registry`).

Each network's module declares its :class:`~.registry.NetworkSpec` (builder,
input shape, exits, Table I names) next to its builder; it is registered
here, one line per network, in Table I's order. ``NETWORKS``,
``INPUT_SHAPES`` and ``N_EXITS`` are read-only views of the registry.
"""
from branchynet.networks import alexnet, lenet, resnet
from branchynet.networks.alexnet import b_alexnet
from branchynet.networks.attach import attach_exits, default_head
from branchynet.networks.lenet import b_lenet
from branchynet.networks.registry import (REGISTRY, NetworkSpec, get_network,
                                          register)
from branchynet.networks.resnet import b_resnet110

register(lenet.SPEC)
register(alexnet.SPEC)
register(resnet.SPEC)

#: network name -> builder returning a fresh :class:`~branchynet.BranchyNet`
NETWORKS = REGISTRY.view(lambda spec: spec.builder)
#: input shape ``(C, H, W)`` of each network (float32 images)
INPUT_SHAPES = REGISTRY.view(lambda spec: spec.input_shape)
#: number of exits of each network (the last is the main classifier), known
#: without building it (B-ResNet-110 takes a second to build)
N_EXITS = REGISTRY.view(lambda spec: spec.n_exits)


def random_network(name, seed=0):
    """Network ``name`` with random weights and random BatchNormalization
    statistics and scales, for tests and benchmarks without a trained model.

    Fresh statistics (mean 0, variance 1) make B-ResNet's logits grow
    without bound through its 54 blocks, and every entropy then 0; these
    keep its logits near 1.
    """
    import chainer
    import numpy
    numpy.random.seed(seed)
    model = NETWORKS[name]()
    rng = numpy.random.RandomState(seed + 1)
    for link in model.links():
        if isinstance(link, chainer.links.BatchNormalization):
            c = link.avg_mean.shape[0]
            link.avg_mean[:] = rng.uniform(-0.5, 0.5, c)
            link.avg_var[:] = rng.uniform(0.5, 2.0, c)
            link.gamma.array[:] = rng.uniform(0.1, 0.5, c)
            link.beta.array[:] = rng.uniform(-0.2, 0.2, c)
    return model


__all__ = ['INPUT_SHAPES', 'NETWORKS', 'N_EXITS', 'NetworkSpec', 'REGISTRY',
           'attach_exits', 'b_alexnet', 'b_lenet', 'b_resnet110', 'default_head',
           'get_network', 'random_network', 'register']
