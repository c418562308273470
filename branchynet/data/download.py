"""The data root, checksummed downloads from mirrors, atomic writes.

Downloads go through :func:`chainer.dataset.cached_download` (its cache lives
under the data root in ``_dl_cache``); a file is only moved into place after
its checksum matches, and a cached download that fails the check is removed,
so nothing bad stays behind.
"""
import contextlib
import hashlib
import json
import os
import socket
import tempfile

import chainer

from branchynet.errors import BranchyNetError

_REPO_DATASETS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), 'datasets')


def get_data_root(data_root='auto'):
    """The folder that holds the data sets.

    ``'auto'`` means ``$BRANCHYNET_DATA_ROOT`` if set, else ``datasets/data``
    in the repository when the package runs from a checkout, else
    ``~/.branchynet/data``.
    """
    if data_root not in (None, 'auto'):
        return os.path.abspath(os.path.expanduser(data_root))
    env = os.environ.get('BRANCHYNET_DATA_ROOT')
    if env:
        return os.path.abspath(os.path.expanduser(env))
    if os.path.isdir(_REPO_DATASETS):
        return os.path.join(_REPO_DATASETS, 'data')
    return os.path.join(os.path.expanduser('~'), '.branchynet', 'data')


def dataset_dir(name, data_dir='auto'):
    """The folder of data set ``name``: ``data_dir`` itself, or for
    ``'auto'`` (or None) ``<data root>/<name>``."""
    if data_dir in (None, 'auto'):
        return os.path.join(get_data_root(), name)
    return os.path.abspath(os.path.expanduser(data_dir))


def sha256_of(data):
    """Hex sha256 of a bytes object."""
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it into place on success.

    Nothing is left at ``path`` (nor a temporary file) if the body raises.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-', suffix=suffix)
    os.close(fd)
    try:
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


def download_verified(urls, verify, data_root):
    """Download the first of ``urls`` whose content passes ``verify``.

    Args:
        urls (list of str): mirrors, tried in order.
        verify (callable): ``verify(path)`` raises :class:`BranchyNetError`
            when the downloaded file is not the expected one.
        data_root (str): the data root (holds chainer's download cache).

    Returns:
        str: path of the verified file in the download cache.

    Raises:
        BranchyNetError: every mirror failed; the message lists why.
    """
    failures = []
    old_root = chainer.dataset.get_dataset_root()
    old_timeout = socket.getdefaulttimeout()
    chainer.dataset.set_dataset_root(data_root)
    socket.setdefaulttimeout(60)  # urlretrieve has no timeout of its own
    try:
        for url in urls:
            try:
                path = chainer.dataset.cached_download(url)
            except Exception as e:  # URLError, HTTPError, OSError, timeouts
                failures.append('%s: %s' % (url, e))
                continue
            try:
                verify(path)
            except BranchyNetError as e:
                os.remove(path)
                failures.append('%s: %s' % (url, e))
                continue
            return path
    finally:
        chainer.dataset.set_dataset_root(old_root)
        socket.setdefaulttimeout(old_timeout)
    raise BranchyNetError('could not download (%s)' % '; '.join(failures))
