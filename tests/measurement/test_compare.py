"""`branchynet compare`: every score x rule from the records a sweep wrote."""
import json
import shutil

import numpy
import pytest

from branchynet.measurement import compare as compare_lib
from branchynet.measurement import sweep
from branchynet.report import compare as report_compare
from branchynet.cli import main
from branchynet.errors import BranchyNetError
from branchynet.exits.inference import choose_exits
from branchynet.measurement.pipeline import measure_experiment
from branchynet.exits.records import load_records
from branchynet.exits.scores import SCORES
from helpers import save_untrained_lenet


@pytest.fixture(scope='module')
def swept(tmp_path_factory, tiny_mnist):
    """Untrained B-LeNet models on tiny synthetic MNIST, swept (no
    validation runs): what `compare` reads."""
    root = tmp_path_factory.mktemp('compare')
    _, checksums = tiny_mnist(root / 'mnist', 96, 60)
    patch = pytest.MonkeyPatch()
    patch.setattr('branchynet.data.mnist.MNIST_SHA256', checksums)
    save_untrained_lenet(root / 'model', ('branchynet', 'baseline'),
                         val_size=40)
    results = root / 'results' / 'model'
    summary = measure_experiment(str(root / 'model'), str(results),
                                 data_dir=str(root), profile_samples=5,
                                 warmup=1, validate_samples=0)
    yield root, results, summary
    patch.undo()


def run_compare(root, results, *extra):
    try:
        return main(['compare', str(root / 'model'), '--results',
                     str(results), '--figs', str(root / 'figs')]
                    + list(extra))
    except SystemExit as e:          # argparse: a value out of its range
        return e.code


def test_compare_writes_the_table_the_json_and_one_figure(swept, capsys):
    root, results, _ = swept
    assert run_compare(root, results) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith('| ')]
    n_scores, n_rules = len(SCORES), len(compare_lib.RULES)
    assert len(rows) == 2 + 1 + n_scores * n_rules
    assert 'compared %d scores x %d rules in' % (n_scores, n_rules) in out
    assert 'Thresholds chosen on the validation split (40 samples)' in out
    for name in ('compare.md', 'compare.json'):
        assert (results / name).is_file()
    assert sorted(p.name for p in (root / 'figs').iterdir()) == [
        'compare_model.pdf', 'compare_model.png']


def test_the_first_row_is_the_sweeps_choice(swept):
    root, results, summary = swept
    result, _, _ = report_compare.run_compare(
        str(root / 'model'), str(results), str(root / 'figs'))
    first = result['rows'][0]
    chosen = summary['chosen_index']
    assert first['score'] == 'entropy' and first['rule'] == 'sweep: knee'
    assert first['thresholds'] == summary['sweep_tune'][chosen]['thresholds']
    assert first['accuracy'] == summary['sweep_test'][chosen]['accuracy']
    assert first['ms'] == pytest.approx(summary['sweep_test'][chosen]['ms'])
    assert result['records_seconds'] == summary['seconds']['records']


def test_every_row_keeps_its_rule(swept):
    root, results, summary = swept
    records = load_records(str(results / 'records.npz'))
    result = compare_lib.compare(summary, records, alpha=0.05, target=0.2)
    goals = result['goals']
    assert goals['target'] == 0.2 and goals['alpha'] == 0.05
    by = {(r['score'], r['rule']): r for r in result['rows'][1:]}
    assert set(by) == {(s, r) for s in SCORES for r in compare_lib.RULES}
    tune = records['tune']
    for (score, rule), row in by.items():
        if row['thresholds'] is None:        # no vector meets the rule
            assert rule in ('accuracy', 'budget')
            continue
        assert all(SCORES[score].bad_threshold(t) is None
                   for t in row['thresholds'])
        assert sum(row['exit_fractions']) == pytest.approx(1)
        assert row['gain'] == pytest.approx(result['baseline_ms']
                                            / row['ms'])
        if rule == 'accuracy':
            assert row['tune_accuracy'] >= goals['accuracy']
        if rule == 'budget':
            tune_ms = sweep.evaluate_thresholds(
                tune.scores(score), tune.prediction, tune.labels,
                [row['thresholds']], summary['profile']['exit_ms'],
                score=score)['ms'][0]
            assert tune_ms <= goals['ms'] + 1e-12
        if rule == 'per-exit':
            exits = choose_exits(tune.scores(score), row['thresholds'], score)
            first = exits == 0
            if first.any():
                assert (tune.prediction[first, 0] == tune.labels[first]) \
                    .mean() >= 0.2
        # the row is what its thresholds give on the test records
        test = records['test']
        again = sweep.evaluate_thresholds(
            test.scores(score), test.prediction, test.labels,
            [row['thresholds']], summary['profile']['exit_ms'], score=score)
        assert again['accuracy'][0] == row['accuracy']
    assert set(result['frontiers']) == set(SCORES)


def test_a_model_tuned_on_the_test_split_says_so(swept):
    root, results, summary = swept
    records = load_records(str(results / 'records.npz'))
    records['tune'] = records['test']
    summary = dict(summary, tuned_on='test')
    text = report_compare.to_markdown(compare_lib.compare(summary, records))
    assert 'THE TEST SPLIT' in text and 'not held out' in text


@pytest.mark.parametrize('args, match', [
    (['--alpha', '-1'], 'alpha'),
    (['--target', '1.5'], 'target'),
])
def test_bad_settings_are_one_line(swept, capsys, args, match):
    root, results, _ = swept
    assert run_compare(root, results, *args) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and match in err


def copy_results(swept, tmp_path):
    root, results, _ = swept
    copy = tmp_path / 'results'
    shutil.copytree(results, copy)
    return root, copy


def test_no_sweep_result_is_one_line(swept, tmp_path, capsys):
    root, _, _ = swept
    assert run_compare(root, tmp_path / 'nothing') == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'run `branchynet sweep' in err


def test_records_without_logits_are_one_line(swept, tmp_path, capsys):
    root, copy = copy_results(swept, tmp_path)
    with numpy.load(copy / 'records.npz') as npz:
        old = {k: npz[k] for k in npz if not k.endswith('_logits')}
    numpy.savez(copy / 'records.npz', **old)
    assert run_compare(root, copy) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'logits' in err and 'rerun' in err


def test_results_of_another_model_are_one_line(swept, tmp_path, capsys):
    root, copy = copy_results(swept, tmp_path)
    summary = json.loads((copy / 'sweep.json').read_text())
    summary['training']['branchynet']['settings']['val_size'] = 41
    (copy / 'sweep.json').write_text(json.dumps(summary))
    assert run_compare(root, copy) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'another model' in err


def test_rows_of_an_unreachable_rule_are_dashes(swept):
    root, results, summary = swept
    records = load_records(str(results / 'records.npz'))
    chosen = summary['sweep_tune'][summary['chosen_index']]
    impossible = dict(summary, sweep_tune=[
        dict(row, accuracy=1.5, ms=1e-9) if i == summary['chosen_index']
        else row for i, row in enumerate(summary['sweep_tune'])])
    result = compare_lib.compare(impossible, records, target=chosen[
        'accuracy'])
    for row in result['rows'][1:]:
        if row['rule'] in ('accuracy', 'budget'):
            assert row['thresholds'] is None
    assert '| - | - | - | - | - | - |' in report_compare.to_markdown(result)
    with pytest.raises(BranchyNetError):
        compare_lib.compare(summary, records, alpha=float('nan'))
