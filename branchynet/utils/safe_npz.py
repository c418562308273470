"""Reading ``.npz`` archives without trusting them.

``numpy.load`` reads an entry's ``.npy`` header and then allocates whatever
the header declares (a forged header claiming a TiB array is a MemoryError
or an out-of-memory kill), and ``copyto`` into a model parameter broadcasts
a ``(1, 720)`` array over an ``(84, 720)`` one without complaint. numpy has
no option to bound or pin what it reads, so :class:`SafeNpz` opens the zip
itself, parses each header with ``numpy.lib.format``'s public readers, and
checks it before a single data byte is allocated:

- the dtype is a plain number (or a unicode string where one is asked
  for): never Python objects (pickle), bytes, complex or structured types;
- the shape and dtype are exactly the expected ones when the caller knows
  them, and the declared size is below ``max_bytes`` otherwise;
- the declared size agrees with the zip entry's uncompressed size, and that
  size with its compressed size (deflate cannot expand more than 1032:1),
  so a truncated or forged archive is refused before it is read;
- float arrays hold no NaN or infinity (after reading).

Every problem is a :class:`~branchynet.errors.BranchyNetError` whose message
names the file and the entry.
"""
import math
import zipfile
import zlib

import numpy

from branchynet.errors import BranchyNetError

#: deflate's largest possible expansion (zlib's technical details: 1032:1)
_DEFLATE_MAX_RATIO = 1032
#: bytes read from a zip entry at a time
_CHUNK = 1 << 22
#: dtype kinds an entry may hold: bool, signed, unsigned, float
NUMBER_KINDS = 'biuf'
_PICKLE_REFUSED = 'holds Python objects (pickled data), which are never loaded'
#: errors the zip and zlib layers raise on a damaged archive
ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error,
                  EOFError, OSError, ValueError, NotImplementedError)


class SafeNpz:
    """An npz archive whose entries are checked before they are read.

    Use as a context manager; ``key in npz`` and :meth:`read` by entry name
    (without ``.npy``).

    Raises:
        BranchyNetError: the file is not a complete zip archive.
    """

    def __init__(self, path, label=None):
        self.path = path
        self.label = label or path
        try:
            self._zip = zipfile.ZipFile(path)
        except ARCHIVE_ERRORS as e:
            raise self.error('not a complete npz archive (%s)' % e) from None
        self._names = {name[:-4]: name for name in self._zip.namelist()
                       if name.endswith('.npy')}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._zip.close()

    def __contains__(self, key):
        return key in self._names

    @property
    def keys(self):
        """Entry names, in archive order."""
        return list(self._names)

    def error(self, message, key=None):
        """A one-line :class:`BranchyNetError` naming the file (and entry)."""
        where = self.label if key is None else '%s (entry %s)' % (self.label,
                                                                   key)
        return BranchyNetError(' '.join(('%s: %s' % (where, message)).split()))

    def header(self, key):
        """``(shape, dtype)`` an entry declares, read from its header only.

        Raises:
            BranchyNetError: damaged header, or the entry holds pickled
                Python objects.
        """
        try:
            with self._open(key) as f:
                shape, dtype, _ = self._read_header(key, f)
        except ARCHIVE_ERRORS as e:
            raise self.error('damaged or truncated (%s: %s)'
                             % (type(e).__name__, e), key) from None
        if dtype.hasobject:
            raise self.error(_PICKLE_REFUSED, key)
        return tuple(shape), dtype

    def read(self, key, shape=None, dtype=None, kinds=NUMBER_KINDS,
             max_bytes=None, finite=True):
        """Read entry ``key`` after checking what its header declares.

        Args:
            key (str): entry name without ``.npy``.
            shape (tuple or None): the exact shape required (None: any).
            dtype (numpy.dtype or None): the exact dtype required.
            kinds (str): dtype kinds allowed (``'U'`` for a text entry).
            max_bytes (int or None): the most bytes the entry may declare.
            finite (bool): refuse float arrays holding NaN or infinity.

        Returns:
            numpy.ndarray: a new, writable array of the declared shape.
        """
        try:
            with self._open(key) as f:
                shape_, dtype_, fortran = self._read_header(key, f)
                self._check(key, shape_, dtype_, shape, dtype, kinds,
                            max_bytes, f)
                array = self._read_data(key, f, shape_, dtype_, fortran)
        except ARCHIVE_ERRORS as e:
            raise self.error('damaged or truncated (%s: %s)'
                             % (type(e).__name__, e), key) from None
        if finite and array.dtype.kind == 'f' and array.size and not (
                numpy.isfinite(array.min()) and numpy.isfinite(array.max())):
            raise self.error('holds NaN or infinite values', key)
        return array

    def _open(self, key):
        if key not in self._names:
            raise KeyError(key)
        info = self._zip.getinfo(self._names[key])
        if info.compress_type not in (zipfile.ZIP_STORED,
                                      zipfile.ZIP_DEFLATED):
            raise self.error('compressed with an unsupported method (%d)'
                             % info.compress_type, key)
        limit = info.compress_size * (
            1 if info.compress_type == zipfile.ZIP_STORED
            else _DEFLATE_MAX_RATIO) + 1024
        if info.file_size > limit:
            raise self.error('declares %d bytes, more than its %d compressed '
                             'bytes can hold (forged archive)'
                             % (info.file_size, info.compress_size), key)
        try:
            return self._zip.open(info)
        except ARCHIVE_ERRORS as e:
            raise self.error('damaged or truncated (%s)' % e, key) from None

    def _read_header(self, key, f):
        npy = numpy.lib.format
        try:
            version = npy.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = npy.read_array_header_2_0(f)
            else:
                raise ValueError('unsupported .npy version %s' % (version,))
        except Exception as e:  # noqa: B902
            # numpy parses the header text with tokenize and ast: forged bytes
            # raise ValueError, SyntaxError, TokenError, TypeError...
            raise self.error('not a valid .npy entry (%s: %s)'
                             % (type(e).__name__, e), key) from None
        return shape, dtype, fortran

    def _check(self, key, shape_, dtype_, shape, dtype, kinds, max_bytes, f):
        if dtype_.hasobject:
            raise self.error(_PICKLE_REFUSED, key)
        if dtype_.kind not in kinds or dtype_.fields is not None:
            raise self.error('holds %s values, expected %s' % (
                dtype_, _describe_kinds(kinds)), key)
        if shape is not None and tuple(shape_) != tuple(shape):
            raise self.error('has shape %s, expected %s'
                             % (tuple(shape_), tuple(shape)), key)
        if dtype is not None and dtype_ != numpy.dtype(dtype):
            raise self.error('has dtype %s, expected %s'
                             % (dtype_, numpy.dtype(dtype)), key)
        nbytes = math.prod(shape_) * dtype_.itemsize
        if max_bytes is not None and nbytes > max_bytes:
            raise self.error('declares a %s array of %d bytes, more than the '
                             '%d allowed' % (tuple(shape_), nbytes, max_bytes),
                             key)
        stored = self._zip.getinfo(self._names[key]).file_size - f.tell()
        if nbytes != stored:
            raise self.error('declares %d bytes of data but holds %d '
                             '(truncated or forged)' % (nbytes, stored), key)

    def _read_data(self, key, f, shape, dtype, fortran):
        flat = numpy.empty(math.prod(shape), dtype)
        view = memoryview(flat).cast('B')
        done = 0
        while done < len(view):
            block = f.read(min(_CHUNK, len(view) - done))
            if not block:
                raise EOFError('%d of %d bytes' % (done, len(view)))
            view[done:done + len(block)] = block
            done += len(block)
        f.read(1)               # reaching the end makes zipfile check the CRC
        return flat.reshape(shape, order='F' if fortran else 'C')


def _describe_kinds(kinds):
    names = {'b': 'booleans', 'i': 'integers', 'u': 'integers',
             'f': 'floats', 'U': 'text'}
    return ' or '.join(sorted({names[k] for k in kinds}))
