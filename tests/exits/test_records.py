"""The one-pass records: what they hold, their file, and that a sweep read
from them predicts real batch-1 runs exactly, for every score."""
import numpy
import pytest

from branchynet.exits import inference
from branchynet.errors import BranchyNetError
from branchynet.networks import b_lenet
from branchynet.exits.records import Records, load_records, save_records
from branchynet.runtimes import make_runtime
from branchynet.exits.scores import SCORES
from branchynet.measurement.sweep import evaluate_thresholds


@pytest.fixture(scope='module')
def lenet_case():
    numpy.random.seed(0)
    model = b_lenet()
    rng = numpy.random.RandomState(3)
    # images of varied contrast, so that scores spread at both exits
    x = (rng.rand(40, 1, 28, 28) * rng.choice([0.5, 2, 8], (40, 1, 1, 1))
         ).astype(numpy.float32)
    y = rng.randint(0, 10, 40).astype(numpy.int32)
    return model, x, y


def test_records_hold_logits_entropy_and_predictions(tiny_branchynet):
    model = tiny_branchynet(n_exits=3)
    x = numpy.random.RandomState(0).randn(30, 8).astype(numpy.float32)
    records = Records.from_runtime(make_runtime(model, 'tiny'), x,
                                   numpy.arange(30) % 4, batch_size=7)
    assert records.logits.shape == (30, 3, 4)
    assert records.logits.dtype == numpy.float32
    assert records.entropy.dtype == numpy.float32
    entropy, prediction = inference.exit_records(model, x, batch_size=7)
    numpy.testing.assert_array_equal(records.entropy, entropy)
    numpy.testing.assert_array_equal(records.prediction, prediction)
    assert records.scores('entropy') is records.entropy
    for name in ('maxprob', 'margin', 'energy'):
        want = numpy.stack([SCORES[name](records.logits[:, k])
                            for k in range(3)], axis=1)
        numpy.testing.assert_array_equal(records.scores(name), want)
    assert (len(records), records.n_exits, records.n_classes) == (30, 3, 4)
    assert len(records.subset(5)) == 5


def test_records_file_round_trip(tmp_path, tiny_branchynet):
    model = tiny_branchynet(n_exits=2)
    x = numpy.random.RandomState(1).randn(12, 8).astype(numpy.float32)
    rt = make_runtime(model, 'tiny')
    splits = {'test': Records.from_runtime(rt, x, numpy.arange(12) % 4),
              'tune': Records.from_runtime(rt, x[:5], numpy.arange(5) % 4)}
    save_records(str(tmp_path / 'records.npz'), splits)
    with numpy.load(tmp_path / 'records.npz') as npz:
        # what Fig. 4 reads is still there
        assert {'test_entropy', 'test_prediction', 'test_label'} <= set(npz)
    back = load_records(str(tmp_path / 'records.npz'))
    for split in splits:
        numpy.testing.assert_array_equal(back[split].logits,
                                         splits[split].logits)
        numpy.testing.assert_array_equal(back[split].entropy,
                                         splits[split].entropy)
        numpy.testing.assert_array_equal(back[split].labels,
                                         splits[split].labels)


def test_a_records_file_without_logits_is_one_clear_error(tmp_path):
    path = tmp_path / 'records.npz'
    numpy.savez(path, test_entropy=numpy.zeros((3, 2), numpy.float32),
                test_prediction=numpy.zeros((3, 2), numpy.int32),
                test_label=numpy.zeros(3, numpy.int32))
    with pytest.raises(BranchyNetError, match='test_logits.*rerun'):
        load_records(str(path), ('test',))
    numpy.savez(path, test_entropy=numpy.zeros((3, 2), numpy.float32),
                test_logits=numpy.zeros((3, 3, 10), numpy.float32),
                test_label=numpy.zeros(3, numpy.int32))
    with pytest.raises(BranchyNetError, match='do not fit together'):
        load_records(str(path), ('test',))


def test_records_refuse_shapes_that_do_not_fit():
    with pytest.raises(BranchyNetError):
        Records(numpy.zeros((3, 2, 10)), numpy.zeros((3, 3)))
    with pytest.raises(BranchyNetError):
        Records(numpy.zeros((3, 2, 10)), numpy.zeros((3, 2)), [0, 1])
    with pytest.raises(BranchyNetError):
        Records(numpy.zeros((3, 2, 1)), numpy.zeros((3, 2)))


def _values_to_place(values):
    """Actual record values at a few ranks (not midway between values)."""
    ordered = numpy.sort(values)
    return [float(ordered[int(q * (len(ordered) - 1))])
            for q in (0.2, 0.5, 0.8)]


def _check_exact(runtime, x, y, score):
    """The sweep's prediction from batch-1 records equals real batch-1
    runs, at thresholds equal to record values (the sample sitting on a
    threshold must stay: the comparison is strict everywhere)."""
    # Records at batch size 1: a batched pass sums in another order (BLAS),
    # so its logits differ from batch-1 logits in the last bits (B-LeNet at
    # batch 256: 769 of 6000 logits), and a sample sitting exactly on a
    # threshold would then be decided by rounding. At batch size 1 the only
    # thing under test is the score and its comparison.
    records = Records.from_runtime(runtime, x, y, batch_size=1)
    values = records.scores(score)
    k = records.n_exits
    for t0 in _values_to_place(values[:, 0]):
        others = [_values_to_place(values[:, j])[1] for j in range(1, k - 1)]
        t = (t0, *others)
        predicted = evaluate_thresholds(values, records.prediction, y, [t],
                                        score=score)
        real = numpy.array([runtime.run_one(runtime.send(x[i:i + 1]), t,
                                            score) for i in range(len(x))])
        counts = numpy.bincount(real[:, 1], minlength=k)
        assert predicted['exit_counts'][0].tolist() == counts.tolist(), \
            (score, t)
        assert predicted['accuracy'][0] == (real[:, 0] == y).mean()
        on_threshold = numpy.flatnonzero(values[:, 0] == t0)
        assert len(on_threshold) and (real[on_threshold, 1] > 0).all()


@pytest.mark.parametrize('score', sorted(SCORES))
@pytest.mark.parametrize('runtime', ['chainer', 'onnxruntime'])
def test_sweep_predicts_batch1_runs_at_thresholds_on_record_values(
        lenet_case, score, runtime):
    model, x, y = lenet_case
    _check_exact(make_runtime(model, 'b_lenet', runtime), x, y, score)


@pytest.mark.parametrize('score', sorted(SCORES))
def test_sweep_predicts_batch1_runs_with_three_exits(tiny_branchynet, score):
    model = tiny_branchynet(seed=2, n_exits=3)
    rng = numpy.random.RandomState(4)
    x = (rng.randn(50, 8) * rng.choice([0.3, 1, 4], (50, 1))).astype(
        numpy.float32)
    _check_exact(make_runtime(model, 'tiny'), x,
                 rng.randint(0, 4, 50).astype(numpy.int32), score)


def _gpu_or_skip():
    cupy = pytest.importorskip('cupy')
    try:
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return
    except cupy.cuda.runtime.CUDARuntimeError:
        pass
    pytest.skip('no CUDA device')


@pytest.mark.gpu
@pytest.mark.parametrize('score', sorted(SCORES))
def test_sweep_predicts_batch1_runs_on_the_gpu(lenet_case, score):
    """Entropy on the device, the other scores on the host copy of the
    device's logits: records and batch-1 runs still agree exactly."""
    _gpu_or_skip()
    _, x, y = lenet_case
    numpy.random.seed(0)
    model = b_lenet()                 # the fixture's weights, on the GPU
    _check_exact(make_runtime(model, 'b_lenet', 'chainer', '@cupy:0'), x, y,
                 score)
