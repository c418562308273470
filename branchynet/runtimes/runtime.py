"""Which engine runs inference: Chainer or ONNX Runtime, behind one interface.

Evaluation, the profiler, the sweep's records and its validation ask a
*runtime* for the few things they need (run one sample, a batch, the
records, the trunk stages); :func:`make_runtime` builds one for a loaded
model, so ``--runtime chainer|onnxruntime`` is decided in one place and
everything else is the same code for both.

* :class:`ChainerRuntime`: the model's own device (``@numpy``, ``@cupy:N``),
  :mod:`branchynet.exits.inference`.
* :class:`OnnxRuntime`: the model exported in memory
  (:mod:`branchynet.runtimes.onnx.export`), one ONNX Runtime session per segment,
  created once, :mod:`branchynet.runtimes.onnx.inference`.

Every method takes and returns host (numpy) arrays, except that ``send``
puts an input where the runtime reads it and ``run_one`` reads that.
"""
import os
import re

import chainer
import numpy
import onnxruntime

from branchynet.exits import inference

from branchynet.runtimes.onnx import inference as onnx_inference
from branchynet.utils.device import get_device, synchronize
from branchynet.errors import BranchyNetError
from branchynet.networks.model import BranchyNet
from branchynet.exits.scores import DEFAULT

#: the choices of ``--runtime``
RUNTIMES = ('chainer', 'onnxruntime')

_CPU = chainer.backend.CpuDevice()


def _host_int32(a):
    return numpy.asarray(_CPU.send(a)).astype(numpy.int32)


class ChainerRuntime:
    """Inference of a Chainer :class:`~branchynet.networks.model.BranchyNet`."""

    name = 'chainer'

    def __init__(self, model):
        self.model = model
        self.n_exits = model.n_exits
        self.device = str(model.device)

    @property
    def settings(self):
        """What decides the speed, to report with timings."""
        env = ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')
        return {'runtime': 'chainer', 'chainer': chainer.__version__,
                'device': self.device,
                'type_check': bool(chainer.config.type_check),
                'thread_env': {k: os.environ.get(k) for k in env}}

    def send(self, x):
        return self.model.device.send(x)

    def synchronize(self):
        synchronize(self.model.device)

    def run_one(self, x1, thresholds, score=DEFAULT):
        """``(prediction, exit_index)`` of one sent sample; ``thresholds=None``
        runs the main network alone. ``score``: the exit score of
        :mod:`branchynet.exits.scores` the thresholds are for."""
        if thresholds is None:
            with chainer.using_config('train', False), \
                    chainer.no_backprop_mode():
                return int(self.model.forward_main(x1).array.argmax()), \
                    self.n_exits - 1
        return inference.early_exit_one(self.model, x1, thresholds, score)

    def early_exit(self, x, thresholds, score=DEFAULT):
        """Batched early exit: prediction, exit_index (host int32 ``(N,)``)."""
        p, e = inference.early_exit(self.model, self.send(x), thresholds,
                                    score)
        return _host_int32(p), _host_int32(e)

    def predict_main(self, x):
        """Main-network predictions, host int32 ``(N,)``."""
        with chainer.using_config('train', False), \
                chainer.no_backprop_mode():
            return _host_int32(self.model.forward_main(self.send(x))
                               .array.argmax(axis=1))

    def exit_records(self, x, batch_size=256):
        return inference.exit_records(self.model, x, batch_size)

    def exit_logits(self, x, batch_size=256):
        """Entropy float32 ``(N, K)`` and logits float32 ``(N, K, classes)``
        of every sample at every exit (:func:`inference.exit_logits`)."""
        return inference.exit_logits(self.model, x, batch_size)

    def trunk_stages(self):
        """The trunk stages, each a callable on a sent array."""
        return list(self.model.stages)


class OnnxRuntime:
    """Inference of an :class:`~branchynet.runtimes.onnx.inference.OnnxBranchyNet`."""

    name = 'onnxruntime'

    def __init__(self, net, device='@numpy'):
        self.net = net
        self.n_exits = net.n_exits
        self.device = device
        self._trunk = None

    @property
    def settings(self):
        return dict(self.net.settings, device=self.device)

    def send(self, x):
        return numpy.ascontiguousarray(_CPU.send(x), numpy.float32)

    def synchronize(self):
        pass          # session.run returns when its outputs are on the host

    def run_one(self, x1, thresholds, score=DEFAULT):
        if thresholds is None:
            return int(onnx_inference.forward_main(self.net, x1).argmax()), \
                self.n_exits - 1
        return onnx_inference.early_exit_one(self.net, x1, thresholds,
                                             inference.score_of(score).name)

    def early_exit(self, x, thresholds, score=DEFAULT):
        return onnx_inference.early_exit(self.net, self.send(x), thresholds,
                                         inference.score_of(score).name)

    def predict_main(self, x):
        return onnx_inference.forward_main(self.net, self.send(x)).argmax(
            axis=1).astype(numpy.int32)

    def exit_records(self, x, batch_size=256):
        return onnx_inference.exit_records(self.net, x, batch_size)

    def exit_logits(self, x, batch_size=256):
        return onnx_inference.exit_logits(self.net, x, batch_size)

    def trunk_stages(self):
        """Each segment's trunk alone (its graph cut at ``stage_output``).

        Built on first use, as extra sessions with the same settings, for
        the reference's trunk-only accounting.
        """
        if self._trunk is None:
            import onnx
            import onnx.utils
            options = onnx_inference.session_options(self.net.threads)
            self._trunk = []
            for graph in self.net.graphs['segments']:
                cut = onnx.utils.Extractor(onnx.load_from_string(graph)) \
                    .extract_model(['input'], ['stage_output'])
                session = onnxruntime.InferenceSession(
                    cut.SerializeToString(), sess_options=options,
                    providers=self.net.providers)
                self._trunk.append(
                    lambda h, s=session: s.run(None, {'input': h})[0])
        return self._trunk


def ort_providers(device):
    """ONNX Runtime execution providers for a Chainer device specifier."""
    if device == '@numpy':
        return ['CPUExecutionProvider']
    match = re.fullmatch(r'@cupy:(\d+)', str(device))
    if not match:
        raise BranchyNetError('bad device %r for onnxruntime (use @numpy or '
                              '@cupy:N)' % (device,))
    available = onnxruntime.get_available_providers()
    if 'CUDAExecutionProvider' not in available:
        raise BranchyNetError(
            'device %s: this onnxruntime has no CUDAExecutionProvider (it '
            'has %s; install onnxruntime-gpu)' % (device, ', '.join(available)))
    return [('CUDAExecutionProvider', {'device_id': int(match.group(1))}),
            'CPUExecutionProvider']


def make_runtime(model, network, runtime='chainer', device='@numpy',
                 threads=1, main_only=False):
    """A runtime for a loaded Chainer model (see the module doc).

    Args:
        model (BranchyNet): the loaded model (moved to ``device`` for
            Chainer; exported in memory for ONNX Runtime).
        network (str): its network name (``info['network']``).
        runtime (str): ``chainer`` or ``onnxruntime``.
        device (str): Chainer device specifier.
        threads (int): ONNX Runtime intra-op threads.
        main_only (bool): only the main network will be run (a baseline).
    """
    if runtime == 'chainer':
        model.to_device(get_device(device))
        return ChainerRuntime(model)
    if runtime != 'onnxruntime':
        raise BranchyNetError('unknown runtime %r (choose from %s)'
                              % (runtime, ', '.join(RUNTIMES)))
    from branchynet.runtimes.onnx.export import to_onnx_bytes
    providers = ort_providers(device)
    graphs = to_onnx_bytes(model, network, main_only)
    try:
        net = onnx_inference.OnnxBranchyNet(
            graphs['segments'], graphs['main'], n_exits=model.n_exits,
            threads=threads, providers=providers)
    except onnx_inference.ExportError as e:
        raise BranchyNetError(str(e)) from None
    return OnnxRuntime(net, str(device))


def as_runtime(model):
    """A runtime as it is, a Chainer BranchyNet or OnnxBranchyNet wrapped."""
    if isinstance(model, (ChainerRuntime, OnnxRuntime)):
        return model
    if isinstance(model, BranchyNet):
        return ChainerRuntime(model)
    if isinstance(model, onnx_inference.OnnxBranchyNet):
        return OnnxRuntime(model)
    raise TypeError('not a model or runtime: %r' % (model,))
