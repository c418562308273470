"""Who trains: one process, or several through ChainerMN (data parallel).

``mpiexec -n N branchynet train NETWORK --communicator naive`` runs both
phases on N processes. Each process trains on its shard of the training
set (``chainermn.scatter_dataset``) with ``batch_size / N`` samples per
step; ``chainermn.create_multi_node_optimizer`` averages the gradients
over the processes before every update, so one step on N processes is one
step on the global batch, and the learning rate means what it means on one
process (it is not scaled with N). One exception, as in all data-parallel
training: BatchNormalization (B-ResNet-110) normalises each process's
``batch_size / N`` samples by their own statistics; its running
statistics are averaged over the processes at every epoch's end
(``chainermn.extensions.AllreducePersistent``), before snapshots, test
passes and the saved models.

The training code talks to a :class:`Workers` object: :class:`Workers`
itself is the single process (everything a no-op), :class:`MPIWorkers` the
ChainerMN job. Rank 0 logs, plots, prints and writes the models; every rank
snapshots its own state (its shard's order and random generators) into its
own folder, so a killed job resumes exactly, from the newest epoch that
every rank saved.
"""
import os
import sys

from branchynet.errors import BranchyNetError

#: communicators for CPUs and for GPUs (one GPU per process)
COMMUNICATORS = ('naive', 'flat', 'pure_nccl')


#: the MPI job this process belongs to, once :func:`get_workers` made one
_ACTIVE = None


class SharedError(BranchyNetError):
    """An error that every rank of the job raised alike (printed once)."""


class Workers:
    """A single process: the default, and the interface of the MPI case."""
    size = 1
    rank = 0
    is_root = True

    def describe(self):
        return 'one process'

    def device(self, spec):
        """The device this process trains on."""
        return spec

    def local_batch(self, batch_size):
        """Samples per step on this process for a global ``batch_size``."""
        return batch_size

    def shard(self, dataset, seed):
        """This process's part of ``dataset`` (shuffled with ``seed``, or
        in order when it is None)."""
        return dataset

    def wrap_optimizers(self, optimizers):
        """Optimizers that average gradients over the processes."""
        return optimizers

    def start(self, optimizers):
        """Make every process start from the same weights."""

    def evaluator(self, evaluator):
        return evaluator

    def extensions(self, model):
        """Trainer extensions the processes need to agree on ``model``."""
        return []

    def out_dir(self, phase_dir):
        """Where this process's trainer writes (snapshots, logs)."""
        return phase_dir

    def agree(self, value):
        """``value`` as rank 0 has it, on every rank."""
        return value

    def common_iteration(self, iterations):
        """The newest snapshot iteration every process has (or None)."""
        return max(iterations) if iterations else None

    def check_all(self, error):
        """Raise ``error`` (a message or None) on every rank if any has one."""
        if error:
            raise BranchyNetError(error)


class MPIWorkers(Workers):
    """An MPI job of ``comm.size`` processes (ChainerMN communicator)."""

    def __init__(self, comm):
        self.comm = comm
        self.size = comm.size
        self.rank = comm.rank
        self.is_root = comm.rank == 0

    def describe(self):
        return '%d processes (ChainerMN)' % self.size

    def device(self, spec):
        # one GPU per process on each machine
        if str(spec).startswith('@cupy'):
            return '@cupy:%d' % self.comm.intra_rank
        return spec

    def local_batch(self, batch_size):
        if batch_size % self.size:
            raise BranchyNetError(
                'batch size %d does not split over %d processes; use a '
                'multiple of %d' % (batch_size, self.size, self.size))
        return batch_size // self.size

    def shard(self, dataset, seed):
        # what chainermn.scatter_dataset does, without broadcasting the
        # data set from rank 0: every rank has loaded it already
        import chainer
        import numpy
        from chainermn.datasets import scatter_index
        begin, end = scatter_index(len(dataset), self.comm)
        order = None if seed is None else \
            numpy.random.RandomState(seed).permutation(len(dataset))
        return chainer.datasets.SubDataset(dataset, begin, end, order)

    def wrap_optimizers(self, optimizers):
        import chainermn
        return {name: chainermn.create_multi_node_optimizer(opt, self.comm)
                for name, opt in optimizers.items()}

    def start(self, optimizers):
        # A multi-node optimizer's first update only broadcasts rank 0's
        # weights and skips the step; broadcasting here instead and letting
        # it record the parameters keeps one update per step, as on one
        # process.
        for optimizer in optimizers.values():
            self.comm.bcast_data(optimizer.target)
            optimizer.is_changed(optimizer.target)

    def evaluator(self, evaluator):
        import chainermn
        return chainermn.create_multi_node_evaluator(evaluator, self.comm)

    def extensions(self, model):
        import chainermn
        return [chainermn.extensions.AllreducePersistent(model, self.comm)]

    def out_dir(self, phase_dir):
        if self.is_root:
            return phase_dir
        return os.path.join(phase_dir, 'rank%d' % self.rank)

    def agree(self, value):
        # (ChainerMN broadcasts no bare None, and takes None off the root)
        return self.comm.bcast_obj([value] if self.is_root else None)[0]

    def common_iteration(self, iterations):
        every = self.comm.gather_obj(sorted(iterations))
        common = None
        if self.is_root:
            shared = set(every[0]).intersection(*map(set, every[1:]))
            common = max(shared) if shared else None
        return self.agree(common)

    def check_all(self, error):
        errors = [e for e in self.comm.gather_obj(error) or [] if e]
        first = self.agree(errors[0] if errors else None)
        if first:
            raise SharedError(first)


def get_workers(communicator=None, device='@numpy'):
    """:class:`Workers` for ``communicator`` (None: a single process).

    Raises:
        BranchyNetError: an unknown communicator, one that does not fit the
            device, or MPI not usable.
    """
    if communicator is None:
        return Workers()
    if communicator not in COMMUNICATORS:
        raise BranchyNetError('unknown communicator %r (choose from %s)'
                              % (communicator, ', '.join(COMMUNICATORS)))
    if communicator == 'pure_nccl' and not str(device).startswith('@cupy'):
        raise BranchyNetError('--communicator pure_nccl needs GPUs (--device '
                              '@cupy); on CPUs use naive or flat')
    try:
        import chainermn
        comm = chainermn.create_communicator(communicator)
    except (ImportError, RuntimeError) as e:
        # (mpi4py's wheel without an MPI library raises RuntimeError)
        raise BranchyNetError(
            '--communicator needs an MPI library for mpi4py (%s); on Debian '
            'or Ubuntu: apt-get install openmpi-bin' % _first_line(e)
        ) from None
    # an uncaught exception on one rank aborts the job instead of leaving
    # the others waiting in a collective call
    chainermn.global_except_hook.add_hook()
    global _ACTIVE
    _ACTIVE = MPIWorkers(comm)
    return _ACTIVE


def _first_line(error):
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


#: where MPI launchers put a process's rank: Open MPI 4.1 to 6
#: (``OMPI_COMM_WORLD_RANK``, and PMIx's ``PMIX_RANK``), MPICH's and Intel
#: MPI's Hydra (``PMI_RANK``), MVAPICH2, Slurm's srun
_RANK_VARIABLES = ('OMPI_COMM_WORLD_RANK', 'PMIX_RANK', 'PMI_RANK',
                   'MV2_COMM_WORLD_RANK', 'SLURM_PROCID')


def launcher_rank():
    """This process's rank, known before MPI starts: MPI's own once mpi4py
    has started it, else as the launcher set it (0 outside an MPI job)."""
    mpi = sys.modules.get('mpi4py.MPI')
    if mpi is not None:
        try:
            if mpi.Is_initialized() and not mpi.Is_finalized():
                return mpi.COMM_WORLD.Get_rank()
        except Exception:                       # pragma: no cover
            pass
    for name in _RANK_VARIABLES:
        value = os.environ.get(name, '')
        if value.isdigit():
            return int(value)
    return 0


def silent_status(status, rank=None):
    """The exit status of a rank that leaves an error to rank 0: 0.

    Rank 0 carries the job's status. Had the others exited with it too, the
    launcher would end the job at the first non-zero exit, and Open MPI 5
    (PRRTE) did so before rank 0 had printed its line, or added a PMIx
    error of its own while it killed rank 0; a rank that exits 0 is left to
    finish. ``rank`` defaults to :func:`launcher_rank`.
    """
    rank = launcher_rank() if rank is None else rank
    return status if rank == 0 else 0


def error_exit(line, error, status=2):
    """Print an error's line and return ``status``, or end the MPI job.

    An error every rank raised (:class:`SharedError`), or one raised before
    MPI started (every rank checks the same options), is printed by rank 0,
    which returns ``status``; the other ranks return 0 in silence
    (:func:`silent_status`). Any other error of a rank in an MPI job (a user
    error, a full disk, an interrupt) is printed by it and aborts the job,
    since the other ranks would wait for it in a collective call forever.
    """
    if _ACTIVE is None or isinstance(error, SharedError):
        rank = launcher_rank() if _ACTIVE is None else _ACTIVE.rank
        if rank == 0:
            print(line, file=sys.stderr, flush=True)
        return silent_status(status, rank)
    print('%s (rank %d)' % (line, _ACTIVE.rank), file=sys.stderr, flush=True)
    _ACTIVE.comm.mpi_comm.Abort(status)
    return status                               # not reached
