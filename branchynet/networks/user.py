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
(:func:`install_for_model`). Either way nothing runs before everything
recorded agrees: ``network.json``, every model JSON of the folder, the
file's sha256 (computed from the bytes about to run) and, for the copy,
that it is a regular file in the folder, not a symbolic link.

The network is checked as it is built (:func:`build_checked`): one sample
through every exit at inference, logits of the data set's class count,
then one training step on two samples (dropout, batch statistics, the
backward pass), so that what would fail in training fails before it. What
the user's code raises, ``sys.exit`` included, is one line naming it.
"""
import dataclasses
import hashlib
import importlib
import os
import re
import shlex
import stat
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
#: the largest network file run or copied, and network.json read
MAX_SOURCE_BYTES, MAX_RECORD_BYTES = 16 * 2 ** 20, 2 ** 20
SAVED_FLAG = '--trust-saved-network'
#: the model JSONs of a training folder (``branchynet train`` writes them)
ROLES = ('baseline', 'branchynet', 'baseline_after_joint')
#: what makes two records one network: the same bytes run the same way
#: (``spec`` and ``path`` say only where the file was)
IDENTITY = ('sha256', 'function', 'name', 'in_shape', 'n_classes')
#: the bytes of each network file run in this process, by sha256: the
#: copy kept with the models is what ran, not the file read again
_SOURCES = {}


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

    def differences(self, other):
        """The fields of :data:`IDENTITY` in which ``other`` differs."""
        return [f for f in IDENTITY if getattr(self, f) != getattr(other, f)]

    def hint(self):
        """How to name it again on a command line (a file's absolute path,
        quoted for a shell; a module's name as given)."""
        source = self.spec.rpartition(':')[0]
        if source.endswith('.py') or os.sep in source:
            return shlex.quote('%s:%s' % (self.path, self.function))
        return shlex.quote(self.spec)


def _split(text):
    """``(source, function)`` of ``FILE.py:FUNC`` or ``module:FUNC``."""
    source, sep, function = str(text).rpartition(':')
    if not sep or not source or not _FUNCTION.match(function):
        raise BranchyNetError(
            '--network takes FILE.py:FUNCTION or package.module:FUNCTION, '
            'got %.100r' % (text,))
    return source, function


def _is_regular(path):
    """``path`` is a regular file (a FIFO or device would block or never
    end when read), following symbolic links."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _read_source(path):
    """The bytes of the network file at ``path`` (a regular file of at
    most :data:`MAX_SOURCE_BYTES`)."""
    if not _is_regular(path):
        raise BranchyNetError('network file %s does not exist or is not a '
                              'regular file' % path)
    with open(path, 'rb') as f:
        source = f.read(MAX_SOURCE_BYTES + 1)
    if len(source) > MAX_SOURCE_BYTES:
        raise BranchyNetError('network file %s is larger than %d bytes'
                              % (path, MAX_SOURCE_BYTES))
    return source


def _import_file(path, before_run=None):
    """Run the file at ``path`` as a fresh module: ``(module, path,
    sha256)``, the sha256 of the very bytes that ran (read once).
    ``before_run(path, sha256)``, if given, may refuse them before they
    run."""
    path = os.path.abspath(path)
    source = _read_source(path)
    digest = hashlib.sha256(source).hexdigest()
    if before_run is not None:
        before_run(path, digest)
    _SOURCES[digest] = source
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


def _failure(e):
    """What the user's code did instead of returning, in a few words."""
    if isinstance(e, SystemExit):
        return 'it called sys.exit(%.60r)' % (e.code,)
    return '%s: %s' % (type(e).__name__, ' '.join(str(e).split())[:300])


#: what the user's code may raise and we report in one line: any error,
#: and ``sys.exit`` (not Ctrl-C or SIGTERM)
USER_ERRORS = (Exception, SystemExit)


def load_function(text, before_run=None):
    """The function ``text`` names, and the file it was read from.

    The file is run (it is the user's own code, named on the command
    line); any exception it raises, or ``sys.exit``, is one line naming
    it. ``before_run(path, sha256)`` may refuse a file's bytes before
    they run (a module is imported by Python: checked after).

    Returns:
        tuple: ``(function, path, sha256)``.
    """
    source, function = _split(text)
    is_file = source.endswith('.py') or os.sep in source
    try:
        module, path, digest = (
            _import_file(os.path.expanduser(source), before_run)
            if is_file else _import_module(source))
    except BranchyNetError:
        raise
    except USER_ERRORS as e:        # the user's code: any error, one line
        raise BranchyNetError('--network %s: running %s failed: %s' % (
            text, source, _failure(e))) from None
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
    except USER_ERRORS as e:        # the user's code: any error, one line
        raise BranchyNetError('--network %s failed for n_classes=%d, '
                              'in_shape=%s: %s' % (
                                  text, n_classes, tuple(in_shape),
                                  _failure(e))) from None
    if not isinstance(model, BranchyNet):
        raise BranchyNetError('--network %s returned %s, not a '
                              'branchynet.BranchyNet' % (
                                  text, type(model).__name__))
    _first_forward(model, text, in_shape, n_classes)
    return model


def _first_forward(model, text, in_shape, n_classes):
    """One sample through every exit: parameters left for Chainer to size
    (``L.Linear(None, n)``) get their shapes and values now, before they
    are saved; a network that cannot take ``in_shape``, or whose exits do
    not give ``n_classes`` logits, fails now. Then :func:`_training_step`.
    """
    import chainer
    import numpy
    x = numpy.zeros((1,) + tuple(in_shape), numpy.float32)
    try:
        with chainer.using_config('train', False), \
                chainer.no_backprop_mode():
            logits = model(x)
    except USER_ERRORS as e:        # the user's code: any error, one line
        raise BranchyNetError('--network %s cannot take one (%s) input: %s'
                              % (text, ', '.join(map(str, in_shape)),
                                 _failure(e))) from None
    shapes = {tuple(z.shape) for z in logits}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise BranchyNetError('--network %s: its exits give logits of shapes '
                              '%s, not one (1, classes)' % (
                                  text, sorted(shapes)))
    if shapes != {(1, n_classes)}:
        raise BranchyNetError(
            '--network %s: its exits give %d class scores, but the data set '
            'has %d classes (build the exits with n_classes)' % (
                text, next(iter(shapes))[1], n_classes))
    _training_step(model, text, in_shape)


def _training_step(model, text, in_shape):
    """What training does, once: two samples forward through every exit in
    training mode (dropout, BatchNormalization's batch statistics) and
    back. A layer that works at inference only (``F.dropout`` with a ratio
    of 1.5) fails now, in one line, not at the first update. The model's
    parameters, statistics and gradients and NumPy's random state (which
    training draws from after) are left as they were."""
    import chainer
    import numpy
    state = numpy.random.get_state()
    saved = {}
    chainer.serializers.DictionarySerializer(saved).save(model)
    saved = {k: numpy.array(v, copy=True) for k, v in saved.items()}
    try:
        x = numpy.zeros((2,) + tuple(in_shape), numpy.float32)
        with chainer.using_config('train', True):
            logits = model(x)
            loss = sum(chainer.functions.sum(z) for z in logits)
            loss.backward()
    except USER_ERRORS as e:        # the user's code: any error, one line
        raise BranchyNetError('--network %s fails in training mode (two (%s) '
                              'inputs forward and back): %s' % (
                                  text, ', '.join(map(str, in_shape)),
                                  _failure(e))) from None
    finally:
        numpy.random.set_state(state)
        chainer.serializers.NpzDeserializer(saved).load(model)
        model.cleargrads()


def load_user_network(text, in_shape, n_classes, before_run=None):
    """Run ``--network TEXT`` for data of ``in_shape`` and ``n_classes``
    (``before_run``: see :func:`load_function`).

    Returns:
        tuple: ``(UserNetwork, builder)``; ``builder()`` returns a fresh
        model (it has been built once, and checked, already).
    """
    fn, path, digest = load_function(text, before_run)
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
    """Register ``user`` as network ``user.key`` (its experiment is derived
    where experiments are looked up, :func:`branchynet.experiments.user_experiment`).

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


# ------------------------------------------- the folder of a user's models

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


def _short(value):
    return value[:12] + '...' if isinstance(value, str) and \
        _SHA256.match(value) else str(value)


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


__all__ = ['UserNetwork', 'check_folder', 'folder_record',
           'install_for_model', 'keep_copy', 'load_user_network',
           'model_records', 'record_from_json', 'register',
           'register_record', 'sha256_of']
