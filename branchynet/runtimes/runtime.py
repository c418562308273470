"""The :class:`Runtime` base class: everything evaluation, the profiler,
the sweep's records and its validation ask of an inference engine.

Every method takes and returns host (numpy) arrays, except that
:meth:`Runtime.send` puts an input where the runtime reads it and
:meth:`Runtime.run_one` reads that.
"""
from branchynet.exits.scores import DEFAULT


class Runtime:
    """One inference engine around one loaded model (see
    :class:`~branchynet.runtimes.chainer.ChainerRuntime`,
    :class:`~branchynet.runtimes.onnx.runtime.OnnxRuntime`); a subclass
    fills in every member below and is registered in
    ``branchynet/runtimes/__init__.py``.

    Attributes:
        name: ``--runtime``'s value, recorded in results (``chainer``).
        display: its name in Table I (``Chainer``).
        help: what ``--runtime``'s help says of it, in a few words (None:
            its name alone).
        n_exits: the model's number of exits (instances).
        device: the Chainer device specifier it runs on (instances).
    """
    name = None
    display = None
    help = None
    n_exits = None
    device = None

    @classmethod
    def for_model(cls, model, network, device='@numpy', threads=1,
                  main_only=False):
        """The runtime of a loaded Chainer model ``model`` of network
        ``network`` (:func:`~branchynet.runtimes.registry.make_runtime`):
        on ``device``, with ``threads`` intra-op threads where the engine
        has them, only the main network with ``main_only``."""
        raise NotImplementedError

    @classmethod
    def wrap(cls, model):
        """This runtime around ``model`` if it is this runtime's kind of
        model (:func:`~branchynet.runtimes.registry.as_runtime`), else
        None."""
        return None

    @staticmethod
    def note(settings):
        """Table I's note on a sweep's ``runtime_settings`` (a recorded
        result, possibly from an older version: read with defaults)."""
        raise NotImplementedError

    @staticmethod
    def line(settings):
        """``branchynet evaluate``'s short line on :attr:`settings`."""
        raise NotImplementedError

    @property
    def settings(self):
        """What decides the speed, recorded with timings (a JSON object
        with at least ``runtime``: :attr:`name`)."""
        raise NotImplementedError

    def send(self, x):
        """``x`` where :meth:`run_one` reads it (the device, or a
        contiguous float32 host array)."""
        raise NotImplementedError

    def synchronize(self):
        """Wait until queued work is done (timing is end to end)."""
        raise NotImplementedError

    def run_one(self, x1, thresholds, score=DEFAULT):
        """``(prediction, exit_index)`` of one sent sample at batch size 1,
        as deployed; ``thresholds=None`` runs the main network alone.
        ``score``: the exit score the thresholds are for."""
        raise NotImplementedError

    def early_exit(self, x, thresholds, score=DEFAULT):
        """Batched early exit: predictions and exit indices, host int32
        ``(N,)`` each."""
        raise NotImplementedError

    def predict_main(self, x):
        """The main network's predictions, host int32 ``(N,)``."""
        raise NotImplementedError

    def exit_records(self, x, batch_size=256):
        """Every exit's prediction and entropy for every sample, in one
        batched pass (:func:`branchynet.exits.inference.exit_records`)."""
        raise NotImplementedError

    def exit_logits(self, x, batch_size=256):
        """Entropy float32 ``(N, K)`` and logits float32 ``(N, K, C)`` of
        every sample at every exit."""
        raise NotImplementedError

    def trunk_stages(self):
        """The trunk stages alone, each a callable on a sent array (the
        reference's trunk-only accounting times them)."""
        raise NotImplementedError
