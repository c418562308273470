"""Early exit against a reference that computes every exit, and entropy."""
import math

import chainer
import numpy
import pytest

from branchynet.errors import BranchyNetError
from branchynet.exits.inference import (check_thresholds, choose_exits, early_exit,
                                  early_exit_one, entropy, exit_records)
from branchynet.networks.model import BranchyNet
from branchynet.networks import b_lenet


def hand_entropy(logits):
    """-sum p log p in float64, by hand."""
    z = numpy.asarray(logits, numpy.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - numpy.log(numpy.exp(z).sum(axis=1, keepdims=True))
    return -(numpy.exp(log_p) * log_p).sum(axis=1)


def all_exits(model, x):
    """Logits of every exit for every sample (test mode)."""
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        return [z.array for z in model(x)]


def reference_early_exit(logits, thresholds):
    """First exit whose entropy is below its threshold; the final otherwise."""
    n, k = len(logits[0]), len(logits)
    prediction = numpy.empty(n, numpy.int64)
    exit_index = numpy.empty(n, numpy.int64)
    for i in range(n):
        for e in range(k):
            h = hand_entropy(logits[e][i:i + 1])[0]
            if e == k - 1 or h < thresholds[e]:
                prediction[i] = logits[e][i].argmax()
                exit_index[i] = e
                break
    return prediction, exit_index


def random_thresholds(logits, n_vectors, seed):
    """Threshold vectors drawn from midpoints between distinct entropies.

    No sample sits within rounding error of a threshold, so the early exit
    and the reference cannot disagree on a tie.
    """
    rng = numpy.random.RandomState(seed)
    columns = []
    for z in logits[:-1]:
        values = numpy.unique(hand_entropy(z))
        gaps = numpy.diff(values)
        mids = ((values[:-1] + values[1:]) / 2)[gaps > 1e-5]
        mids = numpy.concatenate([[0.0, values[-1] + 1.0], mids])
        columns.append(rng.choice(mids, n_vectors))
    return numpy.stack(columns, axis=1)


@pytest.fixture(scope='module')
def tiny_case(tiny_branchynet):
    model = tiny_branchynet(seed=0, n_exits=3)
    rng = numpy.random.RandomState(1)
    # spread the inputs so that entropies range from near 0 to near log 4
    x = (rng.randn(60, 8) * rng.choice([0.3, 1, 4], (60, 1))).astype(
        numpy.float32)
    return model, x, all_exits(model, x)


def test_early_exit_equals_the_reference(tiny_case):
    model, x, logits = tiny_case
    used = numpy.zeros(model.n_exits, int)
    for t in random_thresholds(logits, 60, seed=0):
        expected = reference_early_exit(logits, t)
        prediction, exit_index = early_exit(model, x, t)
        assert prediction.dtype == numpy.int32
        assert exit_index.dtype == numpy.int32
        numpy.testing.assert_array_equal(exit_index, expected[1])
        numpy.testing.assert_array_equal(prediction, expected[0])
        used += numpy.bincount(exit_index, minlength=model.n_exits)
    assert (used > 0).all()           # the vectors exercised every exit


def test_early_exit_one_equals_the_reference(tiny_case):
    model, x, logits = tiny_case
    for t in random_thresholds(logits, 15, seed=1):
        expected = reference_early_exit(logits, t)
        got = numpy.array([early_exit_one(model, x[i:i + 1], t)
                           for i in range(len(x))])
        numpy.testing.assert_array_equal(got[:, 1], expected[1])
        numpy.testing.assert_array_equal(got[:, 0], expected[0])
        assert all(isinstance(v, int)
                   for v in early_exit_one(model, x[:1], t))


def test_choose_exits_on_records_equals_the_reference(tiny_case):
    model, x, logits = tiny_case
    entropies, predictions = exit_records(model, x, batch_size=7)
    assert entropies.shape == predictions.shape == (len(x), model.n_exits)
    assert entropies.dtype == numpy.float32
    assert predictions.dtype == numpy.int32
    numpy.testing.assert_allclose(
        entropies, numpy.stack([hand_entropy(z) for z in logits], axis=1),
        rtol=1e-4, atol=1e-5)
    numpy.testing.assert_array_equal(
        predictions, numpy.stack([z.argmax(axis=1) for z in logits], axis=1))
    n = numpy.arange(len(x))
    for t in random_thresholds(logits, 60, seed=2):
        expected = reference_early_exit(logits, t)
        chosen = choose_exits(entropies, t)
        assert chosen.dtype == numpy.int32
        numpy.testing.assert_array_equal(chosen, expected[1])
        numpy.testing.assert_array_equal(predictions[n, chosen], expected[0])


def test_exit_records_does_not_depend_on_batch_size(tiny_case):
    model, x, _ = tiny_case
    a = exit_records(model, x, batch_size=len(x))
    b = exit_records(model, x, batch_size=11)
    numpy.testing.assert_allclose(a[0], b[0], rtol=1e-6, atol=1e-7)
    numpy.testing.assert_array_equal(a[1], b[1])


def test_b_lenet_early_exit_equals_the_reference():
    numpy.random.seed(0)
    model = b_lenet()
    x = numpy.random.RandomState(3).rand(12, 1, 28, 28).astype(numpy.float32)
    logits = all_exits(model, x)
    entropies, _ = exit_records(model, x)
    for t in random_thresholds(logits, 8, seed=3):
        expected = reference_early_exit(logits, t)
        prediction, exit_index = early_exit(model, x, t)
        numpy.testing.assert_array_equal(exit_index, expected[1])
        numpy.testing.assert_array_equal(prediction, expected[0])
        numpy.testing.assert_array_equal(choose_exits(entropies, t),
                                         expected[1])
        one = [early_exit_one(model, x[i:i + 1], t) for i in range(3)]
        assert [e for _, e in one] == expected[1][:3].tolist()


def test_zero_threshold_sends_everything_to_the_final_exit(tiny_case):
    model, x, logits = tiny_case
    t = [0.0] * (model.n_exits - 1)
    last = model.n_exits - 1
    prediction, exit_index = early_exit(model, x, t)
    assert (exit_index == last).all()
    numpy.testing.assert_array_equal(prediction, logits[-1].argmax(axis=1))
    assert early_exit_one(model, x[:1], t)[1] == last
    assert (choose_exits(exit_records(model, x)[0], t) == last).all()


def test_infinite_threshold_sends_everything_out_at_exit_1(tiny_case):
    model, x, logits = tiny_case
    t = [math.inf] * (model.n_exits - 1)
    prediction, exit_index = early_exit(model, x, t)
    assert (exit_index == 0).all()
    numpy.testing.assert_array_equal(prediction, logits[0].argmax(axis=1))
    assert early_exit_one(model, x[:1], t)[1] == 0
    assert (choose_exits(exit_records(model, x)[0], t) == 0).all()


class ConfigSpy(chainer.LinkHook):
    """Records (train, enable_backprop) at every link call."""
    name = 'ConfigSpy'

    def __init__(self):
        self.seen = set()

    def forward_preprocess(self, args):
        self.seen.add((chainer.config.train, chainer.config.enable_backprop))


def test_early_exit_runs_in_test_mode_without_graph():
    from branchynet.networks import b_alexnet
    model = b_alexnet()
    x = numpy.random.RandomState(0).rand(4, 3, 32, 32).astype(numpy.float32)
    with chainer.using_config('train', True), ConfigSpy() as spy:
        a = early_exit(model, x, [0.0, 0.0])
        b = early_exit(model, x, [0.0, 0.0])
        one = early_exit_one(model, x[:1], [0.0, 0.0])
    # every layer ran in test mode (dropout off) and built no graph
    assert spy.seen == {(False, False)}
    numpy.testing.assert_array_equal(a[0], b[0])
    assert one == (int(a[0][0]), int(a[1][0]))


# ----------------------------------------------------------------- entropy

def test_entropy_of_uniform_logits_is_log_classes():
    for classes in (2, 4, 10):
        logits = numpy.zeros((3, classes), numpy.float32)
        logits[1] += 5.0                       # any constant row is uniform
        logits[2] -= 100.0
        h = entropy(logits)
        assert h.shape == (3,) and h.dtype == numpy.float32
        numpy.testing.assert_allclose(h, math.log(classes), rtol=1e-5)


def test_entropy_of_confident_logits_is_near_zero():
    logits = numpy.zeros((2, 10), numpy.float32)
    logits[0, 3] = 100.0
    logits[1, 7] = 1000.0
    h = entropy(logits)
    assert (h >= 0).all() and (h < 1e-6).all()


def test_entropy_is_never_negative_and_matches_the_formula():
    rng = numpy.random.RandomState(0)
    for scale in (1e-3, 1.0, 30.0, 1e4):
        logits = (rng.randn(200, 10) * scale).astype(numpy.float32)
        h = entropy(logits)
        assert (h >= 0).all()
        assert (h <= math.log(10) + 1e-5).all()
        numpy.testing.assert_allclose(h, hand_entropy(logits), rtol=1e-4,
                                      atol=1e-5)


# ------------------------------------------------------- check_thresholds

def test_check_thresholds_accepts_and_converts():
    assert check_thresholds([0.025], 2) == (0.025,)
    assert check_thresholds((0, numpy.float32(0.5)), 3) == (0.0, 0.5)
    assert check_thresholds([math.inf, 1], 3) == (math.inf, 1.0)
    assert check_thresholds([], 1) == ()


@pytest.mark.parametrize('thresholds, n_exits', [
    ([0.1, 0.2], 2),                  # too many
    ([], 2),                          # too few
    ([0.1], 3),
    ([float('nan')], 2),
    ([0.1, float('nan')], 3),
    ([-0.1], 2),
    ([0.1, -1e-9], 3),
    (['abc'], 2),
    ([None], 2),
    (None, 2),
    (0.5, 2),
    ([object()], 2),
])
def test_check_thresholds_rejects(thresholds, n_exits):
    with pytest.raises(BranchyNetError):
        check_thresholds(thresholds, n_exits)


def test_all_three_agree_on_a_threshold_half_an_ulp_above_the_entropy():
    """H < T is decided on the float64 threshold by every procedure.

    With T a hair above the float32 entropy H (closer than float32 can
    tell apart), H < T holds; a comparison that rounds T to float32 would
    see H < H, false, and send the sample on.
    """
    identity = chainer.functions.identity
    model = BranchyNet(
        [chainer.Sequential(identity), chainer.Sequential(identity)],
        [chainer.Sequential(identity), chainer.Sequential(identity)])
    x = numpy.array([[0.3, 1.2, -0.5, 2.0], [1.0, 1.0, 1.0, 1.0]],
                    numpy.float32)
    h = exit_records(model, x)[0][0, 0]
    t = float(h) + float(numpy.spacing(h)) / 4
    assert numpy.float32(t) == h and float(h) < t
    assert choose_exits(exit_records(model, x)[0], [t]).tolist() == [0, 1]
    assert [early_exit_one(model, x[i:i + 1], [t])[1]
            for i in range(2)] == [0, 1]
    assert early_exit(model, x, [t])[1].tolist() == [0, 1]


def test_the_python_api_checks_the_thresholds():
    from branchynet.errors import BranchyNetError
    from branchynet.networks import b_lenet
    model = b_lenet()
    x = numpy.zeros((2, 1, 28, 28), numpy.float32)
    for bad in ([2.25, 1], [], [-1.0], [float('nan')]):
        with pytest.raises(BranchyNetError):
            early_exit(model, x, bad)
        with pytest.raises(BranchyNetError):
            early_exit_one(model, x[:1], bad)
