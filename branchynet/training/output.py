"""The output folder of a training run: created and checked, locked for
the whole run, its leftovers cleaned, its settings recorded.

:func:`check_output` runs before any data is read, :func:`prepare_output`
creates the folder once the data are accepted; :func:`locked` holds
the folder's lock (:class:`OutputLock`) on rank
0, and :func:`start` checks a resumed run's settings against
``OUT/settings.json``, removes the temporaries a killed run left and
records the settings, every rank of an MPI job failing alike.
"""
import contextlib
import glob
import os
import stat

import filelock

from branchynet.errors import BranchyNetError
from branchynet.training.resume import check_resume_settings
from branchynet.training.settings import with_schedule
from branchynet.utils.atomic import remove_leftovers, write_json_atomic


class OutputLock:
    """An exclusive lock on a training output folder (``OUT/.lock``).

    Uses the ``filelock`` package (a dependency of chainer): the lock is an
    OS-level lock, released when the process dies, so a killed run never
    leaves the folder locked. The holder writes its PID to ``OUT/.lock.pid``
    so that a second run can name it.

    Raises:
        BranchyNetError: another process holds the lock.
    """

    def __init__(self, out):
        self.out = out
        self._lock = filelock.FileLock(os.path.join(out, '.lock'), timeout=0)
        self._pid_path = os.path.join(out, '.lock.pid')

    def __enter__(self):
        try:
            self._lock.acquire()
        except filelock.Timeout:
            try:
                with open(self._pid_path) as f:
                    holder = 'PID %s' % f.read().strip()
            except OSError:
                holder = 'another process'
            raise BranchyNetError('%s is in use by another training run (%s);'
                                  ' wait for it or choose another --out'
                                  % (self.out, holder)) from None
        with open(self._pid_path, 'w') as f:
            f.write('%d\n' % os.getpid())
        return self

    def __exit__(self, *exc):
        self._lock.release()
        return False


def check_output(out):
    """``out`` can be the output folder (it or its nearest existing parent
    is a writable folder); nothing is created."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise BranchyNetError('--out %s exists and is not a folder' % out)
    here = os.path.abspath(out)
    while not os.path.exists(here):
        here = os.path.dirname(here)
    if not os.path.isdir(here):
        raise BranchyNetError('cannot create the output folder %s: %s is '
                              'not a folder' % (out, here))
    if not os.access(here, os.W_OK | os.X_OK):
        raise BranchyNetError(
            'the output folder %s is not writable' % out if here ==
            os.path.abspath(out) else 'cannot create the output folder '
            '%s: %s is not writable' % (out, here))


def prepare_output(out):
    """Create the output folder (once the run's inputs are accepted: a
    refused run leaves none); a clear error if it cannot be one."""
    check_output(out)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise BranchyNetError('cannot create the output folder %s: %s'
                              % (out, e.strerror)) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise BranchyNetError('the output folder %s is not writable' % out)


#: the largest settings.json read (ours are under 1 KiB)
MAX_SETTINGS_BYTES = 2 ** 20


def _saved_settings(path):
    from branchynet.networks.serialization import loads_bounded
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):     # a FIFO would block
            raise BranchyNetError('%s is not a regular file' % path)
        with open(path, 'rb') as f:
            return loads_bounded(f.read(MAX_SETTINGS_BYTES))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise BranchyNetError('cannot read %s: %s' % (path, e)) from None


@contextlib.contextmanager
def locked(run):
    """Hold ``run.out``'s lock (rank 0 takes it); every rank fails alike."""
    lock, error = None, None
    if run.workers.is_root:
        lock = OutputLock(run.out)
        try:
            lock.__enter__()
        except BranchyNetError as e:
            lock, error = None, str(e)
    run.workers.check_all(error)
    try:
        yield
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)


#: a temporary in OUT itself younger than this is spared: with ``--out .``
#: it may be another branchynet command's file being written
SHARED_LEFTOVER_AGE = 600.0


def _remove_leftovers(out):
    """Our temporaries in the folders a run writes (OUT, its phase folders,
    their rank folders), not in the rest of the tree below OUT."""
    removed = remove_leftovers(out, older_than=SHARED_LEFTOVER_AGE,
                               recursive=False)
    # the phase folders are only ever written under OUT's lock, held here
    for folder in sorted(glob.glob(os.path.join(out, 'phase[12]'))
                         + glob.glob(os.path.join(out, 'phase[12]', 'rank*'))):
        removed += remove_leftovers(folder, snapshot_dirs=True,
                                    recursive=False)
    return removed


def start(run, asked, allow_changed_settings, record=True):
    """Check a resumed run's settings, clean up, record the settings.

    ``record``: whether this run trains a model; a run that only skips
    finished phases leaves ``settings.json`` as it was (the folder's
    record changes only with the models it describes)."""
    settings_path = os.path.join(run.out, 'settings.json')
    error = None
    if run.resume:
        try:
            saved = _saved_settings(settings_path)
            if saved is not None:       # written before it held the count
                saved.setdefault('processes', 1)
                saved = with_schedule(saved, asked)   # or the schedule
            check_resume_settings(saved, asked, allow_changed_settings)
        except BranchyNetError as e:
            error = str(e)
    run.workers.check_all(error)
    if run.workers.is_root:
        for path in _remove_leftovers(run.out):
            print('removed %s, left by a killed run' % path)
        if record:
            write_json_atomic(settings_path, asked)
    run.workers.agree(None)
