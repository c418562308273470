"""The folder of a user network's models: the copy of the file and its record
(``network.py``, ``network.json``), checked against every model JSON there
before anything runs."""
import dataclasses
import hashlib
import os

from branchynet.errors import BranchyNetError
from branchynet.networks.user.loading import (
    _is_regular, load_user_network, _read_source, _SOURCES)
from branchynet.networks.user.record import (
    COPY, MAX_RECORD_BYTES, RECORD, record_from_json, ROLES,
    SAVED_FLAG, _short, _split)
from branchynet.networks.user.registering import _no_record, register


def keep_copy(folder, user):
    """Write ``FOLDER/network.py`` (the bytes that ran) and ``network.json``
    (its record), unless they are there: a folder trained with another
    file, or whose copy is not that file, is an error (see
    :func:`check_folder`)."""
    from branchynet.utils.atomic import write_bytes_atomic, write_json_atomic
    check_folder(folder, user)
    copy = os.path.join(folder, COPY)
    if os.path.lexists(copy):
        _check_copy(copy, user.sha256, folder, 'remove it, or train into a '
                    'new --out')
    else:
        data = _SOURCES.get(user.sha256)
        if data is None:            # a module: Python read it, not us
            data = _read_source(user.path)
        if hashlib.sha256(data).hexdigest() != user.sha256:
            raise BranchyNetError('network file %s changed while it was '
                                  'being used' % user.path)
        write_bytes_atomic(copy, data)
    if not os.path.exists(os.path.join(folder, RECORD)):
        write_json_atomic(os.path.join(folder, RECORD), user.to_json())


def _check_copy(copy, sha256, folder, then='nothing was run'):
    """``copy`` is the file itself (no symbolic link, which could lead
    anywhere), a regular file, with the recorded ``sha256``; its bytes.
    ``then``: what the line ends with."""
    if os.path.islink(copy):
        raise BranchyNetError(
            '%s is a symbolic link (to %s): the copy of the network must be '
            'the file itself; %s' % (copy, os.readlink(copy), then))
    if not _is_regular(copy):
        raise BranchyNetError('%s is missing or is not a regular file; %s'
                              % (copy, then))
    data = _read_source(copy)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise BranchyNetError(
            '%s is not the file %s was trained with (its sha256 differs from '
            'the recorded %s...); %s' % (copy, folder, sha256[:12], then))
    return data


def _read_json(path, limit, what='cannot read %s'):
    """The JSON at ``path`` (a regular file of at most ``limit`` bytes,
    nested at most :data:`~branchynet.networks.serialization.MAX_JSON_DEPTH`
    deep)."""
    from branchynet.networks.serialization import loads_bounded
    if not _is_regular(path):
        raise BranchyNetError('%s: not a regular file' % (what % path))
    try:
        with open(path, 'rb') as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ValueError('larger than %d bytes' % limit)
        return loads_bounded(data)
    except (OSError, ValueError) as e:
        raise BranchyNetError('%s: %s' % (what % path, e)) from None


def saved_record(folder):
    """The :class:`UserNetwork` recorded in ``FOLDER/network.json``, or
    None when there is none."""
    path = os.path.join(folder, RECORD)
    if not os.path.lexists(path):
        return None
    return record_from_json(_read_json(path, MAX_RECORD_BYTES), path)


def model_records(folder, model=None):
    """``[(json path, network, UserNetwork or None)]`` of the models a
    command may load from ``folder``: ``ROLE.json`` of each role there and
    the model prefix ``model``'s JSON; read (bounded, nothing run), not
    otherwise checked."""
    from branchynet.networks.serialization import (MAX_JSON_BYTES,
                                                   model_paths)
    paths = [os.path.join(folder, role + '.json') for role in ROLES]
    if model is not None:
        paths.insert(0, model_paths(model)[1])
    found = []
    for path in dict.fromkeys(os.path.normpath(p) for p in paths):
        if not os.path.lexists(path):
            continue
        info = _read_json(path, MAX_JSON_BYTES, 'model file %s')
        if not isinstance(info, dict):
            raise BranchyNetError('model file %s: holds a JSON %s, not an '
                                  'object' % (path, type(info).__name__))
        record = info.get('user_network')
        found.append((path, info.get('network'), None if record is None
                      else record_from_json(record, path)))
    return found


def check_same(recorded, user, folder):
    """One line naming what differs between the network the models of
    ``folder`` were trained with and ``user``."""
    for what in recorded.differences(user):
        raise BranchyNetError(
            'the network differs from the one %s was trained with: its '
            '%s is %s now, %s then (%s now, %s then): name the network '
            'it was trained with, or train into a new --out' % (
                folder, what, _short(getattr(user, what)),
                _short(getattr(recorded, what)), user.spec, recorded.spec))


def folder_record(folder, model=None):
    """The network ``folder``'s models were trained with, checked before
    anything runs: ``network.json`` and every model JSON (see
    :func:`model_records`) must name one network.

    Returns:
        tuple: ``(record, has_json)``: record None for a folder of a
        built-in network's models (or none); ``has_json``: whether it came
        from ``network.json`` (else from the models' JSONs).
    """
    recorded = saved_record(folder)
    first, where = recorded, os.path.join(folder, RECORD)
    for path, network, record in model_records(folder, model):
        if first is None:
            first, where = record, path
        if first is None:
            continue
        if record is None:
            raise BranchyNetError(
                '%s is a model of network %.80r, but %s holds your network '
                '%s: the folder contradicts itself; nothing was run' % (
                    path, network, folder, first.name))
        what = first.differences(record)
        if what or network != record.key:
            raise BranchyNetError(
                'the folder %s contradicts itself: %s records network %s, '
                'sha256 %s..., but %s records %s, sha256 %s... (they differ '
                'in %s); nothing was run' % (
                    folder, path, record.key, record.sha256[:12], where,
                    first.key, first.sha256[:12],
                    ', '.join(what) or 'network'))
    return first, recorded is not None


def check_folder(folder, user):
    """The folder's recorded network, if any, is ``user``; its models
    agree. Returns the record (None: none yet)."""
    if not os.path.isdir(folder):
        return None
    recorded, _ = folder_record(folder)
    if recorded is None:
        for path, network, _ in model_records(folder):
            raise BranchyNetError(
                '%s holds models of network %.80r; train your network %s '
                'into another --out' % (folder, network, user.name))
        return None
    check_same(recorded, user, folder)
    return recorded


def install_for_model(path, text=None, trust_saved=False):
    """Before a command loads the model at ``path`` (a model folder or a
    model prefix): run its user network from ``--network TEXT`` or, with
    ``trust_saved``, from the folder's copy.

    Nothing runs before everything recorded agrees: ``network.json``,
    every model JSON there, and the file's sha256 (the copy: a regular
    file in the folder, not a symbolic link).

    Returns:
        UserNetwork or None: None for a built-in network (then neither
        option may be given).
    """
    if text is not None and trust_saved:
        raise BranchyNetError('give --network or %s, not both' % SAVED_FLAG)
    if text is None and not trust_saved:
        return None     # reading a user model's JSON registers it
                        # record-only: building it asks for the code
    folder = path if os.path.isdir(path) else os.path.dirname(path) or '.'
    model = None if os.path.isdir(path) else path
    recorded, has_json = folder_record(folder, model)
    if recorded is None:
        if text is not None or trust_saved:
            raise BranchyNetError(
                '%s holds no network.json and its models are of a built-in '
                'network: --network and %s are for models trained with '
                '--network' % (folder, SAVED_FLAG))
        return None
    if trust_saved and not has_json:
        raise _no_record(folder, recorded)
    if trust_saved:
        copy = os.path.join(folder, COPY)
        _check_copy(copy, recorded.sha256, folder)
        text = copy + ':' + recorded.function

    def before_run(path, digest):   # the file's bytes, before they run
        check_same(recorded, dataclasses.replace(
            recorded, spec=text, sha256=digest,
            function=_split(text)[1]), folder)
    before_run(None, recorded.sha256)       # the function named
    user, builder = load_user_network(text, recorded.in_shape,
                                      recorded.n_classes, before_run)
    check_same(recorded, user, folder)
    register(dataclasses.replace(user, spec=recorded.spec,
                                 path=recorded.path), builder)
    return recorded
