"""The data root, the folder holding every data set's folder, and those
folders in it.

:func:`get_data_root` says where the data root is (``--data-dir``,
``$BRANCHYNET_DATA_ROOT``, the repository's ``datasets/data`` or
``~/.branchynet/data``), checked to be a folder or able to become one;
:func:`dataset_dir` is one data set's folder in it. :data:`LEFTOVER_AGE` is
how old a temporary in a data set's folder must be to count as the leftover
of a killed run.
"""
import os

from branchynet.errors import BranchyNetError

_REPO_DATASETS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), 'datasets')

#: temporaries in data folders older than this are leftovers of a killed run
LEFTOVER_AGE = 600.0


def get_data_root(data_root='auto'):
    """The data root, the folder holding ``mnist/``, ``cifar10/``,
    ``pcifar10/``.

    ``'auto'`` (or None) means ``$BRANCHYNET_DATA_ROOT`` if set, else
    ``datasets/data`` in the repository when the package runs from a
    checkout, else ``~/.branchynet/data``.
    """
    if data_root not in (None, 'auto'):
        return _checked_root(data_root, 'the data root (--data-dir)')
    env = os.environ.get('BRANCHYNET_DATA_ROOT')
    if env:
        return _checked_root(env, 'the data root ($BRANCHYNET_DATA_ROOT)')
    if os.path.isdir(_REPO_DATASETS):
        return os.path.join(_REPO_DATASETS, 'data')
    return _checked_root(os.path.join('~', '.branchynet', 'data'),
                         'the data root')


def _checked_root(path, what):
    """``path`` made absolute, if it is a folder or can become one: a file
    on the way is one line now, not a download to every mirror first."""
    root = os.path.abspath(os.path.expanduser(path))
    parent = root
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise BranchyNetError('%s %s is not a folder%s' % (
            what, root, '' if parent == root
            else ' (%s is not one)' % parent))
    return root


def dataset_dir(name, data_root='auto'):
    """``<data root>/<name>``, the folder of data set ``name``."""
    return os.path.join(get_data_root(data_root), name)


__all__ = ['LEFTOVER_AGE', 'dataset_dir', 'get_data_root']
