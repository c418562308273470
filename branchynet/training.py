"""Two-phase training on Chainer's Trainer, as the reference scripts do it.

Phase 1 trains the main network alone (stages + final exit, loss on the
final exit only) and saves it as the baseline. Phase 2 builds a fresh
BranchyNet (fresh exit heads), copies the baseline's stages and final exit
into it, and trains every exit jointly on ``sum_k w_k CE_k``.

Output folder of one experiment::

    OUT/baseline.npz, baseline.json      the phase-1 model (Table I baseline)
    OUT/branchynet.npz, branchynet.json  the phase-2 model
    OUT/phase1/, OUT/phase2/             log, per-exit plots, snapshots

A phase whose model file exists is skipped; ``resume=True`` continues an
interrupted phase from its latest snapshot.
"""
import dataclasses
import glob
import json
import os
import re

import chainer
import numpy
from chainer.training import extensions

from branchynet import data as data_lib
from branchynet.device import get_device
from branchynet.errors import BranchyNetError
from branchynet.experiments import get_experiment
from branchynet.inference import exit_records
from branchynet.model import JointLoss, paper_exit_weights
from branchynet.networks import NETWORKS
from branchynet.serialization import (load_model, load_npz_safe, model_paths,
                                      save_model)

#: Adam betas of the reference code (Chainer's defaults) and of the paper
ADAM_BETAS = {'code': (0.9, 0.999), 'paper': (0.99, 0.999)}


@dataclasses.dataclass
class TrainSettings:
    """Everything one training run depends on (saved with the model).

    ``recipe`` names an :class:`~branchynet.experiments.Recipe` of the
    experiment; ``epochs_*``, ``batch_size`` and ``lr`` default to it.
    """
    experiment: str
    epochs_main: int
    epochs_joint: int
    batch_size: int
    recipe: str = 'reference'
    lr: float = 0.001              # Adam's alpha for the reference recipe
    seed: int = 0
    betas: str = 'code'            # Adam betas (reference recipe)
    loaders: int = 0               # worker processes for augmentation
    exit_weights: tuple = None     # None: all 1 (the reference code)
    val_size: int = 5000           # held out of training to tune thresholds
    train_limit: int = 0           # 0: all training samples
    test_limit: int = 0            # 0: all test samples

    def check(self):
        for name in ('epochs_main', 'epochs_joint', 'batch_size'):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise BranchyNetError('%s must be a positive integer, got %r'
                                      % (name.replace('_', ' '), value))
        if not self.lr > 0:
            raise BranchyNetError('learning rate must be positive, got %r'
                                  % (self.lr,))
        get_experiment(self.experiment).recipe(self.recipe)
        if self.betas not in ADAM_BETAS:
            raise BranchyNetError('betas must be one of %s'
                                  % ', '.join(ADAM_BETAS))
        if min(self.val_size, self.train_limit, self.test_limit,
               self.loaders) < 0:
            raise BranchyNetError('sizes and limits must be >= 0')


def resolve_exit_weights(spec, n_exits):
    """Exit weights from ``None``/'code' (all 1), 'paper', or numbers."""
    if spec in (None, 'code'):
        return [1.0] * n_exits
    if spec == 'paper':
        return paper_exit_weights(n_exits)
    weights = [float(w) for w in spec]
    if len(weights) != n_exits or any(not w >= 0 for w in weights):
        raise BranchyNetError('need %d non-negative exit weights, got %r'
                              % (n_exits, spec))
    return weights


def seed_everything(seed):
    """Seed the generators that initialisation, dropout and shuffling use."""
    numpy.random.seed(seed)
    if chainer.backends.cuda.available:
        chainer.backends.cuda.cupy.random.seed(seed)


def prepare_data(experiment, settings, data_dir='auto'):
    """Train, validation and test splits as float32/int32 arrays.

    Returns:
        dict: ``train``, ``val``, ``test``, each an ``(x, y)`` tuple.
    """
    x_train, y_train, x_test, y_test = data_lib.load_dataset(
        experiment.dataset, data_dir)
    x_train, y_train, x_val, y_val = data_lib.split_validation(
        x_train, y_train, settings.val_size, seed=0)
    if settings.train_limit:
        x_train, y_train = x_train[:settings.train_limit], \
            y_train[:settings.train_limit]
    if settings.test_limit:
        x_test, y_test = x_test[:settings.test_limit], \
            y_test[:settings.test_limit]
        x_val, y_val = x_val[:settings.test_limit], y_val[:settings.test_limit]
    return {'train': (x_train, y_train), 'val': (x_val, y_val),
            'test': (x_test, y_test)}


def latest_snapshot(directory):
    """Path of the highest-numbered ``snapshot_iter_N`` in ``directory``."""
    found = []
    for path in glob.glob(os.path.join(directory, 'snapshot_iter_*')):
        match = re.search(r'snapshot_iter_(\d+)$', path)
        if match:
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def exit_keys(n_exits, main_only):
    """Per-exit report keys of :class:`~branchynet.model.JointLoss`."""
    if main_only:
        return ['loss'], ['accuracy']
    return (['exit%d/loss' % k for k in range(1, n_exits + 1)],
            ['exit%d/accuracy' % k for k in range(1, n_exits + 1)])


class RandomCropFlip:
    """Random crop after 4-pixel zero padding, and random horizontal flip.

    A transform for :class:`chainer.datasets.TransformDataset` on ``(x, t)``
    with ``x`` float32 ``(C, H, W)``. In worker processes (a
    MultiprocessIterator forks them with one shared random state) each
    process reseeds itself once from the OS, so workers do not repeat each
    other's crops.
    """

    def __init__(self, pad=4):
        self.pad = pad
        self._pid = None
        self._rng = None

    def __call__(self, example):
        pid = os.getpid()
        if self._pid != pid:
            first = self._pid is None
            self._pid = pid
            # the main process follows the global seed (repeatable runs)
            self._rng = numpy.random if first else \
                numpy.random.RandomState()
        x, t = example
        c, h, w = x.shape
        p = self.pad
        padded = numpy.zeros((c, h + 2 * p, w + 2 * p), x.dtype)
        padded[:, p:p + h, p:p + w] = x
        i, j = self._rng.randint(0, 2 * p + 1, size=2)
        x = padded[:, i:i + h, j:j + w]
        if self._rng.randint(2):
            x = x[:, :, ::-1]
        return numpy.ascontiguousarray(x), t


def make_optimizer(recipe, settings, phase_iterations):
    """The optimizer of ``recipe`` and its learning-rate extension (or None).

    Args:
        recipe (Recipe): the experiment's recipe.
        settings (TrainSettings): lr and Adam betas.
        phase_iterations (int): iterations of the phase (for lr drops).
    """
    if recipe.optimizer == 'adam':
        beta1, beta2 = ADAM_BETAS[settings.betas]
        optimizer = chainer.optimizers.Adam(alpha=settings.lr, beta1=beta1,
                                            beta2=beta2)
        attr = 'alpha'
    else:
        optimizer = chainer.optimizers.MomentumSGD(lr=settings.lr,
                                                   momentum=0.9)
        attr = 'lr'
    shift = None
    if recipe.lr_drops:
        shift = extensions.MultistepShift(
            attr, 0.1, [int(f * phase_iterations) for f in recipe.lr_drops],
            settings.lr)
    return optimizer, shift


def run_phase(loss_link, splits, settings, epochs, out, device, resume,
              progress=True):
    """Train ``loss_link`` for ``epochs`` epochs with a Chainer Trainer.

    Returns:
        list of dict: the LogReport log (one entry per epoch).
    """
    recipe = get_experiment(settings.experiment).recipe(settings.recipe)
    train = chainer.datasets.TupleDataset(*splits['train'])
    test = chainer.datasets.TupleDataset(*splits['test'])
    iterations = epochs * -(-len(train) // settings.batch_size)
    optimizer, lr_shift = make_optimizer(recipe, settings, iterations)
    optimizer.setup(loss_link)
    if recipe.weight_decay:
        optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(
            recipe.weight_decay))
    order = chainer.iterators.ShuffleOrderSampler(
        numpy.random.RandomState(settings.seed))
    if recipe.augment:
        train = chainer.datasets.TransformDataset(train, RandomCropFlip())
    if recipe.augment and settings.loaders > 0:
        train_iter = chainer.iterators.MultiprocessIterator(
            train, settings.batch_size, n_processes=settings.loaders,
            order_sampler=order)
    else:
        train_iter = chainer.iterators.SerialIterator(
            train, settings.batch_size, order_sampler=order)
    test_iter = chainer.iterators.SerialIterator(
        test, max(settings.batch_size, 256), repeat=False, shuffle=False)
    updater = chainer.training.StandardUpdater(train_iter, optimizer,
                                               device=device)
    trainer = chainer.training.Trainer(updater, (epochs, 'epoch'), out=out)
    trainer.extend(extensions.Evaluator(test_iter, loss_link, device=device),
                   name='test')
    trainer.extend(extensions.LogReport())
    if lr_shift is not None:
        trainer.extend(lr_shift)
        trainer.extend(extensions.observe_lr())
    trainer.extend(extensions.snapshot(
        filename='snapshot_iter_{.updater.iteration}', n_retains=1),
        trigger=(1, 'epoch'))
    losses, accuracies = exit_keys(loss_link.model.n_exits,
                                   loss_link.main_only)
    trainer.extend(extensions.PlotReport(
        ['main/' + k for k in losses] + ['test/main/' + k for k in losses],
        'epoch', file_name='loss.png'))
    trainer.extend(extensions.PlotReport(
        ['main/' + k for k in accuracies]
        + ['test/main/' + k for k in accuracies],
        'epoch', file_name='accuracy.png'))
    trainer.extend(extensions.PrintReport(
        ['epoch', 'main/loss', 'test/main/loss']
        + ['test/main/' + k for k in accuracies] + ['elapsed_time']))
    if progress:
        trainer.extend(extensions.ProgressBar(update_interval=10))
    snapshot = latest_snapshot(out) if resume else None
    if snapshot is not None:
        print('resuming from %s' % snapshot)
        load_npz_safe(snapshot, trainer)
    trainer.run()
    return trainer.get_extension('LogReport').log


def exit_accuracies(model, x, y, device):
    """Test accuracy of every exit (fraction, one per exit)."""
    with chainer.using_device(device):
        _, predictions = exit_records(model, x)
    return [float((predictions[:, k] == y).mean())
            for k in range(predictions.shape[1])]


def epoch_seconds(log):
    """Wall seconds of each epoch, from LogReport's cumulative elapsed_time."""
    elapsed = [entry['elapsed_time'] for entry in log]
    return [b - a for a, b in zip([0.0] + elapsed[:-1], elapsed)]


def settings_changes(saved_info, settings):
    """How a saved model's settings differ from ``settings``, as a note.

    A finished phase is never retrained, so a user who now asks for, say,
    more epochs is told that the saved model was trained otherwise.
    """
    saved = saved_info.get('settings', {})
    # compared as saved, i.e. after a JSON round trip (tuples become lists)
    asked = json.loads(json.dumps(dataclasses.asdict(settings)))
    changed = ['%s %r (asked %r)' % (key, saved[key], value)
               for key, value in asked.items()
               if key in saved and saved[key] != value]
    if not changed:
        return ''
    return ('; it was trained with %s: remove it to retrain'
            % ', '.join(changed))


def train_experiment(name, out, device='@numpy', data_dir='auto',
                     resume=False, progress=True, **overrides):
    """Run both phases of experiment ``name``; skip a phase already done.

    Args:
        name (str): experiment (``lenet_mnist`` ...).
        out (str): output folder (see the module docstring).
        device (str): Chainer device specifier (``@numpy``, ``@cupy:0``).
        data_dir (str): data folder, ``'auto'`` for the data root.
        resume (bool): continue an interrupted phase from its snapshot.
        overrides: fields of :class:`TrainSettings` (epochs, batch size...).

    Returns:
        dict: the info saved with each model, by role (``baseline``,
        ``branchynet``).
    """
    experiment = get_experiment(name)
    recipe = experiment.recipe(overrides.get('recipe') or 'reference')
    fields = {'epochs_main': recipe.epochs_main,
              'epochs_joint': recipe.epochs_joint,
              'batch_size': recipe.batch_size, 'lr': recipe.lr}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    settings = TrainSettings(experiment=name, **fields)
    settings.check()
    device = get_device(device)
    build = NETWORKS[experiment.network]
    # checked now, not after an hours-long phase 1
    weights = resolve_exit_weights(settings.exit_weights, build().n_exits)
    splits = prepare_data(experiment, settings, data_dir)
    info = {'network': experiment.network,
            'settings': dataclasses.asdict(settings)}
    results = {}

    baseline_prefix = os.path.join(out, 'baseline')
    if os.path.exists(model_paths(baseline_prefix)[0]):
        baseline, results['baseline'] = load_model(baseline_prefix)
        print('phase 1: %s.npz exists, skipping%s' % (
            baseline_prefix, settings_changes(results['baseline'], settings)))
    else:
        print('phase 1: main network alone, %d epochs'
              % settings.epochs_main)
        seed_everything(settings.seed)
        baseline = build()
        baseline.to_device(device)
        log = run_phase(JointLoss(baseline, main_only=True), splits, settings,
                        settings.epochs_main, os.path.join(out, 'phase1'),
                        device, resume, progress)
        acc = exit_accuracies(baseline, *splits['test'], device)
        results['baseline'] = dict(
            info, role='baseline', test_accuracy_main=acc[-1],
            epoch_seconds=epoch_seconds(log))
        save_model(baseline_prefix, baseline, results['baseline'])

    branchy_prefix = os.path.join(out, 'branchynet')
    if os.path.exists(model_paths(branchy_prefix)[0]):
        results['branchynet'] = load_model(branchy_prefix)[1]
        print('phase 2: %s.npz exists, skipping%s' % (
            branchy_prefix, settings_changes(results['branchynet'], settings)))
        return results
    print('phase 2: all exits jointly, weights %s, %d epochs'
          % (weights, settings.epochs_joint))
    seed_everything(settings.seed + 1)
    model = build()                      # fresh exit heads
    baseline.to_device('@numpy')
    model.stages.copyparams(baseline.stages)
    model.exits[-1].copyparams(baseline.exits[-1])
    model.to_device(device)
    log = run_phase(JointLoss(model, weights), splits, settings,
                    settings.epochs_joint, os.path.join(out, 'phase2'),
                    device, resume, progress)
    acc = exit_accuracies(model, *splits['test'], device)
    results['branchynet'] = dict(
        info, role='branchynet', exit_weights=weights,
        test_accuracy_per_exit=acc, epoch_seconds=epoch_seconds(log))
    save_model(branchy_prefix, model, results['branchynet'])
    return results
