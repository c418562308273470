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
import chainer.functions as F
import chainer.links as L
import numpy
from scipy.stats import trim_mean

from branchynet.errors import BranchyNetError
from branchynet.networks.layers import ResBlock, flatten
from branchynet.runtimes.onnx.converters import link_kind, own_code
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


def _conv_macs(link, out):
    """Each output element: ``in_channels / groups * kh * kw``."""
    return out.size // out.shape[0] * int(numpy.prod(link.W.shape[1:]))


def _linear_macs(link, out):
    return link.W.shape[0] * link.W.shape[1]


def _free(link, out):
    return 0


#: every link kind the multiply-add counter knows -> the multiply-adds per
#: sample of one call, ``(link, output) -> int`` (a subclass counts as its
#: class unless it has a forward or a __call__ of its own). Only
#: convolutions and linear layers count (the usual convention:
#: normalisation, pooling and activations are comparatively free); a kind
#: not here is an error, never counted as 0 unseen.
LINK_MACS = {
    L.Convolution2D: _conv_macs,       # groups and dilation included
    L.Linear: _linear_macs,
    L.BatchNormalization: _free,       # a scale and a shift per element
    # its convolutions and BatchNormalizations are links counted on their
    # own; its ReLUs, stride-s pooling, zero channels and sum are free
    ResBlock: _free,
    chainer.Sequential: _free,         # a container: its layers count
}

#: the functions a ``chainer.Sequential`` may hold (plain or in
#: ``functools.partial``), known to the counter as free. A lambda cannot be
#: recognised: it is an unknown layer.
FREE_FUNCTIONS = frozenset({
    F.relu, F.leaky_relu, F.elu, F.tanh, F.sigmoid, F.softplus, F.relu6,
    F.clipped_relu, F.max_pooling_2d, F.average_pooling_2d,
    F.local_response_normalization, F.dropout, F.reshape, F.flatten,
    flatten})

#: said of a lambda, which no table can recognise
LAMBDA_HINT = ('; a lambda cannot be recognised: use the chainer function '
               'itself or a functools.partial of it')


def _link_macs(link, where):
    """``LINK_MACS``' entry for ``link``'s kind; an error naming the layer
    at ``where`` when it has none (a subclass with a ``forward`` or a
    ``__call__`` of its own may do anything: not its parent's kind)."""
    try:
        kind = link_kind(link, LINK_MACS)
        if kind is not None:
            return LINK_MACS[kind]
        reason = 'its kind is not in'
    except BranchyNetError as e:
        reason = '%s in' % e
    raise BranchyNetError(
        'cannot count the multiply-adds of %s (%s): %s '
        'branchynet.measurement.profiling.LINK_MACS'
        % (where, type(link).__name__, reason))


def check_layers(model):
    """Every layer of ``model`` (its stages and exit heads, and the links
    inside them) is of a kind the counter knows (:data:`LINK_MACS`,
    :data:`FREE_FUNCTIONS`). Nothing is run.

    Raises:
        BranchyNetError: one line naming the first unknown layer by its
        path in the model (``stages/1/3``: stage 1's layer 3, from 0) and
        its kind.
    """
    for kind, chains in (('stages', model.stages), ('exits', model.exits)):
        for k, chain in enumerate(chains):
            _check_layer(chain, '%s/%d' % (kind, k))


def _check_layer(layer, where):
    if isinstance(layer, chainer.Sequential) and \
            own_code(layer, chainer.Sequential) is None:
        for i, sub in enumerate(layer):
            _check_layer(sub, '%s/%d' % (where, i))
    elif isinstance(layer, chainer.Link):
        _link_macs(layer, where)
        for path, link in layer.namedlinks(skipself=True):
            _link_macs(link, where + path)
    else:
        func = getattr(layer, 'func', layer)        # a functools.partial
        if func not in FREE_FUNCTIONS:
            name = getattr(func, '__name__', type(func).__name__)
            raise BranchyNetError(
                'cannot count the multiply-adds of %s (%s): its kind is '
                'not in branchynet.measurement.profiling.FREE_FUNCTIONS%s'
                % (where, name, LAMBDA_HINT if name == '<lambda>' else ''))


class _MacCounter(chainer.LinkHook):
    """Counts the multiply-adds of every link called, per sample
    (:data:`LINK_MACS`)."""

    name = 'MacCounter'

    def __init__(self):
        self.macs = 0

    def forward_postprocess(self, args):
        link = args.link
        self.macs += _link_macs(link, type(link).__name__)(link, args.out)


def count_macs(model, x1):
    """Multiply-adds of each stage and each exit head for one sample.

    Only convolutions and linear layers are counted (the usual convention;
    pooling, activations and normalisation are comparatively free); every
    layer must be of a kind the counter knows (:func:`check_layers`).

    Args:
        model (BranchyNet): the network.
        x1 (array): one sample, ``(1, C, H, W)``, on the model's device.

    Returns:
        dict: ``stage`` and ``exit`` (lists of ints, one per stage/exit),
        ``path`` (multiply-adds of exit path k: stages 1..k and heads 1..k)
        and ``baseline`` (all stages and the final exit).
    """
    check_layers(model)
    stage, head = [], []
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        h = x1
        for s, e in zip(model.stages, model.exits):
            with _MacCounter() as counter:
                h = s(h)
            stage.append(int(counter.macs))
            with _MacCounter() as counter:
                e(h)
            head.append(int(counter.macs))
    path = [int(sum(stage[:k + 1]) + sum(head[:k + 1]))
            for k in range(len(stage))]
    return {'stage': stage, 'exit': head, 'path': path,
            'baseline': int(sum(stage) + head[-1])}
