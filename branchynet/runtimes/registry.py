"""The runtimes by name, and the runtime of a model.

A new runtime is one module (a :class:`~branchynet.runtimes.runtime.Runtime`
subclass), one ``register(Class)`` line in ``branchynet/runtimes/__init__.py``
and its test: ``--runtime``'s choices, :func:`make_runtime`, Table I and
``branchynet evaluate`` ask the registry.
"""
from branchynet.runtimes.runtime import Runtime
from branchynet.utils.registry import Registry

#: runtime name -> :class:`~branchynet.runtimes.runtime.Runtime` subclass, in
#: registration order (the order of ``--runtime``'s choices and of Table
#: I's rows)
REGISTRY = Registry('runtime')


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


def make_runtime(model, network, runtime='chainer', device='@numpy',
                 threads=1, main_only=False):
    """A runtime for a loaded Chainer model.

    Args:
        model (BranchyNet): the loaded model (moved to ``device`` for
            Chainer; exported in memory for ONNX Runtime).
        network (str): its network name (``info['network']``).
        runtime (str): a registered runtime's name.
        device (str): Chainer device specifier.
        threads (int): ONNX Runtime intra-op threads.
        main_only (bool): only the main network will be run (a baseline).
    """
    return get_runtime(runtime).for_model(model, network, device=device,
                                          threads=threads, main_only=main_only)


def as_runtime(model):
    """A runtime as it is; a model wrapped by the first registered runtime
    that runs it (a Chainer BranchyNet, an OnnxBranchyNet)."""
    if isinstance(model, Runtime):
        return model
    for cls in REGISTRY.values():
        runtime = cls.wrap(model)
        if runtime is not None:
            return runtime
    raise TypeError('not a model or runtime: %r' % (model,))
