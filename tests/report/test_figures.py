"""Figures: the trade-off rule's path as alpha runs."""
import numpy
import pytest

from branchynet.report import figures
from branchynet.errors import BranchyNetError
from branchynet.exits.records import Records, load_records
from branchynet.exits.scores import SCORES


def summary():
    """A sweep result of four points (ms 1..4, baseline 4 ms)."""
    rows = [{'ms': ms, 'accuracy': acc, 'thresholds': [t],
             'exit_fractions': [1 - t, t], 'trunk_ms': ms}
            for ms, acc, t in ((1.0, 0.90, 0.0), (2.0, 0.97, 0.3),
                               (3.0, 0.98, 0.6), (4.0, 0.985, 1.0))]
    return {'network': 'b_lenet', 'tuned_on': 'val', 'sweep_tune': rows,
            'sweep_test': rows, 'baseline': {'ms': 4.0}}


def test_tradeoff_path_moves_from_accurate_to_fast():
    # (1 - acc) + alpha ms / 4: alpha 0 -> most accurate, 100 -> fastest;
    # at 0.1 the point (2 ms, 0.97) (see tests/test_sweep.py)
    assert figures.tradeoff_path(summary(), [0.0, 0.01, 0.1, 100.0]) == \
        [3, 3, 1, 0]
    path = figures.tradeoff_path(summary())
    assert len(path) == len(figures.ALPHAS)
    assert numpy.all(numpy.diff([summary()['sweep_tune'][i]['ms']
                                 for i in path]) <= 0)


def test_alpha_figure_is_written(tmp_path):
    written = figures.alpha_figure(summary(), str(tmp_path / 'alpha_x'))
    assert sorted(p.rsplit('/', 1)[1] for p in written) == [
        'alpha_x.pdf', 'alpha_x.png']
    assert all((tmp_path / p.rsplit('/', 1)[1]).stat().st_size > 1000
               for p in written)


def saved_records(tmp_path, **drop):
    """A records.npz of 6 samples, 2 exits, 3 classes, as the sweep writes
    it; ``drop`` names entries to leave out."""
    logits = numpy.random.RandomState(0).randn(6, 2, 3).astype(numpy.float32)
    entropy = numpy.stack([SCORES['entropy'](logits[:, k]) for k in (0, 1)],
                          axis=1)
    records = Records(logits, entropy, numpy.arange(6) % 3)
    arrays = {k: v for k, v in records.arrays('test').items()
              if k not in drop}
    arrays.update(records.arrays('tune'))
    path = tmp_path / 'records.npz'
    numpy.savez(path, **arrays)
    return str(path), records


def test_fig4_reads_records_through_the_one_reader(tmp_path, monkeypatch):
    path, records = saved_records(tmp_path)
    read = figures.read_records(path)
    numpy.testing.assert_array_equal(read.entropy, records.entropy)
    numpy.testing.assert_array_equal(read.prediction, records.prediction)
    # its checks, and its size cap, are those of load_records
    path, _ = saved_records(tmp_path, test_logits=True)
    with pytest.raises(BranchyNetError) as error:
        figures.read_records(path)
    with pytest.raises(BranchyNetError) as same:
        load_records(path, ('test',))
    assert str(error.value) == str(same.value)
    path, _ = saved_records(tmp_path)
    monkeypatch.setattr('branchynet.exits.records.MAX_RECORD_BYTES', 64)
    with pytest.raises(BranchyNetError, match='test_logits'):
        figures.read_records(path)
