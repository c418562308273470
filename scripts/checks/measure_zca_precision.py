"""How much pcifar10's ZCA recipe moves between float32 (the reference) and
float64 (ours), on synthetic CIFAR-sized images.

The reference (kunglab/branchynet ``datasets/cifar10.py`` lines 20-27 and
39-64) computes the mean, the covariance, scipy's SVD and the whitening in
float32, then rescales each image by its min and max. Ours
(:func:`branchynet.data.pcifar10.build_pcifar10`) fits and applies in
float64. This script builds both from the same images and prints how far
apart the float32 images are; ``zca_fit(dtype=numpy.float32)`` (our code,
the reference's precision) is shown too.

The images are smooth random fields (Gaussian-blurred noise, so neighbouring
pixels and channels correlate as in photographs) plus pixel noise, quantised
to 0..255: the covariance's spread of eigenvalues, which decides the
float32 error, is of the kind CIFAR-10's has. No real CIFAR-10 is needed.

usage: python scripts/checks/measure_zca_precision.py [--train N] [--test N] [--seed S]
"""
import argparse
import time

import numpy
from scipy import linalg
from scipy.ndimage import gaussian_filter

from branchynet.data import DATASETS
from branchynet.data.normalisation import minmax_rows, zca_fit
from branchynet.data.pcifar10 import build_pcifar10

#: pcifar10's images, (3, 32, 32)
SHAPE = DATASETS['pcifar10'].shape


def synthetic_images(n, rng):
    noise = rng.randn(n, *SHAPE)
    smooth = gaussian_filter(noise, sigma=(0, 0.7, 2.0, 2.0))
    x = smooth / smooth.std() * 50 + 120 + rng.randn(n, *SHAPE) * 4
    return numpy.clip(numpy.rint(x), 0, 255).astype(numpy.uint8)


def reference_zca(train, test):
    """The reference's float32 pipeline, transcribed."""
    data = train.reshape(len(train), -1).astype(numpy.float32)
    mean = numpy.mean(data, axis=0)
    mdata = data - mean
    sigma = numpy.dot(mdata.T, mdata) / mdata.shape[0]
    u, s, _ = linalg.svd(sigma)
    components = numpy.dot(numpy.dot(u, numpy.diag(1 / numpy.sqrt(s))), u.T)
    out = []
    for rows in (numpy.dot(mdata, components.T),
                 numpy.dot(test.reshape(len(test), -1).astype(numpy.float32)
                           - mean, components.T)):
        rows = rows - rows.min(axis=1, keepdims=True)
        out.append((rows / rows.max(axis=1, keepdims=True)).astype(
            numpy.float32))
    return out


def compare(name, a, b):
    diff = numpy.abs(a.astype(numpy.float64) - b.reshape(a.shape))
    corr = numpy.corrcoef(a.ravel(), b.ravel())[0, 1]
    print('%-34s max |diff| %.2e  mean |diff| %.2e  99.9th pct %.2e  '
          'corr %.8f' % (name, diff.max(), diff.mean(),
                         numpy.percentile(diff, 99.9), corr))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--train', type=int, default=10000)
    p.add_argument('--test', type=int, default=2000)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args()
    rng = numpy.random.RandomState(args.seed)
    train, test = synthetic_images(args.train, rng), synthetic_images(
        args.test, rng)
    start = time.perf_counter()
    ours_train, ours_test = build_pcifar10(train, test, 'zca')
    ref_train, ref_test = reference_zca(train, test)
    mean32, matrix32 = zca_fit(train, dtype=numpy.float32)
    f32_test = minmax_rows((test.reshape(len(test), -1) - mean32) @ matrix32)
    eig = numpy.linalg.eigvalsh(numpy.cov(
        train.reshape(len(train), -1).astype(numpy.float64).T, bias=True))
    print('%d train / %d test synthetic 3x32x32 images; covariance '
          'eigenvalues %.3g .. %.3g (ratio %.2g); %.1f s' % (
              args.train, args.test, eig.min(), eig.max(),
              eig.min() / eig.max(), time.perf_counter() - start))
    compare('train: reference f32 vs ours f64', ref_train, ours_train)
    compare('test:  reference f32 vs ours f64', ref_test, ours_test)
    compare('test:  zca_fit(float32) vs f64', f32_test.astype(numpy.float32),
            ours_test)


if __name__ == '__main__':
    main()
