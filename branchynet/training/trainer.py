"""Two-phase training on Chainer's Trainer.

Phase 1 trains the main network alone (stages + its classifier, loss on
the final exit only). Phase 2 trains every exit jointly on
``sum_k w_k CE_k``. How phase 2 starts is a setting (``phase2``):

``reference`` (the ``reference`` recipe's default), what the reference
    code (``branchynet/net.py``) does: every exit head, the final one included, starts from its initial
    weights (the reference deep-copies each Branch before phase 1); only the
    trunk's parameters come from phase 1, not BatchNormalization's running
    statistics (Chainer v1's ``copyparams`` copied parameters only); main's
    optimizer continues from phase 1 and also keeps stepping main's own
    classifier, which gets zero gradients; each exit head gets a fresh one.
``warm`` (the ``modern`` recipe's default), ours: the final exit starts
    from the phase-1 classifier, and one fresh optimizer trains the whole
    B-network.

Output folder of one experiment::

    OUT/initial.npz                         the network before any training
    OUT/baseline.npz, .json                 main network after phase 1
    OUT/branchynet.npz, .json               the B-network after phase 2
    OUT/baseline_after_joint.npz, .json     main network after phase 2 (the
                                            phase-2 trunk + main's classifier:
                                            what the reference's Table I
                                            baseline measures)
    OUT/phase1/, OUT/phase2/                log, plots, snapshots;
                                            phase1/optimizer.npz: main's
                                            optimizer at the end of phase 1

A phase whose JSON exists is done and skipped (the npz is written first).
``resume=True`` continues an interrupted phase from its latest snapshot.

One phase on Chainer's Trainer is :mod:`branchynet.training.phase`; the
output folder's checks, lock and clean-up are
:mod:`branchynet.training.output`.
"""
import copy
import dataclasses
import os

import chainer
import numpy

from branchynet.errors import BranchyNetError
from branchynet.experiments import get_experiment, load_trained
from branchynet.exits.inference import exit_records
from branchynet.networks import N_EXITS, NETWORKS
from branchynet.networks.model import JointLoss, MainNetwork
from branchynet.networks.serialization import (load_npz_safe,
                                               load_trained_parts,
                                               model_paths, save_model,
                                               save_npz_atomic)
from branchynet.training.distributed import get_workers
from branchynet.training.output import (check_output, locked,
                                        prepare_output, start)
# Run and run_phase: read (and replaced by tests) under this module's names
from branchynet.training.phase import Run, phase_iterations, run_phase
from branchynet.training.resume import settings_diff
from branchynet.training.settings import (prepare_data, resolve_exit_weights,
                                          resolve_settings, saved_form,
                                          with_schedule)
from branchynet.training.updater import setup_optimizers
from branchynet.utils.device import get_device


def exit_accuracies(model, x, y, device):
    """Test accuracy of every exit (fraction, one per exit)."""
    with chainer.using_device(device):
        _, predictions = exit_records(model, x)
    return [float((predictions[:, k] == y).mean())
            for k in range(predictions.shape[1])]


def main_accuracy(model, x, y, batch_size=256):
    """Test accuracy of the main network alone (stages + final exit), on
    the model's device."""
    correct = 0
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for i in range(0, len(x), batch_size):
            z = model.forward_main(model.device.send(x[i:i + batch_size]))
            predicted = chainer.backend.CpuDevice().send(z.array.argmax(1))
            correct += int((predicted == y[i:i + batch_size]).sum())
    return correct / len(x)


def epoch_seconds(log):
    """Wall seconds of each epoch, from LogReport's cumulative elapsed_time."""
    elapsed = [entry['elapsed_time'] for entry in log]
    return [b - a for a, b in zip([0.0] + elapsed[:-1], elapsed)]


def _epochs(n):
    return '%d epoch%s' % (n, '' if n == 1 else 's')


def _done(prefix):
    """A phase is done once its JSON, written after its npz, exists."""
    return all(os.path.exists(p) for p in model_paths(prefix))


def _skip_note(run, prefix, info):
    asked = saved_form(run.settings)
    changed = settings_diff(with_schedule(info.get('settings', {}), asked),
                            asked)
    run.say('%s.json exists, skipping%s' % (prefix, (
        '; it was trained with %s: remove it to retrain' % ', '.join(changed))
        if changed else ''))


def initial_network(out, settings, write=True, fresh=False):
    """The network before training, from ``OUT/initial.npz`` or built anew.

    Phase 2 of the reference starts every exit head from these values, so
    they are kept on disk rather than redrawn. Built with NumPy's global
    generator seeded with ``settings.seed`` (Chainer's initializers draw
    from it); ``fresh`` builds and writes it again (a run started over).
    """
    build = NETWORKS[get_experiment(settings.experiment).network]
    path = os.path.join(out, 'initial.npz')
    numpy.random.seed(settings.seed)
    model = build()
    if os.path.exists(path) and not fresh:
        load_npz_safe(path, model)
    elif write:
        save_npz_atomic(path, model)
    return model


def train_phase1(run):
    """Phase 1: the main network alone. Returns ``(model, info)`` on CPU.

    ``info`` is None on ranks other than 0 of an MPI job.
    """
    prefix = os.path.join(run.out, 'baseline')
    if _done(prefix):
        model, info = load_trained(prefix)
        _skip_note(run, 'phase 1: ' + prefix, info)
        return model, info if run.workers.is_root else None
    if run.settings.from_trained:
        return _phase1_from_trained(run, prefix)
    run.say('phase 1: main network alone, %s, %s'
            % (_epochs(run.settings.epochs_main), run.workers.describe()))
    model = initial_network(run.out, run.settings, run.workers.is_root,
                            fresh=not run.resume)
    model.to_device(run.device)
    main = MainNetwork(model.stages, model.exits[-1])
    optimizers, shifts = setup_optimizers(
        run.recipe, run.settings, {'main': main},
        phase_iterations(run, run.settings.epochs_main))
    log = run_phase(JointLoss(model, main_only=True), optimizers, shifts,
                    run, 1)
    info = None
    if run.workers.is_root:
        save_npz_atomic(os.path.join(run.out, 'phase1', 'optimizer.npz'),
                        optimizers['main'])
        info = {'network': run.network,
                'settings': dataclasses.asdict(run.settings),
                'role': 'baseline',
                'classes': run.classes,
                'test_accuracy_main': main_accuracy(model,
                                                    *run.splits['test']),
                'epoch_seconds': epoch_seconds(log)}
    model.to_device('@numpy')
    if run.workers.is_root:
        save_model(prefix, model, info)
    run.workers.agree(None)              # the files exist for every rank
    return model, info


def _phase1_from_trained(run, prefix):
    """Phase 1 replaced: the trained stages and final exit of
    ``--from-trained`` are the baseline (heads from ``OUT/initial.npz``)."""
    from branchynet.networks.user import sha256_of
    path = run.settings.from_trained
    run.say('phase 1: the trained network %s (stages and final exit), no '
            'training' % path)
    model = initial_network(run.out, run.settings, run.workers.is_root,
                            fresh=not run.resume)
    load_trained_parts(path, model)
    info = None
    if run.workers.is_root:
        model.to_device(run.device)
        info = {'network': run.network,
                'settings': dataclasses.asdict(run.settings),
                'role': 'baseline', 'classes': run.classes,
                'from_trained': {'path': path, 'sha256': sha256_of(path)},
                'test_accuracy_main': main_accuracy(model,
                                                    *run.splits['test']),
                'epoch_seconds': []}
        model.to_device('@numpy')
        save_model(prefix, model, info)
    run.workers.agree(None)
    return model, info


def phase2_start(baseline, initial, mode):
    """The B-network and main's classifier as phase 2 starts (on CPU).

    Returns:
        tuple: ``(model, main_head)``; ``main_head`` is a copy of the
        phase-1 classifier.
    """
    model = copy.deepcopy(initial)
    # Chainer v1's copyparams, which the reference used, copied no
    # BatchNormalization statistics
    model.stages.copyparams(baseline.stages,
                            copy_persistent=(mode == 'warm'))
    if mode == 'warm':
        model.exits[-1].copyparams(baseline.exits[-1])
    return model, copy.deepcopy(baseline.exits[-1])


def phase2_targets(model, main_head, mode, freeze_trunk=False):
    """Optimizer targets of phase 2 by name (see the module docstring);
    with a frozen trunk, the exit heads only."""
    if freeze_trunk:
        return {'exit%d' % k: head
                for k, head in enumerate(model.exits[:-1], 1)}
    if mode == 'warm':
        return {'main': model}
    targets = {'main': MainNetwork(model.stages, main_head)}
    for k, head in enumerate(model.exits, 1):
        targets['exit%d' % k] = head
    return targets


def baseline_after_joint(baseline, model, main_head, mode='reference'):
    """The main network after phase 2: Table I's baseline.

    ``reference``: what the reference measured, ``main`` after phase 2: the
    phase-2 trunk's parameters with phase 1's BatchNormalization statistics
    (the reference never ran ``main`` forward in phase 2) and main's own
    classifier, moved only by Adam's momentum. ``warm``: the phase-2 trunk
    with the final exit, which phase 2 trained from main's classifier, and
    phase 2's statistics. All on the CPU.
    """
    main = copy.deepcopy(baseline)
    if mode == 'warm':
        main.stages.copyparams(model.stages)
        main.exits[-1].copyparams(model.exits[-1])
        return main
    main.stages.copyparams(model.stages, copy_persistent=False)
    main.exits[-1].copyparams(main_head)
    return main


def _save_phase2(run, model, main_head, baseline, log, weights):
    """Write the B-network and the baseline after phase 2 (rank 0)."""
    common = {'network': run.network,
              'settings': dataclasses.asdict(run.settings),
              'classes': run.classes}
    info = dict(common, role='branchynet', exit_weights=weights,
                test_accuracy_per_exit=exit_accuracies(
                    model, *run.splits['test'], run.device),
                epoch_seconds=epoch_seconds(log))
    model.to_device('@numpy')
    main_head.to_device('@numpy')
    after = baseline_after_joint(baseline, model, main_head,
                                 run.settings.phase2)
    after.to_device(run.device)               # evaluated where it trained
    after_info = dict(common, role='baseline_after_joint',
                      test_accuracy_main=main_accuracy(
                          after, *run.splits['test']))
    after.to_device('@numpy')
    save_model(os.path.join(run.out, 'baseline_after_joint'), after,
               after_info)
    save_model(os.path.join(run.out, 'branchynet'), model, info)
    return info, after_info


def train_phase2(run, baseline):
    """Phase 2: every exit jointly. Returns the two models' infos."""
    prefix = os.path.join(run.out, 'branchynet')
    after_prefix = os.path.join(run.out, 'baseline_after_joint')
    if _done(prefix) and _done(after_prefix):
        info = load_trained(prefix)[1]
        _skip_note(run, 'phase 2: ' + prefix, info)
        if not run.workers.is_root:
            return None, None
        return info, load_trained(after_prefix)[1]
    settings = run.settings
    initial = initial_network(run.out, settings, run.workers.is_root)
    weights = resolve_exit_weights(settings.exit_weights, initial.n_exits)
    run.say('phase 2 (%s start): all exits jointly, weights %s, %s, %s'
            % (settings.phase2, weights, _epochs(settings.epochs_joint),
               run.workers.describe()))
    model, main_head = phase2_start(baseline, initial, settings.phase2)
    model.to_device(run.device)
    main_head.to_device(run.device)
    optimizers, shifts = setup_optimizers(
        run.recipe, settings, phase2_targets(model, main_head,
                                             settings.phase2,
                                             settings.freeze_trunk),
        phase_iterations(run, settings.epochs_joint))
    if settings.phase2 == 'reference':
        load_npz_safe(os.path.join(run.out, 'phase1', 'optimizer.npz'),
                      optimizers['main'])
    log = run_phase(JointLoss(model, weights,
                              frozen_trunk=settings.freeze_trunk),
                    optimizers, shifts, run, 2)
    infos = (None, None)
    if run.workers.is_root:
        infos = _save_phase2(run, model, main_head, baseline, log, weights)
    run.workers.agree(None)
    return infos


def train_experiment(name, out, device='@numpy', data_dir='auto',
                     resume=False, progress=True,
                     allow_changed_settings=False, communicator=None,
                     **overrides):
    """Run both phases of experiment ``name``; skip a phase already done.

    Everything that can be checked is checked before any training: the
    settings, the device, the output folder, the data and the batch size.
    The output folder is locked for the whole run.

    Args:
        name (str): experiment (``lenet_mnist`` ...).
        out (str): output folder (see the module docstring).
        device (str): Chainer device specifier (``@numpy``, ``@cupy:0``);
            under MPI, ``@cupy`` means the GPU of the process's local rank.
        data_dir (str): the data root (holding mnist/, cifar10/,
            pcifar10/); ``'auto'``: ``$BRANCHYNET_DATA_ROOT`` or
            ``datasets/data``.
        resume (bool): continue an interrupted phase from its snapshot; the
            settings must be those the run started with.
        allow_changed_settings (bool): resume even with other settings.
        communicator (str or None): a ChainerMN communicator name to train
            across the processes of an MPI job (:mod:`branchynet.training.distributed`).
        overrides: fields of :class:`TrainSettings` (epochs, batch size...).

    Returns:
        dict: the info saved with each model, by role (``baseline``,
        ``branchynet``, ``baseline_after_joint``); None values on ranks
        other than 0.

    Raises:
        BranchyNetError: a check failed (on every rank of an MPI job alike).
    """
    workers = get_workers(communicator, device)
    run, error = None, None
    try:
        run = _checked_run(name, out, device, data_dir, resume, progress,
                           workers, overrides)
    except BranchyNetError as e:
        error = str(e)
    workers.check_all(error)        # every rank stops, the line printed once
    asked = dict(saved_form(run.settings), processes=workers.size)
    with locked(run):
        start(run, asked, allow_changed_settings, record=not all(
            _done(os.path.join(out, role))
            for role in ('baseline', 'branchynet', 'baseline_after_joint')))
        results = {}
        baseline, results['baseline'] = train_phase1(run)
        results['branchynet'], results['baseline_after_joint'] = \
            train_phase2(run, baseline)
    if not workers.is_root:
        return dict.fromkeys(results)
    return results


def _user_network(name, out):
    """A network of your own: its record, once OUT's recorded network and
    models are checked to be it (nothing written); None for a built-in
    one (:mod:`branchynet.networks.user`)."""
    from branchynet.networks import REGISTRY
    from branchynet.networks.user import check_folder
    user = REGISTRY[get_experiment(name).network].source
    if user is not None:
        check_folder(out, user)
    return user


def _checked_run(name, out, device, data_dir, resume, progress, workers,
                 overrides):
    """The :class:`Run`, after every check that needs no training."""
    settings = resolve_settings(name, **overrides)
    resolve_exit_weights(settings.exit_weights,      # checked now, not after
                         N_EXITS[get_experiment(name).network])
    workers.local_batch(settings.batch_size)
    device = get_device(workers.device(device))
    check_output(out)
    user = _user_network(name, out)
    splits = prepare_data(settings, data_dir)
    if settings.batch_size > len(splits['train'][0]):
        raise BranchyNetError('batch size %d is larger than the %d training '
                              'samples' % (settings.batch_size,
                                           len(splits['train'][0])))
    from branchynet.data import dataset_classes
    classes = dataset_classes(settings.dataset
                              or get_experiment(name).dataset, data_dir)
    # the inputs are accepted: OUT is created (a refused run leaves none),
    # a network of your own copied into it before training
    prepare_output(out)
    if user is not None and workers.is_root:
        from branchynet.networks.user import keep_copy
        keep_copy(out, user)
    return Run(out, settings, splits, device, resume, progress, workers,
               classes)
