"""ONNX export: every network's graphs against Chainer, layer differences,
the export folder and the `branchynet export` command."""
import functools
import hashlib
import json
import os

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import onnx
import onnxruntime
import pytest

from branchynet import cli
from branchynet.errors import BranchyNetError
from branchynet.exits.inference import entropy
from branchynet.networks.layers import dropout, flatten, lrn, max_pool, relu
from branchynet.networks.model import BranchyNet
from branchynet.networks import NETWORKS, random_network
from branchynet.runtimes.onnx.converters import onnx_pool_outsize
from branchynet.networks import tracing
from branchynet.runtimes.onnx.export import (INPUT_SHAPES, OPSET, _emit,
                                             _Graph, check_exportable,
                                             export_model_dir, main_graph,
                                             segment_graphs)
from branchynet.networks.serialization import save_model
from branchynet.testing import assert_onnx_matches_chainer
from helpers import Block

#: samples per network (B-ResNet-110 is large: keep its batch tiny)
BATCH = {'b_lenet': 5, 'b_alexnet': 3, 'b_resnet110': 2}


def _convert(g, layer, name, x):
    """``layer`` traced on ``x`` and added to ``g`` reading ``name``:
    ``(output name, Chainer's output)``; what cannot be converted is
    raised in one line."""
    t = tracing.trace(layer, x, 'layer')
    problems = []
    out = _emit(g, t, name, problems)
    tracing.refuse(problems, 'cannot export')
    return out, t.output.array


def session(graph):
    return onnxruntime.InferenceSession(graph.SerializeToString(),
                                        providers=['CPUExecutionProvider'])


def chainer_logits(model, x):
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        return [z.array for z in model(x)], model.forward_main(x).array


@pytest.mark.parametrize('name', sorted(NETWORKS))
def test_segments_and_main_graph_match_chainer(name):
    model = random_network(name)
    shape = INPUT_SHAPES[name]
    x = numpy.random.RandomState(2).rand(BATCH.get(name, 3), *shape).astype(
        numpy.float32)
    logits, main = chainer_logits(model, x)
    graphs = segment_graphs(model, shape)
    assert len(graphs) == model.n_exits
    h = x
    for k, graph in enumerate(graphs):
        out = session(graph).run(None, {'input': h})
        last = k == model.n_exits - 1
        assert len(out) == (2 if last else 3)
        z, h_entropy = out[-2], out[-1]
        assert z.shape == logits[k].shape and h_entropy.shape == (len(x),)
        numpy.testing.assert_allclose(z, logits[k], rtol=0, atol=1e-4)
        numpy.testing.assert_allclose(h_entropy, entropy(logits[k]), rtol=0,
                                      atol=1e-4)
        h = out[0]
    assert numpy.abs(logits[-1]).max() > 0.01       # not a trivial match
    got = session(main_graph(model, shape)).run(None, {'input': x})[0]
    numpy.testing.assert_allclose(got, main, rtol=0, atol=1e-4)


def test_graphs_use_opset_17_and_a_symbolic_batch():
    graph = segment_graphs(random_network('b_lenet'), (1, 28, 28))[0]
    assert [o.version for o in graph.opset_import if o.domain == ''] == \
        [OPSET] and OPSET >= 17
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == 'N' and [d.dim_value for d in dims[1:]] == \
        [1, 28, 28]


def pooling_layers(name):
    """(input shape, ksize, stride) of every max/avg pooling the network
    runs, traced on one sample."""
    found = []

    def walk(layer, x):
        if isinstance(layer, chainer.Sequential):
            for sub in layer:
                x = walk(sub, x)
            return x
        func = getattr(layer, 'func', None)
        if func in (F.max_pooling_2d, F.average_pooling_2d):
            found.append((func, x.shape, layer.keywords['ksize'],
                          layer.keywords['stride']))
        y = layer(x)
        return y.array if isinstance(y, chainer.Variable) else y

    model = NETWORKS[name]()
    x = numpy.zeros((1,) + INPUT_SHAPES[name], numpy.float32)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for stage, head in zip(model.stages, model.exits):
            x = walk(stage, x)
            walk(head, x)
    return found


@pytest.mark.parametrize('name', sorted(NETWORKS))
def test_ceil_mode_pooling_equals_cover_all_on_every_network_shape(name):
    rng = numpy.random.RandomState(0)
    layers = pooling_layers(name)
    assert layers, 'no pooling layer found'
    for func, shape, ksize, stride in layers:
        x = rng.randn(2, *shape[1:]).astype(numpy.float32)
        want = func(x, ksize, stride).array           # Chainer's defaults
        g = _Graph()
        layer = functools.partial(func, ksize=ksize, stride=stride)
        out, _ = _convert(g, layer, 'input', x)
        g.op('Identity', [out], out='y')
        model = g.model([('input', ['N'] + list(shape[1:]))],
                        [('y', ['N'] + list(want.shape[1:]))], 'pool')
        got = session(model).run(None, {'input': x})[0]
        assert got.shape == want.shape, (shape, ksize, stride)
        numpy.testing.assert_array_equal(got, want)


def test_pool_size_formula_and_the_case_where_onnx_differs():
    outsize = chainer.utils.conv.get_conv_outsize
    for size in range(6, 40):
        # cover_all (max pooling): the windows the networks use
        for k, s in ((2, 2), (3, 2), (3, 1), (6, 1), (5, 3)):
            assert onnx_pool_outsize(size, k, s, 0, True) == \
                outsize(size, k, s, 0, cover_all=True)
        # average pooling rounds down in both (ResNet's 1x1, stride 2)
        for k, s in ((1, 2), (6, 1)):
            assert onnx_pool_outsize(size, k, s, 0, False) == \
                outsize(size, k, s, 0, cover_all=False)
    # a stride larger than the window: Chainer's last window starts past the
    # input (5 -> 3 windows at 0, 3, 6), ONNX drops it; the exporter refuses
    assert chainer.utils.conv.get_conv_outsize(5, 1, 3, 0, True) == 3
    assert onnx_pool_outsize(5, 1, 3, 0, True) == 2
    g = _Graph()
    with pytest.raises(BranchyNetError, match='ONNX would give'):
        _convert(g, max_pool(1, 3), 'input',
                 numpy.zeros((1, 1, 5, 5), numpy.float32))


def _onnx_runtime_pool(x, k, s, p):
    """ONNX Runtime's MaxPool with ``ceil_mode=1`` on ``x``, as given (no
    check of the exporter's)."""
    g = _Graph()
    out = g.op('MaxPool', ['input'], kernel_shape=[k, k], strides=[s, s],
               pads=[p] * 4, ceil_mode=1)
    g.op('Identity', [out], out='y')
    model = g.model([('input', ['N'] + list(x.shape[1:]))],
                    [('y', ['N', x.shape[1], 'H', 'W'])], 'pool')
    return session(model).run(None, {'input': x})[0]


def test_padded_pooling_exports_as_chainer_computes_it_or_not_at_all():
    """Every max pooling with ``cover_all`` and pad up to the window on
    3..8 pixels: the size formula is ONNX Runtime's, and the exporter
    writes what Chainer computes or refuses in one line. Size 5, window 2,
    stride 3, pad 1: Chainer's third window starts in the right padding
    (3x3), ONNX Runtime drops it (2x2)."""
    rng = numpy.random.RandomState(0)
    refused = []
    for size in range(3, 9):
        x = rng.randn(2, 1, size, size).astype(numpy.float32)
        for k in (1, 2, 3):
            for stride in (1, 2, 3):
                for pad in range(k):
                    case = (size, k, stride, pad)
                    got = _onnx_runtime_pool(x, k, stride, pad)
                    assert got.shape[2:] == (onnx_pool_outsize(
                        size, k, stride, pad, True),) * 2, case
                    layer = functools.partial(F.max_pooling_2d, ksize=k,
                                              stride=stride, pad=pad)
                    want = layer(x).array
                    g = _Graph()
                    try:
                        out, _ = _convert(g, layer, 'input', x)
                    except BranchyNetError as e:
                        assert 'ONNX would give' in str(e), case
                        assert got.shape != want.shape, case
                        refused.append(case)
                        continue
                    g.op('Identity', [out], out='y')
                    model = g.model([('input', ['N', 1, size, size])],
                                    [('y', ['N'] + list(want.shape[1:]))],
                                    'pool')
                    numpy.testing.assert_array_equal(
                        session(model).run(None, {'input': x})[0], want,
                        err_msg=str(case))
    assert (5, 2, 3, 1) in refused


def _exported_lrn(layer, x):
    g = _Graph()
    out, want = _convert(g, layer, 'input', x)
    g.op('Identity', [out], out='y')
    shape = ['N'] + list(x.shape[1:])
    model = g.model([('input', shape)], [('y', shape)], 'lrn')
    return session(model).run(None, {'input': x})[0], want, model


@pytest.mark.parametrize('beta', [0.75, 0.6])
def test_lrn_is_chainers_formula(beta):
    # a large alpha, where alpha and ONNX's alpha / n give visibly different
    # outputs; 6 channels, so the window is cut at both edges
    layer = functools.partial(
        F.local_response_normalization, n=3, k=1.0, alpha=0.5, beta=beta)
    x = numpy.random.RandomState(0).randn(2, 6, 4, 4).astype(numpy.float32)
    got, want, model = _exported_lrn(layer, x)
    numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    unscaled = F.local_response_normalization(x, 3, 1.0, 0.5 / 3, beta).array
    assert numpy.abs(unscaled - want).max() > 0.01
    # spelled out (ONNX Runtime's LRN kernel is slow), Pow only when needed
    ops = [n.op_type for n in model.graph.node]
    assert 'LRN' not in ops
    assert ('Pow' in ops) == (beta != 0.75)


def test_the_networks_lrn_on_a_large_map():
    # B-ResNet's exit-1 LRN map, values of a trained network's scale
    x = (30 * numpy.random.RandomState(1).randn(1, 64, 30, 30)).astype(
        numpy.float32)
    got, want, _ = _exported_lrn(lrn(), x)
    numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_an_even_lrn_window_is_refused():
    layer = functools.partial(F.local_response_normalization, n=4)
    with pytest.raises(BranchyNetError, match='even window'):
        _convert(_Graph(), layer, 'input',
                 numpy.zeros((1, 8, 2, 2), numpy.float32))


def test_unknown_function_is_a_clear_error():
    g = _Graph()
    with pytest.raises(BranchyNetError, match=r'^cannot export: layer '
                       r'\(sin\) ran Sin: no ONNX converter'):
        _convert(g, F.sin, 'input', numpy.zeros((1, 3), numpy.float32))


def random_batch_norm(size, seed=3):
    """A BatchNormalization whose statistics and scale are not 0 and 1,
    so that a converter that dropped any of them would show."""
    rng = numpy.random.RandomState(seed)
    bn = L.BatchNormalization(size)
    bn.avg_mean[...] = rng.randn(size)
    bn.avg_var[...] = rng.uniform(0.5, 2.0, size)
    bn.gamma.array[...] = rng.uniform(0.5, 1.5, size)
    bn.beta.array[...] = rng.randn(size)
    return bn


def tiny_net(stage=list, head=list, seed=0):
    """Two exits on (3, 8, 8): ``stage`` after stage 1's convolution,
    ``head`` before each exit's linear layer."""
    numpy.random.seed(seed)
    return BranchyNet(
        [chainer.Sequential(L.Convolution2D(3, 4, 3, pad=1), *stage()),
         chainer.Sequential(L.Convolution2D(None, 6, 3, pad=1), F.relu)],
        [chainer.Sequential(*head(), L.Linear(None, 5)),
         chainer.Sequential(*head(), L.Linear(None, 5))])


#: (stage layers, head layers, an ONNX operator the graph must hold)
LAYER_KINDS = {
    'batch_norm': (lambda: [random_batch_norm(4)], list,
                   'BatchNormalization'),
    'batch_norm_1d': (list, lambda: [L.Linear(None, 6), random_batch_norm(6)],
                      'BatchNormalization'),
    'dropout': (lambda: [dropout(0.5), F.dropout], list, None),
    'avg_pool_pad': (lambda: [functools.partial(
        F.average_pooling_2d, ksize=3, stride=2, pad=1)], list, 'AveragePool'),
    'max_pool_pad_cover_all': (lambda: [functools.partial(
        F.max_pooling_2d, ksize=3, stride=2, pad=1)], list, 'MaxPool'),
    'max_pool_pad': (lambda: [functools.partial(
        F.max_pooling_2d, ksize=2, stride=2, pad=1, cover_all=False)], list,
        'MaxPool'),
    'relu': (lambda: [relu], list, 'Relu'),
    'leaky_relu': (lambda: [functools.partial(F.leaky_relu, slope=0.1)], list,
                   'LeakyRelu'),
    'elu': (lambda: [functools.partial(F.elu, alpha=0.5)], list, 'Elu'),
    'tanh': (lambda: [F.tanh], list, 'Tanh'),
    'sigmoid': (lambda: [F.sigmoid], list, 'Sigmoid'),
    'softplus': (lambda: [F.softplus], list, 'Softplus'),
    'softplus_beta': (lambda: [functools.partial(F.softplus, beta=2.0)], list,
                      'Softplus'),
    'relu6': (lambda: [F.relu6], list, 'Clip'),
    'clipped_relu': (lambda: [functools.partial(F.clipped_relu, z=0.5)], list,
                     'Clip'),
    'linear_nobias': (list, lambda: [L.Linear(None, 7, nobias=True)], 'Gemm'),
    'renamed_conv': (lambda: [RenamedConvolution(4, 4, 3, pad=1)], list,
                     'Conv'),
    'conv_groups_dilation': (lambda: [L.Convolution2D(
        4, 4, 3, pad=2, dilate=2, groups=2)], list, 'Conv'),
    'flatten': (list, lambda: [flatten], 'Flatten'),
    'reshape': (lambda: [functools.partial(F.reshape, shape=(-1, 4, 64)),
                         functools.partial(F.reshape, shape=(-1, 4, 8, 8))],
                list, 'Reshape'),
    # kinds a researcher's network runs (issue 29)
    'depthwise': (lambda: [L.DepthwiseConvolution2D(4, 2, 3, pad=1)], list,
                  'Conv'),
    'deconvolution': (lambda: [L.Deconvolution2D(4, 3, 2, stride=2),
                               L.Deconvolution2D(3, 4, 3, pad=1,
                                                 outsize=(16, 16))],
                      list, 'ConvTranspose'),
    'prelu': (lambda: [L.PReLU((4,), init=0.3)], list, 'PRelu'),
    'swish': (lambda: [L.Swish((4,), beta_init=1.5)], list, 'Sigmoid'),
    'hard_sigmoid': (lambda: [F.hard_sigmoid], list, 'HardSigmoid'),
    'softmax': (lambda: [F.softmax], lambda: [F.log_softmax], 'Softmax'),
    'layer_norm': (list, lambda: [L.Linear(None, 6), L.LayerNormalization(6)],
                   None),
    'unpooling': (lambda: [functools.partial(F.unpooling_2d, ksize=2,
                                             outsize=(16, 16))], list,
                  'Resize'),
    'global_mean': (list, lambda: [functools.partial(F.mean, axis=(2, 3))],
                    None),
    'global_max_sum': (lambda: [lambda h: F.max(h, axis=3, keepdims=True) +
                                F.sum(h, axis=(2, 3), keepdims=True)],
                       list, 'ReduceMax'),
    'concat_split': (lambda: [lambda h: F.concat(F.split_axis(h, [1, 3], 1)
                                                 [::-1], axis=1)], list,
                     'Split'),
    'transpose_pad': (lambda: [lambda h: F.transpose(h, (0, 1, 3, 2)),
                               lambda h: F.pad(h, ((0, 0), (0, 0), (1, 2),
                                                   (0, 1)), 'constant',
                                               constant_values=0.5)],
                      list, 'Pad'),
    # squashed first: float32's rounding of large values is not the point
    'arithmetic': (lambda: [F.tanh, lambda h: (2 - h) * h / (
        1.5 + F.sigmoid(h)) - 0.5 * h, lambda h: -h ** 2 + 3 / (h * h + 1)],
                   list, 'Div'),
    'squeeze_excite': (lambda: [SqueezeExcite(4)], list, 'Expand'),
    # a link of the user's own is traced by what it runs
    'own_forward': (lambda: [OwnConvolution(4, 4, 1)], list, 'Add'),
    'own_call': (lambda: [CallConvolution(4, 4, 1)], list, 'Add'),
    'own_method': (lambda: [DoubledScale(4)], list, 'BatchNormalization'),
    'own_link': (lambda: [Doubling()], list, 'Mul'),
}


@pytest.mark.parametrize('kind', sorted(LAYER_KINDS))
def test_every_layer_kind_exports_as_chainer_computes_it(kind):
    stage, head, op_type = LAYER_KINDS[kind]
    model = tiny_net(stage, head)
    # values well past relu6's 6, clipped_relu's 0.5 and below 0
    x = (10 * numpy.random.RandomState(1).randn(4, 3, 8, 8)).astype(
        numpy.float32)
    assert_onnx_matches_chainer(model, x)
    ops = {n.op_type for n in segment_graphs(model, (3, 8, 8))[0].graph.node}
    assert op_type is None or op_type in ops, ops
    assert 'Dropout' not in ops


def test_the_kinds_test_catches_a_wrong_converter(monkeypatch):
    from branchynet.runtimes.onnx import converters
    from chainer.functions.activation import leaky_relu, relu as relu_
    monkeypatch.setitem(converters.CONVERTERS, leaky_relu.LeakyReLU,
                        converters.CONVERTERS[relu_.ReLU])
    x = (10 * numpy.random.RandomState(1).randn(4, 3, 8, 8)).astype(
        numpy.float32)
    with pytest.raises(AssertionError):
        assert_onnx_matches_chainer(tiny_net(*LAYER_KINDS['leaky_relu'][:2]),
                                    x)


class SqueezeExcite(chainer.Chain):
    """Channel gates from the global mean, broadcast over the map."""

    def __init__(self, c):
        super().__init__()
        with self.init_scope():
            self.fc = L.Linear(c, c)

    def forward(self, x):
        gate = F.sigmoid(self.fc(F.mean(x, axis=(2, 3))))
        return x * F.broadcast_to(F.reshape(gate, gate.shape + (1, 1)),
                                  x.shape)


class Doubling(chainer.Link):
    def forward(self, x):
        return 2 * x


class OwnConvolution(L.Convolution2D):
    """A convolution kind with a forward of its own: not a convolution."""

    def forward(self, x):
        return super().forward(x) + 1


class CallConvolution(L.Convolution2D):
    """A convolution kind with a __call__ of its own: not a convolution."""

    def __call__(self, x):
        return super().__call__(x) + 1


class DoubledScale(L.BatchNormalization):
    """Its forward is BatchNormalization's, but a method that forward
    calls is its own."""

    def _get_gamma(self):
        return super()._get_gamma() * 2


class RenamedConvolution(L.Convolution2D):
    """A name of its own, no code of its own: a convolution."""


@pytest.mark.parametrize('layer, where, why', [
    (lambda: F.sin, 'stages/0/1 (sin) ran Sin', 'no ONNX converter'),
    (lambda: lambda h: F.sin(h) + F.cos(h) + F.sin(h),
     'stages/0/1 (<lambda>) ran Sin', 'no ONNX converter'),
    (lambda: lambda h: F.reshape(F.flatten(h), h.shape),
     'stages/0/1 (<lambda>) ran Reshape', 'across the batch axis'),
    (lambda: functools.partial(F.reshape, shape=(1, 4, 8, 8)),
     'stages/0/1 (reshape)', 'fails on an input of shape (2, 4, 8, 8)'),
    (lambda: functools.partial(F.reshape, shape=(-1, 4, 8, 4)),
     'stages/0/1 (reshape) ran Reshape', 'across the batch axis'),
    (lambda: functools.partial(F.local_response_normalization, n=4),
     'stages/0/1 (local_response_normalization) ran '
     'LocalResponseNormalization', 'even window'),
    (lambda: L.Linear(3, 3), 'stages/0/1 (Linear)', 'fails on an input'),
    (lambda: lambda h: F.concat([h, h], axis=0),
     'stages/0/1 (<lambda>) ran Concat', 'concat along the batch axis'),
])
def test_a_layer_that_cannot_be_exported_fails_in_one_line(layer, where,
                                                           why):
    model = tiny_net(lambda: [layer()])
    for build in (segment_graphs, main_graph, check_exportable):
        with pytest.raises(BranchyNetError) as e:
            build(model, (3, 8, 8))
        message = str(e.value)
        assert '\n' not in message
        assert where in message
        assert why in message


def test_every_unsupported_place_is_listed_in_one_line():
    model = tiny_net(lambda: [F.sin, F.cos],
                     lambda: [lambda h: F.arctan(h)])
    for build in (segment_graphs, main_graph, check_exportable):
        with pytest.raises(BranchyNetError) as e:
            build(model, (3, 8, 8))
        message = str(e.value)
        assert '\n' not in message
        places = ['stages/0/1 (sin) ran Sin', 'stages/0/2 (cos) ran Cos',
                  'exits/1/0 (<lambda>) ran Arctan']
        if build is not main_graph:              # main: the last head only
            places.append('exits/0/0 (<lambda>) ran Arctan')
        for place in places:
            assert message.count(place + ': no ONNX converter') == 1, place


def test_the_path_names_a_layer_of_an_exit_head():
    model = tiny_net(head=lambda: [F.sin])
    with pytest.raises(BranchyNetError, match=r'^cannot export: exits/0/0 '
                       r'\(sin\) ran Sin'):
        segment_graphs(model, (3, 8, 8))
    with pytest.raises(BranchyNetError, match=r'^cannot export: exits/1/0 '
                       r'\(sin\) ran Sin'):
        main_graph(model, (3, 8, 8))


@pytest.fixture
def model_dir(tmp_path):
    """A B-LeNet model folder as training writes it (random weights)."""
    root = tmp_path / 'model'
    for role, seed in (('branchynet', 0), ('baseline', 1)):
        save_model(str(root / role), random_network('b_lenet', seed),
                   {'network': 'b_lenet', 'role': role,
                    'settings': {'experiment': 'lenet_mnist'}})
    return root


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_export_folder(model_dir, tmp_path):
    out = tmp_path / 'onnx'
    sidecar = export_model_dir(str(model_dir), str(out))
    on_disk = json.loads((out / 'export.json').read_text())
    assert on_disk == sidecar
    assert (sidecar['network'], sidecar['exits'], sidecar['classes'],
            sidecar['input_shape'], sidecar['opset']) == \
        ('b_lenet', 2, 10, [1, 28, 28], OPSET)
    entry = sidecar['models']['branchynet']
    assert entry['segments'] == ['branchynet_segment1.onnx',
                                 'branchynet_segment2.onnx']
    for role in ('branchynet', 'baseline'):
        source = sidecar['models'][role]['source']
        assert source['sha256'] == sha256(model_dir / (role + '.npz'))
    assert sorted(os.listdir(out)) == sorted(list(sidecar['files']) +
                                             ['export.json'])
    for name, digest in sidecar['files'].items():
        assert sha256(out / name) == digest
        onnx.checker.check_model(str(out / name))
    # the baseline graph holds the baseline's weights, not the B-net's
    assert sidecar['files']['baseline.onnx'] != \
        sidecar['files']['branchynet_main.onnx']


def test_export_command(model_dir, capsys):
    assert cli.main(['export', str(model_dir)]) == 0
    printed = capsys.readouterr().out
    assert 'b_lenet, 2 exits, 10 classes, input 1x28x28, opset 17' in printed
    assert (model_dir / 'onnx' / 'export.json').is_file()


def one_error_line(capsys):
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('branchynet: error: ')
    assert 'Traceback' not in err
    return err


def test_export_bad_inputs(tmp_path, model_dir, capsys):
    assert cli.main(['export', str(tmp_path / 'missing')]) == 2
    assert 'does not exist' in one_error_line(capsys)
    (tmp_path / 'empty').mkdir()
    assert cli.main(['export', str(tmp_path / 'empty')]) == 2
    assert 'is not a model folder' in one_error_line(capsys)
    (model_dir / 'baseline.npz').write_bytes(b'not an npz')
    assert cli.main(['export', str(model_dir),
                     '--out', str(tmp_path / 'out')]) == 2
    assert 'baseline.npz' in one_error_line(capsys)
    assert not (tmp_path / 'out').exists()        # nothing half-written


def test_relu_after_max_pool_is_moved_before_it_on_the_traced_graph():
    """conv -> max_pool -> relu is written conv -> relu -> max_pool (the
    same values; ONNX Runtime fuses the ReLU into the convolution), a rewrite
    on the traced functions, not on the layer list."""
    numpy.random.seed(0)
    block = Block(lambda self, h, x: F.relu(F.max_pooling_2d(h, 2)))
    model = BranchyNet([chainer.Sequential(block)],
                       [chainer.Sequential(L.Linear(None, 5))])
    ops = [n.op_type for n in segment_graphs(model, (3, 8, 8))[0].graph.node]
    assert ops[:3] == ['Conv', 'Relu', 'MaxPool'], ops
    x = numpy.random.RandomState(1).randn(3, 3, 8, 8).astype(numpy.float32)
    assert_onnx_matches_chainer(model, x)
