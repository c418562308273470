"""Early-exit inference (the paper's Fig. 2) and the all-exits record.

For one sample: compute the next stage and its exit head, then the exit's
confidence score; if it is on the confident side of ``T_k`` the sample
leaves with ``argmax p``; the final exit always answers. ``thresholds`` is a
vector of ``K - 1`` values, one per non-final exit. The score is the
paper's softmax entropy ``H = -sum_c p_c log p_c`` (nats; leave when
``H < T_k``) unless ``score`` names another one of :mod:`branchynet.exits.scores`
(``maxprob``, ``margin``, ``energy``).

Exit indices are 0-based in arrays (0 = exit 1); the CLI prints them 1-based.
"""
import chainer
import chainer.functions as F
import numpy

from branchynet.errors import BranchyNetError
from branchynet.exits import scores
from branchynet.exits.scores import DEFAULT, get_score

_CPU = chainer.backend.CpuDevice()


def score_of(name):
    """The :class:`~branchynet.exits.scores.Score` called ``name``.

    Raises:
        BranchyNetError: unknown name.
    """
    try:
        return get_score(name)
    except ValueError as e:
        raise BranchyNetError(str(e)) from None


def check_thresholds(thresholds, n_exits, score=DEFAULT):
    """:func:`branchynet.exits.scores.check_thresholds`, the one check of threshold
    values (the CLI parses, the sweep checks its grid with
    :meth:`~branchynet.exits.scores.Score.bad_threshold` too).

    Raises:
        BranchyNetError: wrong length, NaN, or a value outside the score's
            range (entropy >= 0, probabilities in [0, 1]).
    """
    try:
        return scores.check_thresholds(thresholds, n_exits, score)
    except ValueError as e:
        raise BranchyNetError(str(e)) from None


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


def exit_scores(logits, score=DEFAULT):
    """Each row's score at one exit, on the host.

    Entropy is :func:`entropy` on the logits' device (float32, the paper's
    rule: the same quantity as the reference's softmax then ``-p log p``,
    computed from ``log_softmax``); the other scores are
    :mod:`branchynet.exits.scores` in float64 on the host copy of the logits.

    Args:
        logits (numpy/cupy array): float32 ``(N, classes)``.
        score (str): a name of :data:`branchynet.exits.scores.SCORES`.

    Returns:
        numpy.ndarray: ``(N,)``, float32 (entropy) or float64.
    """
    score = score_of(score)
    if score.name == 'entropy':
        return numpy.asarray(_CPU.send(entropy(logits)))
    return score(numpy.asarray(_CPU.send(logits)))


def early_exit_one(model, x, thresholds, score=DEFAULT):
    """The paper's procedure for one sample (batch size 1).

    Args:
        model (BranchyNet): trained network (on the device of ``x``).
        x (array): float32 ``(1, C, H, W)``.
        thresholds (sequence of float): ``K - 1`` thresholds of ``score``.
        score (str): the exit score (default: entropy, the paper's).

    Returns:
        tuple: ``(prediction, exit_index)`` as Python ints.

    Raises:
        BranchyNetError: thresholds of the wrong number or range.
    """
    thresholds = check_thresholds(thresholds, model.n_exits, score)
    score = score_of(score)
    last = model.n_exits - 1
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        h = x
        for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
            h = stage(h)
            z = head(h).array
            if k == last or score.leaves(exit_scores(z, score)[0],
                                         thresholds[k]):
                return int(z.argmax()), k


def early_exit(model, x, thresholds, score=DEFAULT):
    """Early-exit inference of a batch, dropping exited samples as it goes.

    Each stage only sees the samples still in the batch, so the work done is
    the work batch-1 inference would do, just vectorised.

    Args:
        model (BranchyNet): trained network (on the device of ``x``).
        x (array): float32 ``(N, C, H, W)``.
        thresholds (sequence of float): ``K - 1`` thresholds of ``score``.
        score (str): the exit score (default: entropy, the paper's).

    Returns:
        tuple: ``prediction`` int32 ``(N,)`` and ``exit_index`` int32 ``(N,)``
        (0-based), both on the device of ``x``.

    Raises:
        BranchyNetError: thresholds of the wrong number or range.
    """
    thresholds = check_thresholds(thresholds, model.n_exits, score)
    score = score_of(score)
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
                leave = xp.asarray(score.leaves(exit_scores(z, score),
                                                thresholds[k]))
            prediction[remaining[leave]] = z.argmax(axis=1)[leave]
            exit_index[remaining[leave]] = k
            stay = ~leave
            remaining = remaining[stay]
            if len(remaining) == 0:
                break
            h = h[stay]
    return prediction, exit_index


def exit_logits(model, x, batch_size=256):
    """Every sample's logits and entropy at every exit, in one pass.

    This is what lets a sweep evaluate any number of threshold vectors of
    any score without re-running the network (see :mod:`branchynet.measurement.sweep`
    and :class:`branchynet.exits.records.Records`).

    Args:
        model (BranchyNet): trained network.
        x (array): float32 ``(N, C, H, W)``, host or device.
        batch_size (int): samples per forward pass (on a CPU, larger
            batches only add memory traffic: B-LeNet on 10000 MNIST samples
            takes 4.1 s at 256 and 4.8 s at 1000).

    Returns:
        tuple of numpy arrays: ``entropy`` float32 ``(N, K)`` (computed as
        the early exit computes it) and ``logits`` float32
        ``(N, K, classes)``.
    """
    device = model.device
    entropies, logits = [], []
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for i in range(0, len(x), batch_size):
            zs = [z.array for z in model(device.send(x[i:i + batch_size]))]
            entropies.append(numpy.stack(
                [_CPU.send(entropy(z)) for z in zs], axis=1))
            logits.append(numpy.stack([_CPU.send(z) for z in zs], axis=1))
    return (numpy.concatenate(entropies).astype(numpy.float32),
            numpy.concatenate(logits).astype(numpy.float32))


def exit_records(model, x, batch_size=256):
    """Every sample's entropy and prediction at every exit, in one pass.

    Returns:
        tuple of numpy arrays: ``entropy`` float32 ``(N, K)`` and
        ``prediction`` int32 ``(N, K)`` (see :func:`exit_logits`).
    """
    h, z = exit_logits(model, x, batch_size)
    return h, z.argmax(axis=2).astype(numpy.int32)


def choose_exits(scores, thresholds, score=DEFAULT):
    """Exit index of each sample for threshold vectors, from its record.

    The one implementation of the choice on records (the sweep evaluates
    its grid with it).

    Args:
        scores (numpy.ndarray): ``(N, K)`` score of every sample at every
            exit (for entropy: the first output of :func:`exit_logits`).
        thresholds (array-like): ``(K - 1,)`` one vector, or ``(G, K - 1)``.
        score (str): which score ``scores`` holds (its direction).

    Returns:
        numpy.ndarray: int32 ``(N,)`` (or ``(G, N)``), 0-based; ``K - 1``
        when no earlier exit is confident enough.
    """
    thresholds = numpy.asarray(thresholds, numpy.float64)
    n, k = scores.shape
    leave = score_of(score).leaves(scores[:, :k - 1],
                                   thresholds[..., None, :])
    # the final exit always answers: argmax finds the first True
    leave = numpy.concatenate(
        [leave, numpy.ones(leave.shape[:-1] + (1,), bool)], axis=-1)
    return leave.argmax(axis=-1).astype(numpy.int32)
