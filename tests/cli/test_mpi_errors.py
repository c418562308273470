"""A mistake under ``mpiexec``: one line, from rank 0, whose status is the
job's; the other ranks end in silence with status 0, so that the launcher
lets rank 0 finish (Open MPI 5 ended the job at the first non-zero exit). ``get_results.sh --procs`` passes
``--quiet`` where the launcher takes it (Open MPI 4), so it adds no banner;
Open MPI 5 has no such option and prints its banner, a block between dashed
lines, which these tests set apart from the program's own output.

Which rank printed a line is read from the launcher's ``--tag-output``
(``[1,0]<stderr>: ...``, Open MPI 4.1, 5 and 6), not guessed from the line
count: in a root without /sys, Open MPI 5's and 6's launcher adds a line of
its own (``hwloc/linux: failed to find sysfs cpu topology directory``),
which made a count of two look like both ranks speaking."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from branchynet.training import distributed

REPO = pathlib.Path(__file__).resolve().parents[2]
MPIEXEC = shutil.which('mpiexec')
needs_mpiexec = pytest.mark.skipif(MPIEXEC is None, reason='needs mpiexec')


def quiet_flag():
    """``['--quiet']`` where mpiexec takes it, as scripts/mpi.sh decides."""
    out = subprocess.run(['bash', '-c', 'source scripts/mpi.sh; '
                          'mpiexec_quiet'], cwd=REPO, capture_output=True,
                         text=True, timeout=60).stdout.split()
    return out


#: a line of the launcher's own: ``[host:pid] ...`` (Open MPI 5's PMIx
#: server printed ``[vm:24204] PMIX ERROR: PMIX_ERR_UNREACH ...`` in about
#: one run in ten, when a rank left while the job was being ended), or of
#: its hardware library (``hwloc/linux: ...`` where /sys is not mounted)
LAUNCHER_LINE = re.compile(r'^(\[[^\]\s]+:\d+\] |hwloc/\w+: )')
#: a rank's line under ``--tag-output``: ``[JOB,RANK]<stderr>:`` (Open MPI
#: 4.1) or with a space after the colon (5 and 6)
TAGGED = re.compile(r'^\[\d+,(\d+)\]<(stdout|stderr)>: ?(.*)$')


def own_lines(text):
    """The program's lines: the launcher's banner (dashed block) and its
    ``[host:pid]`` lines left out."""
    lines, inside = [], False
    for line in text.strip().splitlines():
        if set(line.strip()) == {'-'}:
            inside = not inside
        elif not inside and not LAUNCHER_LINE.match(line):
            lines.append(line)
    return lines


def by_rank(text, stream='stderr'):
    """{rank: [lines]} of a ``--tag-output`` run's ``stream`` lines."""
    out = {}
    for line in text.splitlines():
        m = TAGGED.match(line)
        if m and m.group(2) == stream:
            # Open MPI 4.1 may tag a line's newline again: '0[1,0]<stdout>:'
            rest = re.sub(r'\[\d+,\d+\]<std(out|err)>: ?', '', m.group(3))
            if rest:
                out.setdefault(int(m.group(1)), []).append(rest)
    return out


def mpiexec(tmp_path, *args, tag=False, program=('-m', 'branchynet'), **env):
    """``mpiexec [--quiet] [--tag-output] -n 2 python -m branchynet ARGS``
    (as root too)."""
    # one machine: shared memory only. Open MPI 5's TCP transport warns
    # once per rank where it finds no interface pair (Debian 13 in a
    # chroot here): the transport's noise, not the program's output.
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT='1',
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1', OMP_NUM_THREADS='1',
               OMPI_MCA_btl='^tcp', PYTHONPATH=str(REPO), **env)
    cmd = [MPIEXEC] + quiet_flag() + ['--oversubscribe', '-n', '2']
    if tag:
        cmd.append('--tag-output')
    for name in env:
        if name.startswith('BRANCHYNET_'):
            cmd += ['-x', name]
    return subprocess.run(cmd + [sys.executable] + list(program) +
                          [str(a) for a in args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)


@needs_mpiexec
def test_each_rank_knows_its_rank_before_mpi_starts(tmp_path):
    # what rank 0 alone speaking rests on: the launcher's variables
    proc = mpiexec(tmp_path, tag=True, program=(
        '-c', 'from branchynet.training.distributed import launcher_rank; '
        'print(launcher_rank())'))
    assert proc.returncode == 0, proc.stderr
    assert by_rank(proc.stdout, 'stdout') == {0: ['0'], 1: ['1']}, \
        proc.stdout


@needs_mpiexec
@pytest.mark.parametrize('args, fragment', [
    (['--frobnicate'], 'unrecognized arguments'),
    (['--epochs-main', '0'], '--epochs-main: expected an integer in'),
    (['--score', 'entropy', '--betas', 'x'], "invalid choice: 'x'"),
    (['--exit-weights', 'a,b'], 'exit weights'),
    (['--data-dir', '{a_file}'], 'is not a folder'),
    (['--communicator', 'naive', '--data-dir', '{a_file}'],
     'is not a folder'),
])
def test_a_mistake_is_one_line_from_rank_0(tmp_path, args, fragment):
    (tmp_path / 'a_file').write_text('mine')
    args = [a.format(a_file=tmp_path / 'a_file') for a in args]
    proc = mpiexec(tmp_path, 'train', 'lenet_mnist', '--out',
                   tmp_path / 'out', *args, tag=True)
    assert proc.returncode == 2, proc.stderr
    ranks = by_rank(proc.stderr)
    assert set(ranks) == {0}, proc.stderr           # rank 1 says nothing
    line, = ranks[0]
    assert line.startswith('branchynet: error: ') and fragment in line


@needs_mpiexec
def test_what_the_user_sees_is_the_one_line(tmp_path):
    # untagged, as get_results.sh --procs runs it: the launcher's banner
    # and lines aside (with --quiet, Open MPI 4: nothing else at all)
    proc = mpiexec(tmp_path, 'train', 'lenet_mnist', '--out',
                   tmp_path / 'out', '--frobnicate')
    assert proc.returncode == 2, proc.stderr
    line, = own_lines(proc.stderr)
    assert line.startswith('branchynet: error: unrecognized arguments')
    if quiet_flag():
        assert proc.stderr.strip() == line


@needs_mpiexec
def test_a_bad_environment_variable_is_one_line(tmp_path):
    proc = mpiexec(tmp_path, 'data', 'mnist',
                   BRANCHYNET_DATA_ROOT=str(tmp_path),
                   BRANCHYNET_DOWNLOAD_TIMEOUT='1e12', tag=True)
    assert proc.returncode == 2, proc.stderr
    ranks = by_rank(proc.stderr)
    assert set(ranks) == {0}, proc.stderr
    line, = ranks[0]
    assert 'BRANCHYNET_DOWNLOAD_TIMEOUT' in line


# -- launcher_rank, without a launcher --------------------------------------

@pytest.fixture
def no_launcher(monkeypatch):
    for name in distributed._RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, 'mpi4py.MPI', raising=False)
    return monkeypatch


@pytest.mark.parametrize('name', ['OMPI_COMM_WORLD_RANK', 'PMIX_RANK',
                                  'PMI_RANK', 'MV2_COMM_WORLD_RANK',
                                  'SLURM_PROCID'])
def test_every_launchers_rank_variable_is_read(no_launcher, name):
    assert distributed.launcher_rank() == 0
    no_launcher.setenv(name, '3')
    assert distributed.launcher_rank() == 3


class FakeMPI:
    """mpi4py.MPI as far as launcher_rank looks, started or not."""
    def __init__(self, rank, started=True):
        self.rank, self.started = rank, started
        self.COMM_WORLD = self

    def Is_initialized(self):
        return self.started

    def Is_finalized(self):
        return False

    def Get_rank(self):
        return self.rank


def test_once_mpi_has_started_its_rank_is_the_rank(no_launcher):
    no_launcher.setenv('OMPI_COMM_WORLD_RANK', '0')
    no_launcher.setitem(sys.modules, 'mpi4py.MPI', FakeMPI(1))
    assert distributed.launcher_rank() == 1
    # imported but not started: the launcher's word, MPI is not started here
    no_launcher.setitem(sys.modules, 'mpi4py.MPI', FakeMPI(1, started=False))
    assert distributed.launcher_rank() == 0
