"""Restricted unpickling: the official CIFAR-10 batches without running code.

The CIFAR-10 *python* batches are pickles (Python 2's cPickle, protocol 2).
A pickle can call any importable function, so :func:`restricted_loads` uses
an unpickler whose ``find_class`` allows only what a batch needs: numpy
array reconstruction and, for Python 3's protocol-2 bytes, a latin-1-only
``codecs.encode``. Anything else is refused before it is imported.
"""
import io
import pickle

import numpy


def _latin1_encode(text, encoding='latin1', errors='strict'):
    """Stand-in for ``_codecs.encode``: Python 3 writes bytes that way in
    protocol-2 pickles; only latin-1, the encoding it uses, is allowed."""
    if not isinstance(text, str) or encoding.lower().replace('-', '') not in (
            'latin1', 'latin_1', 'iso88591'):
        raise pickle.UnpicklingError('codecs.encode(%r) is not allowed'
                                     % (encoding,))
    return text.encode('latin1', errors)


def _numpy_reconstruct():
    try:  # numpy >= 2 (1.26 has it too); keeps numpy 2 from warning
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - older numpy
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


#: the globals a CIFAR-10 batch may reference: numpy array reconstruction
#: (what the official Python 2 files hold) and the helpers Python 3 uses for
#: bytes in protocol-2 pickles
_ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'): _numpy_reconstruct,
    ('numpy._core.multiarray', '_reconstruct'): _numpy_reconstruct,
    ('numpy', 'ndarray'): lambda: numpy.ndarray,
    ('numpy', 'dtype'): lambda: numpy.dtype,
    ('_codecs', 'encode'): lambda: _latin1_encode,
    ('codecs', 'encode'): lambda: _latin1_encode,
    ('__builtin__', 'bytes'): lambda: bytes,
    ('builtins', 'bytes'): lambda: bytes,
}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` refuses every global but numpy's array
    reconstruction (and latin-1 bytes), so loading never imports or calls
    anything else."""

    def find_class(self, module, name):
        factory = _ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(
                'refused to load global %s.%s (a CIFAR-10 batch only holds '
                'numpy arrays, lists, strings and numbers)' % (module, name))
        return factory()


def restricted_loads(data):
    """Unpickle ``data`` (bytes) with the restricted unpickler.

    Strings of Python 2 pickles come back as ``bytes`` (``encoding='bytes'``,
    as the official batches are read in Python 3).

    Raises:
        pickle.UnpicklingError: the pickle references a global that is not
            allowed (nothing was imported or called).
    """
    return _BatchUnpickler(io.BytesIO(data), encoding='bytes').load()
