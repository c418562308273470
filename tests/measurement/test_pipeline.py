"""`branchynet sweep` and `branchynet report` end to end on a tiny model,
on Chainer and on ONNX Runtime."""
import json
import os
import shutil

import numpy
import pytest

from branchynet import cli

from branchynet.training import trainer as training
from branchynet.measurement import rules
from branchynet.measurement import sweep as sweep_lib
from branchynet.errors import BranchyNetError
from branchynet.report.figures import exit1_curve, make_figures
from branchynet.measurement.pipeline import measure_experiment
from branchynet.exits.records import load_records
from branchynet.report.table import load_results, write_table
from branchynet.exits.scores import SCORES


@pytest.fixture(scope='module')
def trained(tmp_path_factory, tiny_mnist):
    """A B-LeNet trained for a few iterations on tiny synthetic MNIST."""
    root = tmp_path_factory.mktemp('measure')
    data = root / 'mnist'
    data.mkdir()
    _, checksums = tiny_mnist(data, 96, 64)
    patch = pytest.MonkeyPatch()
    patch.setattr('branchynet.data.mnist.MNIST_SHA256', checksums)
    patch.setenv('BRANCHYNET_DATA_ROOT', str(root / 'data_root'))
    training.train_experiment('lenet_mnist', str(root / 'model'),
                              data_dir=str(root), epochs_main=2,
                              epochs_joint=2, batch_size=16, val_size=32,
                              progress=False)
    summary = measure_experiment(
        str(root / 'model'), str(root / 'results' / 'lenet_mnist'),
        data_dir=str(root), grid=GRID,
        profile_samples=10, warmup=2, validate_samples=64)
    yield root, data, summary
    patch.undo()


GRID = [0.0, 0.01, 0.1, 0.5, 1.0, 2.0, 10.0]


@pytest.fixture(scope='module')
def on_onnxruntime(trained):
    """The same measurement with ``runtime='onnxruntime'``."""
    root, _, _ = trained
    patch = pytest.MonkeyPatch()
    patch.setenv('BRANCHYNET_DATA_ROOT', str(root / 'data_root'))
    out = root / 'both' / 'lenet_mnist_onnxruntime'
    summary = measure_experiment(
        str(root / 'model'), str(out), data_dir=str(root), grid=GRID,
        profile_samples=10, warmup=2, validate_samples=64,
        runtime='onnxruntime')
    yield out, summary
    patch.undo()


@pytest.fixture(scope='module', params=['chainer', 'onnxruntime'])
def near_samples(trained, request):
    """The measurement again, on a grid of thresholds each between two
    adjacent sorted exit-1 entropies of the test records: every validated
    point has samples just on either side of it."""
    root, _, _ = trained
    entropy = numpy.sort(load_records(str(
        root / 'results' / 'lenet_mnist' / 'records.npz'))['test'].entropy[
            :, 0].astype(numpy.float64))
    grid = [float(a + b) / 2 for a, b in zip(entropy[4::8], entropy[5::8])]
    patch = pytest.MonkeyPatch()
    patch.setenv('BRANCHYNET_DATA_ROOT', str(root / 'data_root'))
    summary = measure_experiment(
        str(root / 'model'), str(root / 'near' / request.param),
        data_dir=str(root), grid=grid, profile_samples=10, warmup=2,
        validate_samples=64, runtime=request.param)
    yield entropy, grid, summary
    patch.undo()


def test_sweep_prediction_matches_real_batch1_inference(near_samples):
    entropy, grid, summary = near_samples
    rows = summary['validation']
    assert [r['point'] for r in rows] == ['baseline', 'chosen', 'fastest',
                                          'middle', 'slowest']
    for row in rows[1:]:
        # the point lies between two adjacent records (all 64 are run)
        t, = row['thresholds']
        assert t in grid
        below = int((entropy < t).sum())
        assert 0 < below < 64 and entropy[below - 1] < t < entropy[below]
        assert row['predicted_exit_counts'] == [below, 64 - below]
    for row in rows:
        assert row['exact_match'], row
        # sample by sample: batch-1 inference routes each sample as the
        # batched records do, even those next to the threshold
        assert row['mismatched'] == 0, row
        assert row['measured_accuracy'] == row['predicted_accuracy']
        assert row['measured_exit_counts'] == row['predicted_exit_counts']
        assert sum(row['measured_exit_counts']) == 64
        # a time for exactly the exits some sample left at
        assert [t is not None for t in row['measured_exit_ms']] == \
            [n > 0 for n in row['measured_exit_counts']]


def test_sweep_json_holds_the_grid_and_both_accountings(trained):
    root, _, summary = trained
    with open(root / 'results' / 'lenet_mnist' / 'sweep.json') as f:
        saved = json.load(f)
    assert saved['tuned_on'] == 'val' and saved['n_tune'] == 32
    assert len(saved['sweep_test']) == 7
    for row in saved['sweep_test']:
        assert sum(row['exit_fractions']) == pytest.approx(1)
        # the reference's trunk-only accounting: each exit share times the
        # time of the trunk stages up to that exit (a timing comparison
        # with ``ms`` would be flaky on a shared CPU)
        assert row['trunk_ms'] == pytest.approx(numpy.dot(
            row['exit_fractions'], saved['profile']['trunk_ms']))
    assert saved['macs']['path'][0] < saved['macs']['path'][1]
    # T = 0 sends everything to the final exit; T = 10 everything to exit 1,
    # since no entropy over 10 classes exceeds log(10) = 2.3
    assert saved['sweep_test'][0]['exit_fractions'] == [0.0, 1.0]
    assert saved['sweep_test'][-1]['exit_fractions'] == [1.0, 0.0]


def test_report_writes_table_and_figures(trained, tmp_path):
    root, _, _ = trained
    assert cli.main(['report', '--results', str(root / 'results'),
                     '--figs', str(tmp_path / 'figs')]) == 0
    table = (root / 'results' / 'table1.md').read_text()
    assert '| CPU | Chainer | LeNet |' in table
    assert '| CPU | Chainer | B-LeNet |' in table
    assert 'Validation' in table
    rows = json.loads((root / 'results' / 'table1.json').read_text())
    assert [r['network'] for r in rows] == ['LeNet', 'LeNet (phase 1)',
                                            'B-LeNet']
    # the gain: the baseline's profiled time over the chosen point's
    # expected time, from the profile's per-path times and its exit shares
    with open(root / 'results' / 'lenet_mnist' / 'sweep.json') as f:
        saved = json.load(f)
    chosen = saved['sweep_test'][saved['chosen_index']]
    expected_ms = numpy.dot(chosen['exit_fractions'],
                            saved['profile']['exit_ms'])
    assert rows[2]['gain'] == pytest.approx(
        saved['profile']['baseline_ms'] / expected_ms)
    # named after the result folder, results/lenet_mnist
    for name in ('fig3_lenet_mnist', 'fig4_lenet_mnist',
                 'training_lenet_mnist'):
        for ext in ('pdf', 'png'):
            assert os.path.getsize(tmp_path / 'figs' / ('%s.%s' % (name, ext))) > 1000
    assert (root / 'results' / 'table1.csv').read_text().startswith('device,')


def test_both_baselines_are_measured_the_reference_one_first(trained):
    """Table I's baseline is the reference's: main after phase 2."""
    root, _, summary = trained
    from branchynet.measurement.evaluation import evaluation_split, predict
    from branchynet.networks.serialization import load_model
    accuracy = {}
    for name in ('baseline_after_joint', 'baseline'):
        model, info = load_model(str(root / 'model' / name))
        x, y = evaluation_split(info, 'test', str(root))
        accuracy[name] = float((predict(model, x)[0] == y).mean())
    assert [b['model'] for b in summary['baselines']] == [
        'baseline_after_joint', 'baseline']
    assert summary['baseline']['model'] == 'baseline_after_joint'
    for entry in summary['baselines']:
        assert entry['test_accuracy'] == accuracy[entry['model']]
    rows = write_table([summary], str(root / 'baselines'))
    assert [r['acc %'] for r in rows[:2]] == [
        100 * accuracy['baseline_after_joint'], 100 * accuracy['baseline']]


def test_a_model_trained_on_everything_is_tuned_on_the_test_set(
        trained, tmp_path, capsys):
    root, _, _ = trained
    model = tmp_path / 'model'
    shutil.copytree(root / 'model', model)
    for name in ('branchynet', 'baseline', 'baseline_after_joint'):
        info = json.loads((model / (name + '.json')).read_text())
        info['settings'].update(protocol='reference', val_size=0,
                                eval_every=0)
        (model / (name + '.json')).write_text(json.dumps(info))
    summary = measure_experiment(str(model), str(tmp_path / 'out'),
                                 data_dir=str(root), grid=GRID,
                                 profile_samples=5, warmup=1,
                                 validate_samples=0)
    assert summary['tuned_on'] == 'test'
    assert summary['n_tune'] == summary['n_test']
    assert cli.main(['sweep', str(model), '--tune-on', 'val',
                     '--out', str(tmp_path / 'o2')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and '--tune-on test' in err


def test_exit1_curve_counts_by_entropy_order():
    entropies = numpy.array([[0.3, 0], [0.1, 0], [0.2, 0]], numpy.float32)
    predictions = numpy.array([[1, 0], [1, 1], [0, 2]])
    labels = numpy.array([0, 1, 2])
    exited, accuracy, max_entropy = exit1_curve(entropies, predictions, labels)
    numpy.testing.assert_allclose(exited, [0, 100 / 3, 200 / 3, 100])
    # m=0: final exit right on all 3; m=1: sample 1 leaves (right at exit
    # 1); m=2: sample 2 too (wrong at exit 1); m=3: sample 0 (wrong)
    numpy.testing.assert_allclose(accuracy, [100, 100, 200 / 3, 100 / 3])
    numpy.testing.assert_allclose(max_entropy[1:], [0.1, 0.2, 0.3])


def test_report_without_results_is_a_user_error(tmp_path, capsys):
    assert cli.main(['report', '--results', str(tmp_path)]) == 2
    assert capsys.readouterr().err.count('\n') == 1
    with pytest.raises(BranchyNetError):
        load_results(str(tmp_path))


@pytest.mark.parametrize('grid', ['-1', 'nan', 'a,b'])
def test_sweep_rejects_bad_grids(trained, grid, capsys):
    root, _, _ = trained
    with pytest.raises(SystemExit) as e:
        cli.main(['sweep', str(root / 'model'), '--grid', grid])
    assert e.value.code == 2
    assert capsys.readouterr().err.count('\n') == 1


def test_sweep_of_a_missing_model_is_a_user_error(tmp_path, capsys):
    assert cli.main(['sweep', str(tmp_path / 'nothing')]) == 2
    assert 'does not exist' in capsys.readouterr().err


def test_write_table_is_stable_for_several_results(trained, tmp_path):
    _, _, summary = trained
    gpu = dict(summary, device='@cupy:0')
    rows = write_table([gpu, summary], str(tmp_path))
    assert [(r['device'], r['network']) for r in rows] == [
        ('CPU', 'LeNet'), ('CPU', 'LeNet (phase 1)'), ('CPU', 'B-LeNet'),
        ('GPU', 'LeNet'), ('GPU', 'LeNet (phase 1)'), ('GPU', 'B-LeNet')]


def test_sweep_on_onnxruntime_equals_chainer(trained, on_onnxruntime):
    root, _, on_chainer = trained
    out, summary = on_onnxruntime
    assert (on_chainer['runtime'], summary['runtime']) == \
        ('chainer', 'onnxruntime')
    assert summary['profile']['runtime'] == 'onnxruntime'
    settings = summary['runtime_settings']
    assert settings['intra_op_num_threads'] == 1
    assert settings['providers'] == ['CPUExecutionProvider']
    # the same records, so the same sweep, whatever the runtime
    for a, b in zip(on_chainer['sweep_test'], summary['sweep_test']):
        assert a['accuracy'] == b['accuracy']
        assert a['exit_fractions'] == b['exit_fractions']
    with numpy.load(root / 'results' / 'lenet_mnist' / 'records.npz') as a, \
            numpy.load(out / 'records.npz') as b:
        numpy.testing.assert_allclose(a['test_entropy'], b['test_entropy'],
                                      atol=1e-5)
        numpy.testing.assert_array_equal(a['test_prediction'],
                                         b['test_prediction'])
    # and the prediction holds against real batch-1 runs on ONNX Runtime
    for row in summary['validation']:
        assert row['exact_match'], row
    assert summary['macs'] == on_chainer['macs']


def test_report_has_rows_per_runtime(trained, on_onnxruntime, tmp_path):
    root, _, _ = trained
    out, _ = on_onnxruntime
    shutil.copytree(root / 'results' / 'lenet_mnist', out.parent / 'lenet')
    results = load_results(str(out.parent))
    rows = write_table(results, str(tmp_path))
    assert [(r['runtime'], r['network']) for r in rows] == [
        ('Chainer', 'LeNet'), ('Chainer', 'LeNet (phase 1)'),
        ('Chainer', 'B-LeNet'), ('ONNX Runtime', 'LeNet'),
        ('ONNX Runtime', 'LeNet (phase 1)'), ('ONNX Runtime', 'B-LeNet')]
    table = (tmp_path / 'table1.md').read_text()
    assert '| CPU | ONNX Runtime | B-LeNet |' in table
    assert 'ONNX Runtime 1.' in table and '1 intra-op thread' in table
    written = make_figures(results, str(out.parent), str(tmp_path / 'figs'))
    assert str(tmp_path / 'figs' / 'fig3_lenet_mnist_onnxruntime.png') \
        in written
    assert str(tmp_path / 'figs' / 'fig3_lenet.png') in written


def test_figures_are_named_after_their_result_folders(trained, tmp_path):
    """A GPU result gets its Fig. 4; two folders of one network and device
    (a modern-recipe run beside the reference one) overwrite nothing."""
    root, _, summary = trained
    results_dir = tmp_path / 'results'
    for folder in ('lenet_mnist_gpu', 'lenet_mnist_modern_gpu'):
        shutil.copytree(root / 'results' / 'lenet_mnist', results_dir / folder)
        saved = json.loads((results_dir / folder / 'sweep.json').read_text())
        saved['device'] = '@cupy:0'
        (results_dir / folder / 'sweep.json').write_text(json.dumps(saved))
    figs = tmp_path / 'figs'
    written = make_figures(load_results(str(results_dir)), str(results_dir),
                           str(figs))
    names = sorted(os.path.basename(p) for p in written
                   if p.endswith('.png'))
    assert names == sorted(
        '%s_%s.png' % (kind, folder)
        for kind in ('fig3', 'alpha', 'fig4', 'training')
        for folder in ('lenet_mnist_gpu', 'lenet_mnist_modern_gpu'))
    assert len(set(written)) == len(written)


def test_evaluate_on_both_runtimes(trained, capsys):
    root, _, _ = trained
    printed = []
    for runtime in ('chainer', 'onnxruntime'):
        for batch in ('1000', '1'):
            assert cli.main(['evaluate', str(root / 'model' / 'branchynet'),
                             '-t', '0.5', '--data-dir', str(root),
                             '--batch-size', batch,
                             '--runtime', runtime]) == 0
            lines = capsys.readouterr().out.splitlines()
            assert runtime in lines[-1]
            printed.append(lines[1:3])          # accuracy and exits
    assert all(p == printed[0] for p in printed)


@pytest.mark.parametrize('option', [['--runtime', 'tvm'], ['--threads', '0']])
def test_runtime_options_reject_bad_values(trained, option, capsys):
    root, _, _ = trained
    with pytest.raises(SystemExit) as e:
        cli.main(['evaluate', str(root / 'model' / 'branchynet')] + option)
    assert e.value.code == 2
    assert capsys.readouterr().err.count('\n') == 1


@pytest.mark.parametrize('score, rule, extra', [
    ('maxprob', 'per-exit', dict(target=0.5)),
    ('energy', 'tradeoff', dict(alpha=0.01)),
    ('margin', 'knee', {}),
])
def test_sweep_with_other_scores_and_rules(trained, tmp_path, score, rule,
                                           extra):
    """The grid in the score's range, the rule's choice, and the prediction
    exact against real batch-1 runs deciding by that score."""
    root, _, _ = trained
    out = tmp_path / 'results'
    summary = measure_experiment(
        str(root / 'model'), str(out), data_dir=str(root), score=score,
        rule=rule, profile_samples=5, warmup=1, validate_samples=32, **extra)
    assert (summary['score'], summary['rule']) == (score, rule)
    assert all(SCORES[score].bad_threshold(t) is None
               for t in summary['grid'])
    for row in summary['validation']:
        assert row['exact_match'], row
    tune = load_records(str(out / 'records.npz'))['tune']
    rows, chosen = summary['sweep_tune'], summary['chosen_index']
    if rule == 'per-exit':            # appended to the grid, and chosen
        assert chosen == len(rows) - 1 == len(summary['grid'])
        assert tuple(rows[chosen]['thresholds']) == \
            rules.per_exit_thresholds(
                tune.scores(score), tune.prediction, tune.labels, 0.5,
                score, tune.n_classes)
    if rule == 'tradeoff':
        assert chosen == rules.best_tradeoff(
            [r['ms'] for r in rows], [r['accuracy'] for r in rows], 0.01,
            summary['baseline']['ms'])


@pytest.mark.parametrize('argv, match', [
    (['--rule', 'tradeoff'], '--alpha'),
    (['--rule', 'per-exit'], '--target'),
    (['--rule', 'per-exit', '--target', '1.2'], '--target'),
    (['--score', 'maxprob', '--grid', '0.5,2'], 'maxprob thresholds'),
])
def test_sweep_rule_settings_fail_before_any_work(tmp_path, capsys, argv,
                                                  match):
    try:
        status = cli.main(['sweep', str(tmp_path / 'model')] + argv)
    except SystemExit as e:
        status = e.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and match in err and 'does not exist' \
        not in err


def test_validation_counts_samples_whose_outcome_differs():
    from branchynet.measurement.evaluation import predict
    from branchynet.measurement.validation import validate_point
    from branchynet.networks import b_lenet
    numpy.random.seed(0)
    model = b_lenet()
    x = numpy.random.RandomState(1).rand(6, 1, 28, 28).astype(numpy.float32)
    y = numpy.zeros(6, numpy.int32)
    prediction, exit_index = predict(model, x, (2.2,))
    # the records said otherwise for two samples
    prediction = prediction.copy()
    prediction[1] += 1
    exit_index = exit_index.copy()
    exit_index[4] = 1 - exit_index[4]
    row = validate_point(model, x, y, (2.2,), {
        'accuracy': 0.0, 'exit_counts': [0, 6], 'ms': 1.0,
        'prediction': prediction, 'exit_index': exit_index})
    assert row['mismatched'] == 2
