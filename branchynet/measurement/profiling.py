"""Per-sample latency of each exit path, and multiply-adds, at batch size 1.

An *exit path* k is everything a sample that leaves at exit k goes
through: stages 1..k, exit heads 1..k, and at each of those exits the
softmax, the entropy and the decision. It is timed by running the real
early-exit procedure (:func:`~branchynet.exits.inference.early_exit_one`) with
thresholds that force the exit at k, so the code timed is the code used.

Two accountings are recorded side by side:

* ``exit_ms`` (ours): the whole exit path, end to end;
* ``trunk_ms`` (the reference's): only the trunk stages 1..k, the way the
  reference code timed its early-exit test (heads, softmax, entropy and the
  final classifier outside the timer).

Two statistics of the same samples, too: ``*_ms`` are trimmed means (ours:
steady under a busy machine); ``*_ms_mean`` are plain means, the
reference's statistic (``utils.test`` sums the time of every sample run
and the scripts divide by N). A plain mean is also the only one whose
exit-fraction mix is the mean over a stream of samples.

On a GPU the device is synchronised before every clock read; the
reference's GPU timings were not, which we do not reproduce (our trunk
times are real trunk times).

The model may be a Chainer BranchyNet or any runtime of
:mod:`branchynet.runtimes.runtime` (ONNX Runtime: ``--runtime onnxruntime``); the
profile records which, with its thread settings.
"""
import dataclasses
import time

import chainer
import numpy
from chainer.functions.activation import (clipped_relu, elu, hard_sigmoid,
                                          leaky_relu, log_softmax, prelu, relu,
                                          sigmoid, softmax, softplus, swish,
                                          tanh)
from chainer.functions.array import (broadcast, concat, expand_dims, pad,
                                     reshape, split_axis, squeeze, transpose)
from chainer.functions.connection import (convolution_2d, deconvolution_2d,
                                          linear)
from chainer.functions.math import average, basic_math, minmax, sum as sum_
from chainer.functions.normalization import (batch_normalization,
                                             layer_normalization,
                                             local_response_normalization)
from chainer.functions.pooling import (average_pooling_2d, max_pooling_nd,
                                       unpooling_2d)
from scipy.stats import trim_mean

from branchynet.errors import BranchyNetError
from branchynet.networks.model import BranchyNet
from branchynet.networks.tracing import Problem, refuse, trace_model
from branchynet.runtimes.onnx.converters import Call
from branchynet.runtimes import as_runtime


#: fraction cut from each end of the timings before averaging
TRIM = 0.1


def robust_ms(times_ms):
    """Trimmed mean of per-sample times (see :data:`TRIM`)."""
    return float(trim_mean(numpy.asarray(times_ms), TRIM))


def plain_ms(times_ms):
    """Plain mean of per-sample times: the reference's statistic."""
    return float(numpy.mean(numpy.asarray(times_ms)))


def forcing_thresholds(n_exits, k):
    """Thresholds that make every sample leave at exit ``k`` (0-based).

    ``H < 0`` never holds (entropy is >= 0) and ``H < inf`` always does.
    """
    return tuple(float('inf') if j == k else 0.0 for j in range(n_exits - 1))


@dataclasses.dataclass
class PathProfile:
    """Batch-1 latency (ms per sample) of the baseline and each exit path.

    ``*_ms`` are trimmed means over the timed samples (the slowest and the
    fastest ``TRIM`` fraction left out, so a sample interrupted by another
    process does not move the figure); ``*_ms_mean`` plain means of the
    same samples (the reference's statistic; None in profiles made before
    they were recorded); ``*_ms_median`` and
    ``*_ms_p10``/``*_ms_p90`` give the middle and the spread. Index ``k`` of
    a list is exit path ``k`` (0-based).
    """
    device: str
    n_samples: int
    baseline_ms: float
    baseline_ms_median: float
    baseline_ms_p10: float
    baseline_ms_p90: float
    exit_ms: list
    exit_ms_median: list
    exit_ms_p10: list
    exit_ms_p90: list
    stage_ms: list         # each trunk stage alone
    trunk_ms: list         # reference accounting: stages 1..k cumulated
    runtime: str = 'chainer'
    settings: dict = None  # the runtime's threads, providers, versions
    baseline_ms_mean: float = None
    exit_ms_mean: list = None
    trunk_ms_mean: list = None   # stages 1..k, plain means cumulated

    def to_dict(self):
        return dataclasses.asdict(self)


def run_one(model, x1, thresholds):
    """What one sample costs at batch size 1: ``(prediction, exit_index)``.

    ``thresholds=None`` runs the main network alone (the baseline); otherwise
    the early-exit procedure. Both the profiler and the validation time this
    (:meth:`run_one` of the runtime), so predicted and measured times cover
    the same work.

    Args:
        model: a BranchyNet or a runtime (:mod:`branchynet.runtimes.runtime`).
        x1: one sample, already where the runtime reads it (``send``).
    """
    return as_runtime(model).run_one(x1, thresholds)


def _timed(fn, runtime):
    runtime.synchronize()
    start = time.perf_counter()
    fn()
    runtime.synchronize()
    return 1000 * (time.perf_counter() - start)


def _stage_times(runtime, x):
    times = []
    h = x
    for stage in runtime.trunk_stages():
        runtime.synchronize()
        start = time.perf_counter()
        h = stage(h)
        runtime.synchronize()
        times.append(1000 * (time.perf_counter() - start))
    return times


def profile_paths(model, x, n_samples=200, n_warmup=20):
    """Time the baseline and every exit path on ``n_samples`` samples.

    Samples are timed one at a time; for each sample the baseline, every
    exit path and every stage are timed in turn, so slow drifts of the
    machine affect all of them alike. The baseline and the paths are timed
    in a fresh random order for each sample: at tens of microseconds (ONNX
    Runtime) a fixed order biased whichever ran after another session by
    about 10% (B-LeNet's gain came out 1.56x in one fixed order, 2.08x in
    another, 1.7-1.8x in random orders).

    Args:
        model (BranchyNet or runtime): the trained network, on its device,
            or a runtime of :mod:`branchynet.runtimes.runtime`.
        x (numpy.ndarray): float32 ``(N, C, H, W)``; the first ``n_samples``
            rows are used (cycled if N is smaller).
        n_samples (int): timed samples.
        n_warmup (int): untimed runs of each path first.

    Returns:
        PathProfile
    """
    rt = as_runtime(model)
    base, per_path, per_stage = _time_samples(rt, x, n_samples, n_warmup)
    return _path_profile(rt, n_samples, numpy.array(base),
                         [numpy.array(p) for p in per_path],
                         numpy.array(per_stage))


def _time_samples(rt, x, n_samples, n_warmup):
    """Per timed sample: the baseline's ms, each exit path's, and each
    stage's (the warm-up runs dropped)."""
    k_exits = rt.n_exits
    paths = [forcing_thresholds(k_exits, k) for k in range(k_exits)]
    runs = paths + [None]          # the last run is the baseline

    base, per_path, per_stage = [], [[] for _ in paths], []
    # its own generator: the caller's numpy random state stays untouched
    order = numpy.random.RandomState(0)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for i in range(n_warmup + n_samples):
            x1 = rt.send(x[i % len(x):i % len(x) + 1])
            t = [None] * len(runs)
            for j in order.permutation(len(runs)):
                t[j] = _timed(lambda: rt.run_one(x1, runs[j]), rt)
            t_stages = _stage_times(rt, x1)
            if i >= n_warmup:
                base.append(t[-1])
                for k in range(k_exits):
                    per_path[k].append(t[k])
                per_stage.append(t_stages)
    return base, per_path, per_stage


def _path_profile(rt, n_samples, base, per_path, per_stage):
    """The :class:`PathProfile` of the timed samples."""
    stage_ms = numpy.array([robust_ms(t) for t in per_stage.T])
    stage_ms_mean = numpy.array([plain_ms(t) for t in per_stage.T])
    return PathProfile(
        device=rt.device, n_samples=n_samples,
        baseline_ms=robust_ms(base),
        baseline_ms_median=float(numpy.median(base)),
        baseline_ms_p10=float(numpy.percentile(base, 10)),
        baseline_ms_p90=float(numpy.percentile(base, 90)),
        exit_ms=[robust_ms(p) for p in per_path],
        exit_ms_median=[float(numpy.median(p)) for p in per_path],
        exit_ms_p10=[float(numpy.percentile(p, 10)) for p in per_path],
        exit_ms_p90=[float(numpy.percentile(p, 90)) for p in per_path],
        stage_ms=stage_ms.tolist(),
        trunk_ms=numpy.cumsum(stage_ms).tolist(),
        runtime=rt.name, settings=rt.settings,
        baseline_ms_mean=plain_ms(base),
        exit_ms_mean=[plain_ms(p) for p in per_path],
        trunk_ms_mean=numpy.cumsum(stage_ms_mean).tolist())


def _per_sample(array):
    return array.size // array.shape[0]


def _conv_macs(c):
    """Each output element: ``in_channels / groups * kh * kw`` (the
    kernel's shape after its first axis; depthwise included)."""
    return _per_sample(c.y[0]) * int(numpy.prod(c.x[1].shape[1:]))


def _deconv_macs(c):
    """Each input element times ``out_channels / groups * kh * kw``."""
    return _per_sample(c.x[0]) * int(numpy.prod(c.x[1].shape[1:]))


def _linear_macs(c):
    return _per_sample(c.y[0]) * int(c.x[1].shape[1])


def _free(c):
    return 0


#: the types of the functions counted as free: normalisation, activations,
#: pooling, arithmetic and moving data (the usual convention: only
#: convolutions and linear maps count)
_FREE = (
    batch_normalization.FixedBatchNormalization,
    layer_normalization.LayerNormalization, relu.ReLU, leaky_relu.LeakyReLU,
    elu.ELU, tanh.Tanh, sigmoid.Sigmoid, softplus.Softplus,
    clipped_relu.ClippedReLU, prelu.PReLUFunction, swish.Swish,
    hard_sigmoid.HardSigmoid, softmax.Softmax, log_softmax.LogSoftmax,
    max_pooling_nd.MaxPoolingND, average_pooling_2d.AveragePooling2D,
    unpooling_2d.Unpooling2D, average.Mean, sum_.Sum, minmax.Max,
    local_response_normalization.LocalResponseNormalization, concat.Concat,
    split_axis.SplitAxis, reshape.Reshape, squeeze.Squeeze,
    expand_dims.ExpandDims, broadcast.BroadcastTo, transpose.Transpose,
    pad.Pad, basic_math.Add, basic_math.Sub, basic_math.Mul, basic_math.Div,
    basic_math.Neg, basic_math.AddConstant, basic_math.MulConstant,
    basic_math.SubFromConstant, basic_math.DivFromConstant,
    basic_math.PowVarConst)

#: FunctionNode type -> multiply-adds of one call, ``Call -> int`` for the
#: whole batch (divided by the batch size by the counter). A type not here
#: is an error, never counted as 0 unseen (chainer-computational-cost
#: warned and counted 0).
COSTS = {
    convolution_2d.Convolution2DFunction: _conv_macs,   # grouped, dilated
    deconvolution_2d.Deconvolution2DFunction: _deconv_macs,
    linear.LinearFunction: _linear_macs,
}
COSTS.update((kind, _free) for kind in _FREE)


def _trace_costs(t, problems):
    """Multiply-adds per sample of one trace; unknown functions are added
    to ``problems``."""
    total = 0
    for step in t.steps:
        cost = COSTS.get(type(step.node))
        if cost is None:
            problems.append(Problem(step.place, 'no multiply-add '
                                    'entry (branchynet.measurement.'
                                    'profiling.COSTS)'))
            continue
        ys = [None if ref() is None else t.array(ref())
              for ref in step.node.outputs]
        total += cost(Call(step.node, None, step.arrays, ys))
    return total // len(t.x)


def cost_problems(traces):
    """Places whose function has no multiply-add entry (a list of
    :class:`~branchynet.networks.tracing.Problem`)."""
    problems = []
    for pair in traces:
        for t in pair:
            _trace_costs(t, problems)
    return problems


def check_layers(model, x1=None):
    """Every function that ``model``'s stages and exit heads run on
    sample ``x1`` has a multiply-add entry (:data:`COSTS`).

    Counting is by the functions a forward runs, so nothing can be said
    without a sample: with ``x1`` None only the model's type is checked
    (:func:`count_macs` and :func:`branchynet.measurement.preflight.
    check_supported` trace it).

    Raises:
        BranchyNetError: one line listing every unknown place, ``cannot
        count the multiply-adds: stages/0/3 (BasicBlock) ran Sin, ...``.
    """
    if not isinstance(model, BranchyNet):
        raise BranchyNetError('expected a branchynet.BranchyNet, got %s'
                              % type(model).__name__)
    if x1 is not None:
        refuse(cost_problems(trace_model(model, x1)),
               'cannot count the multiply-adds')


def count_macs(model, x1, traces=None):
    """Multiply-adds of each stage and each exit head for one sample.

    Only convolutions and linear maps are counted (the usual convention;
    pooling, activations and normalisation are comparatively free), by
    the functions each stage and head runs on ``x1``
    (:mod:`branchynet.networks.tracing`); every function must have an entry
    in :data:`COSTS`.

    Args:
        model (BranchyNet): the network.
        x1 (array): one sample, ``(1, C, H, W)``, on the model's device.
        traces: the model's traces, when the caller has them (any batch).

    Returns:
        dict: ``stage`` and ``exit`` (lists of ints, one per stage/exit),
        ``path`` (multiply-adds of exit path k: stages 1..k and heads 1..k)
        and ``baseline`` (all stages and the final exit).

    Raises:
        BranchyNetError: one line listing every function without an entry.
    """
    check_layers(model)
    problems, stage, head = [], [], []
    for s, e in traces or trace_model(model, x1):
        stage.append(int(_trace_costs(s, problems)))
        head.append(int(_trace_costs(e, problems)))
    refuse(problems, 'cannot count the multiply-adds')
    path = [int(sum(stage[:k + 1]) + sum(head[:k + 1]))
            for k in range(len(stage))]
    return {'stage': stage, 'exit': head, 'path': path,
            'baseline': int(sum(stage) + head[-1])}
