"""Which engine runs inference: Chainer or ONNX Runtime, behind one interface.

Evaluation, the profiler, the sweep's records and its validation ask a
*runtime* for the few things they need (run one sample, a batch, the
records, the trunk stages); :func:`make_runtime` builds one for a loaded
model, so ``--runtime chainer|onnxruntime`` is decided in one place and
everything else is the same code for both.

The runtimes are registered here (:mod:`branchynet.runtimes.registry`), one
line each:

* :class:`~branchynet.runtimes.chainer.ChainerRuntime`: the model's own
  device (``@numpy``, ``@cupy:N``), :mod:`branchynet.exits.inference`.
* :class:`~branchynet.runtimes.onnx.runtime.OnnxRuntime`: the model exported
  in memory (:mod:`branchynet.runtimes.onnx.export`), one ONNX Runtime
  session per segment, created once, :mod:`branchynet.runtimes.onnx.inference`.

Every method takes and returns host (numpy) arrays, except that ``send``
puts an input where the runtime reads it and ``run_one`` reads that.
"""
from branchynet.runtimes.chainer import ChainerRuntime
from branchynet.runtimes.onnx.runtime import OnnxRuntime, ort_providers
from branchynet.runtimes.registry import (REGISTRY, Runtime, get_runtime,
                                          register)

register(ChainerRuntime)
register(OnnxRuntime)

#: the choices of ``--runtime``
RUNTIMES = tuple(REGISTRY)


def make_runtime(model, network, runtime='chainer', device='@numpy',
                 threads=1, main_only=False):
    """A runtime for a loaded Chainer model (see the module doc).

    Args:
        model (BranchyNet): the loaded model (moved to ``device`` for
            Chainer; exported in memory for ONNX Runtime).
        network (str): its network name (``info['network']``).
        runtime (str): a registered runtime's name (:data:`RUNTIMES`).
        device (str): Chainer device specifier.
        threads (int): ONNX Runtime intra-op threads.
        main_only (bool): only the main network will be run (a baseline).
    """
    return get_runtime(runtime).for_model(model, network, device=device,
                                          threads=threads, main_only=main_only)


def as_runtime(model):
    """A runtime as it is; a model wrapped by the first registered runtime
    that runs it (a Chainer BranchyNet, an OnnxBranchyNet)."""
    if isinstance(model, Runtime):
        return model
    for cls in REGISTRY.values():
        runtime = cls.wrap(model)
        if runtime is not None:
            return runtime
    raise TypeError('not a model or runtime: %r' % (model,))


__all__ = ['ChainerRuntime', 'OnnxRuntime', 'REGISTRY', 'RUNTIMES', 'Runtime',
           'as_runtime', 'get_runtime', 'make_runtime', 'ort_providers',
           'register']
