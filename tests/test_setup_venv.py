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
         'basename', 'sha256sum', 'head', 'rm', 'flock', 'pwd', 'uname', 'grep',
         'chmod')


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
    for minor in (9, 10, 13, 14, 15):
        fake_python(bin_dir / ('python3.%d' % minor), minor)
    fake_python(bin_dir / 'python3.11', 11)
    os.symlink(bin_dir / 'python3.15', bin_dir / 'python3')
    proc = setup(bin_dir, '--dry-run', str(tmp_path / 'v'))
    assert proc.returncode == 0, proc.stderr
    assert 'with python3.14 (Python 3.14) and install locks/cpu.txt' \
        in proc.stdout
    assert not (tmp_path / 'v').exists()


def test_python3_counts_when_it_is_the_only_one(bin_dir, tmp_path):
    fake_python(bin_dir / 'python3', 12)
    proc = setup(bin_dir, '--dry-run', str(tmp_path / 'v'))
    assert 'with python3 (Python 3.12)' in proc.stdout, proc.stderr


def test_python3_14_is_supported(bin_dir, tmp_path):
    # Debian testing (forky), Fedora, Arch, Homebrew: python3 is 3.14
    fake_python(bin_dir / 'python3', 14)
    proc = setup(bin_dir, '--dry-run', str(tmp_path / 'v'))
    assert 'with python3 (Python 3.14)' in proc.stdout, proc.stderr


def test_no_supported_python_is_one_line(bin_dir, tmp_path):
    fake_python(bin_dir / 'python3', 9)
    fake_python(bin_dir / 'python3.15', 15)
    line = one_error_line(setup(bin_dir, str(tmp_path / 'v')))
    for v in ('needs 3.10 to 3.14', 'found python3.15 (3.15), python3 (3.9)',
              'does not run on Python 3.15 yet', 'PYTHON='):
        assert v in line
    assert not (tmp_path / 'v').exists()


def fake_apt_cache(bin_dir, installed=(), **candidates):
    """``apt-cache policy PKG`` answering each package's candidate version
    (python3_14='3.14.8-1' for python3.14), installed for the names in
    ``installed``, nothing for other packages."""
    cases = ''.join('  %s) printf \'%s:\\n  Installed: %s\\n  Candidate: '
                    '%s\\n\' ;;\n' % (name.replace('_', '.'),
                                         name.replace('_', '.'),
                                         version if name in installed
                                         else '(none)', version)
                    for name, version in candidates.items())
    path = bin_dir / 'apt-cache'
    path.write_text('#!/bin/sh\n[ "$1" = policy ] || exit 1\n'
                    'case "$2" in\n%s  *) echo "N: Unable to locate package '
                    '$2" >&2 ;;\nesac\n' % cases)
    os.chmod(path, 0o755)


def test_only_a_newer_python_on_debian_names_the_package_to_install(
        bin_dir, tmp_path):
    # Debian unstable: python3 is 3.15, and python3.14 can still be installed
    fake_python(bin_dir / 'python3', 15)
    fake_apt_cache(bin_dir, python3='3.15.2-1', python3_14='3.14.8-1',
                   python3_15='3.15.2-1')
    line = one_error_line(setup(bin_dir, str(tmp_path / 'v')))
    assert 'found python3 (3.15)' in line and 'needs 3.10 to 3.14' in line
    assert 'does not run on Python 3.15 yet' in line
    assert line.endswith('apt-get install python3.14 python3.14-venv'), line


def test_debian_whose_python3_package_is_supported_says_install_it(
        bin_dir, tmp_path):
    # a minimal Debian 13 without Python: apt's python3 is 3.13
    fake_apt_cache(bin_dir, python3='3.13.5-1', python3_13='3.13.5-2')
    line = one_error_line(setup(bin_dir, str(tmp_path / 'v')))
    assert 'found none' in line
    assert line.endswith("install Debian's Python 3.13: "
                         'apt-get install python3 python3-venv'), line


def test_debians_python3_shadowed_on_path_is_named(bin_dir, tmp_path):
    # Debian's python3 (3.13) is installed, but a 3.15 comes first on PATH
    fake_python(bin_dir / 'python3', 15)
    fake_apt_cache(bin_dir, installed=('python3',), python3='3.13.5-1')
    line = one_error_line(setup(bin_dir, str(tmp_path / 'v')))
    assert line.endswith("Debian's Python 3.13 is installed: "
                         'PYTHON=/usr/bin/python3'), line


def test_without_a_package_to_offer_it_says_the_python_is_not_supported_yet(
        bin_dir, tmp_path):
    fake_python(bin_dir / 'python3', 15)
    fake_apt_cache(bin_dir, python3='3.15.2-1', python3_13='(none)')
    line = one_error_line(setup(bin_dir, str(tmp_path / 'v')))
    assert 'the project does not run on Python 3.15 yet' in line
    assert 'install Python 3.14 or older' in line
    assert 'apt-get' not in line


def test_a_too_old_python_is_named(bin_dir, tmp_path):
    fake_python(bin_dir / 'python3', 9)
    line = one_error_line(setup(bin_dir, str(tmp_path / 'v')))
    assert 'found python3 (3.9)' in line
    assert 'Python 3.9 is too old for the project' in line
    assert 'install Python 3.10 to 3.14' in line


def gaps():
    """{(python, platform): [package==version]} of locks/wheel-gaps.txt."""
    out = {}
    for line in read('locks', 'wheel-gaps.txt').splitlines():
        if line.strip() and not line.startswith('#'):
            py, plat, pkg = line.split()
            out.setdefault((py, plat), []).append(pkg)
    return out


@pytest.mark.skipif(os.uname().sysname != 'Linux'
                    or os.uname().machine != 'x86_64',
                    reason='the wheel gaps are read for Linux x86_64 here')
def test_a_python_the_lock_has_no_wheels_for_names_the_package(bin_dir,
                                                               tmp_path):
    nxt = '3.%d' % (int(supported()[-1].split('.')[1]) + 1)
    missing = gaps().get((nxt, 'x86_64-manylinux_2_28'))
    if not missing:
        pytest.skip('every package has a wheel for Python %s now' % nxt)
    name, version = missing[0].split('==')
    fake_python(bin_dir / 'python3', int(nxt.split('.')[1]))
    line = one_error_line(setup(bin_dir, str(tmp_path / 'v')))
    assert '%s %s publishes no wheel for Python %s' % (name, version, nxt) \
        in line
    py = fake_python(tmp_path / 'py', int(nxt.split('.')[1]))
    line = one_error_line(setup(bin_dir, str(tmp_path / 'v'), PYTHON=py))
    assert 'is Python %s' % nxt in line
    assert '%s %s publishes no wheel' % (name, version) in line


def test_a_newer_python_beside_a_supported_one_is_passed_over(bin_dir,
                                                              tmp_path):
    fake_python(bin_dir / 'python3', 15)
    fake_python(bin_dir / 'python3.12', 12)
    proc = setup(bin_dir, '--dry-run', str(tmp_path / 'v'))
    assert 'with python3.12 (Python 3.12)' in proc.stdout, proc.stderr


def venv_making_python(path, minor, pip_stderr):
    """A stand-in interpreter whose ``-m venv DIR`` makes a venv whose pip
    installs locks/pip.txt and fails on the stack's lock, printing
    ``pip_stderr``."""
    inner = ('#!/bin/sh\n'
             'case "$1" in\n'
             '  -c) echo 3.%d ;;\n'
             '  -m) case "$*" in\n'
             '        *locks/pip.txt*) exit 0 ;;\n'
             '        *--version*) echo "pip 26.3 from here" ;;\n'
             '        *) cat >&2 <<"EOF"\n%sEOF\n'
             '           exit 1 ;;\n'
             '      esac ;;\n'
             '  *) exit 1 ;;\n'
             'esac\n' % (minor, pip_stderr))
    with open(path, 'w') as f:
        f.write('#!/bin/sh\n'
                'case "$1" in\n'
                '  -c) echo 3.%d ;;\n'
                '  -V) echo "Python 3.%d.0" ;;\n'
                '  -m) mkdir -p "$3/bin" && cat > "$3/bin/python" <<"INNER"\n'
                '%sINNER\n'
                '      chmod +x "$3/bin/python" ;;\n'
                'esac\n' % (minor, minor, inner))
    os.chmod(path, 0o755)


NO_WHEEL = ('ERROR: Could not find a version that satisfies the requirement '
            'onnxruntime==1.32.0 (from versions: none)\n'
            'ERROR: No matching distribution found for onnxruntime==1.32.0\n')


def test_a_missing_wheel_at_install_is_one_line_naming_it(bin_dir, tmp_path):
    venv_making_python(bin_dir / 'python3.12', 12, NO_WHEEL)
    proc = setup(bin_dir, str(tmp_path / 'v'))
    line = one_error_line(proc)
    assert 'onnxruntime 1.32.0 publishes no wheel for Python 3.12' in line
    assert 'use another Python of 3.10 to 3.14' in line


def test_an_unreachable_index_is_not_called_a_missing_wheel(bin_dir,
                                                            tmp_path):
    venv_making_python(bin_dir / 'python3.12', 12,
                       "WARNING: Retrying (Retry(total=4)) after connection "
                       "broken by 'NewConnectionError'\n" + NO_WHEEL)
    proc = setup(bin_dir, str(tmp_path / 'v'))
    assert proc.returncode != 0
    assert 'publishes no wheel' not in proc.stderr
    assert 'NewConnectionError' in proc.stderr      # pip's own words shown
    assert proc.stderr.splitlines()[-1].startswith(
        'setup_venv.sh: error: pip install -r locks/cpu.txt failed')


def test_an_unsupported_PYTHON_is_one_line(bin_dir, tmp_path):
    py = fake_python(tmp_path / 'py', 9)
    line = one_error_line(setup(bin_dir, str(tmp_path / 'v'), PYTHON=py))
    assert 'is Python 3.9; supported: 3.10 to 3.14' in line


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
    classifiers = re.findall(r"'Programming Language :: Python :: (3\.\d+)'",
                             read('setup.py'))
    assert classifiers == versions


def test_the_lock_has_a_wheel_of_everything_for_every_supported_python():
    # on CI's platform (and Linux aarch64): only chainer is built here
    for (py, plat), packages in gaps().items():
        assert py not in supported() or 'manylinux' not in plat, \
            (py, plat, packages)


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


def test_the_readme_states_the_supported_range_and_where_each_is_tested():
    versions = supported()
    readme = read('README.md')
    assert '## Set up and run (fresh machine, Python %s to %s)' % (
        versions[0], versions[-1]) in readme
    table = readme.split('| Python | supported | tested where |')[1]
    table = table.split('\n\n')[0]
    said = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip('|').split('|')]
        for v in cells[0].split(', '):
            said[v] = cells[1]
    assert {v for v, yes in said.items() if yes == 'yes'} == set(versions)
    nxt = '3.%d' % (int(versions[-1].split('.')[1]) + 1)
    assert said.get(nxt) == 'no'
