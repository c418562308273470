"""A registry: items by name, in the order they were registered.

The networks (:mod:`branchynet.networks.registry`), the data sets
(:mod:`branchynet.data.registry`) and the runtimes
(:mod:`branchynet.runtimes.registry`) each keep one, so that a new item is
one new module and one :meth:`Registry.register` line, and every table,
choice list and message asks the registry instead of restating the names
(as pytorch-pfn-extras' ``runtime/_registry.py``).

A :class:`Registry` is a read-only mapping (``name in r``, ``r[name]``,
``list(r)``); :meth:`Registry.view` derives a live read-only mapping of one
field of each item (``NETWORKS``, ``INPUT_SHAPES``... are such views).
"""
import collections.abc

from branchynet.errors import BranchyNetError


class Registry(collections.abc.Mapping):
    """Name -> item, in registration order.

    Args:
        kind (str): what the items are, for messages (``network``).
    """

    def __init__(self, kind):
        self.kind = kind
        self._items = {}

    def register(self, name, item):
        """Add ``item`` as ``name``; a name is registered once.

        Raises:
            ValueError: ``name`` is not a non-empty string, or is taken.
        """
        if not isinstance(name, str) or not name:
            raise ValueError('a %s is registered under a non-empty name, got '
                             '%r' % (self.kind, name))
        if name in self._items:
            raise ValueError('%s %r is already registered' % (self.kind, name))
        self._items[name] = item
        return item

    def unregister(self, name):
        """Remove ``name`` (a test's temporary item); returns its item."""
        return self._items.pop(name)

    def lookup(self, name):
        """The item called ``name``.

        Raises:
            BranchyNetError: one line naming the known ones.
        """
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise BranchyNetError('unknown %s %r (choose from %s)' % (
                self.kind, name, ', '.join(self._items))) from None

    def view(self, field):
        """A live read-only mapping name -> ``field(item)``."""
        return _View(self, field)

    def __getitem__(self, name):
        return self._items[name]

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        return '<%s registry: %s>' % (self.kind, ', '.join(self._items))


class _View(collections.abc.Mapping):
    """name -> ``field(item)`` of a registry, read at each access."""

    def __init__(self, registry, field):
        self._registry = registry
        self._field = field

    def __getitem__(self, name):
        return self._field(self._registry[name])

    def __iter__(self):
        return iter(self._registry)

    def __len__(self):
        return len(self._registry)

    def __repr__(self):
        return repr(dict(self))
