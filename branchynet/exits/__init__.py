"""How a sample leaves: exit scores, early-exit inference, the records.

- :mod:`~branchynet.exits.scores`: entropy (the paper's) and the other
  scores, each with its direction and bounds (Chainer-free: it ships with
  an ONNX export)
- :mod:`~branchynet.exits.inference`: the paper's Fig. 2, at batch 1 and
  batched, and every exit's logits in one pass
- :mod:`~branchynet.exits.records`: those logits saved (``records.npz``)
"""
