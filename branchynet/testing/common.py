"""What the contract checks share: the tolerance, test images, thresholds
placed between records."""
import numpy

#: how far an exported or other runtime's logits may be from Chainer's
ATOL = 1e-4


def images(shape, n, seed=0):
    """``n`` float32 images of ``shape`` in [0, 1], seeded."""
    return numpy.random.RandomState(seed).uniform(
        0, 1, (n,) + tuple(shape)).astype(numpy.float32)


def thresholds_between(entropy):
    """Thresholds for a test of the early exit's choices: at each exit but
    the last, halfway across the widest gap between the sorted distinct
    entropies of the records (so that both outcomes occur and no record's
    exit depends on the last bits of its entropy: the exit test is a strict
    ``<``); above them all when they are all equal.

    Args:
        entropy: ``(N, K)`` entropies per record and exit (Chainer's).

    Returns:
        list: ``K - 1`` floats.
    """
    entropy = numpy.asarray(entropy, numpy.float64)
    assert numpy.isfinite(entropy).all(), 'entropies not finite'
    thresholds = []
    for k in range(entropy.shape[1] - 1):
        values = numpy.unique(entropy[:, k])
        if len(values) == 1:
            thresholds.append(float(values[0]) + 1.0)
            continue
        i = int(numpy.diff(values).argmax())
        thresholds.append(float((values[i] + values[i + 1]) / 2))
    return thresholds
