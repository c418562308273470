"""The sha256 of a file, read in blocks (bounded memory): the checksums
saved with exported graphs and with a user's network file, and the
``SHA256SUMS`` manifest of a shipped model folder; and of arrays (the data
a sweep ran on)."""
import hashlib
import os
import re
import stat

import numpy

from branchynet.errors import BranchyNetError

#: the manifest of a folder whose files must not change (``sha256sum``'s
#: format, so ``sha256sum -c SHA256SUMS`` checks it too)
MANIFEST = 'SHA256SUMS'
#: one manifest line: 64 hex digits, two spaces (or `` *``), a plain name
_LINE = re.compile(r'^([0-9a-f]{64}) [ *]([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$')
#: the largest manifest read (a few lines in practice)
MAX_MANIFEST_BYTES = 64 * 2 ** 10


def sha256_of(path, block=1 << 20):
    """Hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(block), b''):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of_arrays(*arrays):
    """Hex sha256 of numpy ``arrays``: each one's dtype, shape and bytes
    (C order), so equal digests mean bitwise equal arrays."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(('%s%r' % (array.dtype.str, array.shape)).encode())
        digest.update(numpy.ascontiguousarray(array))
    return digest.hexdigest()


def write_manifest_text(folder, names):
    """The ``SHA256SUMS`` text for ``names`` in ``folder``, sorted."""
    return ''.join('%s  %s\n' % (sha256_of(os.path.join(folder, n)), n)
                   for n in sorted(names))


def read_manifest(folder):
    """``{name: sha256}`` of ``folder/SHA256SUMS``; one BranchyNetError
    naming the manifest when it is missing or malformed."""
    path = os.path.join(folder, MANIFEST)
    if not _is_regular(path):
        raise BranchyNetError('%s is missing (or not a regular file): the '
                              'folder has no list of its files to check'
                              % path)
    with open(path, 'rb') as f:
        data = f.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise BranchyNetError('%s is larger than %d bytes'
                              % (path, MAX_MANIFEST_BYTES))
    entries = {}
    for number, line in enumerate(data.decode('utf-8', 'replace')
                                  .splitlines(), 1):
        match = _LINE.match(line)
        if not match or match.group(2) in entries:
            raise BranchyNetError('%s line %d is not "SHA256  NAME" with a '
                                  'new plain file name' % (path, number))
        entries[match.group(2)] = match.group(1)
    if not entries:
        raise BranchyNetError('%s lists no files' % path)
    return entries


def check_manifest(folder):
    """Check every file that ``folder/SHA256SUMS`` lists: present, a regular
    file (no symlink, no FIFO), of the listed sha256. One BranchyNetError
    naming the first file that is not (damaged, swapped or missing)."""
    for name, expected in read_manifest(folder).items():
        path = os.path.join(folder, name)
        if not _is_regular(path):
            raise BranchyNetError('%s is missing (or not a regular file), '
                                  'though %s lists it' % (path, MANIFEST))
        if sha256_of(path) != expected:
            raise BranchyNetError('%s is not the file shipped: its sha256 '
                                  'differs from %s (damaged or swapped)'
                                  % (path, os.path.join(folder, MANIFEST)))


def _is_regular(path):
    """A regular file itself, not a link to one (lstat)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
