"""CPU speed: keep glibc from returning big temporaries to the kernel.

Chainer's CPU convolutions allocate and free tens of megabytes of im2col
buffers every call. By default glibc serves those with fresh mmap()s, and
the kernel has to zero every page again: on a 2-core machine half of a
B-LeNet training step went to that (sys time). Serving them from the heap
and never trimming it makes the memory reusable. Measured with
``scripts/bench_malloc.py``.
"""
import ctypes
import ctypes.util

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
