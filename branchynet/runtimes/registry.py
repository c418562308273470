"""The runtimes, by name: each :class:`Runtime` subclass carries its name,
its name in Table I and how its settings read in a note;
:mod:`branchynet.runtimes.runtime` registers them.

A new runtime is one module (a :class:`Runtime` subclass), one
``register(Class)`` line in ``branchynet/runtimes/runtime.py`` and its
test: ``--runtime``'s choices, :func:`~branchynet.runtimes.runtime.make_runtime`,
Table I and ``branchynet evaluate`` ask the registry.
"""
from branchynet.utils.registry import Registry

#: runtime name -> :class:`Runtime` subclass, in registration order (the
#: order of ``--runtime``'s choices and of Table I's rows)
REGISTRY = Registry('runtime')


class Runtime:
    """What every runtime has; subclasses fill in the class attributes
    and methods below (see :class:`~branchynet.runtimes.chainer.ChainerRuntime`).

    Attributes:
        name: ``--runtime``'s value, recorded in results (``chainer``).
        display: its name in Table I (``Chainer``).
        n_exits: the model's number of exits (instances).
        device: the Chainer device specifier it runs on (instances).
    """
    name = None
    display = None

    @classmethod
    def for_model(cls, model, network, device='@numpy', threads=1,
                  main_only=False):
        """The runtime of a loaded Chainer model (see
        :func:`~branchynet.runtimes.runtime.make_runtime`)."""
        raise NotImplementedError

    @classmethod
    def wrap(cls, model):
        """This runtime around ``model`` if it is this runtime's kind of
        model (:func:`~branchynet.runtimes.runtime.as_runtime`), else None."""
        return None

    @staticmethod
    def note(settings):
        """Table I's note on a sweep's ``runtime_settings`` (a recorded
        result, possibly from an older version: read with defaults)."""
        raise NotImplementedError

    @staticmethod
    def line(settings):
        """``branchynet evaluate``'s short line on :attr:`settings`."""
        raise NotImplementedError


def register(cls):
    """Add a :class:`Runtime` subclass under its ``name``; a name is
    registered once (ValueError)."""
    if not (isinstance(cls, type) and issubclass(cls, Runtime)):
        raise TypeError('register takes a Runtime subclass, got %r' % (cls,))
    return REGISTRY.register(cls.name, cls)


def get_runtime(name):
    """The :class:`Runtime` subclass called ``name``.

    Raises:
        BranchyNetError: ``unknown runtime 'x' (choose from chainer, ...)``.
    """
    return REGISTRY.lookup(name)
