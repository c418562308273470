"""What the measurements become: Table I and the paper's figures.

- :mod:`~branchynet.report.schema`: a ``sweep.json`` checked before use
- :mod:`~branchynet.report.table`: Table I (Markdown, CSV, JSON)
- :mod:`~branchynet.report.figures`: Fig. 3, Fig. 4, training curves
- :mod:`~branchynet.report.compare`: every exit score under every rule
  (computed by :mod:`branchynet.measurement.compare`), drawn
- :mod:`~branchynet.report.recheck`: a sweep set against a recorded one
"""
