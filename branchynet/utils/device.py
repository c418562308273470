"""Where the work runs: Chainer devices, GPU synchronisation, CPU malloc.

:func:`get_device` turns a Chainer device specifier (``@numpy``,
``@cupy:0``) into a device, with one clear error for a bad one.
:func:`synchronize` waits for a GPU, so that a clock read after it counts
the kernels queued before it.

:func:`tune_malloc` keeps glibc from returning big temporaries to the
kernel. Chainer's CPU convolutions allocate and free tens of megabytes of im2col
buffers every call. By default glibc serves those with fresh mmap()s, and
the kernel has to zero every page again: on a 2-core machine half of a
B-LeNet training step went to that (sys time). Serving them from the heap
and never trimming it makes the memory reusable (``scripts/bench/bench_train_step.py
--no-tune-malloc`` measures the difference).
"""
import ctypes
import ctypes.util
import sys

import chainer
import numpy

from branchynet.errors import BranchyNetError


#: how to get CuPy, for the one-line error of ``--device @cupy:N``
CUPY_HOWTO = ('use the GPU Docker image (docker/build.sh gpu, then '
              'docker/shell.sh gpu -- ...) or add CuPy to the host venv with '
              'scripts/setup_venv.sh --gpu')


def _cupy_missing(spec):
    """The one-line error for a CuPy device when CuPy cannot be imported."""
    reason = getattr(chainer.backends.cuda, '_resolution_error', None)
    reason = ' '.join(str(reason).split()) if reason else 'not installed'
    return BranchyNetError('device %s needs CuPy, which this Python (%s) '
                           'cannot import (%s): %s'
                           % (spec, sys.executable, reason, CUPY_HOWTO))


def get_device(spec):
    """The Chainer device ``spec`` names, made current.

    Args:
        spec (str or chainer.backend.Device): ``@numpy``, ``@cupy:0``...

    Raises:
        BranchyNetError: unknown specifier, CuPy missing (the message says
            how to get it) or the GPU not usable; always one line.
    """
    if isinstance(spec, str) and spec.startswith('@cupy') \
            and not chainer.backends.cuda.available:
        raise _cupy_missing(spec)
    try:
        device = chainer.get_device(spec)
        device.use()
    except Exception as e:  # ValueError, RuntimeError, CUDA errors...
        raise BranchyNetError('bad device %r: %s' % (
            spec, ' '.join(str(e).split()))) from None
    return device


def synchronize(device):
    """Wait for queued work on ``device`` (a no-op on the CPU)."""
    if device.xp is not numpy:
        device.device.synchronize()


_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def tune_malloc():
    """Serve large allocations from a heap that is never trimmed.

    Returns:
        bool: whether glibc accepted the settings (False off glibc).
    """
    name = ctypes.util.find_library('c')
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_MAX, 0) == 1
    ok &= mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1) == 1
    return bool(ok)
