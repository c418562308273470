"""The Chainer runtime: the model's own device (``@numpy``, ``@cupy:N``),
:mod:`branchynet.exits.inference`."""
import os

import chainer
import numpy

from branchynet.exits import inference
from branchynet.exits.scores import DEFAULT
from branchynet.networks.model import BranchyNet
from branchynet.runtimes.runtime import Runtime
from branchynet.utils.device import get_device, synchronize

_CPU = chainer.backend.CpuDevice()


def _host_int32(a):
    return numpy.asarray(_CPU.send(a)).astype(numpy.int32)


class ChainerRuntime(Runtime):
    """Inference of a Chainer :class:`~branchynet.networks.model.BranchyNet`."""

    name = 'chainer'
    display = 'Chainer'

    def __init__(self, model):
        self.model = model
        self.n_exits = model.n_exits
        self.device = str(model.device)

    @classmethod
    def for_model(cls, model, network, device='@numpy', threads=1,
                  main_only=False):
        """``model`` moved to ``device``; ``threads`` and ``main_only`` do
        not change Chainer's inference."""
        model.to_device(get_device(device))
        return cls(model)

    @classmethod
    def wrap(cls, model):
        return cls(model) if isinstance(model, BranchyNet) else None

    @staticmethod
    def note(settings):
        """``Chainer 7.8.1``."""
        return 'Chainer %s' % settings.get('chainer', '')

    @staticmethod
    def line(settings):
        """``chainer 7.8.1``."""
        return 'chainer %s' % settings['chainer']

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
