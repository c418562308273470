"""The arithmetic of the pcifar10 recipes, on rows of pixels.

:func:`zca_fit` fits ZCA whitening (mean and matrix) on the training rows;
:func:`minmax_rows` rescales every row by its own min and max to [0, 1];
:func:`gcn_rows` is global contrast normalisation; :func:`map_rows` applies
one of these to a 2-d array a chunk of rows at a time, in float64, so that
only the float32 result is held in full. Which recipe uses which is
:func:`branchynet.data.pcifar10.build_pcifar10`'s.
"""
import numpy

from branchynet.errors import BranchyNetError

#: rows converted to float64 at a time
CHUNK = 2048


def flat_rows(x):
    """``x`` as a 2-d array, one flattened row per sample."""
    x = numpy.asarray(x)
    return x.reshape(len(x), -1)


def map_rows(x, fn, chunk=CHUNK, dtype=numpy.float32):
    """``fn`` applied to row chunks of 2-d ``x``, gathered in a ``dtype``
    array (so the float64 work never holds more than a chunk)."""
    out = numpy.empty(x.shape, dtype)
    for i in range(0, len(x), chunk):
        out[i:i + chunk] = fn(x[i:i + chunk].astype(numpy.float64))
    return out


def zca_fit(x, chunk=CHUNK, method='auto', dtype=numpy.float64):
    """Fit ZCA whitening on the rows of ``x``.

    The covariance is taken over the rows, divided by N (as the reference
    does), in float64; the matrix is ``V diag(lambda ** -1/2) V^T`` from its
    eigendecomposition (the reference's SVD of the covariance gives the same
    matrix), with no epsilon. Eigenvalues at rounding level
    (``<= lambda_max * D * eps``), which only exist when the data do not span
    all D dimensions (e.g. fewer samples than dimensions), get 0 instead of
    an infinite gain: those directions are dropped rather than blown up. On
    CIFAR-10 (50000 x 3072 raw pixels) the covariance has full rank and
    nothing is dropped.

    Args:
        x (array): ``(N, ...)``, any numeric dtype; rows are flattened.
        chunk (int): rows converted to float64 at a time.
        dtype: the precision of the fit: float64 (ours), or float32 (the
            reference's ``datasets/cifar10.py`` lines 20-27: mean, covariance
            and scipy's SVD of the covariance, all in float32; numpy.linalg
            would compute in float64 whatever the input).
        method (str): ``'cov'`` (eigendecomposition of the D x D covariance,
            accumulated over row chunks), ``'svd'`` (thin SVD of the centred
            N x D data, cheaper when N < D), or ``'auto'`` (``'svd'`` when
            N <= D). Both give the same matrix up to rounding.

    Returns:
        tuple: ``(mean, matrix)``: float64 ``(D,)`` and the symmetric float64
        ``(D, D)`` whitening matrix; whitened rows are
        ``(row - mean) @ matrix``.
    """
    x = flat_rows(x)
    n, d = x.shape
    if n < 2:
        raise BranchyNetError('ZCA needs at least 2 samples, got %d' % n)
    mean = numpy.zeros(d, dtype)
    for i in range(0, n, chunk):
        mean += x[i:i + chunk].sum(axis=0, dtype=dtype)
    mean /= n
    if method == 'auto':
        method = 'svd' if n <= d else 'cov'
    eigval, eigvec = _covariance_eigen(x, mean, method, chunk, dtype)
    top = max(float(eigval.max()), 0.0)
    keep = eigval > top * d * numpy.finfo(numpy.float64).eps
    gain = numpy.zeros_like(eigval)
    gain[keep] = 1 / numpy.sqrt(eigval[keep])
    matrix = (eigvec * gain) @ eigvec.T
    return mean, (matrix + matrix.T) / 2


def _covariance_eigen(x, mean, method, chunk, dtype):
    """``(eigenvalues, eigenvectors)`` of the covariance of the rows of 2-d
    ``x`` about ``mean`` (divided by N), in ``dtype``: by ``method``
    ``'cov'`` or ``'svd'`` (see :func:`zca_fit`); eigenvectors are columns."""
    n, d = x.shape
    if method == 'cov':
        cov = numpy.zeros((d, d), dtype)
        for i in range(0, n, chunk):
            c = x[i:i + chunk].astype(dtype)
            c -= mean
            cov += c.T @ c  # BLAS syrk
        cov /= n
        if dtype == numpy.float64:
            eigval, eigvec = numpy.linalg.eigh(cov)
        else:
            from scipy import linalg
            eigvec, eigval, _ = linalg.svd(cov)
        return eigval, eigvec
    if method == 'svd':
        c = x.astype(dtype) - mean
        if dtype == numpy.float64:
            _, s, vt = numpy.linalg.svd(c, full_matrices=False)
        else:
            from scipy import linalg
            _, s, vt = linalg.svd(c, full_matrices=False)
        return s ** 2 / n, vt.T
    raise BranchyNetError("ZCA method must be 'auto', 'cov' or 'svd', "
                          "got %r" % (method,))


def minmax_rows(a):
    """Rescale every row of 2-d float ``a`` by its own min and max to [0, 1].

    Each row's minimum maps to exactly 0 and its maximum to exactly 1. A
    constant row (zero range) maps to all zeros instead of dividing by zero
    (the reference would produce NaN there).
    """
    lo = a.min(axis=1, keepdims=True)
    span = a.max(axis=1, keepdims=True) - lo
    span[span == 0] = 1  # constant rows: (a - lo) is already all zero
    return (a - lo) / span


def gcn_rows(a, pixel_mean, min_divisor=1e-8):
    """The ``'gcn'`` recipe on 2-d raw pixel rows ``a`` (float64).

    ``a / 255 - pixel_mean``, then each row minus its own mean, divided by
    its own std (``ddof=1``); a row whose std is below ``min_divisor`` (a
    constant image) is not divided, so it maps to zeros.
    """
    a = a / 255 - pixel_mean
    a -= a.mean(axis=1, keepdims=True)
    std = a.std(axis=1, ddof=1 if a.shape[1] > 1 else 0, keepdims=True)
    std[std < min_divisor] = 1
    a /= std
    return a


__all__ = ['CHUNK', 'flat_rows', 'gcn_rows', 'map_rows', 'minmax_rows',
           'zca_fit']
