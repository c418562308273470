"""ONNX: export (:mod:`~branchynet.runtimes.onnx.export`), the early exit
on ONNX Runtime (:mod:`~branchynet.runtimes.onnx.inference`, which a
deployment copies with ``branchynet/exits/scores.py``) and the runtime
over it (:mod:`~branchynet.runtimes.onnx.runtime`)."""
