"""Running the user's code: the file or module named by ``--network``, read once
(the bytes that ran are the ones hashed and kept), and the network it
builds, checked at inference and for one training step before it is used."""
import hashlib
import importlib
import os
import stat
import sys
import types

from branchynet.errors import BranchyNetError
from branchynet.networks.user.record import (
    MAX_SOURCE_BYTES, _MODULE, _NAME, _split,
    UserNetwork)
from branchynet.utils.digest import sha256_of


#: the bytes of each network file run in this process, by sha256: the
#: copy kept with the models is what ran, not the file read again
_SOURCES = {}


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
