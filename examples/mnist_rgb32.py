"""MNIST recoloured to CIFAR's shape, as an npz for ``--dataset npz:PATH``.

Each digit is padded to 32x32 and painted in a random colour on a random
darker background (colours drawn per image, independent of the label), so
a network for ``(3, 32, 32)`` inputs, such as ``examples/vgg11_exits.py``,
has real images to learn from on a machine without CIFAR-10. A
demonstration data set, not a benchmark.

    python examples/mnist_rgb32.py OUT.npz [--train 10000 --test 2000]

Reads MNIST from the data root (``$BRANCHYNET_DATA_ROOT``, as
``branchynet data mnist`` leaves it); the first N images of each split.
"""
import argparse

import numpy

from branchynet.data import get_mnist
from branchynet.utils.atomic import atomic_path


def recolour(x, rng):
    """``(N, 1, 28, 28)`` in [0, 1] -> ``(N, 3, 32, 32)`` float32."""
    n = len(x)
    ink = rng.uniform(0.5, 1.0, (n, 3, 1, 1)).astype(numpy.float32)
    paper = rng.uniform(0.0, 0.4, (n, 3, 1, 1)).astype(numpy.float32)
    digit = numpy.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    return paper + (ink - paper) * digit


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('out', help='the .npz to write')
    p.add_argument('--train', type=int, default=10000)
    p.add_argument('--test', type=int, default=2000)
    args = p.parse_args(argv)
    x_train, y_train, x_test, y_test = get_mnist(download=False)
    rng = numpy.random.RandomState(0)
    arrays = {'train_x': recolour(x_train[:args.train], rng),
              'train_y': y_train[:args.train],
              'test_x': recolour(x_test[:args.test], rng),
              'test_y': y_test[:args.test]}
    with atomic_path(args.out) as tmp:
        with open(tmp, 'wb') as f:
            numpy.savez(f, **arrays)
    print('wrote %s: %d + %d images (3, 32, 32)'
          % (args.out, args.train, args.test))


if __name__ == '__main__':
    main()
