"""Saving and loading trained networks: npz weights plus a JSON of settings.

``NAME.npz`` holds the parameters (Chainer's npz serializer); ``NAME.json``
holds the network name and the settings needed to rebuild it. Loading never
trusts either file:

- the npz is read through :class:`~branchynet.utils.safe_npz.SafeNpz`: no pickle
  (Chainer's own ``load_npz`` allows it), each entry's header checked before
  its data are read. An entry loaded into an existing array (a parameter, a
  BatchNorm statistic, an optimizer state) must have exactly that array's
  shape and dtype (Chainer would broadcast a ``(1, 720)`` array over an
  ``(84, 720)`` one) and hold no NaN or infinity; an entry with no array to
  land in (optimizer state of a fresh trainer, the training log) may declare
  at most :data:`MAX_FREE_ENTRY_BYTES`;
- the JSON must be an object naming a known network, with a ``settings``
  object; its size and nesting are bounded.

Every problem is one :class:`~branchynet.errors.BranchyNetError` naming the
file.
"""
import contextlib
import json
import os
import stat

import chainer
import numpy

from branchynet.utils.atomic import atomic_path, write_json_atomic
from branchynet.errors import BranchyNetError
from branchynet.networks import NETWORKS, REGISTRY
from branchynet.utils.safe_npz import ARCHIVE_ERRORS, NUMBER_KINDS, SafeNpz

#: the most bytes an npz entry may declare when no existing array fixes its
#: shape: optimizer states of a trainer that has not stepped yet (the largest
#: parameter of our networks is a few MiB) and the training log (a string)
MAX_FREE_ENTRY_BYTES = 256 * 2 ** 20
#: the largest model JSON read (ours are about 1 KiB)
MAX_JSON_BYTES = 16 * 2 ** 20
#: the deepest nesting of objects and lists a JSON we read may have (ours
#: have 3); checked before the parser runs, the same on every Python
MAX_JSON_DEPTH = 64


class _CheckedDeserializer(chainer.serializer.Deserializer):
    """Chainer's ``NpzDeserializer`` semantics over a :class:`SafeNpz`.

    A missing entry raises ``KeyError`` as Chainer's does (some ``serialize``
    methods catch it); scalars go through Chainer's own deserializer, so
    its type checks apply unchanged.
    """

    def __init__(self, npz, path='', strict=True):
        self.npz = npz
        self.path = path
        self.strict = strict

    def __getitem__(self, key):
        return _CheckedDeserializer(self.npz, self.path + key.strip('/') + '/',
                                    self.strict)

    def __call__(self, key, value):
        key = self.path + key.lstrip('/')
        if key not in self.npz:
            if not self.strict:
                return value
            raise KeyError(key)
        if value is None:
            return self.npz.read(key, max_bytes=MAX_FREE_ENTRY_BYTES)
        if isinstance(value, numpy.ndarray):
            numpy.copyto(value, self.npz.read(key, value.shape, value.dtype))
            return value
        if isinstance(value, chainer.backends.cuda.ndarray):
            value.set(self.npz.read(key, value.shape, value.dtype))
            return value
        if isinstance(value, str):
            text = self.npz.read(key, shape=(), kinds='U',
                                 max_bytes=MAX_FREE_ENTRY_BYTES)
            return str(text[()])
        scalar = self.npz.read(key, shape=(), kinds=NUMBER_KINDS,
                               finite=False)
        return chainer.serializers.NpzDeserializer({key: scalar})(key, value)


def load_npz_safe(path, obj, strict=True):
    """Deserialize ``obj`` (a link, optimizer or trainer) from an npz file.

    Raises:
        BranchyNetError: the file is missing, truncated, not an npz, holds
            pickled objects, or an entry is missing or does not match
            ``obj`` (shape, dtype, NaN); the message names the file.
    """
    with _one_line('cannot load %s', path, '(saved from another network '
                   'or version?)'):
        with SafeNpz(path) as npz:
            _CheckedDeserializer(npz, strict=strict).load(obj)


@contextlib.contextmanager
def _one_line(what, path, missing):
    """Errors of reading the npz at ``path`` as one line ``what % path``
    (``missing`` follows a missing entry)."""
    try:
        yield
    except KeyError as e:
        raise BranchyNetError('%s: it has no entry %s %s' % (
            what % path, e, missing)) from None
    except (TypeError,) + ARCHIVE_ERRORS as e:
        raise BranchyNetError('%s: %s' % (what % path, e)) from None
    except BranchyNetError as e:
        raise BranchyNetError(what % e) from None


_BRACKET_STEP = numpy.zeros(256, numpy.int8)
_BRACKET_STEP[[ord('['), ord('{')]] = 1
_BRACKET_STEP[[ord(']'), ord('}')]] = -1


def json_depth(data):
    """How deeply the JSON text ``data`` (bytes) nests objects and lists,
    counted in linear time without parsing it or recursing: brackets inside
    strings do not count (a quote after an odd number of backslashes is
    escaped). Text that is not JSON gets some count, and the parser's error
    after."""
    text = numpy.frombuffer(bytes(data), numpy.uint8)
    if not text.size:
        return 0
    if not (text == ord('\\')).any():
        quote = text == ord('"')
    else:
        quote = _unescaped_quotes(text)
    outside = numpy.cumsum(quote) % 2 == 0       # not after an open quote
    step = _BRACKET_STEP[text]
    step[~outside] = 0
    return int(numpy.cumsum(step, dtype=numpy.int64).max(initial=0))


def _unescaped_quotes(text):
    """Where ``text`` holds a quote not escaped by a backslash."""
    index = numpy.arange(text.size, dtype=numpy.int64)
    # the backslashes just before each position: the index of the last
    # other character before it
    other = numpy.maximum.accumulate(numpy.where(text != ord('\\'), index,
                                                 -1))
    run = index - numpy.concatenate(([-1], other[:-1])) - 1
    return (text == ord('"')) & (run % 2 == 0)


def loads_bounded(data, max_depth=MAX_JSON_DEPTH):
    """``json.loads(data)`` (bytes) for JSON nested at most ``max_depth``
    deep.

    Raises:
        ValueError: too deep (checked before the parser runs), or not JSON.
    """
    if json_depth(data) > max_depth:
        raise ValueError('nested too deeply (more than %d levels)'
                         % max_depth)
    return json.loads(data)


def load_trained_parts(path, model):
    """Load a trained network's stages and final exit from the npz at
    ``path`` into ``model`` (``--from-trained``): entries ``stages/...``
    and ``exits/J/...`` with J its last exit, which may be another index
    than ``model``'s (a network with other exits); every shape must match,
    and the file's stages and final exit must hold exactly the entries of
    ``model``'s (a trained network with more stages, or more layers in its
    final exit, is another network, even if the final exit's shapes fit).

    Raises:
        BranchyNetError: one line naming the file and what does not fit.
    """
    with _one_line('--from-trained %s', path, '(its stages and final exit '
                   'are not this network\'s)'):
        with SafeNpz(path) as npz:
            exits = {int(k.split('/')[1]) for k in npz.keys
                     if k.startswith('exits/') and k.split('/')[1].isdigit()}
            if not exits or not any(k.startswith('stages/')
                                    for k in npz.keys):
                raise BranchyNetError('%s holds no stages/ and exits/ of a '
                                      'BranchyNet' % path)
            final = 'exits/%d/' % max(exits)
            for prefix, link in (('stages/', model.stages),
                                 (final, model.exits[-1])):
                _same_entries(path, npz, prefix, link)
            reader = _CheckedDeserializer(npz)
            reader['stages'].load(model.stages)
            reader['exits'][str(max(exits))].load(model.exits[-1])


class _EntryNames(chainer.serializer.Serializer):
    """The npz entry names a link is saved under (collects, saves
    nothing)."""

    def __init__(self, names, path=''):
        self.names, self.path = names, path

    def __getitem__(self, key):
        return _EntryNames(self.names, self.path + key.strip('/') + '/')

    def __call__(self, key, value):
        self.names.add(self.path + key.lstrip('/'))
        return value


def _same_entries(path, npz, prefix, link):
    """The entries of ``npz`` under ``prefix`` are exactly ``link``'s."""
    want = set()
    link.serialize(_EntryNames(want, prefix))
    have = {k for k in npz.keys if k.startswith(prefix)}
    for what, names in (('has entries this network lacks', have - want),
                        ('lacks entries of this network', want - have)):
        if names:
            raise BranchyNetError(
                '%s %s: %s%s (its stages and final exit are not this '
                'network\'s)' % (path, what, ', '.join(sorted(names)[:5]),
                                  ' ...' if len(names) > 5 else ''))


def save_npz_atomic(path, obj):
    """Chainer's ``save_npz``, written to a temporary file and moved in."""
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as f:
            chainer.serializers.save_npz(f, obj)


def model_paths(prefix):
    """``(PREFIX.npz, PREFIX.json)`` for a prefix with or without ``.npz``."""
    if prefix.endswith('.npz') or prefix.endswith('.json'):
        prefix = os.path.splitext(prefix)[0]
    return prefix + '.npz', prefix + '.json'


def save_model(prefix, model, info):
    """Save ``model`` as ``PREFIX.npz`` and ``info`` as ``PREFIX.json``.

    Args:
        prefix (str): output path without extension.
        model (BranchyNet): the network (any device).
        info (dict): JSON-serialisable settings; must hold ``network`` (a key
            of :data:`~branchynet.networks.NETWORKS`).
    """
    if info.get('network') not in NETWORKS:
        raise ValueError('info needs a known network name')
    npz_path, json_path = model_paths(prefix)
    user = REGISTRY[info['network']].source
    if user is not None:                # a network of your own: its record
        from branchynet.networks.user import keep_copy
        keep_copy(os.path.dirname(json_path) or '.', user)
        info = dict(info, user_network=user.to_json(),
                    n_exits=model.n_exits)
    save_npz_atomic(npz_path, model)
    write_json_atomic(json_path, info)


def read_model_info(json_path):
    """The checked content of a model's JSON file.

    Returns:
        dict: with a ``network`` of :data:`~branchynet.networks.NETWORKS`
        and a ``settings`` dict. Its experiment is checked a layer up
        (:func:`branchynet.experiments.check_trained`, networks do not
        import experiments), the other settings by
        :meth:`branchynet.training.settings.TrainSettings.from_saved`.
    """
    def bad(message):
        return BranchyNetError('model file %s: %s' % (json_path, message))

    try:
        if not stat.S_ISREG(os.stat(json_path).st_mode):    # a FIFO blocks
            raise bad('not a regular file')
        if os.path.getsize(json_path) > MAX_JSON_BYTES:
            raise bad('larger than %d bytes; not a model description'
                      % MAX_JSON_BYTES)
        with open(json_path, 'rb') as f:
            data = f.read(MAX_JSON_BYTES + 1)
        if json_depth(data) > MAX_JSON_DEPTH:
            raise bad('nested too deeply to be a model description (more '
                      'than %d levels)' % MAX_JSON_DEPTH)
        info = json.loads(data)
    except RecursionError:      # not reached: the depth is bounded above
        raise bad('nested too deeply to be a model description') from None
    except (OSError, ValueError) as e:
        raise bad('not readable JSON (%s)' % e) from None
    if not isinstance(info, dict):
        raise bad('holds a JSON %s, not an object' % type(info).__name__)
    network = info.get('network')
    if isinstance(network, str) and 'user_network' in info:
        _register_user(info, json_path)
    if not isinstance(network, str) or network not in NETWORKS:
        raise bad('names no known network (got %.80r; known: %s)'
                  % (network, ', '.join(NETWORKS)))
    settings = info.get('settings')
    if not isinstance(settings, dict):
        raise bad("has no 'settings' object (got %.80r): not written by "
                  "`branchynet train`" % (settings,))
    return info


def _register_user(info, json_path):
    """A model of a user network: registered from its record (building it
    then asks for the code, :mod:`branchynet.networks.user`)."""
    from branchynet.networks import user
    record = user.record_from_json(info['user_network'], json_path)
    n_exits = info.get('n_exits')
    if record.key != info['network'] or type(n_exits) is not int or \
            not 1 <= n_exits <= 1000:
        raise BranchyNetError('model file %s: its network %.80r, n_exits '
                              '%.20r and user_network do not agree'
                              % (json_path, info['network'], n_exits))
    user.register_record(record, os.path.dirname(json_path) or '.', n_exits)


def load_model(prefix, check_info=None):
    """Rebuild and load a model saved by :func:`save_model`.

    Args:
        prefix (str): the files' path without ``.npz`` / ``.json``.
        check_info: called as ``check_info(info, json_path)`` on the
            description before anything is built or read, to raise on what
            this layer cannot check (the experiment:
            :func:`branchynet.experiments.load_trained` passes
            :func:`~branchynet.experiments.check_trained`).

    Returns:
        tuple: ``(model, info)``; the model is on the CPU.

    Raises:
        BranchyNetError: a file is missing, or malformed (see
            :func:`read_model_info` and :func:`load_npz_safe`).
    """
    npz_path, json_path = model_paths(prefix)
    for path in (npz_path, json_path):
        if not os.path.exists(path):
            raise BranchyNetError('model file %s does not exist' % path)
    info = read_model_info(json_path)
    if check_info is not None:
        check_info(info, json_path)
    model = NETWORKS[info['network']]()
    load_npz_safe(npz_path, model)
    return model, info
