"""The reference recipe's two schedules (``--schedule notebook|script``):
the epochs and batch size each gives each network, the default, the record
in a run's settings, and get_results.sh's passthrough.

The numbers are read from the reference's files (kunglab/branchynet):
``experiment_*.py`` (TRAIN_BATCHSIZE, TRAIN_NUM_EPOCHS per phase) and the
``experiment_*.ipynb`` notebooks as of 5c80c3a.
"""
import os
import sys

import pytest

from branchynet.errors import BranchyNetError
from branchynet.experiments import DEFAULT_SCHEDULE, SCHEDULES
from branchynet.training.resume import check_resume_settings
from branchynet.training.settings import (TrainSettings, resolve_settings,
                                          saved_form, with_schedule)

# get_results.sh's runner lives with the command-line tests (importable
# there when the whole suite is collected; this file may run alone)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, 'cli'))
from test_get_results import get_results  # noqa: E402

# (batch size, phase-1 epochs, phase-2 epochs) per network and schedule
REFERENCE = {
    ('lenet_mnist', 'script'): (512, 50, 100),
    ('lenet_mnist', 'notebook'): (512, 100, 100),
    ('alexnet_cifar10', 'script'): (512, 50, 100),
    ('alexnet_cifar10', 'notebook'): (512, 50, 100),
    ('resnet_cifar10', 'script'): (64, 100, 100),
    ('resnet_cifar10', 'notebook'): (128, 100, 100),
}


@pytest.mark.parametrize('network, schedule', sorted(REFERENCE))
def test_each_schedule_gives_the_reference_numbers(network, schedule):
    s = resolve_settings(network, schedule=schedule)
    assert (s.batch_size, s.epochs_main, s.epochs_joint) == \
        REFERENCE[network, schedule]
    assert s.schedule == schedule and s.recipe == 'reference'


def test_the_notebooks_are_the_default():
    assert DEFAULT_SCHEDULE == 'notebook' and set(SCHEDULES) == {
        'notebook', 'script'}
    for network in ('lenet_mnist', 'alexnet_cifar10', 'resnet_cifar10'):
        s = resolve_settings(network)
        assert s.schedule == 'notebook'
        assert (s.batch_size, s.epochs_main, s.epochs_joint) == \
            REFERENCE[network, 'notebook']


def test_explicit_values_still_win_over_the_schedule():
    s = resolve_settings('lenet_mnist', schedule='script', epochs_main=3,
                         batch_size=64)
    assert (s.batch_size, s.epochs_main, s.epochs_joint) == (64, 3, 100)
    assert s.schedule == 'script'


def test_a_bad_schedule_and_a_schedule_for_modern_are_refused():
    with pytest.raises(BranchyNetError, match='schedule must be one of'):
        resolve_settings('lenet_mnist', schedule='paper')
    with pytest.raises(BranchyNetError, match='reference recipe'):
        resolve_settings('alexnet_cifar10', recipe='modern',
                         schedule='script')
    assert resolve_settings('alexnet_cifar10', recipe='modern').schedule \
        is None


def test_the_schedule_is_saved_and_read_back():
    s = resolve_settings('resnet_cifar10', schedule='script')
    saved = saved_form(s)
    assert saved['schedule'] == 'script'
    assert TrainSettings.from_saved(saved).schedule == 'script'


def test_settings_saved_before_the_choice_read_as_the_scripts():
    old = saved_form(resolve_settings('lenet_mnist', schedule='script'))
    del old['schedule']
    assert with_schedule(old)['schedule'] == 'script'
    assert TrainSettings.from_saved(old).schedule == 'script'
    modern = saved_form(resolve_settings('alexnet_cifar10', recipe='modern'))
    del modern['schedule']
    assert TrainSettings.from_saved(modern).schedule is None


def test_resume_refuses_a_silent_change_of_schedule():
    saved = saved_form(resolve_settings('alexnet_cifar10', schedule='script'))
    asked = saved_form(resolve_settings('alexnet_cifar10'))
    # AlexNet's numbers are the same in both; the name alone is refused
    with pytest.raises(BranchyNetError, match="schedule 'script'"):
        check_resume_settings(saved, asked)
    check_resume_settings(saved, asked, allow_changes=True)
    check_resume_settings(asked, asked)


def test_get_results_passes_the_schedule_to_train(tmp_path):
    process, calls = get_results(tmp_path, '--quick', '--only',
                                 'lenet_mnist', '--schedule', 'script')
    assert process.returncode == 0, process.stderr
    train = [c for c in calls if c.startswith('train ')]
    assert len(train) == 1 and '--schedule script' in train[0]
    process, calls = get_results(tmp_path, '--quick', '--only',
                                 'lenet_mnist')
    train = [c for c in calls if c.startswith('train ')]
    assert '--schedule' not in train[-1]     # train's own default


def test_get_results_refuses_a_bad_schedule_in_one_line(tmp_path):
    process, calls = get_results(tmp_path, '--schedule', 'paper')
    assert process.returncode == 2 and calls == []
    assert process.stderr.count('\n') == 1 and 'notebook or script' in \
        process.stderr


def test_a_run_saved_before_the_choice_resumes_where_nothing_differs():
    # AlexNet: the two schedules are one, so the old run goes on as it was
    old = saved_form(resolve_settings('alexnet_cifar10', schedule='script'))
    del old['schedule']
    asked = saved_form(resolve_settings('alexnet_cifar10'))
    check_resume_settings(with_schedule(old, asked), asked)
    # LeNet: 50 phase-1 epochs are the scripts', not the notebooks' 100
    old = saved_form(resolve_settings('lenet_mnist', schedule='script'))
    del old['schedule']
    asked = saved_form(resolve_settings('lenet_mnist'))
    with pytest.raises(BranchyNetError, match="schedule 'script'"):
        check_resume_settings(with_schedule(old, asked), asked)
    # explicit epochs and batch (get_results.sh --quick) override either
    quick = dict(epochs_main=2, epochs_joint=2, batch_size=64)
    old = saved_form(resolve_settings('lenet_mnist', schedule='script',
                                      **quick))
    del old['schedule']
    asked = saved_form(resolve_settings('lenet_mnist', **quick))
    check_resume_settings(with_schedule(old, asked), asked)


def _strip_schedule(path):
    import json
    with open(path) as f:
        settings = json.load(f)
    holder = settings.get('settings', settings)     # a model's JSON or not
    del holder['schedule']
    with open(path, 'w') as f:
        json.dump(settings, f)


def test_a_folder_from_before_schedules_resumes_with_the_asked_name(
        tmp_path, tiny_mnist, monkeypatch, data_root, capsys):
    """A real folder whose settings.json (and model JSONs) hold no
    ``schedule``, as written before there was a choice: resumed with the
    same batch size and epochs it goes on, nothing reported as changed, and
    the settings it records then name the asked schedule; asked for other
    epochs it is refused, and read as the scripts' schedule."""
    import json
    from branchynet.training.trainer import train_experiment
    data = tmp_path / 'data'
    _, checksums = tiny_mnist(data / 'mnist', 64, 16)
    monkeypatch.setattr('branchynet.data.mnist.MNIST_SHA256', checksums)
    out = tmp_path / 'run'
    quick = dict(epochs_main=1, epochs_joint=1, batch_size=8, val_size=8,
                 progress=False, data_dir=str(data))
    train_experiment('lenet_mnist', str(out), **quick)
    assert json.loads((out / 'settings.json').read_text())['schedule'] == \
        DEFAULT_SCHEDULE
    for name in ('settings.json', 'baseline.json', 'branchynet.json',
                 'baseline_after_joint.json'):
        _strip_schedule(out / name)
    # phase 2 to be done again: the resume trains and records its settings
    for name in ('branchynet', 'baseline_after_joint'):
        (out / (name + '.json')).unlink()
    capsys.readouterr()
    train_experiment('lenet_mnist', str(out), resume=True, **quick)
    said = capsys.readouterr().out
    assert 'phase 1: %s' % (out / 'baseline') in said
    assert 'exists, skipping\n' in said and 'trained with' not in said
    assert json.loads((out / 'settings.json').read_text())['schedule'] == \
        DEFAULT_SCHEDULE
    assert json.loads((out / 'branchynet.json').read_text())['settings'][
        'schedule'] == DEFAULT_SCHEDULE
    # other epochs: the old run's numbers were its own, read as 'script'
    _strip_schedule(out / 'settings.json')
    with pytest.raises(BranchyNetError) as e:
        train_experiment('lenet_mnist', str(out), resume=True,
                         **dict(quick, epochs_joint=2))
    assert "schedule 'script' (asked 'notebook')" in str(e.value)
    assert "epochs_joint 1 (asked 2)" in str(e.value)
    # and the refusal wrote nothing
    assert 'schedule' not in json.loads((out / 'settings.json').read_text())
