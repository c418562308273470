"""Numbers about trained networks.

- :mod:`~branchynet.measurement.evaluation`: accuracy and exit shares
- :mod:`~branchynet.measurement.ood`: out-of-distribution inputs
- :mod:`~branchynet.measurement.profiling`: batch-1 time of each exit path,
  multiply-adds
- :mod:`~branchynet.measurement.sweep`: threshold sweeps from one pass
- :mod:`~branchynet.measurement.rules`: the rules that pick T, by name
- :mod:`~branchynet.measurement.per_exit`: thresholds chosen exit by exit
- :mod:`~branchynet.measurement.pipeline`: what ``branchynet sweep`` runs
- :mod:`~branchynet.measurement.validation`: the sweep against real batch-1
  runs
- :mod:`~branchynet.measurement.preflight`: can a network be counted and
  exported faithfully? asked before training
- :mod:`~branchynet.measurement.compare`: every score under every rule
"""
