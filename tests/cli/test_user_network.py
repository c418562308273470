"""A network of your own through every command: ``train --network``, then
``evaluate``, ``sweep``, ``compare``, ``export``, ``report`` and resume
with no change to the package; ``--from-trained --freeze-trunk``."""
import json

import numpy
import pytest

from helpers import TINY_NETWORK as TINY, run_cli, tiny_data, write_network as write
from test_cli import one_error_line

pytestmark = pytest.mark.usefixtures('user_networks')

TRAIN = ['--epochs-main', '2', '--epochs-joint', '2', '--batch-size', '16',
         '--val-size', '32', '--no-progress']


@pytest.fixture
def trained(tmp_path, capsys):
    spec = write(tmp_path / 'net.py')
    data = tiny_data(tmp_path / 'd.npz')
    out = tmp_path / 'model'
    assert run_cli(['train', '--network', spec, '--dataset', data,
                    '--out', str(out)] + TRAIN) == 0
    capsys.readouterr()
    forget_user_networks()
    return spec, data, out


def forget_user_networks():
    """What a new process knows: no user network (each command of the
    tests runs in this one)."""
    from branchynet.networks.registry import REGISTRY
    for name in [n for n in REGISTRY if n.startswith('user-')]:
        REGISTRY.unregister(name)


def weights(path):
    with numpy.load(str(path)) as npz:
        return {k: npz[k] for k in npz.files}


def test_every_command_works_on_it(trained, tmp_path, capsys):
    spec, data, out = trained
    info = json.loads((out / 'branchynet.json').read_text())
    assert info['network'] == 'user-Tiny' and info['n_exits'] == 2
    assert info['user_network']['sha256'] == json.loads(
        (out / 'network.json').read_text())['sha256']
    results, figs = tmp_path / 'results', tmp_path / 'figs'
    for runtime in ('chainer', 'onnxruntime'):
        assert run_cli(['sweep', str(out), '--network', spec, '--quick',
                        '--runtime', runtime,
                        '--out', str(results / runtime)]) == 0
        assert run_cli(['evaluate', str(out / 'branchynet'), '-t', '0.5',
                        '--runtime', runtime, '--network', spec]) == 0
    assert run_cli(['evaluate', str(out / 'branchynet'), '-t', '0.5',
                    '--ood', 'inverted', '--trust-saved-network']) == 0
    assert run_cli(['export', str(out), '--trust-saved-network']) == 0
    assert (out / 'onnx' / 'branchynet_segment2.onnx').is_file()
    # no network code runs in compare and report
    forget_user_networks()
    assert run_cli(['compare', str(out), '--results',
                    str(results / 'chainer'), '--figs', str(figs)]) == 0
    capsys.readouterr()
    forget_user_networks()
    assert run_cli(['report', '--results', str(results),
                    '--figs', str(figs)]) == 0
    table = capsys.readouterr().out
    assert '| B-Tiny |' in table and '| Tiny |' in table
    assert '| ONNX Runtime | B-Tiny |' in table
    assert (figs / 'fig3_chainer.png').is_file()


def test_resume_and_a_second_run_need_the_same_file(trained, capsys):
    spec, data, out = trained
    args = ['train', '--network', spec, '--dataset', data, '--out',
            str(out)] + TRAIN
    assert run_cli(args + ['--resume']) == 0
    assert 'exists, skipping' in capsys.readouterr().out
    path = spec.rpartition(':')[0]
    with open(path, 'a') as f:
        f.write('# edited\n')
    forget_user_networks()
    assert run_cli(args + ['--resume']) == 2
    line = one_error_line(capsys)
    assert 'differs from the one' in line and 'sha256' in line


def test_without_its_code_a_command_says_how_to_give_it(trained, capsys):
    spec, data, out = trained
    assert run_cli(['evaluate', str(out / 'branchynet')]) == 2
    line = one_error_line(capsys)
    assert '--network %s' % spec in line and '--trust-saved-network' in line


def test_weights_of_another_shape_are_one_line(trained, tmp_path, capsys):
    spec, data, out = trained
    wide = write(tmp_path / 'wide.py', TINY.replace('(4, 8, 3)', '(4, 9, 3)')
                 .replace("'Tiny'", "'Wide'"))
    other = tmp_path / 'other'
    assert run_cli(['train', '--network', wide, '--dataset', data,
                    '--out', str(other)] + TRAIN) == 0
    capsys.readouterr()
    (other / 'branchynet.npz').write_bytes(
        (out / 'branchynet.npz').read_bytes())
    forget_user_networks()
    assert run_cli(['evaluate', str(other / 'branchynet'),
                    '--network', wide]) == 2
    assert 'cannot load' in one_error_line(capsys)


def test_train_needs_a_network_and_a_data_set(tmp_path, capsys):
    spec = write(tmp_path / 'net.py')
    assert run_cli(['train', '--out', str(tmp_path / 'o')]) == 2
    assert 'takes a network' in one_error_line(capsys)
    assert run_cli(['train', '--network', spec]) == 2
    assert '--network needs --dataset' in one_error_line(capsys)


def test_exits_added_to_a_trained_network_leave_it_bit_for_bit(
        trained, tmp_path, capsys):
    spec, data, out = trained
    added = tmp_path / 'added'
    assert run_cli(['train', '--network', spec, '--dataset', data, '--out',
                    str(added), '--from-trained', str(out),
                    '--freeze-trunk'] + TRAIN) == 0
    source = weights(out / 'baseline.npz')
    initial = weights(added / 'initial.npz')
    for role in ('baseline', 'branchynet', 'baseline_after_joint'):
        got = weights(added / (role + '.npz'))
        kept = [k for k in source if k.startswith(('stages/', 'exits/1/'))]
        assert kept and all(numpy.array_equal(got[k], source[k])
                            for k in kept), role
    heads = [k for k in initial if k.startswith('exits/0/')]
    trained_heads = weights(added / 'branchynet.npz')
    assert heads and not any(numpy.array_equal(trained_heads[k], initial[k])
                             for k in heads)
    info = json.loads((added / 'baseline.json').read_text())
    assert info['from_trained']['path'] == str(out / 'baseline.npz')
    assert info['settings']['freeze_trunk'] is True
    # the same run without freezing moves the trunk
    moved = tmp_path / 'moved'
    assert run_cli(['train', '--network', spec, '--dataset', data, '--out',
                    str(moved), '--from-trained', str(out)] + TRAIN) == 0
    got = weights(moved / 'branchynet.npz')
    assert not numpy.array_equal(got['stages/0/0/W'],
                                 source['stages/0/0/W'])


@pytest.mark.parametrize('extra, expected', [
    (['--freeze-trunk'], '--freeze-trunk needs --from-trained'),
    (['--from-trained', 'nowhere'], 'holds no trained model'),
    (['--from-trained', 'MODEL', '--phase2', 'reference'],
     'phase 2 starts warm'),
])
def test_from_trained_mistakes_are_one_line(trained, capsys, extra,
                                            expected):
    spec, data, out = trained
    extra = [str(out) if e == 'MODEL' else e for e in extra]
    assert run_cli(['train', '--network', spec, '--dataset', data, '--out',
                    str(out.parent / 'x')] + TRAIN + extra) == 2
    assert expected in one_error_line(capsys)


def test_a_trained_network_of_other_shapes_is_one_line(trained, tmp_path,
                                                       capsys):
    spec, data, out = trained
    wide = write(tmp_path / 'wide.py', TINY.replace('(4, 8, 3)', '(4, 9, 3)')
                 .replace("'Tiny'", "'Wide'"))
    assert run_cli(['train', '--network', wide, '--dataset', data, '--out',
                    str(tmp_path / 'x'), '--from-trained', str(out),
                    '--freeze-trunk'] + TRAIN) == 2
    line = one_error_line(capsys)
    assert '--from-trained' in line and 'stages/1/0/' in line


def test_network_names_a_built_in_experiment_too(tmp_path, capsys):
    data = tiny_data(tmp_path / 'd.npz')
    assert run_cli(['train', '--network', 'lenet_mnist', '--dataset', data,
                    '--out', str(tmp_path / 'o')] + TRAIN) == 2
    line = one_error_line(capsys)
    assert 'should be (N, 1, 28, 28) images' in line


def test_a_model_outlives_the_network_it_was_trained_from(trained, tmp_path):
    spec, data, out = trained
    added = tmp_path / 'added'
    assert run_cli(['train', '--network', spec, '--dataset', data, '--out',
                    str(added), '--from-trained', str(out),
                    '--freeze-trunk'] + TRAIN) == 0
    (out / 'baseline.npz').unlink()
    assert run_cli(['evaluate', str(added / 'branchynet'), '-t', '0.5',
                    '--network', spec]) == 0


def test_a_layer_the_pipeline_does_not_know_stops_before_training(
        tmp_path, capsys):
    spec = write(tmp_path / 'net.py', TINY.replace(
        'L.Convolution2D(c, 4, 3, pad=1), relu',
        'L.Convolution2D(c, 4, 3, pad=1), lambda h: chainer.functions.sin(h)'))
    out = tmp_path / 'o'
    assert run_cli(['train', '--network', spec, '--dataset',
                    tiny_data(tmp_path / 'd.npz'), '--out', str(out)]
                   + TRAIN) == 2
    assert 'stages/0/1' in one_error_line(capsys)
    assert not out.exists()
