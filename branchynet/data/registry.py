"""The data sets, by name, and the sources that stand in for them.

A *data set* (:class:`DatasetSpec`: ``mnist``, ``pcifar10``) is a name with
its loader, image shape, classes and size; a *source*
(:class:`DataSource`: ``npz:PATH``, ``images:DIR``) is a prefix naming a
user's own data, which stands in for an experiment's data set and takes
its shape and classes. Each is declared in its own module (``SPEC`` in
:mod:`~branchynet.data.mnist`, ``SOURCE`` in
:mod:`~branchynet.data.user_npz`...) and registered in
:mod:`branchynet.data`, one line each; :mod:`~branchynet.data.loading`
(:func:`~branchynet.data.resolve_dataset`,
:func:`~branchynet.data.load_dataset`,
:func:`~branchynet.data.dataset_classes`...) only asks these registries.

A new data set is a module in ``branchynet/data/`` with its loader and its
``SPEC = DatasetSpec(...)``, one ``register_dataset(module.SPEC)`` line in
``branchynet/data/__init__.py``, and its test. This module imports none of
the modules that register.
"""
import dataclasses
from typing import Callable, Optional, Tuple

from branchynet.utils.registry import Registry

#: data set name -> :class:`DatasetSpec`, in registration order
DATASETS = Registry('data set')
#: prefix -> :class:`DataSource`, in registration order
SOURCES = Registry('data source')


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A named data set.

    Attributes:
        name: its name (``mnist``), as experiments and models record it.
        load: ``load(data_root)`` -> ``(x_train, y_train, x_test, y_test)``,
            float32 ``(N, C, H, W)`` images and int32 labels.
        shape: ``(C, H, W)`` of its images.
        n_classes: its number of classes.
        classes: ``classes(data_root)`` -> its class names in label order.
        n_train: training images of the full data set.
        whitened: its images are whitened (any finite values), not in
            [0, 1] (what :func:`branchynet.testing.assert_is_dataset`
            checks).
        origin: ``origin(data_root)`` -> a dict saying what the copy in
            ``data_root`` was built from, equal on every machine that built
            it the same way (``branchynet recheck`` compares it with the
            sweep's); None when the data set is fixed files verified by
            checksum (MNIST).
    """
    name: str
    load: Callable
    shape: Tuple[int, int, int]
    n_classes: int
    classes: Callable
    n_train: int
    whitened: bool = False
    origin: Optional[Callable] = None


@dataclasses.dataclass(frozen=True)
class DataSource:
    """A user's data named by a prefix (``npz:PATH``), standing in for the
    experiment's data set (``like``).

    Attributes:
        prefix: ``npz:``.
        usage: how the name reads in messages (``npz:PATH for your own
            file``).
        what: what it names, in messages (``a data set file``).
        check: ``check(path)`` raises BranchyNetError unless the path
            (user-expanded, not yet absolute) exists as this source needs.
        load: ``load(path, data_root, like)`` -> the four arrays, with
            ``like`` the :class:`DatasetSpec` it stands in for.
        classes: ``classes(path)`` -> class names, or None when the source
            does not know them.
        describe: ``describe(path)`` -> ``((C, H, W), n_classes)`` read
            from the data themselves (for a network built to fit them).
    """
    prefix: str
    usage: str
    what: str
    check: Callable
    load: Callable
    classes: Optional[Callable] = None
    describe: Optional[Callable] = None


def register_dataset(spec):
    """Add a :class:`DatasetSpec`; a name is registered once (ValueError)."""
    if not isinstance(spec, DatasetSpec):
        raise TypeError('register_dataset takes a DatasetSpec, got %r'
                        % (spec,))
    return DATASETS.register(spec.name, spec)


def register_source(source):
    """Add a :class:`DataSource`; a prefix is registered once (ValueError)."""
    if not isinstance(source, DataSource):
        raise TypeError('register_source takes a DataSource, got %r'
                        % (source,))
    return SOURCES.register(source.prefix, source)


def source_of(name):
    """The :class:`DataSource` whose prefix ``name`` starts with, or None."""
    if isinstance(name, str):
        for source in SOURCES.values():
            if name.startswith(source.prefix):
                return source
    return None
