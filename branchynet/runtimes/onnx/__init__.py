"""ONNX: export (:mod:`~branchynet.runtimes.onnx.export`) and the early exit
on ONNX Runtime (:mod:`~branchynet.runtimes.onnx.inference`, which a
deployment copies with ``branchynet/exits/scores.py``)."""
