"""Atomic writes, and the cleanup of what a killed run left behind.

A file is written to a temporary ``.tmp-branchynet-*`` file beside its target and moved
over it with ``os.replace`` only when complete, so a reader (or a rerun
after a kill, a full disk or an exception) sees the old file or the new
one, never half of one. The temporary gets the mode a plain ``open`` would
give (``0o666`` less the umask), not ``mkstemp``'s ``0o600``.

A process killed between creating and moving the temporary leaves it
behind; :func:`remove_leftovers` removes those (and Chainer's ``tmp*``
snapshot folders) at the next start.
"""
import contextlib
import json
import os
import shutil
import tempfile
import time

#: prefix of the temporaries of :func:`atomic_path`: ours alone, so that
#: the cleanup never takes another program's temporary
TMP_PREFIX = '.tmp-branchynet-'
#: prefix of the temporary folders Chainer's snapshot writer makes
#: (``'tmp' + filename``, our snapshots being ``snapshot_iter_N``)
CHAINER_SNAPSHOT_TMP_PREFIX = 'tmpsnapshot'


def current_umask():
    """The process's umask, read without changing it where Linux allows."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)      # elsewhere: set and restore (not thread-safe)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it into place on success.

    Nothing is left at ``path`` (nor a temporary file) if the body raises;
    an existing file at ``path`` is then unchanged.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TMP_PREFIX,
                               suffix=suffix)
    try:
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
        finally:
            os.close(fd)
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes_atomic(path, data):
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data)


def write_json_atomic(path, obj):
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically."""
    text = json.dumps(obj, indent=1, sort_keys=True) + '\n'
    write_bytes_atomic(path, text.encode())


def remove_leftovers(directory, older_than=0.0, snapshot_dirs=False,
                     recursive=True):
    """Remove the temporaries a killed run left in ``directory`` (and below).

    Only call it when no other process writes there (hold the output
    folder's lock), or give ``older_than``: a temporary still being written
    is younger than that.

    Args:
        directory (str): the folder to clean; a missing one is fine.
        older_than (float): only remove entries last modified more than
            this many seconds ago.
        snapshot_dirs (bool): also remove Chainer's temporary snapshot
            folders (``tmpsnapshot*``).
        recursive (bool): also clean the folders below ``directory``.

    Returns:
        list of str: the paths removed.
    """
    removed = []
    now = time.time()

    def old(path):
        try:
            return now - os.lstat(path).st_mtime >= older_than
        except FileNotFoundError:
            return False

    for folder, dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(folder, name)
            if name.startswith(TMP_PREFIX) and old(path):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
                    removed.append(path)
        for name in list(dirs):
            path = os.path.join(folder, name)
            if (snapshot_dirs and name.startswith(CHAINER_SNAPSHOT_TMP_PREFIX)
                    and not os.path.islink(path) and old(path)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
                dirs.remove(name)
        if not recursive:
            break
    return sorted(removed)
