"""The three networks against the reference code's layer tables
(kunglab/branchynet ``networks/*.py``, as the project's specification lists them).

Parameter counts are worked out here from the tables (not read from the
code), stage by stage and exit by exit.
"""
import math

import chainer
import chainer.functions as F
import numpy
import pytest

from branchynet.networks.layers import ResBlock, avg_pool, lrn, max_pool
from branchynet.networks import NETWORKS, b_alexnet, b_lenet, b_resnet110


# ---------------------------------------------------------------- counting

def conv_params(k, cin, cout):
    return k * k * cin * cout + cout


def linear_params(i, o):
    return i * o + o


def bn_params(c):
    return 2 * c            # gamma and beta; running mean/var are not params


def resblock_params(cin, cout):
    return (conv_params(3, cin, cout) + bn_params(cout)
            + conv_params(3, cout, cout) + bn_params(cout))


def n_params(link):
    params = list(link.params())
    assert all(p.array is not None for p in params), 'uninitialised params'
    return sum(p.size for p in params)


LENET_TABLE = {
    'stages': [
        conv_params(5, 1, 5),
        conv_params(5, 5, 10) + conv_params(5, 10, 20)
        + linear_params(720, 84),
    ],
    'exits': [
        conv_params(3, 5, 10) + linear_params(640, 10),
        linear_params(84, 10),
    ],
}

ALEXNET_TABLE = {
    'stages': [
        conv_params(5, 3, 32) + conv_params(5, 32, 64),
        conv_params(3, 64, 96),
        conv_params(3, 96, 96) + conv_params(3, 96, 64)
        + linear_params(1024, 256) + linear_params(256, 128),
    ],
    'exits': [
        conv_params(3, 64, 32) + conv_params(3, 32, 32)
        + linear_params(512, 10),
        conv_params(3, 96, 32) + linear_params(128, 10),
        linear_params(128, 10),
    ],
}

RESNET_TABLE = {
    'stages': [
        conv_params(3, 3, 16) + bn_params(16),
        18 * resblock_params(16, 16),
        resblock_params(16, 32) + 17 * resblock_params(32, 32)
        + resblock_params(32, 64) + 17 * resblock_params(64, 64),
    ],
    'exits': [
        conv_params(5, 16, 64) + conv_params(3, 64, 32)
        + conv_params(3, 32, 32) + linear_params(28800, 10),
        resblock_params(16, 16) + linear_params(14400, 10),
        linear_params(576, 10),
    ],
}


@pytest.fixture(scope='module')
def resnet():
    numpy.random.seed(0)
    return b_resnet110()


def stage_outputs(model, x):
    """Outputs of every stage and every exit, in test mode."""
    hs, zs = [], []
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        h = x
        for stage, head in zip(model.stages, model.exits):
            h = stage(h)
            hs.append(h.shape)
            zs.append(head(h))
    return hs, zs


def random_input(n, c, size, seed=0):
    return numpy.random.RandomState(seed).rand(n, c, size, size).astype(
        numpy.float32)


# ------------------------------------------------------------------ shapes

def test_networks_registry_builds_every_network():
    assert set(NETWORKS) >= {'b_lenet', 'b_alexnet', 'b_resnet110'}
    assert NETWORKS['b_lenet']().n_exits == 2
    assert NETWORKS['b_alexnet']().n_exits == 3


def test_b_lenet_shapes():
    model = b_lenet()
    shapes, logits = stage_outputs(model, random_input(3, 1, 28))
    assert shapes == [(3, 5, 30, 30), (3, 84)]
    assert [z.shape for z in logits] == [(3, 10)] * 2
    assert all(z.dtype == numpy.float32 for z in logits)


def test_b_alexnet_shapes():
    model = b_alexnet()
    shapes, logits = stage_outputs(model, random_input(2, 3, 32))
    assert shapes == [(2, 64, 16, 16), (2, 96, 8, 8), (2, 128)]
    assert [z.shape for z in logits] == [(2, 10)] * 3
    assert all(z.dtype == numpy.float32 for z in logits)


def test_b_resnet110_shapes(resnet):
    shapes, logits = stage_outputs(resnet, random_input(2, 3, 32))
    assert shapes == [(2, 16, 30, 30), (2, 16, 30, 30), (2, 64, 3, 3)]
    assert [z.shape for z in logits] == [(2, 10)] * 3
    assert all(z.dtype == numpy.float32 for z in logits)


def test_b_resnet110_has_54_blocks_on_the_main_path(resnet):
    blocks = [link for stage in resnet.stages for link in stage.children()
              if isinstance(link, ResBlock)]
    assert len(blocks) == 54
    # ResNet-110: the weight layers of the main path (stages + final exit)
    main_path = list(resnet.stages) + [resnet.exits[-1]]
    weighted = [link for part in main_path for link in part.links()
                if isinstance(link, (chainer.links.Convolution2D,
                                     chainer.links.Linear))]
    assert len(weighted) == 110


# ---------------------------------------------------------- initialisation

def reference_wscale(network, path):
    """The ``wscale`` the reference passes for the layer at ``path``.

    From the reference code: networks/resnet_cifar10.py passes
    ``w = math.sqrt(2)`` to the stem convolution, and
    branchynet/links/resnet.py to both convolutions of every ResBlock; no
    other layer of any network passes one (Chainer v1's default is 1).
    """
    if network != 'b_resnet110':
        return 1.0
    if path.startswith('/stages/0/0/') or '/conv1/' in path \
            or '/conv2/' in path:
        return math.sqrt(2)
    return 1.0


@pytest.mark.parametrize('network', ['b_lenet', 'b_alexnet', 'b_resnet110'])
def test_initial_weights_follow_chainer_v1s_wscale_rule(network):
    """std = sqrt(wscale / fan_in) (Chainer v1: default draw * sqrt(wscale)).

    Each layer's sample std is checked within 6 standard errors, and the
    layers of one wscale pooled (z = W / expected std) within 6 standard
    errors of 1, which tells the v1 rule (2**0.25 ~ 1.19 for the ResNet
    convolutions) from He's (sqrt(2) ~ 1.41).
    """
    numpy.random.seed(0)
    model = NETWORKS[network]()
    pooled = {}
    for path, param in model.namedparams():
        if not path.endswith('/W'):
            continue
        w = param.array.astype(numpy.float64)
        fan_in = w.size // w.shape[0]
        wscale = reference_wscale(network, path)
        expected = math.sqrt(wscale / fan_in)
        n = w.size
        assert abs(w.std() / expected - 1) < 6 / math.sqrt(2 * n), path
        pooled.setdefault(wscale, []).append((w / expected).ravel())
    if network == 'b_resnet110':
        assert set(pooled) == {1.0, math.sqrt(2)}
    for wscale, zs in pooled.items():
        z = numpy.concatenate(zs)
        assert abs(z.std() - 1) < 6 / math.sqrt(2 * z.size), wscale
        assert abs(z.mean()) < 6 / math.sqrt(z.size), wscale


# -------------------------------------------------------- parameter counts

@pytest.mark.parametrize('build, table', [
    (b_lenet, LENET_TABLE), (b_alexnet, ALEXNET_TABLE)],
    ids=['b_lenet', 'b_alexnet'])
def test_parameter_counts_per_stage_and_exit(build, table):
    model = build()
    assert [n_params(s) for s in model.stages] == table['stages']
    assert [n_params(e) for e in model.exits] == table['exits']
    assert n_params(model) == sum(table['stages']) + sum(table['exits'])


def test_b_resnet110_parameter_counts_per_stage_and_exit(resnet):
    assert [n_params(s) for s in resnet.stages] == RESNET_TABLE['stages']
    assert [n_params(e) for e in resnet.exits] == RESNET_TABLE['exits']


def test_batch_norm_running_statistics_are_not_parameters(resnet):
    bn = resnet.stages[0][1]
    names = {name for name, _ in bn.namedparams()}
    assert names == {'/gamma', '/beta'}
    assert bn.avg_mean.shape == (16,) and bn.avg_var.shape == (16,)


# --------------------------------------------------------- layer behaviour

def test_alexnet_dropout_only_in_training():
    model = b_alexnet()
    stage3 = model.stages[2]
    x = random_input(2, 96, 8, seed=1)
    with chainer.no_backprop_mode():
        with chainer.using_config('train', True):
            a, b = stage3(x).array, stage3(x).array
        with chainer.using_config('train', False):
            c, d = stage3(x).array, stage3(x).array
    assert not numpy.array_equal(a, b)
    numpy.testing.assert_array_equal(c, d)
    # ratio 0.5 zeroes about half the units of the final dropout in training
    assert (a == 0).mean() > 0.3 and (c == 0).mean() < (a == 0).mean()


def test_lenet_has_no_dropout():
    model = b_lenet()
    x = random_input(2, 1, 28)
    with chainer.no_backprop_mode(), chainer.using_config('train', True):
        a, b = (model.forward_main(x).array for _ in range(2))
    numpy.testing.assert_array_equal(a, b)


def test_max_pool_covers_all_output_size_rounds_up():
    # cover_all=True: ceil((n - k) / s) + 1, the size the tables need
    # (17 -> 9 makes LeNet's 20x6x6 = 720; floor would give 8 and 500)
    for n, k, s in [(17, 2, 2), (11, 2, 2), (32, 3, 2), (16, 3, 2),
                    (8, 3, 2)]:
        x = numpy.zeros((1, 1, n, n), numpy.float32)
        expected = math.ceil((n - k) / s) + 1
        assert max_pool(k, s)(x).shape == (1, 1, expected, expected)


def test_avg_pool_window_1_stride_2_subsamples():
    x = random_input(1, 2, 8)
    numpy.testing.assert_array_equal(avg_pool(1, 2)(x).array,
                                     x[:, :, ::2, ::2])


def test_lrn_is_the_reference_formula():
    """y_c = x_c / (k + alpha * sum_{|c'-c| <= n//2} x_c'^2) ** beta."""
    n, k, alpha, beta = 3, 2.0, 5e-5, 0.75
    # large inputs, so that alpha * sum x^2 is comparable to k
    x = (100 * numpy.random.RandomState(0).randn(2, 6, 3, 3)).astype(
        numpy.float32)
    sq = x.astype(numpy.float64) ** 2
    expected = numpy.empty_like(sq)
    for c in range(x.shape[1]):
        window = sq[:, max(0, c - n // 2):c + n // 2 + 1].sum(axis=1)
        expected[:, c] = x[:, c] / (k + alpha * window) ** beta
    numpy.testing.assert_allclose(lrn()(x).array, expected, rtol=1e-5)


def test_resblock_shortcut_puts_zero_channels_in_front():
    block = ResBlock(16, 32, 2)
    for conv in (block.conv1, block.conv2):
        conv.W.array[...] = 0
        conv.b.array[...] = 0
    for bn in (block.bn1, block.bn2):
        bn.beta.array[...] = 0
    x = numpy.random.RandomState(0).randn(2, 16, 8, 8).astype(numpy.float32)
    expected_tail = numpy.maximum(x[:, :, ::2, ::2], 0)
    for train in (True, False):
        with chainer.using_config('train', train):
            y = block(x).array
        assert y.shape == (2, 32, 4, 4)
        numpy.testing.assert_array_equal(y[:, :16], 0)
        numpy.testing.assert_allclose(y[:, 16:], expected_tail, atol=1e-6)
    assert (expected_tail > 0).any()     # the tail is not trivially zero


def test_resblock_identity_shortcut():
    block = ResBlock(16, 16)
    for conv in (block.conv1, block.conv2):
        conv.W.array[...] = 0
        conv.b.array[...] = 0
    x = numpy.random.RandomState(1).randn(1, 16, 5, 5).astype(numpy.float32)
    with chainer.using_config('train', False):
        y = block(x).array
    numpy.testing.assert_allclose(y, numpy.maximum(x, 0), atol=1e-6)


def test_resblock_residual_branch_is_conv_bn_relu_conv_bn():
    block = ResBlock(4, 8, 2)
    x = numpy.random.RandomState(2).randn(2, 4, 6, 6).astype(numpy.float32)
    with chainer.using_config('train', False):
        y = block(x).array
        h = F.relu(block.bn1(block.conv1(x)))
        h = block.bn2(block.conv2(h)).array
    shortcut = numpy.concatenate(
        [numpy.zeros((2, 4, 3, 3), numpy.float32), x[:, :, ::2, ::2]], axis=1)
    numpy.testing.assert_allclose(y, numpy.maximum(h + shortcut, 0),
                                  rtol=1e-5, atol=1e-6)
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)


def test_exit_counts_and_input_shapes_match_the_built_networks():
    from branchynet.networks import INPUT_SHAPES, N_EXITS
    assert set(N_EXITS) == set(INPUT_SHAPES) == set(NETWORKS)
    for name, build in NETWORKS.items():
        model = build()
        assert model.n_exits == N_EXITS[name]
        x = numpy.zeros((1,) + INPUT_SHAPES[name], numpy.float32)
        with chainer.using_config('train', False):
            assert [z.shape for z in model(x)] == [(1, 10)] * N_EXITS[name]
