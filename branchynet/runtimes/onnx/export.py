"""ONNX export of a BranchyNet: one graph per segment, and the main path whole.

onnx-chainer, the Chainer project's own converter, cannot be used: its last
release (1.6.0, 2019) needs chainer < 7 and onnx < 1.7, pip reports the
conflict with chainer 7.8.1, and it fails at import. So this module is a
small converter over :mod:`onnx.helper`, one function per layer kind that
the three networks use (:mod:`branchynet.networks.layers`, :mod:`branchynet.networks`):
convolution, linear, max pooling (``cover_all``), average pooling, ReLU,
LRN, batch normalisation (inference), dropout (identity), reshape, and the
ResNet block with its zero-channel shortcut.

Graphs (opset :data:`OPSET`, float32, batch dimension symbolic ``N``):

* **segment k** (k = 1..K) reads ``input`` (the image for k = 1, stage
  k-1's output otherwise) and returns ``stage_output`` (stage k's output;
  an inner tensor of the last segment, not an output), ``logits`` (exit k,
  ``(N, classes)``) and
  ``entropy`` (nats, of ``softmax(logits)``, ``(N,)``, computed in the graph
  as :func:`branchynet.exits.inference.entropy` does);
* **main**: the image -> the final exit's logits (every stage, then the
  last exit head): the baseline, or a B-net's main path.

Two places where Chainer and ONNX differ:

* LRN is not ONNX's ``LRN`` operator (whose ``alpha`` is divided by the
  window size, and whose ONNX Runtime kernel is slow) but the formula
  itself, the window sum as a banded 1x1 convolution (:func:`_lrn`); odd
  windows only (``n // 2`` channels on each side), even ``n`` is refused.
* Max pooling with ``cover_all=True`` becomes ``ceil_mode=1``. Both round
  the output size up, but ONNX drops a last window that would start past the
  input; the output size of every pooling layer is checked against the
  traced Chainer output while exporting, so a mismatch is an error, never a
  silently different graph.

Shapes come from running the Chainer model on a zero sample alongside
(:func:`_convert`), so every check sees the real shapes.
"""
import functools
import hashlib
import inspect
import json
import os

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import onnx
from onnx import TensorProto, helper, numpy_helper

from branchynet.data.download import atomic_path, write_json_atomic
from branchynet.errors import BranchyNetError
from branchynet.networks.layers import ResBlock
from branchynet.networks import INPUT_SHAPES
from branchynet.runtimes.onnx.inference import FORMAT, SIDECAR
from branchynet.networks.serialization import load_model, model_paths

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


# --- one function per layer kind: (graph, layer, input name, shapes) -> name

def _conv(g, link, h, x_shape, y_shape):
    ph, pw = link.pad
    inputs = [h, g.weight(link.W.array, 'W')]
    if link.b is not None:
        inputs.append(g.weight(link.b.array, 'b'))
    return g.op('Conv', inputs, kernel_shape=list(link.W.shape[2:]),
                strides=list(link.stride), pads=[ph, pw, ph, pw],
                dilations=list(link.dilate), group=link.groups)


def _linear(g, link, h, x_shape, y_shape):
    # Chainer's Linear flattens every axis after the batch axis
    flat = g.op('Flatten', [h], axis=1)
    inputs = [flat, g.weight(link.W.array, 'W')]
    if link.b is not None:
        inputs.append(g.weight(link.b.array, 'b'))
    return g.op('Gemm', inputs, transB=1)


def _batch_norm(g, link, h, x_shape, y_shape):
    if link.axis is not None:
        raise BranchyNetError('cannot export BatchNormalization over axis %r'
                              % (link.axis,))
    c = link.avg_mean.shape[0]
    gamma = link.gamma.array if link.gamma is not None else numpy.ones(c)
    beta = link.beta.array if link.beta is not None else numpy.zeros(c)
    # inference: the running statistics, as chainer.config.train=False uses
    return g.op('BatchNormalization', [
        h, g.weight(gamma, 'gamma'), g.weight(beta, 'beta'),
        g.weight(link.avg_mean, 'mean'), g.weight(link.avg_var, 'var')],
        epsilon=float(link.eps))


def _relu(g, args, h, x_shape, y_shape):
    return g.op('Relu', [h])


def _identity(g, args, h, x_shape, y_shape):
    return h          # dropout at inference


def onnx_pool_outsize(size, k, s, p, ceil_mode):
    """Output size of ONNX pooling along one axis (the operator's spec).

    With ``ceil_mode`` the size rounds up, but a last window that would
    start in the right padding (or past the input) is dropped.
    """
    if not ceil_mode:
        return (size + 2 * p - k) // s + 1
    out = -(-(size + 2 * p - k) // s) + 1
    if (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool(g, op_type, args, h, x_shape, y_shape, ceil_mode, **attrs):
    k = _pair(args['ksize'])
    s = _pair(args['stride'] if args['stride'] is not None else args['ksize'])
    p = _pair(args['pad'])
    onnx_shape = tuple(onnx_pool_outsize(n, *kps, ceil_mode)
                       for n, kps in zip(x_shape[2:], zip(k, s, p)))
    if onnx_shape != tuple(y_shape[2:]):
        raise BranchyNetError(
            '%s with ksize %s, stride %s, pad %s on %s: Chainer gives %s, '
            'ONNX would give %s' % (op_type, k, s, p, tuple(x_shape[2:]),
                                    tuple(y_shape[2:]), onnx_shape))
    return g.op(op_type, [h], kernel_shape=list(k), strides=list(s),
                pads=[p[0], p[1], p[0], p[1]], ceil_mode=int(ceil_mode),
                **attrs)


def _max_pool(g, args, h, x_shape, y_shape):
    if args['return_indices']:
        raise BranchyNetError('cannot export max pooling with return_indices')
    return _pool(g, 'MaxPool', args, h, x_shape, y_shape,
                 ceil_mode=bool(args['cover_all']))


def _avg_pool(g, args, h, x_shape, y_shape):
    # Chainer divides by the full window, padding included
    return _pool(g, 'AveragePool', args, h, x_shape, y_shape,
                 ceil_mode=False, count_include_pad=1)


def _lrn(g, args, h, x_shape, y_shape):
    """Chainer's ``x / (k + alpha * sum_window x^2)^beta``, spelled out.

    ONNX has an ``LRN`` operator, but ONNX Runtime's CPU kernel took 1.43
    ms on B-ResNet's (1, 64, 30, 30) map at one thread, 60% of the exit-1
    path. The window sum as a 1x1 convolution of the squares with a banded
    ``(C, C)`` matrix (``alpha`` on the band, ``k`` as its bias), and
    ``^0.75`` as ``sqrt(d) * sqrt(sqrt(d))``, took 0.15 ms, equal to
    Chainer's to 1e-6 relative.
    """
    n = int(args['n'])
    if n % 2 == 0:
        raise BranchyNetError('cannot export LRN with an even window (n=%d): '
                              'its window is not centred' % n)
    c = int(x_shape[1])
    offset = numpy.arange(c)[:, None] - numpy.arange(c)[None, :]
    band = (abs(offset) <= n // 2) * float(args['alpha'])
    d = g.op('Conv', [g.op('Mul', [h, h]),
                      g.weight(band.reshape(c, c, 1, 1), 'lrn_band'),
                      g.weight(numpy.full(c, float(args['k'])), 'lrn_k')],
             kernel_shape=[1, 1])
    beta = float(args['beta'])
    if beta == 0.75:
        root = g.op('Sqrt', [d])
        denominator = g.op('Mul', [root, g.op('Sqrt', [root])])
    else:
        denominator = g.op('Pow', [d, g.weight(numpy.array(beta), 'beta')])
    return g.op('Div', [h, denominator])


def _reshape(g, args, h, x_shape, y_shape):
    shape = g.weight(numpy.asarray(args['shape']), 'shape', numpy.int64)
    return g.op('Reshape', [h, shape])


def _res_block(g, block, h, x_shape, y_shape):
    """``relu(BN(conv(relu(BN(conv(x))))) + shortcut(x))`` (ResBlock)."""
    r = g.op('Relu', [_batch_norm(g, block.bn1, _conv(
        g, block.conv1, h, None, None), None, None)])
    r = _batch_norm(g, block.bn2, _conv(g, block.conv2, r, None, None),
                    None, None)
    shortcut = h
    if block.stride != 1:
        shortcut = g.op('AveragePool', [shortcut], kernel_shape=[1, 1],
                        strides=[block.stride, block.stride])
    grow = block.out_channels - block.in_channels
    if grow:
        # the reference concatenates zero channels in front; Pad does that
        # without a zeros tensor whose batch size would have to follow N
        pads = g.weight(numpy.array([0, grow, 0, 0, 0, 0, 0, 0]), 'pads',
                        numpy.int64)
        shortcut = g.op('Pad', [shortcut, pads], mode='constant')
    return g.op('Relu', [g.op('Add', [r, shortcut])])


#: link classes -> converter (checked in order: ResBlock before Chain)
LINKS = ((L.Convolution2D, _conv), (L.Linear, _linear),
         (L.BatchNormalization, _batch_norm), (ResBlock, _res_block))
#: chainer.functions (plain or in functools.partial) -> converter
FUNCTIONS = {F.relu: _relu, F.max_pooling_2d: _max_pool,
             F.average_pooling_2d: _avg_pool,
             F.local_response_normalization: _lrn, F.dropout: _identity,
             F.reshape: _reshape}


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _function_args(layer):
    """``(function, {argument: value})`` of a function or partial layer."""
    func = layer.func if isinstance(layer, functools.partial) else layer
    args = layer.args if isinstance(layer, functools.partial) else ()
    kwargs = layer.keywords if isinstance(layer, functools.partial) else {}
    bound = inspect.signature(func).bind(None, *args, **kwargs)
    bound.apply_defaults()
    return func, dict(bound.arguments)


def _converter(layer):
    """The converter for ``layer`` and the object it reads its settings from."""
    for cls, convert in LINKS:
        if isinstance(layer, cls):
            return convert, layer
    if callable(layer) and not isinstance(layer, chainer.Link):
        func, args = _function_args(layer)
        if func in FUNCTIONS:
            return FUNCTIONS[func], args
    raise BranchyNetError('cannot export layer %r: no ONNX converter for it'
                          % (layer,))


def _is_max_pool(layer):
    return getattr(layer, 'func', None) is F.max_pooling_2d


def _relu_before_pool(layers):
    """``conv, max_pool, relu`` -> ``conv, relu, max_pool``.

    ReLU and max pooling commute exactly (``max(relu(a), relu(b)) ==
    relu(max(a, b))``, padding included), and a ReLU right after a
    convolution is fused into it by ONNX Runtime: one kernel call less per
    pair, which is most of what a small exit head costs at batch size 1.
    """
    layers = list(layers)
    for i in range(1, len(layers) - 1):
        if (isinstance(layers[i - 1], L.Convolution2D)
                and _is_max_pool(layers[i]) and layers[i + 1] is F.relu):
            layers[i], layers[i + 1] = layers[i + 1], layers[i]
    return layers


def _convert(g, layer, h, x):
    """Add ``layer`` applied to tensor ``h`` to the graph.

    Args:
        layer: a link, a ``chainer.Sequential``, a chainer function or a
            ``functools.partial`` of one.
        h (str): name of the input tensor in the graph.
        x (array): the same input in Chainer (one traced sample).

    Returns:
        tuple: the output's name in the graph and the traced output array.
    """
    if isinstance(layer, chainer.Sequential):
        for sub in _relu_before_pool(list(layer)):
            h, x = _convert(g, sub, h, x)
        return h, x
    convert, settings = _converter(layer)
    y = layer(x)
    y = y.array if isinstance(y, chainer.Variable) else y
    return convert(g, settings, h, x.shape, y.shape), y


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
            h, x = _convert(g, stage, 'input', x)
            # named in every segment, so that the trunk alone can be cut out
            # (branchynet.runtimes.runtime times it for the reference's accounting)
            h = g.name_output(h, 'stage_output')
            z, logits = _convert(g, head, h, x)
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
        for stage in model.stages:
            h, x = _convert(g, stage, h, x)
        z, logits = _convert(g, model.exits[-1], h, x)
    g.name_output(z, 'logits')
    return g.model([('input', _batched((1,) + tuple(input_shape)))],
                   [('logits', _batched(logits.shape))], 'main')


def n_classes(model, input_shape):
    """Number of classes the final exit predicts (traced)."""
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        return int(model.forward_main(_trace_input(model,
                                                   input_shape)).shape[1])


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


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
        sidecar['files'][name] = _sha256_file(os.path.join(out, name))
    write_json_atomic(os.path.join(out, SIDECAR), sidecar)
    return sidecar


def _sidecar(model_dir, model, network, shape, names):
    segments = [n for n in names if n.startswith('branchynet_segment')]
    segments.sort(key=lambda n: int(n[len('branchynet_segment'):-5]))
    source = {role: {'weights': role + '.npz', 'sha256': _sha256_file(
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

