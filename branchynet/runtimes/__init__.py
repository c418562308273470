"""The engines that run a trained network at inference.

- :mod:`~branchynet.runtimes.runtime`: one interface over Chainer and ONNX
  Runtime (the runtimes registered, :func:`make_runtime`)
- :mod:`~branchynet.runtimes.registry`: the :class:`Runtime` base class and
  the registry of runtimes by name
- :mod:`~branchynet.runtimes.chainer`: the Chainer runtime
- :mod:`~branchynet.runtimes.onnx`: the exporter, the Chainer-free early
  exit on ONNX Runtime, and the ONNX Runtime runtime
"""
