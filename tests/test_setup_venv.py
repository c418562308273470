"""scripts/setup_venv.sh picks the Python and the lock, or says why not in one line.

The interpreters here are stand-ins (shell scripts answering the version
query), on a PATH that holds nothing else but the tools the script uses, so
these tests install nothing. The real installs are what tests/run.sh, CI's
Debian 13 root and get_results.sh do.
"""
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'scripts', 'setup_venv.sh')
TOOLS = ('bash', 'sh', 'env', 'sed', 'cut', 'cat', 'mkdir', 'ls', 'dirname',
         'basename', 'sha256sum', 'head', 'rm', 'flock', 'pwd')


def fake_python(path, minor):
    """A stand-in interpreter of version 3.<minor>: answers -c, fails -m venv."""
    with open(path, 'w') as f:
        f.write('#!/bin/sh\n'
                'case "$1" in\n'
                '  -c) echo 3.%d ;;\n'
                '  -V) echo "Python 3.%d.0" ;;\n'
                '  *) echo "stand-in python: no $1" >&2; exit 1 ;;\n'
                'esac\n' % (minor, minor))
    os.chmod(path, 0o755)
    return path


@pytest.fixture
def bin_dir(tmp_path):
    """A PATH of only the tools setup_venv.sh needs, and no Python."""
    d = tmp_path / 'bin'
    d.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found:
            os.symlink(found, d / tool)
    return d


def setup(bin_dir, *args, **env):
    full = {'PATH': str(bin_dir), 'HOME': os.environ.get('HOME', '/tmp')}
    full.update(env)
    return subprocess.run(['bash', SCRIPT] + list(args), env=full,
                          capture_output=True, text=True, timeout=60)


def one_error_line(proc):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert lines[0].startswith('setup_venv.sh: error: ')
    return lines[0]


def test_takes_the_newest_supported_python(bin_dir, tmp_path):
    for minor in (9, 10, 13, 14):
        fake_python(bin_dir / ('python3.%d' % minor), minor)
    fake_python(bin_dir / 'python3.11', 11)
    os.symlink(bin_dir / 'python3.14', bin_dir / 'python3')
    proc = setup(bin_dir, '--dry-run', str(tmp_path / 'v'))
    assert proc.returncode == 0, proc.stderr
    assert 'with python3.13 (Python 3.13) and install locks/cpu.txt' \
        in proc.stdout
    assert not (tmp_path / 'v').exists()


def test_python3_counts_when_it_is_the_only_one(bin_dir, tmp_path):
    fake_python(bin_dir / 'python3', 12)
    proc = setup(bin_dir, '--dry-run', str(tmp_path / 'v'))
    assert 'with python3 (Python 3.12)' in proc.stdout, proc.stderr


def test_no_supported_python_is_one_line(bin_dir, tmp_path):
    fake_python(bin_dir / 'python3', 9)
    fake_python(bin_dir / 'python3.14', 14)
    line = one_error_line(setup(bin_dir, str(tmp_path / 'v')))
    for v in ('python3.13', 'python3.12', 'python3.11', 'python3.10',
              '3.10 to 3.13', 'PYTHON='):
        assert v in line
    assert not (tmp_path / 'v').exists()


def test_an_unsupported_PYTHON_is_one_line(bin_dir, tmp_path):
    py = fake_python(tmp_path / 'py', 9)
    line = one_error_line(setup(bin_dir, str(tmp_path / 'v'), PYTHON=py))
    assert 'is Python 3.9; supported: 3.10 to 3.13' in line


def test_PYTHON_overrides_the_newest(bin_dir, tmp_path):
    fake_python(bin_dir / 'python3.13', 13)
    py = fake_python(tmp_path / 'py', 10)
    proc = setup(bin_dir, '--dry-run', str(tmp_path / 'v'), PYTHON=py)
    assert '(Python 3.10)' in proc.stdout, proc.stderr


def test_a_failing_venv_creation_is_one_line(bin_dir, tmp_path):
    fake_python(bin_dir / 'python3.12', 12)
    proc = setup(bin_dir, str(tmp_path / 'v'))
    # venv's own message, then ours
    assert proc.returncode != 0
    assert proc.stderr.splitlines()[-1].startswith(
        "setup_venv.sh: error: 'python3.12 -m venv")


def existing_venv(tmp_path, minor):
    venv = tmp_path / 'v'
    (venv / 'bin').mkdir(parents=True)
    fake_python(venv / 'bin' / 'python', minor)
    return venv


def test_a_venv_of_an_unsupported_python_is_refused(bin_dir, tmp_path):
    venv = existing_venv(tmp_path, 9)
    line = one_error_line(setup(bin_dir, str(venv)))
    assert 'uses Python 3.9, which is not supported' in line
    assert 'rm -rf %s' % venv in line


def test_a_venv_of_another_python_than_PYTHON_is_refused(bin_dir, tmp_path):
    venv = existing_venv(tmp_path, 11)
    py = fake_python(tmp_path / 'py', 13)
    line = one_error_line(setup(bin_dir, str(venv), PYTHON=py))
    assert 'uses Python 3.11, but PYTHON=%s is 3.13' % py in line


def test_a_venv_whose_python_no_longer_runs_is_refused(bin_dir, tmp_path):
    venv = tmp_path / 'v'
    (venv / 'bin').mkdir(parents=True)
    os.symlink(tmp_path / 'gone', venv / 'bin' / 'python')
    (tmp_path / 'gone').write_text('#!/bin/sh\nexit 127\n')
    os.chmod(tmp_path / 'gone', 0o755)
    assert 'no longer runs' in one_error_line(setup(bin_dir, str(venv)))


@pytest.mark.parametrize('reported,lock', [
    ('12.4', 'cuda12'), ('13.0', 'cuda13'), ('14.1', 'cuda13')])
def test_gpu_picks_the_cupy_of_the_drivers_cuda(bin_dir, tmp_path, reported,
                                                lock):
    fake_python(bin_dir / 'python3.12', 12)
    smi = bin_dir / 'nvidia-smi'
    smi.write_text('#!/bin/sh\necho "| NVIDIA-SMI 580.1   Driver Version: '
                   '580.1   CUDA Version: %s     |"\n' % reported)
    os.chmod(smi, 0o755)
    proc = setup(bin_dir, '--gpu', '--dry-run', str(tmp_path / 'v'))
    assert 'install locks/%s.txt' % lock in proc.stdout, proc.stderr


def test_gpu_without_a_driver_or_with_an_old_cuda_is_one_line(bin_dir,
                                                              tmp_path):
    fake_python(bin_dir / 'python3.12', 12)
    line = one_error_line(setup(bin_dir, '--gpu', str(tmp_path / 'v')))
    assert 'nvidia-smi not found' in line and 'BRANCHYNET_CUDA' in line
    line = one_error_line(setup(bin_dir, '--gpu', str(tmp_path / 'v'),
                                BRANCHYNET_CUDA='11'))
    assert "CUDA '11'" in line
    proc = setup(bin_dir, '--gpu', '--dry-run', str(tmp_path / 'v'),
                 BRANCHYNET_CUDA='12')
    assert 'install locks/cuda12.txt' in proc.stdout, proc.stderr


# -- the locks, requirements.txt, setup.py and the README agree ------------

def read(*parts):
    with open(os.path.join(ROOT, *parts)) as f:
        return f.read()


def supported():
    m = re.search(r'SUPPORTED_PYTHONS="([^"]+)"', read('scripts', 'pythons.sh'))
    return m.group(1).split()


def pins(lock):
    """{name: [(version, marker)]} of a uv lock file."""
    out = {}
    for m in re.finditer(r'^([A-Za-z0-9_.\-]+)==(\S+)(?: ; (.*?))? \\$',
                         read('locks', lock), re.M):
        out.setdefault(m.group(1).lower(), []).append((m.group(2),
                                                        m.group(3)))
    return out


def test_setup_py_states_the_supported_range():
    versions = supported()
    lo, hi = versions[0], versions[-1]
    nxt = '3.%d' % (int(hi.split('.')[1]) + 1)
    assert "python_requires='>=%s,<%s'" % (lo, nxt) in read('setup.py')
    assert versions == ['3.%d' % m for m in range(int(lo[2:]),
                                                  int(hi[2:]) + 1)]


@pytest.mark.parametrize('lock', ['cpu.txt', 'cuda12.txt', 'cuda13.txt'])
def test_every_top_level_requirement_is_locked_with_hashes(lock):
    names = [re.split(r'[<>=!~ ;\[]', line.strip())[0].lower()
             for line in read('requirements.txt').splitlines()
             if line.strip() and not line.lstrip().startswith('#')]
    locked = pins(lock)
    assert set(names) <= set(locked), set(names) - set(locked)
    assert locked['numpy'] and all(v.startswith('2.')
                                   for v, _ in locked['numpy'])
    entries = re.findall(r'^\S+==\S+.*\\\n((?:\s+--hash=sha256:\w+.*\n)+)',
                         read('locks', lock), re.M)
    assert len(entries) == sum(len(v) for v in locked.values())
    cupy = {'cuda12.txt': 'cupy-cuda12x', 'cuda13.txt': 'cupy-cuda13x'}
    if lock in cupy:
        assert cupy[lock] in locked


def test_the_readme_table_names_the_locked_numpy():
    table = read('README.md').split('### What each setup installs')[1]
    row = [line for line in table.splitlines()
           if line.startswith('| `.venv` (`scripts/setup_venv.sh`')][0]
    for version, _ in pins('cpu.txt')['numpy']:
        assert version in row, (version, row)
