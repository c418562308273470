"""zca_fit's precision switch: float64 by default (ours), float32 as the
reference's ``datasets/cifar10.py`` (lines 20-27) fitted: mean, covariance
and scipy's SVD of the covariance in float32."""
import numpy
import pytest
from scipy import linalg

from branchynet.data.normalisation import zca_fit


def ill_conditioned(n=600, d=48, seed=0):
    """Rows whose covariance spans about six decades, as raw pixels' do."""
    rng = numpy.random.RandomState(seed)
    basis = numpy.linalg.qr(rng.randn(d, d))[0]
    scales = numpy.logspace(0, 3, d)
    return (rng.randn(n, d) * scales) @ basis.T + 120


def reference_components(x):
    """The reference's preprocessing(), transcribed (float32 throughout)."""
    data = x.astype(numpy.float32)
    mean = numpy.mean(data, axis=0)
    mdata = data - mean
    sigma = numpy.dot(mdata.T, mdata) / mdata.shape[0]
    u, s, _ = linalg.svd(sigma)
    return mean, numpy.dot(numpy.dot(u, numpy.diag(1 / numpy.sqrt(s))), u.T)


@pytest.mark.parametrize('method', ['cov', 'svd'])
def test_float64_is_the_default_and_float32_is_float32(method):
    x = ill_conditioned()
    mean, matrix = zca_fit(x, method=method)
    assert mean.dtype == matrix.dtype == numpy.float64
    mean32, matrix32 = zca_fit(x, method=method, dtype=numpy.float32)
    assert mean32.dtype == matrix32.dtype == numpy.float32
    for m, w in ((mean, matrix), (mean32, matrix32)):
        white = (x - m) @ w
        cov = white.T @ white / len(x)
        numpy.testing.assert_allclose(cov, numpy.eye(len(cov)), atol=0.05)


def test_float32_fit_follows_the_reference_not_float64():
    x = ill_conditioned()
    ref_mean, ref = reference_components(x)
    _, ours64 = zca_fit(x, method='cov')
    mean32, ours32 = zca_fit(x, method='cov', dtype=numpy.float32)
    numpy.testing.assert_allclose(mean32, ref_mean, rtol=1e-6)
    off32 = numpy.abs(ours32 - ref).max()
    off64 = numpy.abs(ours64 - ref).max()
    # float32's rounding in the decomposition is what separates the two
    assert off32 < off64 / 10


def test_the_zca32_recipe_fits_in_float32():
    """``branchynet data pcifar10 --recipe zca32``: the reference's precision."""
    from branchynet.data.normalisation import minmax_rows
    from branchynet.data.pcifar10 import RECIPES, build_pcifar10
    assert 'zca32' in RECIPES
    raw = numpy.clip(ill_conditioned(n=400, d=48) / 8, 0, 255)
    x = raw.astype(numpy.uint8).reshape(400, 3, 4, 4)
    train, test = x[:300], x[300:]
    ours = build_pcifar10(train, test, 'zca')
    ref = build_pcifar10(train, test, 'zca32')
    flat = train.reshape(300, -1)
    mean32, matrix32 = zca_fit(flat, dtype=numpy.float32)
    expected = minmax_rows((test.reshape(100, -1) - mean32) @ matrix32)
    # float32's fit is 1e-5 away from float64's here, its own rounding 4e-7
    numpy.testing.assert_allclose(ref[1].reshape(100, -1), expected,
                                  atol=2e-6)
    assert numpy.abs(ref[1] - ours[1]).max() > 5e-6   # not the float64 fit
