"""Opening data files and folders: only what they claim to be.

Every data file (the MNIST files, the CIFAR-10 tarball and batches,
pcifar10's ``data.npz`` and ``data.json``, a user's ``.npz``, the images of
an image folder and its cache) is opened with :func:`open_regular`: with
``O_NONBLOCK``, so that opening a FIFO returns at once instead of waiting
for a writer, then checked with ``fstat`` on the descriptor itself (no
window between a check and the open), and refused unless it is a regular
file (a FIFO, a folder, a device or a socket is one line naming it).
Symlinks are followed, as ``open`` follows them.

A data set's folder (``<data root>/mnist``...) is checked with
:func:`check_folder` before anything is read, cleaned or downloaded into
it: a file or a FIFO of that name is one line, not a download that ends in
"File exists".
"""
import os
import stat

from branchynet.errors import BranchyNetError

_KINDS = ((stat.S_ISFIFO, 'a FIFO (named pipe)'), (stat.S_ISDIR, 'a folder'),
          (stat.S_ISCHR, 'a character device'),
          (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'),
          (stat.S_ISREG, 'a regular file'))


def kind(mode):
    """What a ``st_mode`` is, in words: ``a FIFO (named pipe)``..."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return 'not a regular file'


def open_regular(path, what='data file'):
    """``path`` opened for binary reading, if it is a regular file.

    Args:
        path (str): the file (a symlink is followed).
        what (str): what it is, for the message (``MNIST file``).

    Returns:
        file: a binary file object, blocking, at offset 0 (close it).

    Raises:
        BranchyNetError: it is a FIFO, a folder, a device or a socket.
        OSError: it cannot be opened (missing, no permission): the caller
            words that.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise BranchyNetError('%s %s is %s, not a regular file'
                                  % (what, path, kind(mode)))
        os.set_blocking(fd, True)
        return os.fdopen(fd, 'rb')
    except BaseException:
        os.close(fd)
        raise


def read_regular(path, what='data file', max_bytes=None):
    """The bytes of regular file ``path``, at most ``max_bytes`` (None: no
    bound).

    Raises:
        BranchyNetError: not a regular file, unreadable, or larger than
            ``max_bytes``; names the file.
    """
    try:
        with open_regular(path, what) as f:
            if max_bytes is not None and \
                    os.fstat(f.fileno()).st_size > max_bytes:
                raise BranchyNetError('%s %s is larger than %d bytes'
                                      % (what, path, max_bytes))
            data = f.read() if max_bytes is None else f.read(max_bytes + 1)
    except OSError as e:
        raise BranchyNetError('%s %s cannot be read (%s)'
                              % (what, path, e.strerror or e)) from None
    if max_bytes is not None and len(data) > max_bytes:
        raise BranchyNetError('%s %s is larger than %d bytes'
                              % (what, path, max_bytes))
    return data


def check_regular(path, what='data file'):
    """Raise unless ``path`` is missing or a regular file (symlinks
    followed): for a file about to be read, or replaced by a download."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as e:
        raise BranchyNetError('%s %s cannot be read (%s)'
                              % (what, path, e.strerror or e)) from None
    if not stat.S_ISREG(mode):
        raise BranchyNetError('%s %s is %s, not a regular file'
                              % (what, path, kind(mode)))


def check_folder(path, what='data folder'):
    """Raise unless ``path`` is missing (it will be created) or a folder
    (symlinks followed): before anything is read from it or downloaded
    into it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise BranchyNetError('%s %s is a symlink to nothing (%s); '
                                  'remove it or make the folder it names'
                                  % (what, path, os.readlink(path))) from None
        return
    except OSError as e:
        raise BranchyNetError('%s %s cannot be used (%s)'
                              % (what, path, e.strerror or e)) from None
    if not stat.S_ISDIR(mode):
        raise BranchyNetError('%s %s is %s, not a folder: move it away, '
                              'a folder of that name goes there'
                              % (what, path, kind(mode)))


#: the most bytes a data set's JSON description (``data.json``) may have
MAX_JSON_BYTES = 1 << 24


def read_json(path, what='data description'):
    """The parsed JSON of regular file ``path`` (at most
    :data:`MAX_JSON_BYTES`).

    Raises:
        BranchyNetError: not a regular file, unreadable, too large, or not
            JSON; names the file.
    """
    import json
    data = read_regular(path, what, MAX_JSON_BYTES)
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        raise BranchyNetError('%s %s is not valid JSON (%s)'
                              % (what, path, e)) from None
