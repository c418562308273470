"""attach_exits: a plain network cut into stages, a head at each cut."""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest

from branchynet import BranchyNet, attach_exits
from branchynet.errors import BranchyNetError
from branchynet.networks.attach import default_head
from branchynet.networks.layers import flatten, max_pool, relu


def plain(c=1):
    return [L.Convolution2D(c, 4, 3, pad=1), relu, max_pool(2, 2),
            L.Convolution2D(4, 6, 3, pad=1), relu, flatten,
            L.Linear(6 * 4 * 4, 12), relu, L.Linear(12, 5)]


def test_the_main_path_is_the_plain_network_layer_for_layer():
    numpy.random.seed(0)
    layers = plain()
    x = numpy.random.RandomState(1).rand(3, 1, 8, 8).astype(numpy.float32)
    with chainer.using_config('train', False):
        want = chainer.Sequential(*layers)(x).array
        model = attach_exits(layers, after=[2, 5], in_shape=(1, 8, 8),
                             n_classes=5)
        logits = [z.array for z in model(x)]
    assert isinstance(model, BranchyNet) and model.n_exits == 3
    numpy.testing.assert_array_equal(logits[-1], want)
    assert [len(s) for s in model.stages] == [3, 3, 2]
    assert model.exits[-1][0] is layers[-1]
    assert all(z.shape == (3, 5) for z in logits)


def test_the_default_head_is_sized_from_the_stage_output():
    conv = default_head((8, 5, 5), 3)
    kinds = [type(layer).__name__ for layer in conv]
    assert kinds[0] == 'Convolution2D' and kinds[-1] == 'Linear'
    assert conv[0].W.shape == (8, 8, 3, 3)
    assert conv[-1].W.shape == (3, 8 * 3 * 3)       # 5x5 pooled to 3x3
    assert default_head((8, 1, 1), 3)[-1].W.shape == (3, 8)
    flat = default_head((20,), 3)
    assert len(flat) == 1 and flat[0].W.shape == (3, 20)


def test_a_head_factory_is_called_with_each_cut_s_shape():
    seen = []

    def head(shape, n_classes):
        seen.append(shape)
        return chainer.Sequential(flatten, L.Linear(None, n_classes))
    attach_exits(chainer.Sequential(*plain()), after=[2, 5],
                 in_shape=(1, 8, 8), n_classes=5, head=head)
    assert seen == [(4, 4, 4), (96,)]


@pytest.mark.parametrize('after', [[], [5, 2], [2, 2], [-1], [7], [8],
                                   [1.5]])
def test_bad_cuts_are_one_line(after):
    with pytest.raises(BranchyNetError, match='after must be increasing'):
        attach_exits(plain(), after=after, in_shape=(1, 8, 8), n_classes=5)


@pytest.mark.parametrize('net, in_shape, expected', [
    ([], (1, 8, 8), 'no layers'),
    (None, (8, 8), 'in_shape'),
    (None, (1, 0, 8), 'in_shape'),
])
def test_bad_networks_and_shapes_are_one_line(net, in_shape, expected):
    with pytest.raises(BranchyNetError, match=expected):
        attach_exits(plain() if net is None else net, after=[2],
                     in_shape=in_shape, n_classes=5)


def test_a_function_layer_works_in_the_plain_network():
    layers = [L.Linear(4, 6), F.tanh, L.Linear(6, 6), F.tanh, L.Linear(6, 2)]
    model = attach_exits(layers, after=[1], in_shape=(1, 2, 2), n_classes=2)
    assert model.n_exits == 2
