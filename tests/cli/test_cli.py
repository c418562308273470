"""The command line: user mistakes end with one line and exit status 2."""
import subprocess
import sys

import pytest

from branchynet.cli import main
from branchynet.networks import b_lenet
from branchynet.networks.serialization import save_model
from helpers import run_cli


def one_error_line(capsys):
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith('branchynet')
    assert ': error: ' in lines[0]
    return lines[0]


@pytest.fixture
def saved_branchynet(tmp_path):
    prefix = str(tmp_path / 'branchynet')
    settings = {'experiment': 'lenet_mnist', 'epochs_main': 1,
                'epochs_joint': 1, 'batch_size': 8, 'val_size': 0}
    save_model(prefix, b_lenet(), {'network': 'b_lenet',
                                   'role': 'branchynet',
                                   'settings': settings})
    return prefix


def test_unknown_network(capsys, tmp_path):
    assert run_cli(['train', 'vgg_mnist', '--out', str(tmp_path)]) == 2
    line = one_error_line(capsys)
    assert 'vgg_mnist' in line and 'lenet_mnist' in line


@pytest.mark.parametrize('thresholds', ['0.1,0.2', '0.1,0.2,0.3'])
def test_wrong_number_of_thresholds(capsys, saved_branchynet, thresholds):
    assert run_cli(['evaluate', saved_branchynet, '-t', thresholds]) == 2
    line = one_error_line(capsys)
    assert 'threshold' in line and '2 exits' in line


@pytest.mark.parametrize('thresholds', ['-0.1', 'nan', '0.1,-1', 'abc', ''])
def test_bad_threshold_values(capsys, saved_branchynet, thresholds):
    assert run_cli(['evaluate', saved_branchynet,
                    '--thresholds=' + thresholds]) == 2
    assert 'threshold' in one_error_line(capsys)


def test_thresholds_for_a_baseline(capsys, tmp_path):
    prefix = str(tmp_path / 'baseline')
    save_model(prefix, b_lenet(), {'network': 'b_lenet', 'role': 'baseline',
                                   'settings': {}})
    assert run_cli(['evaluate', prefix, '-t', '0.1']) == 2
    assert 'baseline' in one_error_line(capsys)


@pytest.mark.parametrize('option', ['--epochs-main', '--epochs-joint',
                                    '--batch-size'])
@pytest.mark.parametrize('value', ['0', '-3', 'x', '1.5'])
def test_non_positive_epochs_and_batch_size(capsys, tmp_path, option, value):
    assert run_cli(['train', 'lenet_mnist', '--out', str(tmp_path),
                    option + '=' + value]) == 2
    assert option in one_error_line(capsys)
    assert not list(tmp_path.iterdir())       # nothing was started


def test_evaluate_batch_size_must_be_positive(capsys, saved_branchynet):
    assert run_cli(['evaluate', saved_branchynet, '--batch-size', '0']) == 2
    assert '--batch-size' in one_error_line(capsys)


def test_missing_model_file(capsys, tmp_path):
    missing = str(tmp_path / 'nothing')
    assert run_cli(['evaluate', missing]) == 2
    line = one_error_line(capsys)
    assert missing in line and 'does not exist' in line


def test_missing_data_is_one_error_line(capsys, saved_branchynet, tmp_path,
                                        monkeypatch):
    monkeypatch.setenv('BRANCHYNET_DATA_ROOT', str(tmp_path / 'root'))
    offline = (tmp_path / 'offline').as_uri() + '/'
    monkeypatch.setenv('BRANCHYNET_MNIST_MIRRORS', offline)
    assert run_cli(['evaluate', saved_branchynet, '-t', '0.1',
                    '--data-dir', str(tmp_path / 'mnist')]) == 2
    # chainer prints a "Downloading from ..." line per try; one error line
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if ': error: ' in line]
    assert len(errors) == 1 and errors[0] == lines[-1]
    assert str(tmp_path / 'mnist') in errors[0] and 'MNIST' in errors[0]


def test_no_command(capsys):
    assert run_cli([]) == 2
    one_error_line(capsys)


def test_module_help_exits_0():
    result = subprocess.run([sys.executable, '-m', 'branchynet', '--help'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('usage: branchynet')
    for command in ('train', 'evaluate', 'sweep', 'report'):
        assert command in result.stdout



def test_every_registered_command_is_listed_in_registry_order(capsys):
    from branchynet.cli import build_parser, commands
    names = [command.NAME for command in commands.COMMANDS]
    assert len(set(names)) == len(names)
    for command in commands.COMMANDS:
        assert isinstance(command.NAME, str), command
        assert callable(command.add_parser) and callable(command.run)
    # the order the subcommands have always had in --help
    assert names[:7] == ['train', 'evaluate', 'sweep', 'compare', 'export',
                         'data', 'report']
    assert run_cli(['--help']) == 0
    out = capsys.readouterr().out
    assert '{%s}' % ','.join(names) in out
    listed = [line.split()[0] for line in out.splitlines()
              if line.startswith('    ') and line.split()[0] in names]
    assert listed == names
    parser = build_parser()
    for command in commands.COMMANDS:
        # each command's parser runs that command: parse its own --help
        assert run_cli([command.NAME, '--help']) == 0
        assert capsys.readouterr().out.startswith(
            'usage: branchynet %s ' % command.NAME)
        action = next(a for a in parser._subparsers._group_actions
                      if a.dest == 'command')
        assert action.choices[command.NAME].get_default('func') is \
            command.run


@pytest.mark.parametrize('device', ['@tpu:0', 'gpu'])
def test_bad_device(capsys, saved_branchynet, device):
    assert run_cli(['evaluate', saved_branchynet, '--device', device]) == 2
    assert 'bad device' in one_error_line(capsys)


@pytest.mark.parametrize('extra', [
    ['--rule', 'budget'], ['--rule', 'budget', '--budget-ms', 'nan'],
    ['--rule', 'budget', '--budget-ms', '-1'], ['--epsilon', 'nan'],
    ['--epsilon', '2']])
def test_sweep_rule_settings_fail_before_any_work(tmp_path, capsys,
                                                  monkeypatch, extra):
    def no_work(*args, **kwargs):
        raise AssertionError('the measurement started')
    monkeypatch.setattr('branchynet.measurement.pipeline.load_models', no_work)
    # refused while parsing (a range) or by the sweep's own check
    assert run_cli(['sweep', str(tmp_path)] + extra) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1
    assert ('--budget-ms' if 'budget' in extra else '--epsilon') in err


@pytest.mark.parametrize('rank, status', [('0', 2), ('1', 0)])
@pytest.mark.parametrize('args', [
    ['--frobnicate'],                            # argparse's own exit
    ['--data-dir', '{a_file}'],                  # BranchyNetError, before MPI
])
def test_under_a_launcher_rank_0_alone_speaks_and_carries_the_status(
        capsys, monkeypatch, tmp_path, rank, status, args):
    # the launcher ends a job at its first non-zero exit; a silent rank
    # exits 0 so that rank 0 lives to print its line (Open MPI 5)
    (tmp_path / 'a_file').write_text('mine')
    monkeypatch.setenv('OMPI_COMM_WORLD_RANK', rank)
    args = [a.format(a_file=tmp_path / 'a_file') for a in args]
    try:
        got = main(['train', 'lenet_mnist', '--out', str(tmp_path / 'o')]
                   + args)
    except SystemExit as e:
        got = e.code
    assert got == status
    err = capsys.readouterr().err
    assert (err.count('branchynet: error: ') == 1) == (rank == '0'), err
