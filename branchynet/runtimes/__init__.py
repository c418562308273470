"""The engines that run a trained network at inference, behind one
interface, registered here one line each (as the networks and data sets
are in their folders' ``__init__``).

- :mod:`~branchynet.runtimes.runtime`: the :class:`Runtime` base class,
  the whole interface
- :mod:`~branchynet.runtimes.registry`: the runtimes by name,
  :func:`make_runtime`, :func:`as_runtime`
- :mod:`~branchynet.runtimes.chainer`: the model's own device (``@numpy``,
  ``@cupy:N``), :mod:`branchynet.exits.inference`
- :mod:`~branchynet.runtimes.onnx`: the exporter, the Chainer-free early
  exit on ONNX Runtime, and the ONNX Runtime runtime (one session per
  segment, created once)
"""
from branchynet.runtimes.chainer import ChainerRuntime
from branchynet.runtimes.onnx.runtime import OnnxRuntime
from branchynet.runtimes.registry import (REGISTRY, as_runtime, get_runtime,
                                          make_runtime, register)
from branchynet.runtimes.runtime import Runtime

register(ChainerRuntime)
register(OnnxRuntime)

#: the choices of ``--runtime``, in registration order
RUNTIMES = tuple(REGISTRY)

__all__ = ['ChainerRuntime', 'OnnxRuntime', 'REGISTRY', 'RUNTIMES', 'Runtime',
           'as_runtime', 'get_runtime', 'make_runtime', 'register']
