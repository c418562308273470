"""Hostile and unlucky input, through the real command line.

Each case runs ``python -m branchynet ...`` in a subprocess and checks what a
user sees: exit status 2 and one line ``branchynet: error: ...`` (the last
line of stderr, and the only one with ``: error:``), no ``Traceback``, and no
earlier output changed (the files of the case's folder hash the same before
and after). Interrupts: 130 (SIGINT) and 143 (SIGTERM), with
``branchynet: interrupted``. Hypothesis drives the numeric arguments and the
corruption of model, data and result files (in-process, where a subprocess
per example would be too slow, plus a few examples through the subprocess).

No case touches the network: the data root is a temporary folder and the
MNIST mirrors are ``file://`` URLs or a local server that never answers.
"""
import argparse
import contextlib
import dataclasses
import hashlib
import importlib.util
import io
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from branchynet import cli
from branchynet.data import DATASETS, register_dataset
from branchynet.data.mnist import MNIST_SIZES
from branchynet.errors import BranchyNetError
from branchynet.networks import b_lenet
from branchynet.networks.serialization import load_model, save_model
from branchynet.training.settings import resolve_settings
from helpers import REAL_DATA_ROOT, files_in, gzip_bomb

REPO = pathlib.Path(__file__).resolve().parents[2]
#: the checkout first, then whatever the test run had (chainer may be there)
PYTHONPATH = os.pathsep.join([str(REPO)] + [
    p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p])
needs_mnist = pytest.mark.skipif(REAL_DATA_ROOT is None,
                                 reason='no real MNIST (tests/helpers.py)')
#: what Hypothesis may spend: few examples, the same ones every run, no
#: deadline (2 shared cores); BRANCHYNET_HYPOTHESIS_EXAMPLES=N explores N
#: fresh random examples per test instead
EXPLORE = int(os.environ.get('BRANCHYNET_HYPOTHESIS_EXAMPLES', 0))
FEW = settings(max_examples=EXPLORE or 15, deadline=None,
               derandomize=not EXPLORE,
               suppress_health_check=[HealthCheck.function_scoped_fixture])


# ---------------------------------------------------------------------------
# Running the command and checking what the user sees
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float

    @property
    def last_line(self):
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ''


def base_env(tmp_path, **extra):
    """No network, an empty data root, short download timeouts."""
    env = dict(os.environ)
    env.update(BRANCHYNET_DATA_ROOT=str(tmp_path / 'empty_root'),
               BRANCHYNET_MNIST_MIRRORS='file:///nonexistent-mirror/',
               BRANCHYNET_DOWNLOAD_TIMEOUT='5', PYTHONPATH=PYTHONPATH)
    env.update({k: str(v) for k, v in extra.items()})
    return env


#: The command-line server: one Python that has imported the package (and
#: chainer, matplotlib) once, then forks a child per case that runs the real
#: ``branchynet.cli.main`` exactly as ``python -m branchynet`` does (its own
#: process, working directory, environment, stdout, stderr and exit status),
#: without paying ~1 s of interpreter start and imports per case. Protocol:
#: one JSON request per line on stdin, one JSON reply per line on stdout.
SERVER = r'''
import json, os, sys, traceback
import branchynet.cli, branchynet.measurement.evaluation, branchynet.report.figures
import branchynet.measurement.pipeline, branchynet.report.table, branchynet.training.trainer
protocol = os.fdopen(os.dup(1), 'w')
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.chdir(request['cwd'])
            os.environ.clear()
            os.environ.update(request['env'])
            for fd, path in ((1, request['stdout']), (2, request['stderr'])):
                os.dup2(os.open(path, os.O_WRONLY | os.O_TRUNC), fd)
            sys.argv = ['branchynet'] + request['args']
            if request['code']:
                exec(compile(request['code'], '<string>', 'exec'),
                     {'__name__': '__main__'})
                status = 0
            else:
                status = branchynet.cli.main(request['args'])
        except SystemExit as e:
            status = e.code
            if isinstance(status, str):
                print(status, file=sys.stderr)
                status = 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status or 0)
    _, wait_status, usage = os.wait4(pid, 0)
    protocol.write(json.dumps({'status': os.waitstatus_to_exitcode(
        wait_status), 'max_rss_kb': usage.ru_maxrss}) + '\n')
    protocol.flush()
'''


_SERVER = []


@pytest.fixture(scope='module', autouse=True)
def server(tmp_path_factory):
    process = subprocess.Popen(
        [sys.executable, '-c', SERVER], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, cwd=tmp_path_factory.mktemp('srv'),
        env=dict(os.environ, PYTHONPATH=PYTHONPATH))
    _SERVER.append(process)
    yield process
    _SERVER.remove(process)
    process.stdin.close()
    process.wait(timeout=60)


def run(tmp_path, *args, env=None, code=None, real=False):
    """The real command line, ``branchynet ARGS``: forked from the module's
    server (see :data:`SERVER`), or with ``real`` a fresh ``python -m
    branchynet ARGS`` (``python -c CODE ARGS``). Returns the result with the
    process's own peak RSS (``wait4``)."""
    args = [str(a) for a in args]
    env = env or base_env(tmp_path)
    if real:
        return _spawn(tmp_path, args, env, code)
    server = _SERVER[-1]
    with tempfile.TemporaryDirectory() as io_dir:
        out = os.path.join(io_dir, 'out')
        err = os.path.join(io_dir, 'err')
        for path in (out, err):
            open(path, 'w').close()
        server.stdin.write(json.dumps({
            'cwd': str(tmp_path), 'env': env, 'args': args, 'code': code,
            'stdout': out, 'stderr': err}) + '\n')
        server.stdin.flush()
        reply = json.loads(server.stdout.readline())
        return Result(reply['status'], open(out).read(), open(err).read(),
                      reply['max_rss_kb'] / 1024)


def _spawn(tmp_path, args, env, code, timeout=120):
    command = [sys.executable] + (['-c', code] if code else
                                  ['-m', 'branchynet']) + args
    with tempfile.TemporaryFile('w+') as out, \
            tempfile.TemporaryFile('w+') as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env,
                                   cwd=tmp_path)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError('%s ran longer than %d s' % (args,
                                                                   timeout))
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Result(process.returncode, out.read(), err.read(),
                      usage.ru_maxrss / 1024)


def assert_one_error(result, *fragments):
    """Exit 2, no traceback, one ``branchynet: error:`` line holding every
    fragment, and it is the last line."""
    assert 'Traceback' not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    errors = [line for line in result.stderr.splitlines()
              if ': error:' in line]
    assert errors == [result.last_line], result.stderr
    assert result.last_line.startswith('branchynet: error: ')
    for fragment in fragments:
        assert fragment in result.last_line, (fragment, result.last_line)
    return result.last_line


def digest(folder):
    """``{relative path: sha256}`` of every file below ``folder``."""
    folder = pathlib.Path(folder)
    return {f: hashlib.sha256((folder / f).read_bytes()).hexdigest()
            for f in files_in(folder)}


@contextlib.contextmanager
def unchanged(folder):
    """The files below ``folder`` are the same after the block."""
    before = digest(folder)
    yield
    assert digest(folder) == before


def leftovers(folder):
    return [f for f in files_in(folder)
            if os.path.basename(f).startswith('.tmp-')]


# ---------------------------------------------------------------------------
# A saved model (no training: the weights are the initial ones)
# ---------------------------------------------------------------------------

def model_info():
    settings_ = resolve_settings('lenet_mnist', epochs_main=1,
                                 epochs_joint=1, batch_size=8, val_size=10)
    return {'network': 'b_lenet', 'role': 'branchynet',
            'settings': dataclasses.asdict(settings_)}


@pytest.fixture(scope='module')
def saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp('model')
    numpy.random.seed(0)
    save_model(str(folder / 'branchynet'), b_lenet(), model_info())
    return folder


@pytest.fixture
def model(tmp_path, saved_model):
    """A fresh copy of the saved model: ``(folder, prefix)``."""
    folder = tmp_path / 'model'
    shutil.copytree(saved_model, folder)
    return folder, str(folder / 'branchynet')


def npz_arrays(path):
    with numpy.load(path) as npz:
        return {k: npz[k] for k in npz.files}


W = 'stages/1/2/W'          # B-LeNet's (84, 720) fully connected weight


def replace_entry(path, key, payload):
    """Rewrite entry ``key`` of the npz at ``path`` with raw ``payload``
    bytes (a forged .npy), keeping the other entries."""
    import zipfile
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    entries[key + '.npy'] = payload
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)


def npy_bytes(array):
    buffer = io.BytesIO()
    numpy.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def tib_header():
    buffer = io.BytesIO()
    numpy.lib.format.write_array_header_1_0(buffer, {
        'descr': '<f4', 'fortran_order': False, 'shape': (2 ** 38,)})
    return buffer.getvalue() + bytes(64)


class _MakesAFile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def damage_npz(prefix, how, tmp_path):
    path = prefix + '.npz'
    data = open(path, 'rb').read()
    if how == 'truncated':
        open(path, 'wb').write(data[:len(data) // 2])
    elif how == 'empty':
        open(path, 'wb').write(b'')
    elif how == 'not a zip':
        open(path, 'wb').write(b'#!/bin/sh\necho hello\n')
    elif how == 'strings':
        replace_entry(path, W, npy_bytes(numpy.full((84, 720), 'x')))
    elif how == 'complex':
        replace_entry(path, W, npy_bytes(numpy.zeros((84, 720),
                                                     numpy.complex64)))
    elif how == 'broadcastable':
        replace_entry(path, W, npy_bytes(numpy.zeros((1, 720),
                                                     numpy.float32)))
    elif how == 'float64':
        replace_entry(path, W, npy_bytes(numpy.zeros((84, 720))))
    elif how == 'nan':
        replace_entry(path, W, npy_bytes(numpy.full((84, 720), numpy.nan,
                                                    numpy.float32)))
    elif how == 'inf':
        replace_entry(path, W, npy_bytes(numpy.full((84, 720), numpy.inf,
                                                    numpy.float32)))
    elif how == 'TiB header':
        replace_entry(path, W, tib_header())
    elif how == 'pickle':
        replace_entry(path, W, npy_bytes(numpy.array(
            [_MakesAFile(str(tmp_path / 'pwned'))], dtype=object)))
    elif how == 'missing entry':
        arrays = npz_arrays(path)
        del arrays[W]
        numpy.savez(path, **arrays)


NPZ_DAMAGE = {
    'truncated': 'not a complete npz archive',
    'empty': 'not a complete npz archive',
    'not a zip': 'not a complete npz archive',
    'strings': 'holds <U1 values, expected',
    'complex': 'holds complex64 values, expected',
    'broadcastable': 'has shape (1, 720), expected (84, 720)',
    'float64': 'has dtype float64, expected float32',
    'nan': 'holds NaN or infinite values',
    'inf': 'holds NaN or infinite values',
    'TiB header': 'has shape (274877906944,), expected (84, 720)',
    'pickle': 'pickled data',
    'missing entry': 'no entry',
}


@pytest.fixture(scope='module')
def baseline_rss(tmp_path_factory, saved_model):
    """Peak RSS (MB) of ``evaluate`` stopping at missing data: what the
    interpreter, chainer and the model take, to compare memory with."""
    base = tmp_path_factory.mktemp('baseline')
    result = run(base, 'evaluate', saved_model / 'branchynet', '--data-dir',
                 base / 'empty', real=True)
    assert_one_error(result, 'MNIST is missing')
    return result.max_rss_mb


@pytest.mark.parametrize('how', list(NPZ_DAMAGE))
def test_damaged_model_npz(tmp_path, model, how, request):
    folder, prefix = model
    damage_npz(prefix, how, tmp_path)
    with unchanged(folder):
        result = run(tmp_path, 'evaluate', prefix, real=how == 'TiB header')
    assert_one_error(result, 'cannot load', prefix + '.npz', NPZ_DAMAGE[how])
    assert not (tmp_path / 'pwned').exists()
    if how == 'TiB header':              # refused from the header alone
        baseline = request.getfixturevalue('baseline_rss')
        assert result.max_rss_mb < baseline + 32, (result.max_rss_mb,
                                                   baseline)


JSON_DAMAGE = {
    'no settings': ({'network': 'b_lenet'}, "has no 'settings' object"),
    'unknown experiment': (
        {'network': 'b_lenet', 'settings': {'experiment': 'vgg_mnist'}},
        "unknown experiment 'vgg_mnist'"),
    'network as a list': ({'network': ['b_lenet'], 'settings': {}},
                          'names no known network'),
    'another network': ({'network': 'b_alexnet', 'settings': {}},
                        'cannot load'),
    'a list': (['b_lenet'], 'holds a JSON list, not an object'),
    'deep nesting': ('[' * 200000 + ']' * 200000, 'nested too deeply'),
    'not JSON': ('{"network": "b_lenet",', 'not readable JSON'),
    'settings of another version': (
        {'network': 'b_lenet', 'settings': {'experiment': 'lenet_mnist',
                                            'colour': 'red'}},
        'settings'),
}


@pytest.mark.parametrize('how', list(JSON_DAMAGE))
def test_damaged_model_json(tmp_path, model, how):
    folder, prefix = model
    content, fragment = JSON_DAMAGE[how]
    text = content if isinstance(content, str) else json.dumps(content)
    pathlib.Path(prefix + '.json').write_text(text)
    with unchanged(folder):
        result = run(tmp_path, 'evaluate', prefix)
    assert_one_error(result, fragment)


def test_a_missing_model_file(tmp_path):
    assert_one_error(run(tmp_path, 'evaluate', tmp_path / 'nothing'),
                     'does not exist')


# ---------------------------------------------------------------------------
# Data: missing, bombs, hanging mirrors, the data root's meaning
# ---------------------------------------------------------------------------


def test_missing_mnist_says_what_to_do_first(tmp_path, model):
    folder, prefix = model
    root = tmp_path / 'root'
    line = assert_one_error(run(tmp_path, 'evaluate', prefix, '--data-dir',
                                root), 'MNIST is missing: put ')
    assert line.index(str(root / 'mnist') + '/') < line.index('nonexistent')
    assert 'train-images-idx3-ubyte.gz' in line and 'curl' in line
    assert files_in(root) == []


def test_the_mnist_folder_given_as_data_root(tmp_path, model):
    folder, prefix = model
    (tmp_path / 'mnist').mkdir()
    (tmp_path / 'mnist' / 'train-images-idx3-ubyte.gz').write_bytes(b'x')
    assert_one_error(run(tmp_path, 'evaluate', prefix, '--data-dir',
                         tmp_path / 'mnist'),
                     'the data root is the folder holding mnist/',
                     'pass --data-dir %s' % tmp_path)


@pytest.mark.parametrize('how', ['env', 'option'])
@pytest.mark.parametrize('below', ['', 'sub/dir'])
@pytest.mark.parametrize('command', ['data', 'evaluate', 'train'])
def test_a_data_root_that_is_a_file(tmp_path, model, silent_server, how,
                                    below, command):
    """Checked first: one line, no mirror asked (the only one never
    answers, so a download attempt would time out first)."""
    (tmp_path / 'a_file').write_text('mine')
    root = tmp_path / 'a_file' / below if below else tmp_path / 'a_file'
    args = {'data': ['data', 'mnist'],
            'evaluate': ['evaluate', model[1]],
            'train': ['train', 'lenet_mnist', '--out', tmp_path / 'out']}
    args = args[command] + (['--data-dir', root] if how == 'option' else [])
    env = base_env(tmp_path, BRANCHYNET_MNIST_MIRRORS=silent_server,
                   BRANCHYNET_DOWNLOAD_TIMEOUT=8)
    if how == 'env':
        env['BRANCHYNET_DATA_ROOT'] = str(root)
    start = time.monotonic()
    result = run(tmp_path, *args, env=env)
    assert_one_error(result, 'the data root', '%s is not a folder' % root)
    assert time.monotonic() - start < 8


def test_a_gzip_bomb_in_place_of_mnist(tmp_path, model, baseline_rss):
    """100 MB of zeros in a 100 KB .gz: refused once past the 47 MB the
    real file has, in bounded memory."""
    folder, prefix = model
    mnist = tmp_path / 'root' / 'mnist'
    mnist.mkdir(parents=True)
    bomb = mnist / 'train-images-idx3-ubyte.gz'
    gzip_bomb(bomb, 100 << 20)
    with unchanged(tmp_path / 'root'):
        result = run(tmp_path, 'evaluate', prefix, '--data-dir',
                     tmp_path / 'root', real=True)
    assert_one_error(result, str(bomb), 'inflates to more than %d bytes'
                     % MNIST_SIZES['train-images-idx3-ubyte'])
    # the bomb costs at most the 47 MB of the real file (plus buffers)
    assert result.max_rss_mb < baseline_rss + 47 + 48, (result.max_rss_mb,
                                                        baseline_rss)


def test_a_hanging_mirror_times_out(tmp_path, model, silent_server):
    folder, prefix = model
    env = base_env(tmp_path, BRANCHYNET_MNIST_MIRRORS=silent_server,
                   BRANCHYNET_DOWNLOAD_TIMEOUT='1')
    start = time.monotonic()
    result = run(tmp_path, 'evaluate', prefix, env=env)
    assert time.monotonic() - start < 30
    line = assert_one_error(result, 'MNIST is missing', 'timed out')
    assert line.index('MNIST is missing') < line.index(silent_server)
    assert 'downloading %s' % silent_server in result.stderr


def _default_sigint():
    """Python ignores SIGINT in a child whose parent ignored it (tests run
    in the background, under nohup): give it the default disposition."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize('sig, code, line', [
    (signal.SIGINT, 130, 'branchynet: interrupted'),
    (signal.SIGTERM, 143, 'branchynet: interrupted (SIGTERM)')])
def test_an_interrupt_during_a_download(tmp_path, model, silent_server, sig,
                                        code, line):
    folder, prefix = model
    root = tmp_path / 'root'
    env = base_env(tmp_path, BRANCHYNET_MNIST_MIRRORS=silent_server,
                   BRANCHYNET_DOWNLOAD_TIMEOUT='60')
    process = subprocess.Popen(
        [sys.executable, '-m', 'branchynet', 'evaluate', prefix,
         '--data-dir', str(root)], env=env, cwd=tmp_path,
        stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    seen = ''
    while 'downloading' not in seen:       # then waiting on the mirror
        text = process.stderr.readline()
        assert text, seen
        seen += text
    time.sleep(0.3)
    process.send_signal(sig)
    _, err = process.communicate(timeout=30)
    assert process.returncode == code, err
    assert 'Traceback' not in err
    assert err.strip().splitlines()[-1] == line
    assert files_in(root) == []            # the half download went


def user_npz(path, **changes):
    rng = numpy.random.RandomState(0)
    arrays = dict(train_x=rng.rand(6, 3, 32, 32).astype(numpy.float32),
                  train_y=numpy.arange(6) % 10,
                  test_x=rng.rand(4, 3, 32, 32).astype(numpy.float32),
                  test_y=numpy.arange(4) % 10)
    arrays.update(changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    numpy.savez(path, **{k: v for k, v in arrays.items() if v is not None})


@pytest.mark.parametrize('changes, fragment', [
    (dict(test_x=numpy.full((4, 3, 32, 32), numpy.nan, numpy.float32)),
     'holds NaN or infinite values'),
    (dict(train_x=numpy.zeros((6, 32, 32, 3), numpy.float32)),
     'train_x should be (N, 3, 32, 32)'),
    (dict(test_y=numpy.array([0, 1, 2, 99])), 'labels outside 0..9'),
    (dict(train_y=None), 'missing key(s) train_y'),
])
def test_a_bad_pcifar10_data_npz(tmp_path, changes, fragment):
    path = tmp_path / 'root' / 'pcifar10' / 'data.npz'
    user_npz(path, **changes)
    with unchanged(tmp_path / 'root'):
        result = run(tmp_path, 'data', 'pcifar10', '--data-dir',
                     tmp_path / 'root')
    assert_one_error(result, 'pcifar10 file %s' % path, fragment)


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------

def sweep_result(**changes):
    rows = [{'thresholds': [t], 'accuracy': a, 'exit_fractions': [f, 1 - f],
             'ms': ms, 'trunk_ms': ms * 0.8}
            for t, a, f, ms in ((0.01, 0.99, 0.2, 1.6), (0.1, 0.98, 0.6, 1.0),
                                (1.0, 0.90, 0.95, 0.6))]
    summary = {'experiment': 'lenet_mnist', 'network': 'b_lenet',
               'device': '@numpy', 'rule': 'knee', 'tuned_on': 'val',
               'n_test': 100, 'baseline': {'ms': 2.0, 'test_accuracy': 0.99},
               'sweep_test': rows, 'chosen_index': 1,
               'macs': {'baseline': 2.3e6, 'path': [0.3e6, 2.5e6]},
               'validation': []}
    summary.update(changes)
    return summary


@pytest.fixture(scope='module')
def reported(tmp_path_factory):
    """A results folder a report has been made from, and its figures."""
    base = tmp_path_factory.mktemp('reported')
    folder = base / 'results'
    (folder / 'lenet_mnist').mkdir(parents=True)
    (folder / 'lenet_mnist' / 'sweep.json').write_text(
        json.dumps(sweep_result()))
    result = run(base, 'report', '--results', folder, '--figs', base / 'figs')
    assert result.returncode == 0, result.stderr
    assert (folder / 'table1.md').exists() and files_in(base / 'figs')
    return base


@pytest.fixture
def results(tmp_path, reported):
    """A copy of :func:`reported`: ``(results folder, figure folder)``."""
    for name in ('results', 'figs'):
        shutil.copytree(reported / name, tmp_path / name)
    return tmp_path / 'results', tmp_path / 'figs'


REPORT_DAMAGE = {
    'empty object': ('{}', 'network should be text'),
    'unknown network': (json.dumps(sweep_result(network='b_vgg')),
                        "unknown network 'b_vgg'"),
    'not JSON': ('{"network": ', 'cannot read'),
    'a list': ('[1, 2]', 'holds a JSON list'),
    'deep nesting': ('[' * 200000 + ']' * 200000, 'nested too deeply'),
    'Infinity': (json.dumps(sweep_result(baseline={'ms': float('inf'),
                                                   'test_accuracy': 1})),
                 'baseline.ms should be a time'),
    'unknown runtime': (json.dumps(sweep_result(runtime='tvm')),
                        "unknown runtime 'tvm'"),
    'zero ms': (json.dumps(sweep_result(baseline={'ms': 0,
                                                  'test_accuracy': 1})),
                'baseline.ms should be a time'),
    'index out of range': (json.dumps(sweep_result(chosen_index=7)),
                           'chosen_index 7 is outside'),
    'empty sweep': (json.dumps(sweep_result(sweep_test=[])),
                    'sweep_test is empty'),
}


@pytest.mark.parametrize('how', list(REPORT_DAMAGE))
def test_report_on_a_bad_sweep_json(tmp_path, results, how):
    folder, figs = results
    content, fragment = REPORT_DAMAGE[how]
    (folder / 'other').mkdir()
    path = folder / 'other' / 'sweep.json'
    path.write_text(content)
    with unchanged(tmp_path):
        result = run(tmp_path, 'report', '--results', folder, '--figs', figs)
    assert_one_error(result, fragment)


def test_report_with_a_corrupt_records_npz(tmp_path, results):
    folder, figs = results
    (folder / 'lenet_mnist' / 'records.npz').write_bytes(b'PK\x03\x04 half')
    result = run(tmp_path, 'report', '--results', folder, '--figs', figs)
    assert_one_error(result, 'records.npz', 'not a complete npz archive')


@pytest.mark.parametrize('option', ['--figs', '--results'])
def test_report_output_folder_is_a_file(tmp_path, results, option):
    folder, figs = results
    target = tmp_path / 'a_file'
    target.write_text('mine')
    args = {'--results': folder, '--figs': figs}
    args[option] = target
    with unchanged(tmp_path):
        result = run(tmp_path, 'report', *[x for kv in args.items()
                                            for x in kv])
    assert_one_error(result, '%s %s is a file, not a folder'
                     % (option, target))


#: ``python -c`` running the real CLI with every write below $FULL_DISK
#: failing as on a full disk (ENOSPC), for machines where a small tmpfs
#: cannot be mounted
FULL_DISK = '''
import builtins, errno, os, sys
full = os.path.abspath(os.environ['FULL_DISK'])
real_open = builtins.open
class Full:
    def __init__(self, f):
        self.f = f
    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    def __getattr__(self, name):
        return getattr(self.f, name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.f.close()
def fake_open(file, mode='r', *args, **kwargs):
    f = real_open(file, mode, *args, **kwargs)
    if (isinstance(file, (str, os.PathLike)) and set(mode) & set('wax+')
            and os.path.abspath(file).startswith(full + os.sep)):
        return Full(f)
    return f
builtins.open = fake_open
from branchynet.cli import main
sys.exit(main(sys.argv[1:]))
'''


@contextlib.contextmanager
def full_disk(folder, kind):
    """``folder`` on a full disk: a real 1 MiB tmpfs filled up (needs root),
    or the simulation of :data:`FULL_DISK`. Yields ``(code, env_extra)``."""
    if kind == 'simulated':
        yield FULL_DISK, {'FULL_DISK': folder}
        return
    folder.mkdir(exist_ok=True)
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m',
                              'tmpfs', str(folder)], capture_output=True)
    if mounted.returncode:
        pytest.skip('cannot mount a tmpfs here (%s)'
                    % mounted.stderr.decode().strip())
    try:
        yield None, {}
    finally:
        subprocess.run(['umount', '-l', str(folder)], check=False)


def fill(folder):
    """Fill the filesystem of ``folder`` (a small tmpfs) to the last byte."""
    with contextlib.suppress(OSError):
        with open(folder / 'filler', 'wb') as f:
            while True:
                f.write(bytes(4096))
                f.flush()


@pytest.mark.parametrize('kind', ['simulated', 'tmpfs'])
def test_report_on_a_full_disk(tmp_path, kind):
    out = tmp_path / 'out'
    with full_disk(out, kind) as (code, extra):
        (out / 'lenet_mnist').mkdir(parents=True, exist_ok=True)
        (out / 'lenet_mnist' / 'sweep.json').write_text(
            json.dumps(sweep_result()))
        (out / 'table1.md').write_text('the previous table\n')
        if kind == 'tmpfs':
            fill(out)
        with unchanged(out):
            result = run(tmp_path, 'report', '--results', out, '--figs',
                         tmp_path / 'figs', code=code,
                         env=base_env(tmp_path, **extra))
        assert_one_error(result, 'No space left on device',
                         'the disk is full')
        assert leftovers(out) == []


@needs_mnist
@pytest.mark.parametrize('kind', ['simulated', 'tmpfs'])
def test_a_download_onto_a_full_disk(tmp_path, model, kind):
    """Downloading MNIST into a data root on a full disk: one line, and no
    half-written file."""
    folder, prefix = model
    root = tmp_path / 'root'
    mirror = (REAL_DATA_ROOT / 'mnist').as_uri() + '/'
    with full_disk(root, kind) as (code, extra):
        if kind == 'tmpfs':
            fill(root)
        result = run(tmp_path, 'evaluate', prefix, '--data-dir', root,
                     code=code, env=base_env(
                         tmp_path, BRANCHYNET_MNIST_MIRRORS=mirror, **extra))
        assert_one_error(result, 'No space left on device')
        assert leftovers(root) == []
        assert not (root / 'mnist' / 'train-images-idx3-ubyte.gz').exists()


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

def test_help_describes_the_command(tmp_path):
    result = run(tmp_path, '--help', real=True)
    assert result.returncode == 0 and 'Traceback' not in result.stderr
    assert 'The ``branchynet`` command' not in result.stdout
    assert 'BranchyNet' in result.stdout.split('\n\n')[1]


@pytest.mark.parametrize('args, fragment', [
    (['evaluate', 'm', '--batch-size', '0'], 'argument --batch-size'),
    (['evaluate', 'm', '-t', 'inf'], 'thresholds must be finite'),
    (['evaluate', 'm', '-t', '1e400'], 'thresholds must be finite'),
    (['sweep', 'm', '--grid', '0.1,1e400'], 'thresholds must be finite'),
    (['sweep', 'm', '--grid', 'nan'], 'thresholds must be finite'),
    (['sweep', 'm', '--rule', 'fastest'], "argument --rule"),
    (['train'], 'train takes a network: one of the experiments, or --network'),
    (['frobnicate'], "invalid choice: 'frobnicate'"),
    ([], 'the following arguments are required: command'),
])
def test_argument_errors_read_branchynet_error(tmp_path, args, fragment):
    result = run(tmp_path, *args)
    line = assert_one_error(result, fragment)
    assert not line.startswith('branchynet %s' % (args[:1] or [''])[0])
    assert files_in(tmp_path) == []                 # nothing was written


def test_cupy_device_without_cupy(tmp_path, model):
    if importlib.util.find_spec('cupy') is not None:
        pytest.skip('CuPy is installed here')
    folder, prefix = model
    assert_one_error(run(tmp_path, 'evaluate', prefix, '--device', '@cupy:0'),
                     'needs CuPy', 'docker/build.sh gpu',
                     'scripts/setup_venv.sh --gpu')


@pytest.mark.parametrize('device', ['@tpu:0', 'gpu', '@intel64', '@cupy:x'])
def test_bad_device(tmp_path, model, device):
    folder, prefix = model
    assert_one_error(run(tmp_path, 'evaluate', prefix, '--device', device),
                     'device')


@pytest.mark.parametrize('args, fragment', [
    (['--seed', str(2 ** 40)],
     '--seed: expected an integer in [0, 4294967295]'),
    (['--lr', 'inf'], '--lr: expected a number in (0, 10]'),
    (['--lr', 'nan'], '--lr: expected a number in (0, 10]'),
    (['--exit-weights', 'inf,1'], 'exit weights'),
    (['--exit-weights', '1,1,1,1'], 'exit weights'),
    (['--out', '{a_file}'], 'a_file'),
])
def test_train_arguments_are_checked_before_any_work(tmp_path, args,
                                                     fragment):
    (tmp_path / 'a_file').write_text('mine')
    args = [a.format(a_file=tmp_path / 'a_file') for a in args]
    out = ['--out', tmp_path / 'out'] if '--out' not in args else []
    with unchanged(tmp_path):
        result = run(tmp_path, 'train', 'lenet_mnist', *out, *args)
    assert_one_error(result, fragment)


@needs_mnist
def test_train_batch_size_larger_than_the_data(tmp_path):
    env = base_env(tmp_path, BRANCHYNET_DATA_ROOT=REAL_DATA_ROOT)
    result = run(tmp_path, 'train', 'lenet_mnist', '--out', tmp_path / 'out',
                 '--batch-size', '65536', env=env, real=True)
    # the largest batch the option takes, still above MNIST's 55000
    assert_one_error(result, 'batch size 65536 is larger than')
    assert result.max_rss_mb < 2000


# ---------------------------------------------------------------------------
# Hypothesis: numbers, and corrupted bytes
# ---------------------------------------------------------------------------

def in_process(argv):
    """``main(argv)`` in this process: ``(status, stderr)``; any exception
    other than SystemExit fails the test (it would be a traceback)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        try:
            status = cli.main(argv)
        except SystemExit as e:
            status = e.code
    return status, err.getvalue()


def assert_in_process_error(status, err):
    assert status == 2, err
    lines = err.strip().splitlines()
    assert 'Traceback' not in err
    assert [l for l in lines if ': error:' in l] == lines[-1:], err
    assert lines[-1].startswith('branchynet: error: ')


numbers_as_text = st.one_of(
    st.integers(min_value=-10 ** 30, max_value=10 ** 30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(['1e400', '-0', '0x10', '1_000', '²', '٣', ' 7', '',
                     '1,2', 'nan', '-inf', '9' * 5000]),
    st.text(max_size=12))


@pytest.fixture
def offline(tmp_path, monkeypatch):
    for key, value in base_env(tmp_path).items():
        if key.startswith('BRANCHYNET_'):
            monkeypatch.setenv(key, value)


@FEW
@given(option=st.sampled_from(['--epochs-main', '--epochs-joint',
                               '--batch-size', '--lr', '--seed', '--val-size',
                               '--train-limit', '--test-limit',
                               '--exit-weights']),
       value=numbers_as_text)
def test_train_numbers(tmp_path, offline, option, value):
    """Whatever the number, train stops with one line before training (the
    data root is empty and offline, so valid numbers end at the data)."""
    status, err = in_process(['train', 'lenet_mnist', '--out',
                              str(tmp_path / 'out'), option + '=' + value])
    assert_in_process_error(status, err)


@FEW
@given(option=st.sampled_from(['-t', '--batch-size']), value=numbers_as_text)
def test_evaluate_numbers(tmp_path, offline, saved_model, option, value):
    status, err = in_process(['evaluate', str(saved_model / 'branchynet'),
                              option + '=' + value])
    assert_in_process_error(status, err)


@FEW
@given(option=st.sampled_from(['--grid', '--epsilon', '--budget-ms',
                               '--profile-samples', '--warmup',
                               '--validate-samples']),
       value=numbers_as_text)
def test_sweep_numbers(tmp_path, offline, option, value):
    status, err = in_process(['sweep', str(tmp_path / 'no_model'),
                              '--out', str(tmp_path / 'res'),
                              option + '=' + value])
    assert_in_process_error(status, err)
    assert not (tmp_path / 'res' / 'sweep.json').exists()


def corrupt(data, edits):
    """Apply ``(position, byte)`` edits and an optional truncation."""
    data = bytearray(data)
    for position, value in edits:
        if data:
            data[position % len(data)] = value
    return bytes(data)


edits = st.lists(st.tuples(st.integers(0, 2 ** 31), st.integers(0, 255)),
                 min_size=1, max_size=4)


@FEW
@given(edits=edits, cut=st.one_of(st.none(), st.integers(0, 2 ** 31)))
def test_corrupted_model_bytes(tmp_path, saved_model, edits, cut):
    """A corrupted model loads (an edit that changes nothing checked) or is
    one BranchyNetError; never another exception."""
    folder = tmp_path / 'm'
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(saved_model, folder)
    path = folder / 'branchynet.npz'
    data = corrupt(path.read_bytes(), edits)
    path.write_bytes(data if cut is None else data[:cut % (len(data) + 1)])
    try:
        model, _ = load_model(str(folder / 'branchynet'))
    except BranchyNetError as e:
        assert '\n' not in str(e)
    else:
        for _, param in model.namedparams():
            assert numpy.isfinite(param.array).all()


@FEW
@given(edits=edits)
def test_corrupted_model_json_bytes(tmp_path, saved_model, edits):
    folder = tmp_path / 'm'
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(saved_model, folder)
    path = folder / 'branchynet.json'
    path.write_bytes(corrupt(path.read_bytes(), edits))
    try:
        load_model(str(folder / 'branchynet'))
    except BranchyNetError as e:
        assert '\n' not in str(e)


@settings(max_examples=EXPLORE or 3, deadline=None, derandomize=not EXPLORE,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=edits)
def test_corrupted_model_through_the_cli(tmp_path, saved_model, edits):
    """A few corrupted models through the real command: one line or the
    missing-data line (the model loaded), never a traceback."""
    folder = tmp_path / 'm'
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(saved_model, folder)
    path = folder / 'branchynet.npz'
    path.write_bytes(corrupt(path.read_bytes(), edits))
    assert_one_error(run(tmp_path, 'evaluate', folder / 'branchynet'))


@FEW
@given(edits=edits, cut=st.one_of(st.none(), st.integers(0, 2 ** 31)))
def test_corrupted_user_npz_bytes(tmp_path, edits, cut):
    from branchynet.data import load_user_npz
    path = tmp_path / 'd.npz'
    user_npz(path)
    data = corrupt(path.read_bytes(), edits)
    path.write_bytes(data if cut is None else data[:cut % (len(data) + 1)])
    try:
        x, y, xt, yt = load_user_npz(str(path), (3, 32, 32), 10)
    except BranchyNetError as e:
        assert '\n' not in str(e)
    else:
        assert numpy.isfinite(x).all() and ((0 <= y) & (y < 10)).all()


@FEW
@given(edits=edits, cut=st.one_of(st.none(), st.integers(0, 2 ** 31)))
def test_corrupted_mnist_bytes(tmp_path, tiny_mnist, monkeypatch, edits, cut):
    from branchynet.data.mnist import get_mnist
    root = tmp_path / 'r'
    shutil.rmtree(root, ignore_errors=True)
    _, checksums = tiny_mnist(root / 'mnist', 10, 4)
    path = root / 'mnist' / 't10k-images-idx3-ubyte.gz'
    data = corrupt(path.read_bytes(), edits)
    path.write_bytes(data if cut is None else data[:cut % (len(data) + 1)])
    try:
        get_mnist(str(root), checksums=checksums, download=False)
    except BranchyNetError as e:
        assert '\n' not in str(e)


@FEW
@given(edits=edits)
def test_corrupted_sweep_json_bytes(tmp_path, edits):
    folder = tmp_path / 'results'
    shutil.rmtree(folder, ignore_errors=True)
    (folder / 'lenet_mnist').mkdir(parents=True)
    data = json.dumps(sweep_result()).encode()
    (folder / 'lenet_mnist' / 'sweep.json').write_bytes(corrupt(data, edits))
    status, err = in_process(['report', '--results', str(folder), '--figs',
                              str(tmp_path / 'figs')])
    if status != 0:
        assert_in_process_error(status, err)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


def key_paths(obj, prefix=()):
    """Every path of keys and indexes into a JSON value."""
    yield prefix
    items = obj.items() if isinstance(obj, dict) else (
        enumerate(obj) if isinstance(obj, list) else ())
    for key, value in items:
        yield from key_paths(value, prefix + (key,))


def replaced(obj, path, value):
    if not path:
        return value
    obj = json.loads(json.dumps(obj))
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


SWEEP_PATHS = list(key_paths(sweep_result()))


@FEW
@given(path=st.sampled_from(SWEEP_PATHS), value=json_values)
def test_sweep_json_with_wrong_values(tmp_path, path, value):
    """Any field of a good sweep.json replaced by any JSON value: report
    makes the table or stops with one line."""
    folder = tmp_path / 'results'
    shutil.rmtree(folder, ignore_errors=True)
    (folder / 'lenet_mnist').mkdir(parents=True)
    (folder / 'lenet_mnist' / 'sweep.json').write_text(
        json.dumps(replaced(sweep_result(), path, value)))
    status, err = in_process(['report', '--results', str(folder), '--figs',
                              str(tmp_path / 'figs')])
    if status != 0:
        assert_in_process_error(status, err)


MODEL_PATHS = list(key_paths(model_info()))
#: the fields serialization checks; the other settings are checked by
#: TrainSettings.from_saved (branchynet/training/trainer.py)
CHECKED_MODEL_PATHS = [p for p in MODEL_PATHS
                       if len(p) < 2 or p == ('settings', 'experiment')]


def evaluate_with(tmp_path, saved_model, path, value):
    """``evaluate`` on the saved model with one JSON field replaced."""
    folder = tmp_path / 'm'
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(saved_model, folder)
    (folder / 'branchynet.json').write_text(
        json.dumps(replaced(model_info(), path, value)))
    return in_process(['evaluate', str(folder / 'branchynet')])


@FEW
@given(path=st.sampled_from(CHECKED_MODEL_PATHS), value=json_values)
def test_model_json_with_wrong_values(tmp_path, offline, saved_model, path,
                                      value):
    """Any top-level field (or the experiment) of a good model JSON replaced
    by any JSON value: evaluate stops with one line (at the model, or at
    the missing data)."""
    assert_in_process_error(*evaluate_with(tmp_path, saved_model, path,
                                           value))


@pytest.mark.parametrize('field, value', [('seed', None), ('recipe', []),
                                          ('val_size', None)])
def test_saved_settings_with_wrong_types(tmp_path, offline, saved_model,
                                         field, value):
    assert_in_process_error(*evaluate_with(
        tmp_path, saved_model, ('settings', field), value))


# ---------------------------------------------------------------------------
# compare: every field of a real sweep.json and records.npz it reads
# ---------------------------------------------------------------------------

@pytest.fixture(scope='module')
def swept(tmp_path_factory, tiny_mnist):
    """A real sweep of untrained B-LeNet models on tiny synthetic MNIST:
    ``(model folder, results folder)``."""
    from branchynet.measurement.pipeline import measure_experiment
    from helpers import save_untrained_lenet
    root = tmp_path_factory.mktemp('swept')
    _, checksums = tiny_mnist(root / 'mnist', 96, 60)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr('branchynet.data.mnist.MNIST_SHA256', checksums)
        save_untrained_lenet(root / 'model', ('branchynet', 'baseline'),
                             val_size=40)
        measure_experiment(str(root / 'model'), str(root / 'results'),
                           data_dir=str(root), profile_samples=5, warmup=1,
                           validate_samples=0)
    return root / 'model', root / 'results'


def swept_copy(tmp_path, swept, summary=None):
    """A copy of the swept results, its sweep.json replaced by ``summary``
    (a JSON value, or text)."""
    folder = tmp_path / 'results'
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(swept[1], folder)
    if summary is not None:
        (folder / 'sweep.json').write_text(
            summary if isinstance(summary, str) else json.dumps(summary))
    return folder


def swept_summary(swept):
    return json.loads((swept[1] / 'sweep.json').read_text())


def compare_argv(tmp_path, swept, folder):
    return ['compare', str(swept[0]), '--results', str(folder), '--figs',
            str(tmp_path / 'figs')]


def edited(summary, path, value=KeyError):
    """``summary`` with the field at ``path`` replaced (KeyError: removed).
    """
    summary = json.loads(json.dumps(summary))
    target = summary
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return summary


#: (path, value or KeyError to remove it, what the line says): the review's
#: six, and more of each kind (missing, wrong type, wrong length,
#: non-finite or out of range)
COMPARE_DAMAGE = [
    (('profile',), KeyError, 'profile is missing'),
    (('profile', 'exit_ms'), [1.0], 'profile.exit_ms has 1 times'),
    (('profile', 'exit_ms'), ['fast', 1.0], 'profile.exit_ms should be'),
    (('sweep_tune',), KeyError, 'sweep_tune is missing'),
    (('seconds',), [1, 2], 'seconds should be an object'),
    (('seconds', 'records'), 'slow', 'seconds.records should be'),
    (('training',), KeyError, 'training is missing'),
    (('training',), [], 'training should be an object'),
    (('n_tune',), '40', 'n_tune should be count'),
    (('profile',), 'fast', 'profile should be an object'),
    (('profile', 'exit_ms'), KeyError, 'profile.exit_ms should be'),
    (('profile', 'exit_ms'), [1.0, 2.0, 3.0], 'profile.exit_ms has 3'),
    (('profile', 'exit_ms'), [1.0, -2.0], 'profile.exit_ms should be'),
    (('profile', 'exit_ms'), [1.0, 1e300], 'profile.exit_ms should be'),
    (('sweep_tune',), {}, 'sweep_tune should be list'),
    (('sweep_tune', 0, 'thresholds'), [0.1, 0.2], 'thresholds has 2'),
    (('sweep_tune', 0, 'exit_fractions'), [1.0], 'exit_fractions has 1'),
    (('sweep_tune', 0, 'accuracy'), None, 'accuracy should be number'),
    (('sweep_tune', 0, 'ms'), 0, 'ms should be a time'),
    (('sweep_test', 0, 'thresholds'), [], 'thresholds has 0'),
    (('seconds', 'records'), -1, 'seconds.records should be'),
    (('seconds', 'sweep'), [], 'seconds.sweep should be'),
    (('baseline', 'ms'), 1e308, 'baseline.ms should be a time'),
    (('baseline', 'ms'), 5e-324, 'baseline.ms should be a time'),
    (('profile', 'exit_ms'), [5e-324, 1.0], 'profile.exit_ms should be'),
    (('sweep_test', 1, 'ms'), float('nan'), 'ms should be a time'),
    (('sweep_test', 1, 'accuracy'), float('inf'), 'accuracy should be'),
    (('n_tune',), -1, 'n_tune should be count'),
]


@pytest.mark.parametrize('path, value, fragment', COMPARE_DAMAGE,
                         ids=['/'.join(map(str, c[0])) + ':' + repr(c[1])
                              for c in COMPARE_DAMAGE])
def test_compare_on_a_damaged_sweep_json(tmp_path, swept, path, value,
                                         fragment):
    folder = swept_copy(tmp_path, swept,
                        edited(swept_summary(swept), path, value))
    with unchanged(tmp_path):
        result = run(tmp_path, *compare_argv(tmp_path, swept, folder))
    assert_one_error(result, 'sweep.json is not a usable sweep result',
                     fragment)


@pytest.mark.parametrize('path, value, fragment', COMPARE_DAMAGE[:8])
def test_report_reads_the_same_fields_the_same_way(tmp_path, swept, path,
                                                   value, fragment):
    """report goes through the same check: a field it can do without
    (profile, sweep_tune, training) is checked only when present."""
    folder = tmp_path / 'all'
    swept_copy(tmp_path, swept, edited(swept_summary(swept), path, value))
    shutil.move(str(tmp_path / 'results'), str(folder / 'model'))
    status, err = in_process(['report', '--results', str(folder), '--figs',
                              str(tmp_path / 'figs')])
    if value is KeyError and 'missing' in fragment:
        assert status == 0, err
    else:
        assert_in_process_error(status, err)
        assert fragment in err


@pytest.mark.parametrize('damage, fragment', [
    ('truncated', 'not a complete npz archive'),
    ('no logits', 'has no test_logits'),
    ('three exits', 'holds 3 exits on the tune split'),
    ('samples', 'holds 2 tune samples'),
    ('label 99', 'labels outside 0..9'),
    ('label -1', 'labels outside 0..9')])
def test_compare_on_damaged_records(tmp_path, swept, damage, fragment):
    folder = swept_copy(tmp_path, swept)
    path = folder / 'records.npz'
    arrays = npz_arrays(path)
    if damage == 'truncated':
        path.write_bytes(path.read_bytes()[:200])
    else:
        if damage == 'no logits':
            del arrays['test_logits']
        elif damage.startswith('label'):
            arrays['test_label'][0] = int(damage.split()[1])
        elif damage == 'three exits':
            for key in ('tune_logits', 'tune_entropy'):
                arrays[key] = numpy.concatenate(
                    [arrays[key], arrays[key][:, -1:]], axis=1)
        else:
            arrays = {k: v[:2] if k.startswith('tune_') else v
                      for k, v in arrays.items()}
        numpy.savez(path, **arrays)
    with unchanged(tmp_path):
        result = run(tmp_path, *compare_argv(tmp_path, swept, folder))
    assert_one_error(result, 'records.npz', fragment)


@pytest.mark.parametrize('field', ['baseline', 'exits', 'all'])
@pytest.mark.parametrize('ms', [1e-6, 86400e3])
def test_compare_and_report_at_the_time_limits(tmp_path, swept, field, ms):
    """The shortest and longest times a result may hold: no overflow
    warning (in the trade-off rule or the plots), nothing on stderr."""
    summary = swept_summary(swept)
    if field in ('baseline', 'all'):
        summary['baseline']['ms'] = ms
    if field in ('exits', 'all'):
        summary['profile']['exit_ms'] = [ms, ms]
    if field == 'all':
        for row in summary['sweep_test'] + summary['sweep_tune']:
            row.update(ms=ms, trunk_ms=ms)
    folder = swept_copy(tmp_path, swept, summary)
    result = run(tmp_path, *compare_argv(tmp_path, swept, folder))
    assert result.returncode == 0 and result.stderr == '', result.stderr
    all_results = tmp_path / 'all'
    shutil.move(str(folder), str(all_results / 'model'))
    result = run(tmp_path, 'report', '--results', all_results, '--figs',
                 tmp_path / 'figs')
    assert result.returncode == 0 and result.stderr == '', result.stderr


def compare_paths(swept):
    return list(key_paths(swept_summary(swept)))


@FEW
@given(data=st.data(), value=json_values)
def test_compare_on_any_wrong_value(tmp_path, swept, data, value):
    """Any field of a real sweep.json replaced by any JSON value, or
    removed: compare makes its table or stops with one line."""
    summary = swept_summary(swept)
    path = data.draw(st.sampled_from(compare_paths(swept)[1:]))
    removed = data.draw(st.booleans())
    folder = swept_copy(tmp_path, swept, edited(
        summary, path, KeyError if removed else value))
    status, err = in_process(compare_argv(tmp_path, swept, folder))
    if status != 0:
        assert_in_process_error(status, err)


# ---------------------------------------------------------------------------
# data that does not fit the network, or is too small
# ---------------------------------------------------------------------------

def fake_images(shape, n_train=8, n_test=4):
    """A loader of ``(x_train, y_train, x_test, y_test)`` of ``shape``."""
    rng = numpy.random.RandomState(0)
    arrays = (rng.rand(n_train, *shape).astype(numpy.float32),
              numpy.arange(n_train, dtype=numpy.int32) % 10,
              rng.rand(n_test, *shape).astype(numpy.float32),
              numpy.arange(n_test, dtype=numpy.int32) % 10)
    return lambda *args, **kwargs: arrays


@pytest.mark.parametrize('network, dataset, got, want', [
    ('alexnet_cifar10', 'mnist', '(1, 28, 28)', '(3, 32, 32)'),
    ('resnet_cifar10', 'mnist', '(1, 28, 28)', '(3, 32, 32)'),
    ('lenet_mnist', 'pcifar10', '(3, 32, 32)', '(1, 28, 28)')])
def test_images_that_do_not_fit_the_network(tmp_path, offline, monkeypatch,
                                            network, dataset, got, want):
    """One line naming both shapes, before any training step (the data
    set registered again as ``fake_NAME``, with a loader of its shape)."""
    spec = DATASETS[dataset]
    fake = register_dataset(dataclasses.replace(
        spec, name='fake_' + dataset, load=fake_images(spec.shape)))
    monkeypatch.setattr('branchynet.training.trainer.train_phase1',
                        lambda *a: pytest.fail('training started'))
    try:
        status, err = in_process(['train', network, '--dataset', fake.name,
                                  '--val-size', '2', '--batch-size', '2',
                                  '--out', str(tmp_path / 'out')])
    finally:
        DATASETS.unregister(fake.name)
    assert_in_process_error(status, err)
    assert 'data set %s holds images of shape %s' % (fake.name, got) in err
    assert 'takes %s' % want in err


def test_a_one_sample_data_set_with_the_default_val_size(tmp_path):
    user_npz(tmp_path / 'one.npz',
             train_x=numpy.zeros((1, 1, 28, 28), numpy.float32),
             train_y=numpy.zeros(1, numpy.int64),
             test_x=numpy.zeros((1, 1, 28, 28), numpy.float32),
             test_y=numpy.zeros(1, numpy.int64))
    result = run(tmp_path, 'train', 'lenet_mnist', '--dataset',
                 'npz:%s' % (tmp_path / 'one.npz'), '--out', tmp_path / 'o')
    assert_one_error(result, 'too small for a 5000-image validation split',
                     'has 1 training image(s)')
    assert '[0, 1)' not in result.stderr


# ---------------------------------------------------------------------------
# every numeric option and variable has a sane range
# ---------------------------------------------------------------------------

def numeric_actions():
    """``(command, option, type)`` of every option that takes a number."""
    parser = cli.build_parser()
    commands = next(a for a in parser._actions
                    if isinstance(a, argparse._SubParsersAction))
    for command, sub in commands.choices.items():
        for action in sub._actions:
            if action.type is not None and action.option_strings:
                yield command, action.option_strings[-1], action.type


def test_no_numeric_option_is_unbounded():
    """A bare int or float type takes any size: every numeric option goes
    through cli.int_in / cli.float_in (or threshold_list), and its help
    names its range."""
    found = list(numeric_actions())
    assert len(found) >= 20
    for command, option, kind in found:
        assert kind not in (int, float), (command, option)
        # thresholds: any finite value (its score bounds it), up to 1000
        bad = ('1e400', 'nan', ','.join(['1'] * 1001)) \
            if kind is cli.threshold_list else ('9' * 30, '1e400', 'nan',
                                                 '-1e400')
        for value in bad:
            with pytest.raises(argparse.ArgumentTypeError):
                kind(value)


#: (command line, the option named): values past each range
TOO_LARGE = [
    (['evaluate', 'm', '--runtime', 'onnxruntime', '--threads', '10000'],
     '--threads'),
    (['evaluate', 'm', '--threads', '99999999999'], '--threads'),
    (['sweep', 'm', '--threads', str(4 * (os.cpu_count() or 1) + 1)],
     '--threads'),
    (['evaluate', 'm', '--batch-size', '99999999999'], '--batch-size'),
    (['train', 'lenet_mnist', '--epochs-main', '1000000'], '--epochs-main'),
    (['train', 'lenet_mnist', '--epochs-joint', '1000000'],
     '--epochs-joint'),
    (['train', 'lenet_mnist', '--batch-size', '10000000'], '--batch-size'),
    (['train', 'lenet_mnist', '--seed', '%d' % 2 ** 32], '--seed'),
    (['train', 'lenet_mnist', '--lr', '1e300'], '--lr'),
    (['train', 'lenet_mnist', '--val-size', '1' + '0' * 20], '--val-size'),
    (['train', 'lenet_mnist', '--eval-every', '1' + '0' * 20],
     '--eval-every'),
    (['train', 'lenet_mnist', '--train-limit', '1' + '0' * 20],
     '--train-limit'),
    (['train', 'lenet_mnist', '--test-limit', '1' + '0' * 20],
     '--test-limit'),
    (['train', 'lenet_mnist', '--exit-weights', '1,1e300'],
     '--exit-weights'),
    (['sweep', 'm', '--profile-samples', '1' + '0' * 12],
     '--profile-samples'),
    (['sweep', 'm', '--warmup', '1' + '0' * 12], '--warmup'),
    (['sweep', 'm', '--validate-samples', '1' + '0' * 12],
     '--validate-samples'),
    (['sweep', 'm', '--alpha', '1e300'], '--alpha'),
    (['sweep', 'm', '--target', '5'], '--target'),
    (['sweep', 'm', '--epsilon', '2'], '--epsilon'),
    (['sweep', 'm', '--budget-ms', '1e300'], '--budget-ms'),
    (['sweep', 'm', '--grid', ','.join(['0.1'] * 1001)], '--grid'),
    (['compare', 'm', '--grid-size', '1000000'], '--grid-size'),
    (['compare', 'm', '--alpha', '1e300'], '--alpha'),
    (['compare', 'm', '--target', '-0.5'], '--target'),
]


@pytest.mark.parametrize('argv, option', TOO_LARGE,
                         ids=['%s %s' % (a[0][0], ' '.join(a[0][-2:]))[:60]
                              for a in TOO_LARGE])
def test_a_number_out_of_range_is_one_line(tmp_path, offline, monkeypatch,
                                           argv, option):
    """Refused while parsing (nothing runs: onnxruntime is never asked for
    10000 threads), one line naming the option and its range."""
    import branchynet.runtimes.onnx.inference as onnx_inference
    monkeypatch.setattr(onnx_inference, 'session_options',
                        lambda *a: pytest.fail('reached onnxruntime'))
    status, err = in_process(argv)
    assert_in_process_error(status, err)
    assert option in err
    assert ' in [' in err or ' in (' in err or 'at most' in err


def test_the_download_timeout_variable_is_bounded(tmp_path):
    result = run(tmp_path, 'data', 'mnist', env=base_env(
        tmp_path, BRANCHYNET_DOWNLOAD_TIMEOUT='1e12'))
    assert_one_error(result, 'BRANCHYNET_DOWNLOAD_TIMEOUT must be a number '
                     'of seconds in (0, 3600]')


@pytest.mark.parametrize('threads', [0, 4 * (os.cpu_count() or 1) + 1,
                                     10000, 99999999999])
def test_the_onnx_api_bounds_threads_too(threads):
    """The deployable API (no CLI in front) refuses before onnxruntime
    starts a pool."""
    onnx_inference = pytest.importorskip('branchynet.runtimes.onnx.inference')
    with pytest.raises(onnx_inference.ExportError, match='threads must be'):
        onnx_inference.session_options(threads)
