"""Early-exit inference (the paper's Fig. 2) and the all-exits record.

For one sample: compute the next stage and its exit head, then the softmax
and its entropy ``H = -sum_c p_c log p_c`` (nats); if ``H < T_k`` the sample
leaves with ``argmax p``; the final exit always answers. ``thresholds`` is a
vector of ``K - 1`` values, one per non-final exit.

Exit indices are 0-based in arrays (0 = exit 1); the CLI prints them 1-based.
"""
import math

import chainer
import chainer.functions as F
import numpy

from branchynet.errors import BranchyNetError


def check_thresholds(thresholds, n_exits):
    """Validate a threshold vector; returns it as a tuple of floats.

    Raises:
        BranchyNetError: wrong length, NaN or negative values.
    """
    if isinstance(thresholds, (str, bytes)):
        raise BranchyNetError('thresholds must be a sequence of numbers, got '
                              '%r' % (thresholds,))
    try:
        values = tuple(float(t) for t in thresholds)
    except (TypeError, ValueError):
        raise BranchyNetError('thresholds must be numbers, got %r'
                              % (thresholds,)) from None
    if len(values) != n_exits - 1:
        raise BranchyNetError(
            'a network with %d exits needs %d threshold(s), got %d'
            % (n_exits, n_exits - 1, len(values)))
    for t in values:
        if math.isnan(t) or t < 0:
            raise BranchyNetError('thresholds must be >= 0 and not NaN, got %r'
                                  % (t,))
    return values


def entropy(logits):
    """Entropy in nats of ``softmax(logits)``, per row.

    Args:
        logits (numpy/cupy array): float32 ``(N, classes)``.

    Returns:
        array: float32 ``(N,)``, >= 0.
    """
    xp = chainer.backend.get_array_module(logits)
    log_p = F.log_softmax(logits).array
    h = -(xp.exp(log_p) * log_p).sum(axis=1)
    # log_softmax <= 0 exactly, so h >= 0 up to a signed zero; clip that away
    return xp.maximum(h, 0)


def exit_decision(logits, threshold):
    """Prediction, entropy and whether each row leaves at this exit."""
    h = entropy(logits)
    # compare in float64, as early_exit_one and choose_exits do
    return logits.argmax(axis=1), h, h.astype(numpy.float64) < threshold


def early_exit_one(model, x, thresholds):
    """The paper's procedure for one sample (batch size 1).

    Args:
        model (BranchyNet): trained network (on the device of ``x``).
        x (array): float32 ``(1, C, H, W)``.
        thresholds (sequence of float): ``K - 1`` entropy thresholds.

    Returns:
        tuple: ``(prediction, exit_index)`` as Python ints.
    """
    last = model.n_exits - 1
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        h = x
        for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
            h = stage(h)
            z = head(h).array
            if k == last:
                return int(z.argmax()), k
            if float(entropy(z)[0]) < thresholds[k]:
                return int(z.argmax()), k


def early_exit(model, x, thresholds):
    """Early-exit inference of a batch, dropping exited samples as it goes.

    Each stage only sees the samples still in the batch, so the work done is
    the work batch-1 inference would do, just vectorised.

    Args:
        model (BranchyNet): trained network (on the device of ``x``).
        x (array): float32 ``(N, C, H, W)``.
        thresholds (sequence of float): ``K - 1`` entropy thresholds.

    Returns:
        tuple: ``prediction`` int32 ``(N,)`` and ``exit_index`` int32 ``(N,)``
        (0-based), both on the device of ``x``.
    """
    xp = chainer.backend.get_array_module(x)
    n = len(x)
    prediction = xp.zeros(n, numpy.int32)
    exit_index = xp.zeros(n, numpy.int32)
    remaining = xp.arange(n)
    last = model.n_exits - 1
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        h = x
        for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
            h = stage(h)
            z = head(h).array
            if k == last:
                leave = xp.ones(len(z), bool)
            else:
                leave = exit_decision(z, thresholds[k])[2]
            prediction[remaining[leave]] = z.argmax(axis=1)[leave]
            exit_index[remaining[leave]] = k
            stay = ~leave
            remaining = remaining[stay]
            if len(remaining) == 0:
                break
            h = h[stay]
    return prediction, exit_index


def exit_records(model, x, batch_size=256):
    """Every sample's entropy and prediction at every exit, in one pass.

    This is what lets a sweep evaluate any number of threshold vectors
    without re-running the network (see :mod:`branchynet.sweep`).

    Args:
        model (BranchyNet): trained network.
        x (array): float32 ``(N, C, H, W)``, host or device.
        batch_size (int): samples per forward pass (on a CPU, larger
            batches only add memory traffic: B-LeNet on 10000 MNIST samples
            takes 4.1 s at 256 and 4.8 s at 1000).

    Returns:
        tuple of numpy arrays: ``entropy`` float32 ``(N, K)`` and
        ``prediction`` int32 ``(N, K)``.
    """
    device = model.device
    entropies, predictions = [], []
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for i in range(0, len(x), batch_size):
            xb = device.send(x[i:i + batch_size])
            logits = [z.array for z in model(xb)]
            entropies.append(numpy.stack(
                [chainer.backend.CpuDevice().send(entropy(z))
                 for z in logits], axis=1))
            predictions.append(numpy.stack(
                [chainer.backend.CpuDevice().send(z.argmax(axis=1))
                 for z in logits], axis=1).astype(numpy.int32))
    return (numpy.concatenate(entropies).astype(numpy.float32),
            numpy.concatenate(predictions))


def choose_exits(entropies, thresholds):
    """Exit index of each sample for one threshold vector, from its record.

    Args:
        entropies (numpy.ndarray): float32 ``(N, K)`` from :func:`exit_records`.
        thresholds (sequence of float): ``K - 1`` values.

    Returns:
        numpy.ndarray: int32 ``(N,)``, 0-based; ``K - 1`` when no earlier exit
        is confident enough.
    """
    n, k = entropies.shape
    leave = entropies[:, :k - 1] < numpy.asarray(thresholds, numpy.float64)
    # the final exit always answers
    leave = numpy.concatenate([leave, numpy.ones((n, 1), bool)], axis=1)
    return leave.argmax(axis=1).astype(numpy.int32)
