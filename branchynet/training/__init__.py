"""The two phases of training on Chainer's Trainer.

- :mod:`~branchynet.training.trainer`: phase 1 (the main network), phase 2
  (the joint loss), the output folder and its lock
- :mod:`~branchynet.training.settings`: what a run depends on
  (:class:`TrainSettings`), from a recipe and the flags
- :mod:`~branchynet.training.updater`: one optimizer per parameter group
- :mod:`~branchynet.training.iterators`: the reference's epoch order,
  crop/flip
- :mod:`~branchynet.training.resume`: exact resume
- :mod:`~branchynet.training.progress`: progress lines for a log file
- :mod:`~branchynet.training.distributed`: one process or a ChainerMN job
"""
