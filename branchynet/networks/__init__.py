"""The three branched networks of the paper, by name."""
from branchynet.networks.alexnet import b_alexnet
from branchynet.networks.lenet import b_lenet
from branchynet.networks.resnet import b_resnet110

#: network name -> builder returning a fresh :class:`~branchynet.BranchyNet`
NETWORKS = {
    'b_lenet': b_lenet,
    'b_alexnet': b_alexnet,
    'b_resnet110': b_resnet110,
}

#: input shape ``(C, H, W)`` of each network (float32 images)
INPUT_SHAPES = {'b_lenet': (1, 28, 28), 'b_alexnet': (3, 32, 32),
                'b_resnet110': (3, 32, 32)}

#: number of exits of each network (the last is the main classifier), known
#: without building it (B-ResNet-110 takes a second to build)
N_EXITS = {'b_lenet': 2, 'b_alexnet': 3, 'b_resnet110': 3}



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


__all__ = ['INPUT_SHAPES', 'NETWORKS', 'N_EXITS', 'b_alexnet', 'b_lenet',
           'b_resnet110', 'random_network']
