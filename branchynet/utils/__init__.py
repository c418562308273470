"""What every stage uses: atomic writes, npz archives read without trust,
devices.

- :mod:`~branchynet.utils.atomic`: a file appears whole or not at all
- :mod:`~branchynet.utils.safe_npz`: ``.npz`` archives checked before numpy
  allocates what their headers declare
- :mod:`~branchynet.utils.device`: Chainer device specifiers, GPU
  synchronisation, glibc malloc settings
"""
