"""The engines that run a trained network at inference.

- :mod:`~branchynet.runtimes.runtime`: one interface over Chainer and ONNX
  Runtime
- :mod:`~branchynet.runtimes.onnx`: the exporter and the Chainer-free early
  exit on ONNX Runtime
"""
