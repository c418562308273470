"""What a user network is, as recorded with its models: :class:`UserNetwork`,
its limits, and how a record is read back from JSON."""
import dataclasses
import os
import re
import shlex

from branchynet.errors import BranchyNetError


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


def _short(value):
    return value[:12] + '...' if isinstance(value, str) and \
        _SHA256.match(value) else str(value)
