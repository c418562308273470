"""Your own network: ``--network FILE.py:FUNCTION`` or ``module:FUNCTION``.

``FUNCTION(n_classes=..., in_shape=(C, H, W))`` returns a
:class:`~branchynet.networks.model.BranchyNet`. Training registers it as
network ``user-NAME`` (NAME: the function's ``name`` attribute, else its
``__name__``; Table I reads ``B-NAME`` and ``NAME``), records where it came
from (:class:`UserNetwork`: path, sha256, function, shapes) in every model
JSON and in ``OUT/network.json``, and keeps a copy of the file as
``OUT/network.py``.

A model folder never runs code by itself. Reading a user model's JSON
registers a *record-only* network (:func:`register_record`): commands that
only read results (``compare``, ``report``) work, and building it (what
``evaluate``, ``sweep``, ``export`` do) is one line asking for the code:
``--network`` naming the same file again (its sha256 must be the
recorded one), or ``--trust-saved-network`` to run the saved copy
(:func:`install_for_model`).
"""
import dataclasses
import hashlib
import importlib
import json
import os
import re
import sys
import types

from branchynet.errors import BranchyNetError
from branchynet.networks.registry import REGISTRY, NetworkSpec
from branchynet.utils.digest import sha256_of

#: the prefix of a user network's registry key (``user-VGG11``)
PREFIX = 'user-'
#: the copy of the network file kept with the models
COPY = 'network.py'
#: the record of where it came from, beside the copy
RECORD = 'network.json'
_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_.-]{0,63}$')
_FUNCTION = re.compile(r'^[A-Za-z_][A-Za-z0-9_]{0,127}$')
_MODULE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$')
_SHA256 = re.compile(r'^[0-9a-f]{64}$')
#: largest input side and class count a record may declare
MAX_SIDE, MAX_CLASSES = 4096, 100000
SAVED_FLAG = '--trust-saved-network'


@dataclasses.dataclass(frozen=True)
class UserNetwork:
    """Where a user network came from, as saved with its models.

    Attributes:
        spec: what the user typed (``examples/vgg11_exits.py:vgg11``).
        path: the absolute path of the file that was run.
        function: the function's name in it.
        sha256: the file's sha256 when it was run.
        name: the network's name (``VGG11``).
        in_shape: ``(C, H, W)`` it was built for.
        n_classes: classes it was built for.
    """
    spec: str
    path: str
    function: str
    sha256: str
    name: str
    in_shape: tuple
    n_classes: int

    @property
    def key(self):
        """Its registry key, the ``network`` of its models' JSON."""
        return PREFIX + self.name

    def to_json(self):
        return dict(dataclasses.asdict(self), in_shape=list(self.in_shape))


def _split(text):
    """``(source, function)`` of ``FILE.py:FUNC`` or ``module:FUNC``."""
    source, sep, function = str(text).rpartition(':')
    if not sep or not source or not _FUNCTION.match(function):
        raise BranchyNetError(
            '--network takes FILE.py:FUNCTION or package.module:FUNCTION, '
            'got %.100r' % (text,))
    return source, function


def _import_file(path):
    """Run the file at ``path`` as a fresh module: ``(module, path,
    sha256)``, the sha256 of the very bytes that ran (read once)."""
    if not os.path.isfile(path):
        raise BranchyNetError('network file %s does not exist' % path)
    path = os.path.abspath(path)
    with open(path, 'rb') as f:
        source = f.read()
    digest = hashlib.sha256(source).hexdigest()
    module = types.ModuleType('_branchynet_user_%s' % digest[:16])
    module.__file__ = path
    sys.modules[module.__name__] = module     # as an import would leave it
    exec(compile(source, path, 'exec'), module.__dict__)
    return module, path, digest


def _import_module(source):
    if not _MODULE.match(source):
        raise BranchyNetError('--network: %.100r is neither a .py file nor '
                              'a module name' % source)
    try:
        module = importlib.import_module(source)
    except ImportError as e:
        raise BranchyNetError('--network: cannot import %s (%s)'
                              % (source, e)) from None
    path = getattr(module, '__file__', None)
    if not path or not os.path.isfile(path):
        raise BranchyNetError('--network: module %s has no source file to '
                              'record' % source)
    return module, os.path.abspath(path), sha256_of(path)


def load_function(text):
    """The function ``text`` names, and the file it was read from.

    The file is run (it is the user's own code, named on the command
    line); any exception it raises is one line naming it.

    Returns:
        tuple: ``(function, path, sha256)``.
    """
    source, function = _split(text)
    is_file = source.endswith('.py') or os.sep in source
    try:
        module, path, digest = (_import_file(os.path.expanduser(source))
                                if is_file else _import_module(source))
    except BranchyNetError:
        raise
    except Exception as e:          # the user's code: any error, one line
        raise BranchyNetError('--network %s: running %s failed: %s: %s' % (
            text, source, type(e).__name__, e)) from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise BranchyNetError('--network %s: %s has no function %s'
                              % (text, source, function))
    return fn, path, digest


def _name_of(fn, text):
    name = getattr(fn, 'name', None) or fn.__name__
    if not isinstance(name, str) or not _NAME.match(name):
        raise BranchyNetError(
            '--network %s: the network name %.80r must start with a letter '
            'and hold at most 64 letters, digits, _ . -' % (text, name))
    return name


def build_checked(fn, text, n_classes, in_shape):
    """``fn(n_classes=, in_shape=)``, checked to be a BranchyNet."""
    from branchynet.networks.model import BranchyNet
    try:
        model = fn(n_classes=n_classes, in_shape=tuple(in_shape))
    except BranchyNetError:
        raise
    except Exception as e:          # the user's code: any error, one line
        raise BranchyNetError('--network %s failed for n_classes=%d, '
                              'in_shape=%s: %s: %s' % (
                                  text, n_classes, tuple(in_shape),
                                  type(e).__name__, e)) from None
    if not isinstance(model, BranchyNet):
        raise BranchyNetError('--network %s returned %s, not a '
                              'branchynet.BranchyNet' % (
                                  text, type(model).__name__))
    _first_forward(model, text, in_shape)
    return model


def _first_forward(model, text, in_shape):
    """One sample through every exit: parameters left for Chainer to size
    (``L.Linear(None, n)``) get their shapes and values now, before they
    are saved; a network that cannot take ``in_shape`` fails now."""
    import chainer
    import numpy
    x = numpy.zeros((1,) + tuple(in_shape), numpy.float32)
    try:
        with chainer.using_config('train', False), \
                chainer.no_backprop_mode():
            logits = model(x)
    except Exception as e:          # the user's code: any error, one line
        raise BranchyNetError('--network %s cannot take one (%s) input: '
                              '%s: %s' % (text, ', '.join(map(str, in_shape)),
                                          type(e).__name__,
                                          ' '.join(str(e).split())[:300])
                              ) from None
    shapes = {tuple(z.shape) for z in logits}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise BranchyNetError('--network %s: its exits give logits of shapes '
                              '%s, not one (1, classes)' % (
                                  text, sorted(shapes)))


def load_user_network(text, in_shape, n_classes):
    """Run ``--network TEXT`` for data of ``in_shape`` and ``n_classes``.

    Returns:
        tuple: ``(UserNetwork, builder)``; ``builder()`` returns a fresh
        model (it has been built once, and checked, already).
    """
    fn, path, digest = load_function(text)
    user = UserNetwork(text, path, _split(text)[1], digest, _name_of(fn, text),
                       tuple(in_shape), int(n_classes))
    build_checked(fn, text, user.n_classes, user.in_shape)
    return user, lambda: build_checked(fn, text, user.n_classes,
                                       user.in_shape)


def record_from_json(value, where):
    """A :class:`UserNetwork` from a model JSON's ``user_network``; one
    line naming ``where`` if it is not one."""
    def bad(what):
        return BranchyNetError('%s: user_network %s' % (where, what))
    fields = [f.name for f in dataclasses.fields(UserNetwork)]
    if not isinstance(value, dict) or sorted(value) != sorted(fields):
        raise bad('must be an object with %s' % ', '.join(fields))
    for key in ('spec', 'path', 'function', 'sha256', 'name'):
        if not isinstance(value[key], str) or len(value[key]) > 4096:
            raise bad('%s must be a string' % key)
    shape, n = value['in_shape'], value['n_classes']
    ok = (_SHA256.match(value['sha256']) and _NAME.match(value['name'])
          and _FUNCTION.match(value['function'])
          and isinstance(shape, list) and len(shape) == 3
          and all(type(s) is int and 0 < s <= MAX_SIDE for s in shape)
          and type(n) is int and 1 < n <= MAX_CLASSES)
    if not ok:
        raise bad('holds a bad sha256, name, function, in_shape or '
                  'n_classes: %.200r' % (value,))
    return UserNetwork(**dict(value, in_shape=tuple(shape)))


def _needs_code(user, folder):
    def builder():
        raise BranchyNetError(
            'the model in %s is your network %s (%s, sha256 %s...): name it '
            'again with --network %s, or pass %s to run the copy saved as '
            '%s' % (folder, user.name, user.spec, user.sha256[:12],
                    user.spec, SAVED_FLAG, os.path.join(folder, COPY)))
    return builder


def register(user, builder, n_exits=None):
    """Register ``user`` as network (and experiment) ``user.key``.

    A key registered before with the same record, or for its names alone
    (:func:`register_display`), is replaced; with another record, two
    networks of one name: an error. ``n_exits``: None to count them by
    building it.
    """
    from branchynet.experiments import register_user_experiment
    old = REGISTRY.get(user.key)
    if old is not None and old.source not in (None, user):
        raise BranchyNetError(
            'two different networks are called %s (%s, sha256 %s... and '
            '%s, sha256 %s...)' % (user.name, old.source.spec,
                                   old.source.sha256[:12], user.spec,
                                   user.sha256[:12]))
    if old is not None:
        REGISTRY.unregister(user.key)
    REGISTRY.register(user.key, NetworkSpec(
        user.key, builder, user.in_shape,
        builder().n_exits if n_exits is None else n_exits,
        'B-' + user.name, user.name, source=user))
    register_user_experiment(user.key)
    return REGISTRY[user.key]


def register_record(user, folder, n_exits):
    """Register a user network known only from its record: reading its
    results works, building it asks for the code (see the module doc).
    Registered with its code already, it stays so."""
    old = REGISTRY.get(user.key)
    if old is not None and old.source == user:
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


# ------------------------------------------- the folder of a user's models

def keep_copy(folder, user):
    """Write ``FOLDER/network.py`` (the file run) and ``network.json`` (its
    record), unless they are there: a folder trained with another file is
    an error (see :func:`check_folder`)."""
    from branchynet.utils.atomic import write_bytes_atomic, write_json_atomic
    check_folder(folder, user)
    copy = os.path.join(folder, COPY)
    if not os.path.exists(copy):
        with open(user.path, 'rb') as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != user.sha256:
            raise BranchyNetError('network file %s changed while it was '
                                  'being used' % user.path)
        write_bytes_atomic(copy, data)
    if not os.path.exists(os.path.join(folder, RECORD)):
        write_json_atomic(os.path.join(folder, RECORD), user.to_json())


def saved_record(folder):
    """The :class:`UserNetwork` recorded in ``FOLDER/network.json``, or
    None when there is none."""
    path = os.path.join(folder, RECORD)
    if not os.path.exists(path):
        return None
    try:
        with open(path, 'rb') as f:
            value = json.loads(f.read(1 << 20))
    except (OSError, ValueError) as e:
        raise BranchyNetError('cannot read %s: %s' % (path, e)) from None
    return record_from_json(value, path)


def check_same(recorded, user, folder):
    """One line naming what differs between the network the models of
    ``folder`` were trained with and ``user``."""
    for what in ('sha256', 'function', 'in_shape', 'n_classes'):
        a, b = getattr(recorded, what), getattr(user, what)
        if a != b:
            raise BranchyNetError(
                'the network differs from the one %s was trained with: its '
                '%s is %s now, %s then (%s now, %s then): name the network '
                'it was trained with, or train into a new --out' % (
                    folder, what, _short(b), _short(a), user.spec,
                    recorded.spec))


def _short(value):
    return value[:12] + '...' if isinstance(value, str) and \
        _SHA256.match(value) else str(value)


def check_folder(folder, user):
    """The folder's recorded network, if any, is ``user``."""
    recorded = saved_record(folder)
    if recorded is not None:
        check_same(recorded, user, folder)


def install_for_model(path, text=None, trust_saved=False):
    """Before a command loads the model at ``path`` (a model folder or a
    model prefix): run its user network from ``--network TEXT`` or, with
    ``trust_saved``, from the folder's copy, checked against the record.

    Returns:
        UserNetwork or None: None for a built-in network (then neither
        option may be given).
    """
    folder = path if os.path.isdir(path) else os.path.dirname(path) or '.'
    recorded = saved_record(folder)
    if recorded is None:
        if text is not None or trust_saved:
            raise BranchyNetError(
                '%s holds no network.json: its models are of a built-in '
                'network; --network and %s are for models trained with '
                '--network' % (folder, SAVED_FLAG))
        return None
    if text is not None and trust_saved:
        raise BranchyNetError('give --network or %s, not both' % SAVED_FLAG)
    if trust_saved:
        copy = os.path.join(folder, COPY)
        if not os.path.isfile(copy) or sha256_of(copy) != recorded.sha256:
            raise BranchyNetError(
                '%s is missing or is not the file %s was trained with (its '
                'sha256 differs from network.json\'s)' % (copy, folder))
        text = copy + ':' + recorded.function
    if text is None:
        return None     # reading its JSON registers it record-only
    user, builder = load_user_network(text, recorded.in_shape,
                                      recorded.n_classes)
    check_same(recorded, user, folder)
    register(dataclasses.replace(user, spec=recorded.spec,
                                 path=recorded.path), builder)
    return recorded


__all__ = ['UserNetwork', 'install_for_model', 'keep_copy',
           'load_user_network', 'record_from_json', 'register',
           'register_record', 'sha256_of']
