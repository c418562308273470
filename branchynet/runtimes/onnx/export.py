"""ONNX export of a BranchyNet: one graph per segment, and the main path whole.

onnx-chainer, the Chainer project's own converter, cannot be used: its last
release (1.6.0, 2019) needs chainer < 7 and onnx < 1.7, pip reports the
conflict with chainer 7.8.1, and it fails at import. So the export is
done as onnx-chainer did it, over :mod:`onnx.helper`: each stage and exit
head is traced (:mod:`branchynet.networks.tracing`: the FunctionNodes its
forward runs, whatever its Python classes), and each function converted by
its type (:mod:`branchynet.runtimes.onnx.converters`, where the places
Chainer and ONNX differ are handled: LRN, max pooling's ``cover_all``, the
batch axis). Every segment is traced twice (batch 1 and 2, different
inputs) and what the traces disagree on is refused (a graph break, a
constant made with the batch size, control flow on the data).
:func:`check_exportable` checks without keeping weights; an error lists
every place that cannot be exported, each by its link path and function
(``stages/1/3 (BasicBlock) ran Sin``).

Rewrites on the traced graph (the same values, a faster graph): a ReLU
after a max pooling that follows a convolution is moved before the pooling
(:func:`_relu_after_pool`); LRN is written as a banded 1x1 convolution
(:func:`~branchynet.runtimes.onnx.converters._lrn`); functions of
parameters and constants alone (the reshaped kernel of a depthwise
convolution) are folded into constants.

Graphs (opset :data:`OPSET`, float32, batch dimension symbolic ``N``):

* **segment k** (k = 1..K) reads ``input`` (the image for k = 1, stage
  k-1's output otherwise) and returns ``stage_output`` (stage k's output;
  an inner tensor of the last segment, not an output), ``logits`` (exit k,
  ``(N, classes)``) and
  ``entropy`` (nats, of ``softmax(logits)``, ``(N,)``, computed in the graph
  as :func:`branchynet.exits.inference.entropy` does);
* **main**: the image -> the final exit's logits (every stage, then the
  last exit head): the baseline, or a B-net's main path.

Shapes come from the traces, so every check sees the real shapes.
"""
import collections
import os

import chainer
import numpy
import onnx
from onnx import TensorProto, helper, numpy_helper

from branchynet.utils.atomic import atomic_path, write_json_atomic
from branchynet.errors import BranchyNetError
from branchynet.networks import INPUT_SHAPES
from branchynet.experiments import load_trained
from branchynet.networks.serialization import model_paths
from branchynet.networks import tracing
from branchynet.networks.tracing import Problem, refuse
from branchynet.runtimes.onnx.converters import convert
from chainer.functions.activation.relu import ReLU
from chainer.functions.connection.convolution_2d import Convolution2DFunction
from chainer.functions.pooling.max_pooling_nd import MaxPoolingND
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

    def name(self, hint):
        """A fresh tensor name."""
        self._count += 1
        return '%s_%d' % (hint, self._count)

    def weight(self, array, hint='w', dtype=numpy.float32):
        """An initializer holding ``array`` (host copy); returns its name."""
        name = self.name(hint)
        host = numpy.asarray(chainer.backend.CpuDevice().send(array), dtype)
        self.initializers.append(numpy_helper.from_array(host, name))
        return name

    def op(self, op_type, inputs, out=None, **attrs):
        """Append a node; returns the name of its output (``out``: a
        name, or a list of names for several outputs)."""
        out = out or self.name(op_type.lower())
        outs = out if isinstance(out, list) else [out]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs,
                                           name=outs[0], **attrs))
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


def _relu_after_pool(t, i, uses, producers):
    """The ReLU step that may move before max pooling step ``i``, or None.

    ``conv -> max_pool -> relu`` becomes ``conv -> relu -> max_pool``: ReLU
    and max pooling commute exactly (``max(relu(a), relu(b)) ==
    relu(max(a, b))``, padding included), and a ReLU right after a
    convolution is fused into it by ONNX Runtime: one kernel call less per
    pair, which is most of what a small exit head costs at batch size 1.
    """
    step = t.steps[i]
    if type(step.node) is not MaxPoolingND:
        return None
    before = producers.get(id(step.inputs[0]))
    out = step.node.outputs[0]()
    if before is None or out is None or uses[id(out)] != 1 or \
            type(t.steps[before[0]].node) is not Convolution2DFunction or \
            out is t.output.node:
        return None
    for j in range(i + 1, len(t.steps)):
        if any(vn is out for vn in t.steps[j].inputs):
            return j if type(t.steps[j].node) is ReLU else None
    return None


def _name_of(g, t, vn, names):
    """A tensor's name in the graph; a parameter, a constant or a folded
    value becomes a weight the first time it is read."""
    if id(vn) not in names:
        names[id(vn)] = g.weight(t.array(vn), 'w')
    return names[id(vn)]


def _emit(g, t, input_name, problems):
    """Add trace ``t`` to graph ``g``, reading ``input_name``; returns its
    output's name. What cannot be converted is added to ``problems``."""
    names, live = {id(t.input): input_name}, {id(t.input)}
    uses = collections.Counter(id(vn) for s in t.steps for vn in s.inputs)
    producers, moved = t.producers(), {}
    for i, step in enumerate(t.steps):
        if not any(id(vn) in live for vn in step.inputs):
            continue              # of parameters and constants: folded
        outs = [ref() for ref in step.node.outputs]
        ins = [_name_of(g, t, vn, names) for vn in step.inputs]
        if i in moved:           # a ReLU moved before its max pooling
            got = [moved.pop(i)]
        else:
            relu = _relu_after_pool(t, i, uses, producers)
            if relu is not None:
                ins = [g.op('Relu', ins)]
            got = _convert_step(g, step, ins, [
                None if vn is None else t.array(vn) for vn in outs], problems)
            if relu is not None:
                moved[relu] = got[0]
        for vn, name in zip(outs, got):
            if vn is not None:
                names[id(vn)], _ = name, live.add(id(vn))
    return _name_of(g, t, t.output.node, names)


def _convert_step(g, step, ins, ys, problems):
    try:
        return convert(g, step.node, ins, step.arrays, ys)
    except BranchyNetError as e:
        problems.append(Problem(step.place, str(e)))
        return [g.name('unconverted') for _ in ys]


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


def _traces(model, input_shape, traces=None):
    """Checked traces of the model (:func:`~branchynet.networks.tracing.
    checked_traces`); a refusal lists every problem."""
    if traces is None:
        traces, problems = tracing.checked_traces(model, input_shape)
        refuse(problems, 'cannot export')
    return traces


def segment_graphs(model, input_shape, traces=None):
    """One ONNX graph per segment of a BranchyNet (see the module doc).

    Args:
        model (BranchyNet): the network, on any device.
        input_shape (tuple): ``(C, H, W)`` of one image.
        traces: the model's checked traces, when the caller has them.

    Returns:
        list of onnx.ModelProto: ``K`` graphs, segment 1 first.

    Raises:
        BranchyNetError: one line listing every place that cannot be
        exported.
    """
    parts, problems = [], []
    last = model.n_exits - 1
    for k, (stage, head) in enumerate(_traces(model, input_shape, traces)):
        g = _Graph()
        # named in every segment, so that the trunk alone can be cut out
        # (branchynet.runtimes.runtime times it for the reference's accounting)
        h = g.name_output(_emit(g, stage, 'input', problems), 'stage_output')
        z = _emit(g, head, h, problems)
        z = g.name_output(g.op('Identity', [z]) if z == h else z, 'logits')
        _entropy(g, z, 'entropy')
        stage_output = [('stage_output', _batched(stage.output.shape))]
        outputs = [('logits', _batched(head.output.shape)), ('entropy', ['N'])]
        if k != last:
            outputs = stage_output + outputs
        parts.append((g, [('input', _batched(stage.x.shape))], outputs,
                      'segment%d' % (k + 1),
                      [] if k != last else stage_output))
    refuse(problems, 'cannot export')
    return [g.model(inputs, outputs, name, inner=inner)
            for g, inputs, outputs, name, inner in parts]


def main_graph(model, input_shape, traces=None):
    """The main network (every stage, then the final exit) as one graph.

    Returns:
        onnx.ModelProto: ``input`` float32 ``(N, C, H, W)`` -> ``logits``
        float32 ``(N, classes)``.
    """
    traces = _traces(model, input_shape, traces)
    g, problems, h = _Graph(), [], 'input'
    for trace in [s for s, _ in traces] + [traces[-1][1]]:
        h = _emit(g, trace, h, problems)
    refuse(problems, 'cannot export')
    g.name_output(g.op('Identity', [h]) if h == 'input' else h, 'logits')
    return g.model([('input', _batched((1,) + tuple(input_shape)))],
                   [('logits', _batched(traces[-1][1].output.shape))], 'main')


class _DryGraph(_Graph):
    """A graph that keeps no weights: for checking, never for writing."""

    def weight(self, array, hint='w', dtype=numpy.float32):
        return self.name(hint)


def export_problems(traces):
    """What in the traces cannot be converted (a list of
    :class:`~branchynet.networks.tracing.Problem`), converted into a graph
    that keeps no weights and is never checked or written."""
    g, problems = _DryGraph(), []
    for stage, head in traces:
        _emit(g, head, _emit(g, stage, 'input', problems), problems)
    return problems


def check_exportable(model, input_shape):
    """Every stage and exit head of ``model`` converts to ONNX: the traces
    agree and every function they ran converts.

    Raises:
        BranchyNetError: one line listing every place that cannot be
        exported, ``cannot export: stages/1/3 (BasicBlock) ran Sin, which
        has no ONNX converter ...; ...``.
    """
    traces, problems = tracing.checked_traces(model, input_shape)
    refuse(problems + export_problems(traces), 'cannot export')


def n_classes(model, input_shape):
    """Number of classes the final exit predicts (traced)."""
    x = model.device.send(numpy.zeros((1,) + tuple(input_shape),
                                      numpy.float32))
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        return int(model.forward_main(x).shape[1])


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
    model, info = load_trained(os.path.join(model_dir, 'branchynet'))
    baseline, base_info = load_trained(os.path.join(model_dir, 'baseline'))
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

