"""One training phase on Chainer's Trainer.

:func:`run_phase` builds the phase's Trainer (:func:`_make_trainer`: its
iterator over this process's shard, the updater, the random sources saved
with the snapshots), adds the learning-rate drops, the reports (evaluator,
log, plots, printed lines) and the snapshots, resumes from the newest
snapshot every rank has (:func:`_restore`), and runs it. :class:`Run` is
what every phase of one training run shares.
"""
import dataclasses
import os

import chainer
import numpy
from chainer.training import extensions

from branchynet.errors import BranchyNetError
from branchynet.experiments import get_experiment
from branchynet.networks.serialization import load_npz_safe
from branchynet.training.distributed import Workers
from branchynet.training.iterators import (CropFlip, EpochIterator,
                                           iterations_per_epoch)
from branchynet.training.progress import (PlainStream, ProgressLines,
                                          is_terminal)
from branchynet.training.resume import (RandomStates, latest_snapshot,
                                        snapshot_iterations)
from branchynet.training.settings import TrainSettings
from branchynet.training.updater import JointUpdater, NonFiniteLoss

#: seconds between two progress lines when the output is not a terminal
PROGRESS_SECONDS = 300


def seed_everything(seed):
    """Seed the global generators (initialisation, dropout)."""
    numpy.random.seed(seed)
    if chainer.backends.cuda.available:
        chainer.backends.cuda.cupy.random.seed(
            int(numpy.random.RandomState(seed).randint(2 ** 31)))


def exit_keys(n_exits, main_only):
    """Per-exit report keys of :class:`~branchynet.networks.model.JointLoss`."""
    if main_only:
        return ['loss'], ['accuracy']
    return (['exit%d/loss' % k for k in range(1, n_exits + 1)],
            ['exit%d/accuracy' % k for k in range(1, n_exits + 1)])


@dataclasses.dataclass
class Run:
    """What every phase of one training run shares.

    Attributes:
        out (str): the output folder.
        settings (TrainSettings): the run's settings.
        splits (dict): ``train``, ``val``, ``test`` as ``(x, y)``.
        device: the Chainer device of this process.
        resume (bool): continue from snapshots.
        progress (bool): show a progress bar (rank 0).
        workers (Workers): one process or an MPI job.
        classes (list): the class names in label order (saved with the
            models), or None when unknown.
    """
    out: str
    settings: TrainSettings
    splits: dict
    device: object
    resume: bool = False
    progress: bool = True
    workers: Workers = dataclasses.field(default_factory=Workers)
    classes: list = None

    @property
    def recipe(self):
        return get_experiment(self.settings.experiment).recipe(
            self.settings.recipe, self.settings.schedule or 'script')

    @property
    def network(self):
        return get_experiment(self.settings.experiment).network

    def say(self, message):
        """Print on rank 0 only."""
        if self.workers.is_root:
            print(message, flush=True)


def _evaluation_trigger(every, epochs):
    points = list(range(every, epochs + 1, every)) if every else []
    return chainer.training.triggers.ManualScheduleTrigger(
        sorted(set(points + [epochs])), 'epoch')


def _extend_reports(trainer, loss_link, run, epochs):
    """Evaluator (every rank), log, plots and printed lines (rank 0)."""
    settings, workers = run.settings, run.workers
    if settings.eval_every:
        test = workers.shard(
            chainer.datasets.TupleDataset(*run.splits['test']), None)
        test_iter = chainer.iterators.SerialIterator(
            test, max(settings.batch_size, 256), repeat=False, shuffle=False)
        evaluator = extensions.Evaluator(test_iter, loss_link,
                                         device=run.device)
        trainer.extend(workers.evaluator(evaluator), name='test',
                       trigger=_evaluation_trigger(settings.eval_every,
                                                   epochs))
    if not workers.is_root:
        return
    trainer.extend(extensions.LogReport())
    losses, accuracies = exit_keys(loss_link.model.n_exits,
                                   loss_link.main_only)
    for keys, name in ((losses, 'loss.png'), (accuracies, 'accuracy.png')):
        trainer.extend(extensions.PlotReport(
            ['main/' + k for k in keys] + ['test/main/' + k for k in keys],
            'epoch', file_name=name, marker='o'))
    trainer.extend(extensions.PrintReport(
        ['epoch', 'iteration', 'main/loss', 'test/main/loss']
        + ['test/main/' + k for k in accuracies] + ['elapsed_time'],
        out=PlainStream()))
    if run.progress and is_terminal():
        trainer.extend(extensions.ProgressBar(update_interval=10))
    else:
        trainer.extend(ProgressLines(PROGRESS_SECONDS))


def _make_trainer(loss_link, optimizers, run, epochs, out, phase):
    """The Trainer of one phase: iterator, updater, random sources."""
    settings, workers = run.settings, run.workers
    # one process keeps the streams it always had; ranks get their own
    stream = [settings.seed, phase] + (
        [workers.rank] if workers.size > 1 else [])
    seed_everything(stream)
    order_rng = numpy.random.RandomState(stream + [1])
    augment_rng = numpy.random.RandomState(stream + [2])
    train = workers.shard(
        chainer.datasets.TupleDataset(*run.splits['train']), settings.seed)
    iterator = EpochIterator(
        train, workers.local_batch(settings.batch_size),
        chainer.iterators.ShuffleOrderSampler(order_rng),
        keep_short_batch=settings.keep_short_batch)
    converter = CropFlip(augment_rng) if run.recipe.augment else \
        chainer.dataset.concat_examples
    updater = JointUpdater(iterator, workers.wrap_optimizers(optimizers),
                           loss_link, converter, run.device)
    trainer = chainer.training.Trainer(updater, (epochs, 'epoch'), out=out)
    # the loss reports as 'main' (the optimizers' targets are other links)
    trainer.reporter.add_observer('main', loss_link)
    trainer.extend(RandomStates({'order': order_rng, 'augment': augment_rng,
                                 'numpy_global': None}))
    return trainer


def _restore(trainer, run, out):
    """Load the newest snapshot every rank has; or clear old ones."""
    iterations = dict(snapshot_iterations(out))
    common = run.workers.common_iteration(list(iterations)) \
        if run.resume else None
    if common is not None:
        run.say('resuming from %s' % iterations[common])
        load_npz_safe(iterations[common], trainer)
    elif run.resume and iterations:
        run.say('no snapshot of this phase that every process has: it starts '
                'over')
    if common is None:          # a fresh start: no older run's snapshot stays
        for path in iterations.values():
            os.remove(path)


def run_phase(loss_link, optimizers, lr_shifts, run, phase):
    """Train ``loss_link`` for one phase with a Chainer Trainer.

    Args:
        loss_link (JointLoss): the loss; its model is on ``run.device``.
        optimizers (dict): name -> optimizer set up on its target.
        lr_shifts (list): learning-rate extensions.
        run (Run): the training run.
        phase (int): 1 or 2.

    Returns:
        list of dict: the LogReport log (one entry per epoch; empty on
        ranks other than 0).
    """
    epochs = (run.settings.epochs_main if phase == 1
              else run.settings.epochs_joint)
    out = run.workers.out_dir(os.path.join(run.out, 'phase%d' % phase))
    trainer = _make_trainer(loss_link, optimizers, run, epochs, out, phase)
    for extension in lr_shifts + run.workers.extensions(loss_link.model):
        trainer.extend(extension)
    _extend_reports(trainer, loss_link, run, epochs)
    trainer.extend(extensions.snapshot(
        filename='snapshot_iter_{.updater.iteration}',
        n_retains=1 if run.workers.size == 1 else 2), trigger=(1, 'epoch'))
    _restore(trainer, run, out)
    run.workers.start(trainer.updater.get_all_optimizers())
    try:
        trainer.run(show_loop_exception_msg=False)
    except NonFiniteLoss as e:
        raise BranchyNetError('phase %d: %s; training stopped, the last good '
                              'snapshot is %s' % (phase, e, latest_snapshot(
                                  out) or 'none (before the first epoch end)')
                              ) from None
    if not run.workers.is_root:
        return []
    return trainer.get_extension('LogReport').log


def phase_iterations(run, epochs):
    """Updates in ``epochs`` epochs (for learning-rate drops)."""
    # (a shard holds ceil(N / size) samples: ChainerMN pads the short ones)
    per_epoch = iterations_per_epoch(
        -(-len(run.splits['train'][0]) // run.workers.size),
        run.workers.local_batch(run.settings.batch_size),
        run.settings.keep_short_batch)
    return int(epochs * per_epoch)
