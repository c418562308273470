"""Data sets by name: resolved, described, their classes checked, loaded.

A name is a named data set (``mnist``, ``pcifar10``: :data:`DATASETS`) or
a source's prefix and a path (``npz:PATH``, ``images:DIR``:
:data:`SOURCES`), which stands in for a named data set (``like``). These
functions only ask the registries (:mod:`.registry`); what each data set
or source is lives in its own module.
"""
import os

from branchynet.data.registry import DATASETS, SOURCES, DatasetSpec, source_of
from branchynet.errors import BranchyNetError


def _named(name):
    """The :class:`DatasetSpec` called ``name``, or None."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        return None


def _choices():
    """``mnist, pcifar10, npz:PATH for your own file, or images:DIR ...``"""
    parts = list(DATASETS) + [s.usage for s in SOURCES.values()]
    return parts[0] if len(parts) == 1 else '%s, or %s' % (
        ', '.join(parts[:-1]), parts[-1])


def resolve_dataset(name):
    """A data set name as saved with a model: a named data set (``mnist``,
    ``pcifar10``), or a source's prefix and the absolute path of an
    existing file or folder (``npz:/abs/path``; so that later commands find
    it from any folder).

    Raises:
        BranchyNetError: an unknown name, or no such file.
    """
    if name in DATASETS:
        return name
    source = source_of(name)
    if source is not None and name[len(source.prefix):]:
        path = os.path.expanduser(name[len(source.prefix):])
        source.check(path)
        return source.prefix + os.path.abspath(path)
    raise BranchyNetError('unknown data set %.100r (%s)' % (name, _choices()))


def dataset_classes(name, data_root='auto'):
    """The class names of data set ``name`` (label order), or None when
    they are unknown (a user's ``npz:`` file): ``images:DIR`` its sorted
    folders; ``pcifar10`` those its ``data.json`` records (built from
    images), else CIFAR-10's; ``mnist`` the digits."""
    source = source_of(name)
    if source is not None:
        if source.classes is None:
            return None
        return source.classes(resolve_dataset(name)[len(source.prefix):])
    spec = _named(name)
    return None if spec is None else spec.classes(data_root)


def dataset_origin(name, data_root='auto'):
    """What the copy of data set ``name`` in ``data_root`` was built from
    (:attr:`~branchynet.data.registry.DatasetSpec.origin`), or None: a data
    set of fixed verified files, or a user's ``npz:``/``images:`` data."""
    spec = _named(name)
    if spec is None or spec.origin is None:
        return None
    return spec.origin(data_root)


def check_classes(name, saved, data_root='auto'):
    """Raise unless data set ``name`` has now the classes ``saved`` (those a
    model was trained on, in label order): a class folder renamed, added or
    removed since, or pcifar10 rebuilt from other images, would give its
    labels other meanings. Nothing to compare when ``saved`` is empty (a
    model saved before classes were recorded) or the data set does not
    know its classes (``npz:``)."""
    if not saved:
        return
    if not isinstance(saved, list):
        raise BranchyNetError('the model records its classes as %.60r, not '
                              'a list of names' % (saved,))
    now = dataset_classes(name, data_root)
    if now is None or list(now) == list(saved):
        return
    saved, now = [str(c) for c in saved], [str(c) for c in now]
    only_saved = [c for c in saved if c not in now]
    only_now = [c for c in now if c not in saved]
    if only_saved or only_now:
        difference = 'only in the model: %s; only in the data set now: %s' % (
            _listed(only_saved), _listed(only_now))
    else:
        difference = 'the same names in another order'
    raise BranchyNetError(
        'data set %s has other classes than the model was trained on (%s): '
        'its labels would mean other classes; restore the data set, or '
        'train again' % (name, difference))


def _listed(names, most=10):
    """``a, b, c`` (``-`` for none; the first ``most``, then how many
    more)."""
    shown = ', '.join(repr(n) for n in names[:most]) or '-'
    return shown + (' and %d more' % (len(names) - most)
                    if len(names) > most else '')


def describe_dataset(name):
    """``((C, H, W), n_classes)`` of data set ``name``: a named one's
    declared shape and classes, a source's read from its data."""
    spec = _named(name)
    if spec is not None:
        return tuple(spec.shape), spec.n_classes
    source = source_of(resolve_dataset(name))
    return source.describe(resolve_dataset(name)[len(source.prefix):])


def load_dataset(name, data_root='auto', like=None):
    """``(x_train, y_train, x_test, y_test)`` of data set ``name``.

    Args:
        name (str): ``mnist``, ``pcifar10``, ``npz:PATH`` or
            ``images:DIR``.
        data_root (str): the data root; ``'auto'`` for the default one.
        like (str): for ``npz:PATH`` and ``images:DIR``, the named data set
            the file stands in for (its images must have that shape, its
            labels at most that many classes): the experiment's own data
            set.
    """
    source = source_of(name)
    if isinstance(like, DatasetSpec):   # a user network's (its experiment's)
        like_spec = like
    elif like in DATASETS:
        like_spec = DATASETS[like]
    else:
        like_spec = None
    if source is not None:
        if like_spec is None:
            raise BranchyNetError('%s (%s) needs the data set it stands in '
                                  'for (one of %s), got %r'
                                  % (source.what, name, ', '.join(DATASETS),
                                     like))
        path = resolve_dataset(name)[len(source.prefix):]
        return source.load(path, data_root, like_spec)
    spec = _named(name)
    if spec is None:
        raise BranchyNetError('unknown data set %r' % name)
    return spec.load(data_root)
