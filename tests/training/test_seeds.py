"""The LeNet row over seeds: scripts/seed_spread.py on small synthetic
results and on real sweeps of tiny models, and scripts/run_seeds.sh with a
stand-in ``branchynet`` that records its calls."""
import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

from branchynet.training import trainer as training
from branchynet.measurement.pipeline import measure_experiment

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'scripts'))
import seed_spread  # noqa: E402


def fake_sweep(folder, seed, lenet, b_lenet, exit1, base_ms=1.0, ms=0.5,
               base_mean=1.2, ms_mean=0.8, schedule='notebook',
               at_paper_t=None):
    """A sweep.json holding only what seed_spread reads (accuracies as
    fractions, as sweep writes them); ``at_paper_t=(acc %, exit-1 %)`` adds
    a point at the paper's T = 0.025 to the grid."""
    folder.mkdir(parents=True, exist_ok=True)
    chosen = {'thresholds': [0.05], 'accuracy': b_lenet / 100,
              'exit_fractions': [exit1 / 100, 1 - exit1 / 100], 'ms': ms,
              'ms_mean': ms_mean}
    points = [{'thresholds': [10.0], 'accuracy': 0.1,
               'exit_fractions': [1.0, 0.0]}, chosen]
    if at_paper_t is not None:
        points.append({'thresholds': [0.025], 'accuracy': at_paper_t[0] / 100,
                       'exit_fractions': [at_paper_t[1] / 100,
                                          1 - at_paper_t[1] / 100]})
    (folder / 'sweep.json').write_text(json.dumps({
        'baseline': {'model': 'baseline_after_joint', 'ms': base_ms,
                     'ms_mean': base_mean},
        'baselines': [
            {'model': 'baseline_after_joint', 'test_accuracy': lenet / 100},
            {'model': 'baseline', 'test_accuracy': 0.5}],
        'sweep_test': points, 'chosen_index': 1,
        'training': {'branchynet': {'settings': {'seed': seed,
                                                 'schedule': schedule}}}}))


def run_spread(results, *extra, timeout=300):
    return subprocess.run([sys.executable, str(REPO / 'scripts' /
                                               'seed_spread.py'),
                           str(results), *extra],
                          capture_output=True, text=True, timeout=timeout)


def test_spread_of_three_seeds(tmp_path):
    lenet, b_lenet, exit1 = [99.00, 99.10, 99.26], [99.10, 99.30, 99.20], \
        [93.0, 95.0, 94.0]
    for seed in range(3):
        fake_sweep(tmp_path / ('seed%d' % seed), seed, lenet[seed],
                   b_lenet[seed], exit1[seed], ms=0.5 + 0.1 * seed)
    rows = [seed_spread.read_seed(str(tmp_path / ('seed%d' % s) /
                                      'sweep.json')) for s in range(3)]
    summary = seed_spread.summarise(rows)

    def sd(v):
        m = sum(v) / len(v)
        return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    s = summary['lenet_after_phase2']
    assert s['mean'] == pytest.approx(sum(lenet) / 3)
    assert s['sd'] == pytest.approx(sd(lenet))
    assert (s['min'], s['max']) == pytest.approx((99.00, 99.26))
    # the paper's 99.20% lies inside [99.00, 99.26]
    assert s['paper_in_range'] is True
    assert summary['b_lenet']['paper_in_range'] is True      # 99.25
    assert summary['exit1_share']['paper_in_range'] is True  # 94.3
    assert summary['gain']['mean'] == pytest.approx(
        sum(1 / (0.5 + 0.1 * s) for s in range(3)) / 3)
    assert summary['gain_mean']['mean'] == pytest.approx(1.2 / 0.8)
    process = run_spread(tmp_path, '--json', str(tmp_path / 'out.json'))
    assert process.returncode == 0, process.stderr
    assert '| LeNet after phase 2 (%) | 3 | 99.12 |' in process.stdout
    saved = json.loads((tmp_path / 'out.json').read_text())
    assert [r['seed'] for r in saved['rows']] == [0, 1, 2]


def test_the_paper_s_own_t_is_read_beside_the_chosen_one(tmp_path):
    for seed, (acc, share) in enumerate([(99.20, 93.0), (99.30, 95.0)]):
        fake_sweep(tmp_path / ('seed%d' % seed), seed, 99.0, 98.8, 99.0,
                   at_paper_t=(acc, share))
    rows = [seed_spread.read_seed(str(p)) for p in
            sorted(tmp_path.glob('*/sweep.json'))]
    assert [r['b_lenet_paper_T'] for r in rows] == pytest.approx([99.2, 99.3])
    assert [r['exit1_share_paper_T'] for r in rows] == pytest.approx(
        [93.0, 95.0])
    summary = seed_spread.summarise(rows)
    # 99.25 and 94.3 lie inside the seeds at T = 0.025, not at the knee
    assert summary['b_lenet_paper_T']['paper_in_range'] is True
    assert summary['exit1_share_paper_T']['paper_in_range'] is True
    assert summary['b_lenet']['paper_in_range'] is False
    out = run_spread(tmp_path).stdout
    assert "| B-LeNet at the paper's T = 0.025 (%) | 2 | 99.25 |" in out
    assert '| 99.20 | 93.00 |' in out


def test_a_grid_without_the_paper_s_t_leaves_it_out(tmp_path):
    fake_sweep(tmp_path / 'seed0', 0, 99.0, 99.0, 94.0)
    row = seed_spread.read_seed(str(tmp_path / 'seed0' / 'sweep.json'))
    assert row['b_lenet_paper_T'] is None
    assert 'b_lenet_paper_T' not in seed_spread.summarise([row])
    out = run_spread(tmp_path).stdout
    assert "paper's T" not in out.split('\n\n')[1]


def test_paper_outside_the_spread_is_said(tmp_path):
    for seed, acc in enumerate([98.90, 99.00]):
        fake_sweep(tmp_path / ('seed%d' % seed), seed, acc, acc, 90.0)
    rows = [seed_spread.read_seed(str(p)) for p in
            sorted(tmp_path.glob('*/sweep.json'))]
    s = seed_spread.summarise(rows)['lenet_after_phase2']
    assert s['paper_in_range'] is False and s['paper_within_2sd'] is False
    # mean 98.95, sd 0.07: the paper's 99.20 is 3.5 sd away
    assert '| LeNet after phase 2 (%) | 2 | 98.95 | 0.07 | 98.90 | 99.00 | ' \
        '99.20 | no | no |' in run_spread(tmp_path).stdout


def test_paper_between_one_and_two_sd_is_within_2_sd(tmp_path):
    """Mean 99.00, sd 0.14: the paper's 99.20 is 1.4 sd away, outside the
    range of the seeds but within 2 sd (and not within 1)."""
    for seed, acc in enumerate([98.90, 99.10]):
        fake_sweep(tmp_path / ('seed%d' % seed), seed, acc, acc, 90.0)
    rows = [seed_spread.read_seed(str(p)) for p in
            sorted(tmp_path.glob('*/sweep.json'))]
    s = seed_spread.summarise(rows)['lenet_after_phase2']
    assert 1 < (99.20 - s['mean']) / s['sd'] < 2
    assert s['paper_in_range'] is False and s['paper_within_2sd'] is True
    assert '| LeNet after phase 2 (%) | 2 | 99.00 | 0.14 | 98.90 | 99.10 | ' \
        '99.20 | no | yes |' in run_spread(tmp_path).stdout


@pytest.mark.parametrize('damage, message', [
    (None, 'no */sweep.json'),
    ('{', 'cannot read it as JSON'),
    ('{"baselines": []}', 'no baseline_after_joint'),
    ('{"baselines": [{"model": "baseline_after_joint", "test_accuracy": 1}]}',
     "no 'sweep_test'"),
    ('{"baselines": [{"model": "baseline_after_joint", "test_accuracy": 1}], '
     '"baseline": {"ms": 1}, "chosen_index": 0, "sweep_test": [{'
     '"thresholds": ["x"], "accuracy": 1, "exit_fractions": [1, 0], '
     '"ms": 1}]}', "sweep_test[0].thresholds[0] should be a finite number, "
                   "got 'x'"),
])
def test_bad_results_are_one_line(tmp_path, damage, message):
    if damage is not None:
        (tmp_path / 'seed0').mkdir()
        (tmp_path / 'seed0' / 'sweep.json').write_text(damage)
    process = run_spread(tmp_path)
    assert process.returncode == 2
    assert process.stderr.count('\n') == 1 and message in process.stderr


def _damage(s, edit):
    exec(edit, {}, {'s': s})
    return s


@pytest.mark.parametrize('edit, message', [
    ("s['sweep_test'][1]['exit_fractions'] = []",
     'sweep_test[1].exit_fractions should be a non-empty list of numbers, '
     'got []'),
    ("s['baseline'] = [1.0, 2.0]",
     'baseline should be an object, got [1.0, 2.0]'),
    ("s['training'] = 'notebook'",
     "training should be an object, got 'notebook'"),
    ("s['training'] = {'branchynet': {'settings': [0]}}",
     'training.branchynet.settings should be an object'),
    ("s['training']['branchynet']['settings']['schedule'] = ['a']",
     "settings.schedule should be a name, got ['a']"),
    ("s['sweep_test'][1] = [0.05, 0.99]",
     'sweep_test[1] should be an object, got [0.05, 0.99]'),
    ("s['sweep_test'][0] = [10.0]",
     'sweep_test[0] should be an object, got [10.0]'),
    ("s['chosen_index'] = -2",
     'chosen_index should be the index of one of the 2 sweep points (0 to '
     '1), got -2'),
    ("s['chosen_index'] = 2", 'got 2'),
    ("s['chosen_index'] = True", 'got True'),
    ("s['sweep_test'] = []", 'sweep_test should be a non-empty list'),
    ("s['baselines'] = 'baseline_after_joint'",
     'baselines should be a list'),
    ("s['baselines'][0]['test_accuracy'] = float('nan')",
     'test_accuracy should be a number in [0, 1], got nan'),
    ("s['sweep_test'][1]['ms'] = 0", 'sweep_test[1].ms should be a number '
                                     '> 0, got 0'),
    ("s.clear(); s['x'] = [1]", "no 'baselines'"),
])
def test_damaged_fields_are_one_line(tmp_path, edit, message):
    """Issue 31: each of these was a traceback (or, for chosen_index -2,
    silently point 0)."""
    fake_sweep(tmp_path / 'seed0', 0, 99.0, 99.2, 94.0)
    path = tmp_path / 'seed0' / 'sweep.json'
    path.write_text(json.dumps(_damage(json.loads(path.read_text()), edit)))
    process = run_spread(tmp_path, '--json', tmp_path / 'spread.json')
    assert process.returncode == 2, process.stdout
    assert 'Traceback' not in process.stderr
    assert process.stderr.count('\n') == 1 and message in process.stderr
    assert str(path) in process.stderr
    assert process.stdout == '' and not (tmp_path / 'spread.json').exists()


def test_a_sweep_json_that_is_a_fifo_is_one_line(tmp_path):
    (tmp_path / 'seed0').mkdir()
    os.mkfifo(tmp_path / 'seed0' / 'sweep.json')
    process = run_spread(tmp_path, timeout=60)     # never a hang
    assert process.returncode == 2
    assert 'cannot read it as JSON (not a regular file)' in process.stderr


def test_a_json_output_that_cannot_be_written_is_one_line(tmp_path):
    fake_sweep(tmp_path / 'seed0', 0, 99.0, 99.2, 94.0)
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'spread.json').mkdir()      # a folder in the way
    process = run_spread(tmp_path, '--json', tmp_path / 'out' / 'spread.json')
    assert process.returncode == 2 and process.stdout == ''
    assert process.stderr.count('\n') == 1 and 'cannot write it' in \
        process.stderr


def test_seeds_of_two_schedules_are_not_mixed(tmp_path):
    fake_sweep(tmp_path / 'a', 0, 99, 99, 94, schedule='script')
    fake_sweep(tmp_path / 'b', 1, 99, 99, 94, schedule='notebook')
    process = run_spread(tmp_path)
    assert process.returncode == 2 and 'several schedules' in process.stderr


def test_spread_reads_real_sweeps_of_two_tiny_seeds(tmp_path, tiny_mnist,
                                                    monkeypatch):
    data = tmp_path / 'mnist'
    data.mkdir()
    _, checksums = tiny_mnist(data, 96, 64)
    monkeypatch.setattr('branchynet.data.mnist.MNIST_SHA256', checksums)
    for seed in (0, 1):
        model = tmp_path / 'models' / ('seed%d' % seed)
        training.train_experiment(
            'lenet_mnist', str(model), data_dir=str(tmp_path), seed=seed,
            schedule='script', epochs_main=1, epochs_joint=1, batch_size=16,
            val_size=32, progress=False)
        measure_experiment(str(model), str(tmp_path / 'results' /
                                           ('seed%d' % seed)),
                           data_dir=str(tmp_path), grid=[0.0, 0.1, 10.0],
                           profile_samples=5, warmup=1, validate_samples=8)
    process = run_spread(tmp_path / 'results')
    assert process.returncode == 0, process.stderr
    rows = [seed_spread.read_seed(str(p)) for p in
            sorted((tmp_path / 'results').glob('*/sweep.json'))]
    assert [(r['seed'], r['schedule']) for r in rows] == [(0, 'script'),
                                                         (1, 'script')]
    assert all(r['gain_mean'] is not None for r in rows)
    assert '| 0 | script | seed0 |' in process.stdout


def run_seeds(tmp_path, *args):
    """scripts/run_seeds.sh with a stand-in branchynet: it records its
    calls, writes the model once (a finished training run leaves it alone
    when run again) and, for a sweep, a small sweep.json."""
    calls = tmp_path / 'calls'
    fake = tmp_path / 'branchynet'
    fake.write_text(
        '#!/bin/sh\necho "$*" >> "%s"\n'
        'if [ "$1" = train ]; then for a; do [ "$prev" = --out ] && '
        'mkdir -p "$a" && { [ -f "$a/branchynet.npz" ] || '
        'touch "$a/branchynet.npz"; }; prev=$a; done; fi\n'
        'if [ "$1" = sweep ]; then out=$4; mkdir -p "$out"; '
        'cp "%s" "$out/sweep.json"; fi\n' % (calls, tmp_path / 'one.json'))
    fake.chmod(0o755)
    template = tmp_path / 'template'
    fake_sweep(template, 0, 99.1, 99.2, 94.0)
    (tmp_path / 'one.json').write_text((template / 'sweep.json').read_text())
    env = dict(os.environ, BRANCHYNET=str(fake), PYTHON=sys.executable)
    process = subprocess.run(['bash', str(REPO / 'scripts' / 'run_seeds.sh'),
                              *args], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    lines = calls.read_text().splitlines() if calls.exists() else []
    return process, lines


def test_run_seeds_trains_and_sweeps_each_seed_then_the_spread(tmp_path):
    process, calls = run_seeds(tmp_path, '--seeds', '2', '--first', '3',
                               '--procs', '1', '--schedule', 'script')
    assert process.returncode == 0, process.stderr
    assert [c.split()[0] for c in calls] == ['train', 'sweep'] * 2
    assert calls[0].startswith('train lenet_mnist --seed 3 --schedule '
                               'script --out _models/seeds_script/seed3 '
                               '--resume')
    assert calls[1].startswith('sweep _models/seeds_script/seed3 --out '
                               'results_compare/seeds_script/seed3')
    assert '--seed 4' in calls[2]
    assert 'LeNet after phase 2' in process.stdout
    assert (tmp_path / 'results_compare' / 'seeds_script' /
            'spread.json').is_file()
    # run again: training resumes (skips), finished sweeps are skipped
    process, calls = run_seeds(tmp_path, '--seeds', '2', '--first', '3',
                               '--procs', '1', '--schedule', 'script')
    assert process.returncode == 0, process.stderr
    assert [c.split()[0] for c in calls[4:]] == ['train', 'train']
    assert process.stdout.count('skipping the sweep') == 2


def test_run_seeds_quick_and_procs(tmp_path):
    process, calls = run_seeds(tmp_path, '--seeds', '1', '--quick',
                               '--procs', '1')
    assert process.returncode == 0, process.stderr
    assert '--epochs-main 1' in calls[0] and '--schedule notebook' in \
        calls[0] and 'seeds_quick/seed0' in calls[0]
    assert calls[1].endswith('--quick')


@pytest.mark.parametrize('args, message', [
    (['--seeds', '0'], '--seeds needs an integer in [1, 1000]'),
    (['--seeds', 'x'], '--seeds needs an integer'),
    (['--procs', '0'], '--procs needs an integer in [1, 64]'),
    (['--schedule', 'paper'], 'notebook or script'),
    (['--frob'], "unknown argument '--frob'"),
    (['--models'], '--models needs a value'),
])
def test_run_seeds_bad_options_are_one_line(tmp_path, args, message):
    process, calls = run_seeds(tmp_path, *args)
    assert process.returncode == 2 and calls == []
    assert process.stderr.count('\n') == 1 and message in process.stderr
