"""Can a network be counted and exported faithfully? Asked before training.

The multiply-add counter (:mod:`branchynet.measurement.profiling`) and the
ONNX exporter (:mod:`branchynet.runtimes.onnx.export`) work from the
functions each stage and exit head runs (:mod:`branchynet.networks.tracing`),
whatever the network's Python classes. :func:`check_supported` traces the
network twice (batch 1 and 2, different inputs), asks both tables about
every function run, and then runs the export on ONNX Runtime against
Chainer at two batch sizes: a network that either cannot handle fails at
once, in one line listing every place, not hours later.
"""
import chainer
import numpy

from branchynet.errors import BranchyNetError
from branchynet.measurement.profiling import cost_problems
from branchynet.networks.model import BranchyNet
from branchynet.networks.tracing import checked_traces, refuse

#: how far ONNX Runtime's logits may be from Chainer's, relative to the
#: largest logit (at least 1): float32 sums in another order
RTOL = 1e-4
#: batch sizes of the comparison (3: one the traces did not see)
COMPARED_BATCHES = (1, 3)


def check_supported(model, in_shape):
    """Raise one line if ``model`` cannot be counted or exported faithfully.

    The checks run in test mode on the CPU (a model elsewhere is copied),
    parameters left unsized as they were, NumPy's random state put back: the model, and the random numbers training will draw, are as
    they were.

    Args:
        model (BranchyNet): the network.
        in_shape (tuple): the shape of one sample, ``(C, H, W)``.

    Raises:
        BranchyNetError: one line listing every unsupported place, each by
        its link path and the function it ran (``stages/0/3 (BasicBlock)
        ran Sin, which has no multiply-add entry ...``), or how far the
        export is from Chainer.
    """
    from branchynet.runtimes.onnx.export import export_problems
    if not isinstance(model, BranchyNet):
        raise BranchyNetError('expected a branchynet.BranchyNet, got %s'
                              % type(model).__name__)
    in_shape = tuple(int(n) for n in in_shape)
    state = numpy.random.get_state()
    unsized = [p for p in model.params() if p.array is None]
    try:
        cpu = _on_cpu(model)
        traces, problems = checked_traces(cpu, in_shape)
        problems += cost_problems(traces) + export_problems(traces) + \
            _lambda_problems(model)
        refuse(problems, 'cannot count or export this network')
        _compare_with_chainer(cpu, in_shape, traces)
    finally:
        numpy.random.set_state(state)
        for param in unsized:       # sized by training's first batch
            param.array = None


def _lambda_problems(model):
    """A lambda in a ``chainer.Sequential``: traced and exported as it
    runs, but Chainer refuses to copy such a Sequential (it cannot be
    pickled), and training copies the model."""
    from branchynet.networks.tracing import Problem
    found = []
    for path, link in model.namedlinks(skipself=True):
        if isinstance(link, chainer.Sequential):
            found += [Problem('%s/%d (<lambda>)' % (path.lstrip('/'), i),
                              'a lambda in a chainer.Sequential cannot be '
                              'copied, and training copies the model: use '
                              'a functools.partial or a Chain of your own')
                      for i, layer in enumerate(link)
                      if getattr(layer, '__name__', None) == '<lambda>']
    return found


def _on_cpu(model):
    """The model itself on the CPU (test mode writes nothing into it; a
    lambda in a Sequential cannot be deep-copied), else a CPU copy."""
    if isinstance(model.device, chainer.backend.CpuDevice):
        return model
    copy = model.copy(mode='copy')
    copy.to_device(chainer.backend.CpuDevice())
    return copy


def _compare_with_chainer(model, in_shape, traces):
    """The exported graphs on ONNX Runtime give Chainer's logits at every
    exit and on the main path, at each of :data:`COMPARED_BATCHES`."""
    from branchynet.exits import inference
    from branchynet.runtimes.onnx import inference as onnx_inference
    from branchynet.runtimes.onnx.export import main_graph, segment_graphs
    net = onnx_inference.OnnxBranchyNet(
        [g.SerializeToString() for g in segment_graphs(model, in_shape,
                                                       traces)],
        main_graph(model, in_shape, traces).SerializeToString(),
        n_exits=model.n_exits)
    rng = numpy.random.RandomState(1)
    for n in COMPARED_BATCHES:
        x = rng.uniform(-1, 2, (n,) + in_shape).astype(numpy.float32)
        _, want = inference.exit_logits(model, x)          # (N, K, C)
        _, got = onnx_inference.exit_logits(net, x)
        got = numpy.concatenate([numpy.asarray(got), onnx_inference.
                                 forward_main(net, x)[:, None]], axis=1)
        want = numpy.concatenate([want, want[:, -1:]], axis=1)
        diff = numpy.abs(got - want).max(axis=(0, 2))
        scale = max(1.0, float(numpy.abs(want).max()))
        for k in numpy.flatnonzero(diff > RTOL * scale):
            what = 'the main path' if k == model.n_exits else 'exit %d' % (
                k + 1)
            raise BranchyNetError(
                'cannot export this network faithfully: ONNX Runtime gives '
                '%s logits %.3g away from Chainer\'s at batch size %d'
                % (what, diff[k], n))
