"""A network of your own, against hostile and unlucky input (issue 31).

Each case runs the real command line in-process (``branchynet.cli.main``)
and checks what a user sees: exit status 2 and one line, no traceback; code
from a model folder runs only when everything recorded agrees, and a refused
run writes nothing.
"""
import hashlib
import json
import os
import shlex

import numpy
import pytest

from branchynet.networks.user import MAX_SIDE
from helpers import (TINY_NETWORK as TINY, run_cli, save_untrained_lenet,
                     tiny_data, write_network as write)
from test_cli import one_error_line
# the tiny training settings and the folder trained with them, shared
from test_user_network import TRAIN, forget_user_networks, trained  # noqa: F401

pytestmark = pytest.mark.usefixtures('user_networks')

ROLES = ('baseline', 'branchynet', 'baseline_after_joint')


def marking(marker, text=TINY):
    """A network file that leaves ``marker`` when it runs."""
    return 'import pathlib\npathlib.Path(%r).write_text("ran")\n%s' % (
        str(marker), text)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit_json(path, **fields):
    info = json.loads(path.read_text())
    info.update(fields)
    path.write_text(json.dumps(info))


# ------------------------------------------------- item 1: settings.json

def test_a_skipped_rerun_leaves_settings_json_as_it_was(trained, capsys):
    spec, data, out = trained
    args = ['train', '--network', spec, '--dataset', data, '--out',
            str(out)] + TRAIN
    before = (out / 'settings.json').read_bytes()
    assert run_cli(args + ['--seed', '7', '--phase2', 'warm']) == 0
    assert 'exists, skipping' in capsys.readouterr().out
    assert (out / 'settings.json').read_bytes() == before
    # --resume then follows the settings the models were trained with
    assert run_cli(args + ['--resume']) == 0
    capsys.readouterr()
    assert run_cli(args + ['--resume', '--seed', '7', '--phase2',
                           'warm']) == 2
    assert 'seed' in one_error_line(capsys)
    assert (out / 'settings.json').read_bytes() == before


# ------------------------------- item 2: nothing runs before all agrees

def test_a_copy_whose_record_was_rewritten_to_match_never_runs(
        trained, tmp_path, capsys):
    spec, data, out = trained
    marker = tmp_path / 'ran'
    (out / 'network.py').write_text(marking(marker))
    edit_json(out / 'network.json', sha256=sha256(out / 'network.py'))
    for args in (['evaluate', str(out / 'branchynet'), '-t', '0.5'],
                 ['sweep', str(out), '--quick', '--out',
                  str(tmp_path / 'r')],
                 ['export', str(out)]):
        forget_user_networks()
        assert run_cli(args + ['--trust-saved-network']) == 2
        line = one_error_line(capsys)
        assert 'contradicts itself' in line and 'nothing was run' in line
        assert not marker.exists()


def test_a_copy_that_is_a_symbolic_link_never_runs(trained, tmp_path,
                                                   capsys):
    spec, data, out = trained
    # the very file it was trained with, outside the folder
    (out / 'network.py').unlink()
    os.symlink(spec.rpartition(':')[0], str(out / 'network.py'))
    assert run_cli(['evaluate', str(out / 'branchynet'), '-t', '0.5',
                    '--trust-saved-network']) == 2
    line = one_error_line(capsys)
    assert 'symbolic link' in line and 'nothing was run' in line


def test_a_changed_network_file_is_refused_before_it_runs(trained, tmp_path,
                                                          capsys):
    spec, data, out = trained
    marker = tmp_path / 'ran'
    path = tmp_path / 'net.py'
    path.write_text(marking(marker))
    assert run_cli(['evaluate', str(out / 'branchynet'), '-t', '0.5',
                    '--network', spec]) == 2
    line = one_error_line(capsys)
    assert 'differs from the one' in line and 'sha256' in line
    assert not marker.exists()


# ---------------------------------------------------- item 3: sys.exit

@pytest.mark.parametrize('text', [
    'import sys\nsys.exit(3)\n' + TINY,
    TINY.replace('    c = in_shape[0]', '    import sys; sys.exit(0)'),
])
def test_a_network_that_calls_sys_exit_is_one_line(tmp_path, capsys, text):
    spec = write(tmp_path / 'net.py', text)
    out = tmp_path / 'o'
    assert run_cli(['train', '--network', spec, '--dataset',
                    tiny_data(tmp_path / 'd.npz'), '--out', str(out)]
                   + TRAIN) == 2
    line = one_error_line(capsys)
    assert 'sys.exit' in line and str(tmp_path / 'net.py') in line
    assert not out.exists()


# ------------------------------------- item 4: tracebacks in training

def test_a_layer_that_fails_only_in_training_stops_before_it(tmp_path,
                                                             capsys):
    spec = write(tmp_path / 'net.py', 'import functools\n'
                 'import chainer.functions as F\n' + TINY.replace(
                     'chainer.Sequential(L.Linear(None, n_classes))',
                     'chainer.Sequential(functools.partial(F.dropout, '
                     'ratio=1.5), L.Linear(None, n_classes))'))
    out = tmp_path / 'o'
    assert run_cli(['train', '--network', spec, '--dataset',
                    tiny_data(tmp_path / 'd.npz'), '--out', str(out)]
                   + TRAIN) == 2
    line = one_error_line(capsys)
    assert 'training mode' in line and 'ratio' in line
    assert not out.exists()


def image_folder(root, n_classes, size=8):
    """``root/{train,test}/cNN/*.png``: ``n_classes`` classes of grey
    ``size`` x ``size`` images."""
    from PIL import Image
    rng = numpy.random.RandomState(0)
    for split, n in (('train', 3), ('test', 1)):
        for c in range(n_classes):
            folder = root / split / ('c%02d' % c)
            folder.mkdir(parents=True)
            for k in range(n):
                Image.fromarray(rng.randint(0, 255, (size, size)).astype(
                    numpy.uint8)).save(folder / ('%d.png' % k))
    return 'images:%s' % root


@pytest.mark.parametrize('dataset', ['npz', 'images'])
def test_a_network_with_fewer_outputs_than_classes_is_one_line(
        tmp_path, capsys, data_root, dataset):
    spec = write(tmp_path / 'net.py', TINY.replace(
        'L.Linear(None, n_classes)', 'L.Linear(None, 2)'))
    data = (tiny_data(tmp_path / 'd.npz') if dataset == 'npz'
            else image_folder(tmp_path / 'img', 12))
    out = tmp_path / 'o'
    assert run_cli(['train', '--network', spec, '--dataset', data, '--out',
                    str(out), '--batch-size', '4', '--val-size', '4',
                    '--epochs-main', '1', '--epochs-joint', '1',
                    '--no-progress']) == 2
    line = one_error_line(capsys)
    assert 'give 2 class scores' in line
    assert ('has %d classes' % (3 if dataset == 'npz' else 12)) in line
    assert not out.exists()


# ---------------------------------------------------- item 8: messages

def test_two_networks_differing_only_in_where_the_file_was_are_one(
        trained, tmp_path, capsys):
    spec, data, out = trained
    moved = tmp_path / 'moved'
    moved.mkdir()
    os.rename(spec.rpartition(':')[0], str(moved / 'net.py'))
    assert run_cli(['train', '--network', '%s:tiny' % (moved / 'net.py'),
                    '--dataset', data, '--out', str(out), '--resume']
                   + TRAIN) == 0
    assert 'exists, skipping' in capsys.readouterr().out


def test_without_network_json_the_two_ways_say_the_same(trained, capsys):
    spec, data, out = trained
    (out / 'network.json').unlink()
    lines = []
    for flag in ([], ['--trust-saved-network']):
        forget_user_networks()
        assert run_cli(['evaluate', str(out / 'branchynet'), '-t',
                        '0.5'] + flag) == 2
        lines.append(one_error_line(capsys))
    for line in lines:
        assert 'has no network.json' in line and 'built-in' not in line
        assert '--network %s' % spec in line
    assert lines[0] == lines[1]
    forget_user_networks()
    assert run_cli(['evaluate', str(out / 'branchynet'), '-t', '0.5',
                    '--network', spec]) == 0


def test_the_hint_quotes_a_path_with_spaces(tmp_path, capsys):
    folder = tmp_path / 'my nets'
    folder.mkdir()
    spec = write(folder / 'net.py')
    out = tmp_path / 'model'
    assert run_cli(['train', '--network', spec, '--dataset',
                    tiny_data(tmp_path / 'd.npz'), '--out', str(out)]
                   + TRAIN) == 0
    capsys.readouterr()
    forget_user_networks()
    assert run_cli(['evaluate', str(out / 'branchynet')]) == 2
    line = one_error_line(capsys)
    assert '--network %s' % shlex.quote(spec) in line


# ---------------------------------------- item 10: nothing on refusal

@pytest.mark.parametrize('case', ['shape', 'image size', 'batch'])
def test_a_refused_data_set_leaves_no_output_folder(tmp_path, capsys,
                                                    data_root, case):
    out = tmp_path / 'o' / 'deeper'
    if case == 'image size':            # 8x8 images for LeNet's 28x28
        data = image_folder(tmp_path / 'img', 3)
    else:
        data = tiny_data(tmp_path / 'd.npz')
    if case == 'batch':
        args = ['--network', write(tmp_path / 'net.py'), '--batch-size',
                '512', '--val-size', '32']
    else:
        args = ['lenet_mnist']
    assert run_cli(['train'] + args + ['--dataset', data, '--out', str(out),
                                       '--no-progress']) == 2
    one_error_line(capsys)
    assert not (tmp_path / 'o').exists()


# ------------------------------------ the "User network options" group

def test_network_options_on_a_built_in_model_are_refused(tmp_path, capsys):
    spec = write(tmp_path / 'net.py')
    save_untrained_lenet(tmp_path / 'm', roles=('branchynet', 'baseline'))
    for args in (['evaluate', str(tmp_path / 'm' / 'branchynet'), '-t',
                  '0.5'],
                 ['export', str(tmp_path / 'm'), '--out',
                  str(tmp_path / 'onnx')]):
        for option in (['--network', spec], ['--trust-saved-network']):
            assert run_cli(args + option) == 2
            assert 'built-in network' in one_error_line(capsys)
    assert not (tmp_path / 'onnx').exists()


def test_training_a_network_into_a_built_in_models_folder_is_refused(
        tmp_path, capsys):
    save_untrained_lenet(tmp_path / 'm')
    assert run_cli(['train', '--network', write(tmp_path / 'net.py'),
                    '--dataset', tiny_data(tmp_path / 'd.npz'), '--out',
                    str(tmp_path / 'm')] + TRAIN) == 2
    assert "network 'b_lenet'" in one_error_line(capsys)
    assert not (tmp_path / 'm' / 'network.py').exists()


def test_network_and_trust_saved_network_together_are_refused(trained,
                                                              capsys):
    spec, data, out = trained
    assert run_cli(['evaluate', str(out / 'branchynet'), '-t', '0.5',
                    '--network', spec, '--trust-saved-network']) == 2
    assert 'not both' in one_error_line(capsys)


def test_a_recorded_input_side_out_of_bounds_is_refused(trained, capsys):
    spec, data, out = trained
    side = [1, 8, MAX_SIDE + 1]
    for name in ('network.json',) + tuple(r + '.json' for r in ROLES):
        info = json.loads((out / name).read_text())
        record = info.get('user_network', info)
        record['in_shape'] = side
        (out / name).write_text(json.dumps(info))
    assert run_cli(['evaluate', str(out / 'branchynet'), '-t', '0.5',
                    '--trust-saved-network']) == 2
    line = one_error_line(capsys)
    assert 'user_network' in line and str(MAX_SIDE + 1) in line


def test_the_copy_is_the_bytes_that_ran(tmp_path, capsys):
    """A network file that changes itself as it is built: the copy kept is
    what ran, the file it recorded (not the file read again)."""
    path = tmp_path / 'net.py'
    spec = write(path, TINY.replace(
        '    c = in_shape[0]',
        '    open(__file__, "a").write("# changed\\n")\n    c = in_shape[0]'))
    ran = path.read_bytes()
    out = tmp_path / 'model'
    assert run_cli(['train', '--network', spec, '--dataset',
                    tiny_data(tmp_path / 'd.npz'), '--out', str(out)]
                   + TRAIN) == 0
    assert path.read_bytes() != ran
    assert (out / 'network.py').read_bytes() == ran
    recorded = json.loads((out / 'network.json').read_text())['sha256']
    assert recorded == hashlib.sha256(ran).hexdigest()
    capsys.readouterr()
    forget_user_networks()
    assert run_cli(['evaluate', str(out / 'branchynet'), '-t', '0.5',
                    '--trust-saved-network']) == 0


# ------------------------------------------------- also seen in reading

def test_a_trained_file_with_extra_stages_is_refused(trained, tmp_path,
                                                     capsys):
    spec, data, out = trained
    with numpy.load(str(out / 'baseline.npz')) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays['stages/2/0/W'] = numpy.ones((3, 3), numpy.float32)
    numpy.savez(str(tmp_path / 'deeper.npz'), **arrays)
    other = tmp_path / 'x'
    assert run_cli(['train', '--network', spec, '--dataset', data, '--out',
                    str(other), '--from-trained',
                    str(tmp_path / 'deeper.npz')] + TRAIN) == 2
    line = one_error_line(capsys)
    assert 'stages/2/0/W' in line and 'lacks' in line


def test_a_deeply_nested_network_json_is_one_line(trained, capsys):
    spec, data, out = trained
    (out / 'network.json').write_text('[' * 200000 + ']' * 200000)
    for flag in (['--network', spec], ['--trust-saved-network']):
        forget_user_networks()
        assert run_cli(['evaluate', str(out / 'branchynet'), '-t',
                        '0.5'] + flag) == 2
        assert 'nested too deeply' in one_error_line(capsys)


@pytest.mark.parametrize('name, args', [
    ('network.py', ['evaluate', 'MODEL/branchynet', '--trust-saved-network']),
    ('network.json', ['evaluate', 'MODEL/branchynet', '--network', 'SPEC']),
    ('branchynet.json', ['evaluate', 'MODEL/branchynet']),
    ('settings.json', ['train', '--network', 'SPEC', '--dataset', 'DATA',
                       '--out', 'MODEL', '--resume'] + TRAIN),
])
def test_a_fifo_in_the_folder_is_one_line_not_a_hang(trained, capsys, name,
                                                     args):
    spec, data, out = trained
    (out / name).unlink()
    if name == 'settings.json':             # a phase left to train
        (out / 'branchynet.json').unlink()
    os.mkfifo(str(out / name))
    args = [{'MODEL': str(out), 'SPEC': spec, 'DATA': data}.get(a, a)
            .replace('MODEL/', str(out) + '/') for a in args]
    assert run_cli(args) == 2
    assert 'not a regular file' in one_error_line(capsys)
