"""A user network in the network registry: with its code, from its record only
(building it asks for the code), or for its names only (a sweep result)."""
import os

from branchynet.errors import BranchyNetError
from branchynet.networks.registry import NetworkSpec, REGISTRY
from branchynet.networks.user.record import (
    COPY, _NAME, PREFIX, RECORD,
    SAVED_FLAG, _short)


def _needs_code(user, folder):
    def builder():
        if not os.path.exists(os.path.join(folder, RECORD)):
            raise _no_record(folder, user)
        raise BranchyNetError(
            'the model in %s is your network %s (%s, sha256 %s...): name it '
            'again with --network %s, or pass %s to run the copy saved as '
            '%s' % (folder, user.name, user.spec, user.sha256[:12],
                    user.hint(), SAVED_FLAG, os.path.join(folder, COPY)))
    return builder


def _no_record(folder, user):
    """The one line for a folder of a user network's models without its
    ``network.json``, with or without ``--trust-saved-network``."""
    return BranchyNetError(
        '%s has no %s, but its models are of your network %s (%s, sha256 '
        '%s...): without that record %s cannot check the copy %s; name the '
        'network again with --network %s' % (
            folder, RECORD, user.name, user.spec, user.sha256[:12],
            SAVED_FLAG, os.path.join(folder, COPY), user.hint()))


def _differ(old, new):
    """``old`` and ``new``, two records of one name, are not one network:
    the line naming what differs."""
    what = old.differences(new)
    return BranchyNetError(
        'two different networks are called %s: %s (%s and %s)' % (
            new.name, ', '.join('its %s is %s in one, %s in the other' % (
                f, _short(getattr(old, f)), _short(getattr(new, f)))
                for f in what), old.spec, new.spec))


def register(user, builder, n_exits=None):
    """Register ``user`` as network ``user.key`` (its experiment is
    derived where experiments are looked up,
    :func:`branchynet.experiments.user_experiment`).

    A key registered before with a record of the same network (see
    :data:`IDENTITY`: the file may have been elsewhere), or for its names
    alone (:func:`register_display`), is replaced; another network of that
    name is an error naming what differs. ``n_exits``: None to count them
    by building it.
    """
    old = REGISTRY.get(user.key)
    if old is not None and old.source is not None and \
            old.source.differences(user):
        raise _differ(old.source, user)
    if old is not None:
        REGISTRY.unregister(user.key)
    REGISTRY.register(user.key, NetworkSpec(
        user.key, builder, user.in_shape,
        builder().n_exits if n_exits is None else n_exits,
        'B-' + user.name, user.name, source=user))
    return REGISTRY[user.key]


def register_record(user, folder, n_exits):
    """Register a user network known only from its record: reading its
    results works, building it asks for the code (see the module doc).
    Registered already as the same network (with its code), it stays
    so."""
    old = REGISTRY.get(user.key)
    if old is not None and old.source is not None and \
            not old.source.differences(user):
        return old
    return register(user, _needs_code(user, folder), n_exits)


def register_display(summary):
    """A sweep result (``sweep.json``) of a user network: its network
    registered for its names alone (``report`` runs no network), when it
    is not registered already. Anything else is left to the schema's
    checks."""
    if not isinstance(summary, dict):
        return
    key, names = summary.get('network'), summary.get('display')
    if not isinstance(key, str) or not key.startswith(PREFIX) or \
            key in REGISTRY or not _NAME.match(key[len(PREFIX):]):
        return
    if not (isinstance(names, list) and len(names) == 2 and all(
            isinstance(n, str) and 0 < len(n) <= 70 for n in names)):
        return
    def builder():
        raise BranchyNetError('network %s is known here from its sweep '
                              'result only' % key)
    REGISTRY.register(key, NetworkSpec(key, builder, (1, 1, 1), 1,
                                       names[1], names[0]))


def display_of(network):
    """What a sweep result of ``network`` records to be read without its
    code: ``{'display': [baseline name, name]}`` for a user network."""
    spec = REGISTRY[network]
    if spec.source is None:
        return {}
    return {'display': [spec.baseline_display, spec.display]}
