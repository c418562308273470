"""The networks, by name: each module declares its :class:`NetworkSpec`
next to its builder, :mod:`branchynet.networks` registers it.

A new network is one module (its builder and its ``SPEC``), one
``register(module.SPEC)`` line in ``branchynet/networks/__init__.py`` and
its test; the exporter, the profiler, Table I and the figures read its
input shape, exit count and names from here.
"""
import dataclasses
from typing import Callable, Tuple

from branchynet.utils.registry import Registry

#: network name -> :class:`NetworkSpec`, in registration order (Table I's)
REGISTRY = Registry('network')


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """What the package knows about a network without building it.

    Attributes:
        name: the key saved with a model (``b_lenet``).
        builder: returns a fresh :class:`~branchynet.networks.model.BranchyNet`.
        input_shape: ``(C, H, W)`` of its float32 input images.
        n_exits: its number of exits, the last the main classifier (known
            without building: B-ResNet-110 takes a second to build).
        display: the BranchyNet's name in Table I and the figures
            (``B-LeNet``).
        baseline_display: its main network's name there (``LeNet``).
        source: a user's network (``--network``): where it came from
            (:class:`~branchynet.networks.user.UserNetwork`); None for the
            package's own.
    """
    name: str
    builder: Callable
    input_shape: Tuple[int, int, int]
    n_exits: int
    display: str
    baseline_display: str
    source: object = None


def register(spec):
    """Add a :class:`NetworkSpec`; a name is registered once (ValueError)."""
    if not isinstance(spec, NetworkSpec):
        raise TypeError('register takes a NetworkSpec, got %r' % (spec,))
    return REGISTRY.register(spec.name, spec)


def get_network(name):
    """The :class:`NetworkSpec` called ``name``.

    Raises:
        BranchyNetError: ``unknown network 'x' (choose from b_lenet, ...)``.
    """
    return REGISTRY.lookup(name)
