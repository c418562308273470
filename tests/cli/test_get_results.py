"""get_results.sh's stages and options, with a stand-in ``branchynet`` on
PATH that records its calls (the real stages run in the container smoke
test, .ci/container_smoke.sh, and in the README's runs)."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
#: bash by its path: a case may run the script with a PATH that lacks it
BASH = shutil.which('bash') or '/bin/bash'


#: the image's Python beside its ``branchynet``: this one, which lists the
#: experiments from the checkout's package
PYTHON = '#!/bin/sh\nexec "%s" "$@"\n' % sys.executable


def get_results(tmp_path, *args, python=PYTHON, path_rest=None):
    """Run get_results.sh as the container image does (its ``branchynet``
    and ``python`` from PATH, before ``path_rest``: this PATH unless
    given); returns the process and the stand-in's calls."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(parents=True, exist_ok=True)
    calls = tmp_path / 'calls'
    fake = bin_dir / 'branchynet'
    fake.write_text('#!/bin/sh\necho "$*" >> "%s"\n' % calls)
    fake.chmod(0o755)
    (bin_dir / 'python').write_text(python)
    (bin_dir / 'python').chmod(0o755)
    rest = os.environ['PATH'] if path_rest is None else path_rest
    env = dict(os.environ, PATH=os.pathsep.join(
                   p for p in (str(bin_dir), rest) if p),
               BRANCHYNET_IN_CONTAINER='1',
               BRANCHYNET_DATA_ROOT=str(tmp_path / 'data'))
    process = subprocess.run([BASH, str(REPO / 'get_results.sh')] +
                             list(args), cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    lines = calls.read_text().splitlines() if calls.exists() else []
    return process, lines


def test_the_data_comes_first_then_train_sweep_report(tmp_path):
    process, calls = get_results(tmp_path, '--quick', '--only',
                                 'lenet_mnist')
    assert process.returncode == 0, process.stderr
    assert calls[0] == 'data mnist'
    assert calls[1].startswith('train lenet_mnist --out _models/quick/'
                               'lenet_mnist --resume')
    assert '--allow-changed-settings' not in calls[1]
    assert calls[-1].startswith('report')


def test_every_experiment_of_the_package_runs_on_its_data_set(tmp_path):
    process, calls = get_results(tmp_path, '--quick')
    assert process.returncode == 0, process.stderr
    # the paper's three first, each after its data set (an experiment added
    # to the package comes after them and needs no edit here)
    assert calls[:3] == ['data mnist', 'data pcifar10', 'data pcifar10']
    assert [c.split()[1] for c in calls if c.startswith('train ')][:3] == [
        'lenet_mnist', 'alexnet_cifar10', 'resnet_cifar10']
    process, calls = get_results(tmp_path / 'r', '--quick', '--only',
                                 'resnet_cifar10')
    assert process.returncode == 0, process.stderr
    assert calls[0] == 'data pcifar10'
    assert calls[1].startswith('train resnet_cifar10 ')


#: a Python whose package has a fourth experiment
WITH_A_FOURTH = """#!%s
import dataclasses, sys
from branchynet import experiments
experiments.EXPERIMENTS['toy_cifar10'] = dataclasses.replace(
    experiments.EXPERIMENTS['lenet_mnist'], name='toy_cifar10',
    dataset='pcifar10')
assert sys.argv[1] == '-c'
exec(sys.argv[2])
""" % sys.executable


def test_a_new_experiment_needs_nothing_in_the_script(tmp_path):
    process, calls = get_results(tmp_path, '--quick', python=WITH_A_FOURTH)
    assert process.returncode == 0, process.stderr
    assert calls[3] == 'data pcifar10'
    assert [c.split()[1] for c in calls if c.startswith('train ')][-1] == \
        'toy_cifar10'
    process, calls = get_results(tmp_path / 'r', '--only', 'toy_cifar10',
                                 python=WITH_A_FOURTH)
    assert process.returncode == 0, process.stderr
    assert calls[0] == 'data pcifar10'
    process, calls = get_results(tmp_path / 's', '--only', 'vgg',
                                 python=WITH_A_FOURTH)
    assert process.returncode == 2 and calls == []
    from branchynet.experiments import EXPERIMENTS
    assert process.stderr == (
        "get_results.sh: error: unknown network 'vgg' (choose from: "
        "%s toy_cifar10)\n" % ' '.join(EXPERIMENTS))


#: the same, with the fourth kept out of the full job
WITH_A_FOURTH_ONLY = WITH_A_FOURTH.replace(
    "dataset='pcifar10')", "dataset='pcifar10', in_full_job=False)")


def test_an_experiment_can_stay_out_of_the_full_job(tmp_path):
    assert WITH_A_FOURTH_ONLY != WITH_A_FOURTH
    process, calls = get_results(tmp_path, '--quick',
                                 python=WITH_A_FOURTH_ONLY)
    assert process.returncode == 0, process.stderr
    assert [c.split()[1] for c in calls if c.startswith('train ')] == [
        'lenet_mnist', 'alexnet_cifar10', 'resnet_cifar10']
    assert not any('toy_cifar10' in c for c in calls)
    process, calls = get_results(tmp_path / 'r', '--quick', '--only',
                                 'toy_cifar10', python=WITH_A_FOURTH_ONLY)
    assert process.returncode == 0, process.stderr
    assert calls[0] == 'data pcifar10'
    assert calls[1].startswith('train toy_cifar10 ')


def test_a_python_without_the_package_stops_the_script(tmp_path):
    process, calls = get_results(tmp_path, '--quick',
                                 python='#!/bin/sh\nexit 3\n')
    assert process.returncode == 3 and calls == []
    assert process.stderr.count('\n') == 1
    assert 'setup failed for the experiments (exit 3)' in process.stderr


def test_allow_changed_settings_reaches_train(tmp_path):
    process, calls = get_results(tmp_path, '--quick', '--only',
                                 'lenet_mnist', '--allow-changed-settings')
    assert process.returncode == 0, process.stderr
    train = [c for c in calls if c.startswith('train ')]
    assert len(train) == 1 and '--allow-changed-settings' in train[0]


@pytest.mark.parametrize('args, message', [
    (['--frobnicate'], "unknown argument '--frobnicate'"),
    (['--procs', '0'], '--procs needs a positive integer'),
    (['--procs', '99999999999999999999'], 'up to 1024'),
    (['--procs', '1025'], 'up to 1024'),
    (['--procs=00000'], 'up to 1024'),
    (['--procs', '-3'], '--procs needs a positive integer'),
    (['--only', 'vgg'], "unknown network 'vgg'"),
    (['--only'], '--only needs a value'),
    (['--hostfile', 'hosts'], '--hostfile needs --procs N'),
])
def test_bad_options_are_one_line_before_any_work(tmp_path, args, message):
    process, calls = get_results(tmp_path, *args)
    assert process.returncode == 2
    assert process.stderr.count('\n') == 1 and message in process.stderr
    assert calls == []


def stand_in_mpiexec(tmp_path, version='mpiexec (Open MPI) 5.0.7'):
    """A fake ``mpiexec`` in the folder get_results() puts first on PATH:
    it prints ``version`` for --version and records its other calls."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(parents=True, exist_ok=True)
    fake = bin_dir / 'mpiexec'
    fake.write_text('#!/bin/sh\n[ "$1" = --version ] && { echo "%s"; '
                    'exit 0; }\necho "mpiexec $*" >> "%s"\n'
                    % (version, tmp_path / 'calls'))
    fake.chmod(0o755)


def test_procs_with_a_leading_zero_still_checks_the_network(tmp_path):
    """``08`` is 8, not an octal error, and the network is still checked
    before any work. Issue 31: with Open MPI absent this case said
    "--procs needs mpiexec" first (a true line, but not the one this case
    tests), so a stand-in mpiexec makes it hold on every system; the line
    without mpiexec has its own test below."""
    stand_in_mpiexec(tmp_path)
    process, calls = get_results(tmp_path, '--procs', '08', '--only', 'vgg')
    assert process.returncode == 2 and calls == []
    assert process.stderr.count('\n') == 1
    assert "unknown network 'vgg'" in process.stderr


def test_procs_without_mpiexec_is_one_line_before_any_work(tmp_path):
    """No mpiexec on PATH (a minimal system without Open MPI; PATH holds
    only the stand-in branchynet and python): one line before the set-up,
    the data or training, whether or not this machine has Open MPI."""
    process, calls = get_results(tmp_path, '--procs', '2', '--only',
                                 'lenet_mnist', path_rest='')
    assert process.returncode == 2 and calls == []
    assert process.stderr == (
        'get_results.sh: error: --procs needs mpiexec (Open MPI: apt-get '
        'install openmpi-bin) (see ./get_results.sh --help)\n')


@pytest.mark.parametrize('version, prefix', [
    ('mpiexec (OpenRTE) 4.1.4', 'mpiexec --quiet -n 2 '),
    ('mpiexec (Open MPI) 5.0.7', 'mpiexec -n 2 '),
    ('HYDRA build details:', 'mpiexec -n 2 ')])
def test_procs_runs_training_under_a_quiet_mpiexec(tmp_path, version, prefix):
    """--quiet where the launcher takes it (Open MPI 4): a mistake on the
    ranks stays their one line, without Open MPI's banner after it; Open MPI
    5 and MPICH refuse the option."""
    stand_in_mpiexec(tmp_path, version)
    process, calls = get_results(tmp_path, '--quick', '--only',
                                 'lenet_mnist', '--procs', '2')
    assert process.returncode == 0, process.stderr
    launch, = [c for c in calls if c.startswith('mpiexec')]
    assert launch.startswith(prefix)
    assert ' train lenet_mnist ' in launch
