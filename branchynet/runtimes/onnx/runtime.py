"""The ONNX Runtime runtime: the model exported in memory
(:mod:`branchynet.runtimes.onnx.export`), one ONNX Runtime session per
segment, created once, :mod:`branchynet.runtimes.onnx.inference`."""
import re

import chainer
import numpy
import onnxruntime

from branchynet.errors import BranchyNetError
from branchynet.exits import inference
from branchynet.exits.scores import DEFAULT
from branchynet.runtimes.onnx import inference as onnx_inference
from branchynet.runtimes.runtime import Runtime

_CPU = chainer.backend.CpuDevice()


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


class OnnxRuntime(Runtime):
    """Inference of an :class:`~branchynet.runtimes.onnx.inference.OnnxBranchyNet`."""

    name = 'onnxruntime'
    display = 'ONNX Runtime'
    help = 'the model exported to ONNX in memory'

    def __init__(self, net, device='@numpy'):
        self.net = net
        self.n_exits = net.n_exits
        self.device = device
        self._trunk = None

    @classmethod
    def for_model(cls, model, network, device='@numpy', threads=1,
                  main_only=False):
        """``model`` exported in memory (only its main network with
        ``main_only``), ``threads`` intra-op threads per session."""
        from branchynet.runtimes.onnx.export import to_onnx_bytes
        providers = ort_providers(device)
        graphs = to_onnx_bytes(model, network, main_only)
        try:
            net = onnx_inference.OnnxBranchyNet(
                graphs['segments'], graphs['main'], n_exits=model.n_exits,
                threads=threads, providers=providers)
        except onnx_inference.ExportError as e:
            raise BranchyNetError(str(e)) from None
        return cls(net, str(device))

    @classmethod
    def wrap(cls, model):
        return cls(model) if isinstance(
            model, onnx_inference.OnnxBranchyNet) else None

    @staticmethod
    def note(settings):
        """``ONNX Runtime 1.32.0, 1 intra-op thread(s), CPUExecutionProvider``."""
        return 'ONNX Runtime %s, %s intra-op thread(s), %s' % (
            settings.get('onnxruntime', ''),
            settings.get('intra_op_num_threads', '?'),
            ', '.join(settings.get('providers', [])))

    @staticmethod
    def line(settings):
        """``onnxruntime 1.32.0, 1 intra-op thread(s)``."""
        return 'onnxruntime %s, %d intra-op thread(s)' % (
            settings['onnxruntime'], settings['intra_op_num_threads'])

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
                                             inference.score_of(score))

    def early_exit(self, x, thresholds, score=DEFAULT):
        return onnx_inference.early_exit(self.net, self.send(x), thresholds,
                                         inference.score_of(score))

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
