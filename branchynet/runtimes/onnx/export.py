"""ONNX export of a BranchyNet: one graph per segment, and the main path whole.

onnx-chainer, the Chainer project's own converter, cannot be used: its last
release (1.6.0, 2019) needs chainer < 7 and onnx < 1.7, pip reports the
conflict with chainer 7.8.1, and it fails at import. So the export is a
small converter over :mod:`onnx.helper`: one function per layer kind
(:mod:`branchynet.runtimes.onnx.converters`, where the places Chainer and
ONNX differ are handled: LRN, max pooling's ``cover_all``, the batch
axis), and here the graphs built from them. :func:`check_exportable`
checks a model's layers without exporting it; an error names the layer by
its path (``stages/1/3``).

Graphs (opset :data:`OPSET`, float32, batch dimension symbolic ``N``):

* **segment k** (k = 1..K) reads ``input`` (the image for k = 1, stage
  k-1's output otherwise) and returns ``stage_output`` (stage k's output;
  an inner tensor of the last segment, not an output), ``logits`` (exit k,
  ``(N, classes)``) and
  ``entropy`` (nats, of ``softmax(logits)``, ``(N,)``, computed in the graph
  as :func:`branchynet.exits.inference.entropy` does);
* **main**: the image -> the final exit's logits (every stage, then the
  last exit head): the baseline, or a B-net's main path.

Shapes come from running the Chainer model on a zero sample alongside
(:func:`_convert`), so every check sees the real shapes.
"""
import os

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import onnx
from onnx import TensorProto, helper, numpy_helper

from branchynet.utils.atomic import atomic_path, write_json_atomic
from branchynet.errors import BranchyNetError
from branchynet.networks import INPUT_SHAPES
from branchynet.networks.serialization import load_model, model_paths
from branchynet.runtimes.onnx.converters import converter, kind_of
from branchynet.runtimes.onnx.inference import FORMAT, SIDECAR
from branchynet.utils.digest import sha256_of

#: ONNX operator set of the exported graphs
OPSET = 17
#: IR version that goes with opset 17 (readable by ONNX Runtime >= 1.13)
IR_VERSION = 8


class _Graph:
    """Nodes and weights of one graph under construction."""

    def __init__(self):
        self.nodes, self.initializers = [], []
        self._count = 0

    def _name(self, hint):
        self._count += 1
        return '%s_%d' % (hint, self._count)

    def weight(self, array, hint='w', dtype=numpy.float32):
        """An initializer holding ``array`` (host copy); returns its name."""
        name = self._name(hint)
        host = numpy.asarray(chainer.backend.CpuDevice().send(array), dtype)
        self.initializers.append(numpy_helper.from_array(host, name))
        return name

    def op(self, op_type, inputs, out=None, **attrs):
        """Append a node; returns the name of its (single) output."""
        out = out or self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out],
                                           name=out, **attrs))
        return out

    def name_output(self, h, name):
        """Give tensor ``h`` the interface name ``name``; returns ``name``.

        The node that just produced ``h`` is renamed when it can be (an
        Identity copy costs a kernel call per run, a tenth of a small
        segment's time); otherwise an Identity is added.
        """
        last = self.nodes[-1] if self.nodes else None
        if last is not None and list(last.output) == [h]:
            last.output[0] = name
            return name
        return self.op('Identity', [h], out=name)

    def model(self, inputs, outputs, name, inner=()):
        """The finished, checked ``ModelProto``.

        Args:
            inputs, outputs (list of (name, shape)): graph interface;
                ``shape`` is a list with ``'N'`` for the batch dimension.
            inner (list of (name, shape)): inner tensors to declare.
        """
        def info(n, shape):
            return helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
        graph = helper.make_graph(
            self.nodes, name, [info(n, s) for n, s in inputs],
            [info(n, s) for n, s in outputs], self.initializers,
            value_info=[info(n, s) for n, s in inner])
        model = helper.make_model(
            graph, producer_name='branchynet', ir_version=IR_VERSION,
            opset_imports=[helper.make_opsetid('', OPSET)])
        onnx.checker.check_model(model)
        return model


def _is_max_pool(layer):
    return getattr(layer, 'func', None) is F.max_pooling_2d


def _relu_before_pool(layers):
    """``conv, max_pool, relu`` -> ``conv, relu, max_pool``, on
    ``(index, layer)`` pairs (the index names the layer in errors).

    ReLU and max pooling commute exactly (``max(relu(a), relu(b)) ==
    relu(max(a, b))``, padding included), and a ReLU right after a
    convolution is fused into it by ONNX Runtime: one kernel call less per
    pair, which is most of what a small exit head costs at batch size 1.
    """
    layers = list(layers)
    for i in range(1, len(layers) - 1):
        if (isinstance(layers[i - 1][1], L.Convolution2D)
                and _is_max_pool(layers[i][1]) and layers[i + 1][1] is F.relu):
            layers[i], layers[i + 1] = layers[i + 1], layers[i]
    return layers


def _trace(layer, x):
    """``layer(x)`` as an array; the layer's own failure in one line."""
    try:
        y = layer(x)
    except Exception as e:          # the user's layer: any error, one line
        raise BranchyNetError('fails on an input of shape %s: %s: %s' % (
            tuple(x.shape), type(e).__name__,
            ' '.join(str(e).split())[:300])) from None
    return y.array if isinstance(y, chainer.Variable) else y


def _convert(g, layer, h, x, where='layer'):
    """Add ``layer`` applied to tensor ``h`` to the graph.

    Args:
        layer: a link, a ``chainer.Sequential``, a chainer function or a
            ``functools.partial`` of one.
        h (str): name of the input tensor in the graph.
        x (array): the same input in Chainer (one traced sample).
        where (str): the layer's path in the model (``stages/1/3``), for
            errors.

    Returns:
        tuple: the output's name in the graph and the traced output array.

    Raises:
        BranchyNetError: one line naming the layer and its kind: no
        converter for it, it fails on ``x``, or ONNX cannot do what it does.
    """
    if isinstance(layer, chainer.Sequential) and \
            type(layer).forward is chainer.Sequential.forward:
        for i, sub in _relu_before_pool(enumerate(layer)):
            h, x = _convert(g, sub, h, x, '%s/%d' % (where, i))
        return h, x
    try:
        convert, settings = converter(layer)     # before running it
        y = _trace(layer, x)
        return convert(g, settings, h, x.shape, y.shape), y
    except BranchyNetError as e:
        raise BranchyNetError('cannot export %s (%s): %s'
                              % (where, kind_of(layer), e)) from None


def _entropy(g, logits, out):
    """``max(-sum(exp(log_softmax(z)) * log_softmax(z)), 0)`` per row."""
    log_p = g.op('LogSoftmax', [logits], axis=1)
    plogp = g.op('Mul', [g.op('Exp', [log_p]), log_p])
    axes = g.weight(numpy.array([1]), 'axes', numpy.int64)
    h = g.op('Neg', [g.op('ReduceSum', [plogp, axes], keepdims=0)])
    return g.op('Max', [h, g.weight(numpy.zeros((), numpy.float32), 'zero')],
                out=out)


def _batched(shape):
    return ['N'] + [int(n) for n in shape[1:]]


def _trace_input(model, input_shape):
    return model.xp.zeros((1,) + tuple(input_shape), numpy.float32)


def segment_graphs(model, input_shape):
    """One ONNX graph per segment of a BranchyNet (see the module doc).

    Args:
        model (BranchyNet): the network, on any device.
        input_shape (tuple): ``(C, H, W)`` of one image.

    Returns:
        list of onnx.ModelProto: ``K`` graphs, segment 1 first.
    """
    graphs = []
    x = _trace_input(model, input_shape)
    last = model.n_exits - 1
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
            g = _Graph()
            inputs = [('input', _batched(x.shape))]
            h, x = _convert(g, stage, 'input', x, 'stages/%d' % k)
            # named in every segment, so that the trunk alone can be cut out
            # (branchynet.runtimes.runtime times it for the reference's accounting)
            h = g.name_output(h, 'stage_output')
            z, logits = _convert(g, head, h, x, 'exits/%d' % k)
            stage_output = [('stage_output', _batched(x.shape))]
            z = g.name_output(z, 'logits')
            _entropy(g, z, 'entropy')
            outputs = [('logits', _batched(logits.shape)), ('entropy', ['N'])]
            if k != last:
                outputs = stage_output + outputs
            graphs.append(g.model(inputs, outputs, 'segment%d' % (k + 1),
                                  inner=[] if k != last else stage_output))
    return graphs


def main_graph(model, input_shape):
    """The main network (every stage, then the final exit) as one graph.

    Returns:
        onnx.ModelProto: ``input`` float32 ``(N, C, H, W)`` -> ``logits``
        float32 ``(N, classes)``.
    """
    g = _Graph()
    x = _trace_input(model, input_shape)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        h = 'input'
        for k, stage in enumerate(model.stages):
            h, x = _convert(g, stage, h, x, 'stages/%d' % k)
        z, logits = _convert(g, model.exits[-1], h, x,
                             'exits/%d' % (model.n_exits - 1))
    g.name_output(z, 'logits')
    return g.model([('input', _batched((1,) + tuple(input_shape)))],
                   [('logits', _batched(logits.shape))], 'main')


class _DryGraph(_Graph):
    """A graph that keeps no weights: for checking, never for writing."""

    def weight(self, array, hint='w', dtype=numpy.float32):
        return self._name(hint)


def check_exportable(model, input_shape):
    """Every layer of every stage and exit head converts to ONNX.

    One zero sample is traced through the model, each layer converted
    into a graph that keeps no weights and is never checked, serialised or
    written: the same converters and checks as an export, at a fraction of
    its cost. The model is run once (parameters that Chainer sizes on the
    first call get sized).

    Raises:
        BranchyNetError: one line naming the first layer that cannot be
        exported, ``cannot export stages/1/3 (sigmoid): ...``.
    """
    g, x = _DryGraph(), _trace_input(model, input_shape)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        h = 'input'
        for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
            h, x = _convert(g, stage, h, x, 'stages/%d' % k)
            _convert(g, head, h, x, 'exits/%d' % k)


def n_classes(model, input_shape):
    """Number of classes the final exit predicts (traced)."""
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        return int(model.forward_main(_trace_input(model,
                                                   input_shape)).shape[1])


def _check_model_dir(model_dir):
    if not os.path.isdir(model_dir):
        raise BranchyNetError('model folder %s does not exist' % model_dir)
    for role in ('branchynet', 'baseline'):
        for path in model_paths(os.path.join(model_dir, role)):
            if not os.path.isfile(path):
                raise BranchyNetError(
                    '%s is not a model folder: %s is missing (a model '
                    'folder is written by `branchynet train`)'
                    % (model_dir, os.path.basename(path)))


def export_model_dir(model_dir, out=None):
    """Write the ONNX graphs of a trained experiment and their sidecar.

    ``OUT`` receives ``branchynet_segment{k}.onnx`` (k = 1..K),
    ``branchynet_main.onnx``, ``baseline.onnx`` and :data:`SIDECAR`. Every
    graph is built (and checked) before anything is written; each file is
    written atomically, the sidecar last, and the sidecar holds every
    graph's sha256, so a folder whose writing was interrupted is detected
    when it is loaded.

    Args:
        model_dir (str): folder written by ``branchynet train``.
        out (str): output folder (default ``MODEL_DIR/onnx``).

    Returns:
        dict: the sidecar.
    """
    _check_model_dir(model_dir)
    out = out or os.path.join(model_dir, 'onnx')
    if os.path.exists(out) and not os.path.isdir(out):
        raise BranchyNetError('--out %s exists and is not a folder' % out)
    model, info = load_model(os.path.join(model_dir, 'branchynet'))
    baseline, base_info = load_model(os.path.join(model_dir, 'baseline'))
    network = info['network']
    if base_info['network'] != network:
        raise BranchyNetError('%s: baseline (%s) and branchynet (%s) are '
                              'different networks' % (model_dir,
                                                      base_info['network'],
                                                      network))
    shape = INPUT_SHAPES[network]
    graphs = {'branchynet_segment%d.onnx' % (k + 1): g
              for k, g in enumerate(segment_graphs(model, shape))}
    graphs['branchynet_main.onnx'] = main_graph(model, shape)
    graphs['baseline.onnx'] = main_graph(baseline, shape)
    sidecar = _sidecar(model_dir, model, network, shape, sorted(graphs))
    os.makedirs(out, exist_ok=True)
    for name, graph in graphs.items():
        with atomic_path(os.path.join(out, name)) as tmp:
            onnx.save_model(graph, tmp)
        sidecar['files'][name] = sha256_of(os.path.join(out, name))
    write_json_atomic(os.path.join(out, SIDECAR), sidecar)
    return sidecar


def _sidecar(model_dir, model, network, shape, names):
    segments = [n for n in names if n.startswith('branchynet_segment')]
    segments.sort(key=lambda n: int(n[len('branchynet_segment'):-5]))
    source = {role: {'weights': role + '.npz', 'sha256': sha256_of(
        os.path.join(model_dir, role + '.npz'))}
        for role in ('branchynet', 'baseline')}
    return {
        'format': FORMAT, 'format_version': 1, 'network': network,
        'exits': model.n_exits, 'classes': n_classes(model, shape),
        'input_shape': list(shape), 'input_dtype': 'float32',
        'opset': OPSET, 'entropy_unit': 'nats',
        'models': {
            'branchynet': {'segments': segments,
                           'main': 'branchynet_main.onnx',
                           'source': source['branchynet']},
            'baseline': {'main': 'baseline.onnx',
                         'source': source['baseline']}},
        'outputs': {'segment': ['stage_output', 'logits', 'entropy'],
                    'last_segment': ['logits', 'entropy'],
                    'main': ['logits']},
        'producer': {'onnx': onnx.__version__,
                     'chainer': chainer.__version__},
        'files': {},
    }


def to_onnx_bytes(model, network, main_only=False):
    """Serialised graphs of a model, for sessions built in memory.

    Returns:
        dict: ``segments`` (list of bytes; empty with ``main_only``) and
        ``main`` (bytes).
    """
    shape = INPUT_SHAPES[network]
    segments = [] if main_only else [
        g.SerializeToString() for g in segment_graphs(model, shape)]
    return {'segments': segments,
            'main': main_graph(model, shape).SerializeToString()}

