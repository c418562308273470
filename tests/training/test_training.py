"""Two-phase training on a tiny synthetic MNIST (a few iterations)."""
import copy
import json
import math
import os
import shutil

import chainer
import numpy
import pytest

from branchynet.training import settings

from branchynet.training import trainer as training
from branchynet.errors import BranchyNetError
from branchynet.networks.model import JointLoss
from branchynet.networks import b_lenet
from branchynet.networks.serialization import load_model
from branchynet.training.iterators import EpochIterator
from branchynet.training.resume import latest_snapshot
from branchynet.training.updater import JointUpdater

# 64 train images, 8 held out -> 56 -> 7 iterations per epoch at batch 8
N_TRAIN, N_TEST, VAL, BATCH = 64, 16, 8, 8
ITERS_PER_EPOCH = -(-(N_TRAIN - VAL) // BATCH)


@pytest.fixture(scope='module')
def mnist_dir(tmp_path_factory, tiny_mnist):
    directory = tmp_path_factory.mktemp('tiny_mnist')
    # a data root: the files are in its mnist/
    _, checksums = tiny_mnist(directory / 'mnist', N_TRAIN, N_TEST)
    return str(directory), checksums


@pytest.fixture
def published(mnist_dir, monkeypatch, data_root):
    """load_dataset('mnist') checks against our tiny files' checksums."""
    monkeypatch.setattr('branchynet.data.mnist.MNIST_SHA256', mnist_dir[1])
    return mnist_dir[0]


def train(out, data_dir, **overrides):
    settings = dict(epochs_main=1, epochs_joint=1, batch_size=BATCH,
                    val_size=VAL, progress=False)
    settings.update(overrides)
    return training.train_experiment('lenet_mnist', str(out),
                                     data_dir=data_dir, **settings)


def params(path_or_model):
    model = path_or_model
    if isinstance(path_or_model, str):
        model = load_model(path_or_model)[0]
    return {name: p.array.copy() for name, p in model.namedparams()}


def assert_same_params(a, b, prefix=''):
    keys = [k for k in a if k.startswith(prefix)]
    assert keys
    for k in keys:
        numpy.testing.assert_array_equal(a[k], b[k], err_msg=k)


def differs(a, b, prefix):
    return any(not numpy.array_equal(a[k], b[k]) for k in a
               if k.startswith(prefix))


@pytest.fixture(scope='module')
def first_run(tmp_path_factory, mnist_dir):
    """One full run (1 + 1 epochs), recording phase 2's starting weights."""
    out = tmp_path_factory.mktemp('run')
    starts = []
    real_run_phase = training.run_phase

    def recording_run_phase(loss_link, *args, **kwargs):
        if not loss_link.main_only:
            starts.append(params(loss_link.model))
        return real_run_phase(loss_link, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr('branchynet.data.mnist.MNIST_SHA256', mnist_dir[1])
        mp.setenv('BRANCHYNET_DATA_ROOT', str(out / 'data_root'))
        mp.setattr(training, 'run_phase', recording_run_phase)
        results = train(out, mnist_dir[0])
    return out, results, starts


def test_both_phases_write_their_models(first_run):
    out, results, _ = first_run
    for role in ('baseline', 'branchynet'):
        assert os.path.isfile(out / (role + '.npz'))
        assert os.path.isfile(out / (role + '.json'))
        model, info = load_model(str(out / role))
        assert info['role'] == role
        assert info['network'] == 'b_lenet'
        assert info['settings']['batch_size'] == BATCH
        assert info['settings']['epochs_main'] == 1
        assert results[role]['role'] == role
    assert len(results['branchynet']['test_accuracy_per_exit']) == 2
    assert 0 <= results['baseline']['test_accuracy_main'] <= 1
    assert len(results['baseline']['epoch_seconds']) == 1
    # each phase trained for its epoch and kept a snapshot of it
    for phase in ('phase1', 'phase2'):
        snapshot = latest_snapshot(str(out / phase))
        assert snapshot.endswith('snapshot_iter_%d' % ITERS_PER_EPOCH)
        assert os.path.isfile(out / phase / 'log')


def test_phase_2_starts_as_the_reference_does(first_run):
    """Item 2 of the fidelity audit: only the trunk comes from phase 1."""
    out, _, starts = first_run
    assert len(starts) == 1
    start = starts[0]
    baseline = params(str(out / 'baseline'))
    # the trunk is the trained baseline's ...
    assert_same_params(start, baseline, '/stages/')
    # ... every exit head, the final one included, has its initial weights:
    # those of a network built with the run's seed before phase 1
    numpy.random.seed(0)
    fresh = params(b_lenet())
    assert_same_params(start, fresh, '/exits/')
    assert differs(fresh, baseline, '/exits/1/')   # phase 1 did train it
    assert differs(fresh, baseline, '/stages/')
    # and phase 2 trained everything further
    final = params(str(out / 'branchynet'))
    assert differs(final, start, '/stages/')
    assert differs(final, start, '/exits/0/')
    assert differs(final, start, '/exits/1/')


def test_warm_phase_2_starts_from_the_phase_1_classifier(
        published, tmp_path, monkeypatch):
    starts = []
    real_run_phase = training.run_phase

    def recording_run_phase(loss_link, optimizers, *args, **kwargs):
        if not loss_link.main_only:
            starts.append((params(loss_link.model),
                           {n: o.t for n, o in optimizers.items()}))
        return real_run_phase(loss_link, optimizers, *args, **kwargs)
    monkeypatch.setattr(training, 'run_phase', recording_run_phase)
    train(tmp_path, published, phase2='warm')
    start, optimizers = starts[0]
    baseline = params(str(tmp_path / 'baseline'))
    assert_same_params(start, baseline, '/stages/')
    assert_same_params(start, baseline, '/exits/1/')
    assert optimizers == {'main': 0}            # one fresh optimizer


def _adam_state(optimizer):
    """``{param path: (t, m, v)}`` of an Adam optimizer."""
    state = {}
    for name, param in optimizer.target.namedparams():
        rule = param.update_rule
        s = rule.state or {}
        state[name] = (rule.t, s.get('m'), s.get('v'))
    return state


@pytest.fixture(scope='module')
def optimizer_run(tmp_path_factory, mnist_dir):
    """A run recording the optimizers as phase 2 starts and ends."""
    out = tmp_path_factory.mktemp('optimizers')
    seen = {}
    real_run_phase = training.run_phase

    def recording_run_phase(loss_link, optimizers, *args, **kwargs):
        if loss_link.main_only:
            return real_run_phase(loss_link, optimizers, *args, **kwargs)
        seen['start'] = {n: copy.deepcopy(_adam_state(o))
                         for n, o in optimizers.items()}
        log = real_run_phase(loss_link, optimizers, *args, **kwargs)
        seen['end'] = {n: _adam_state(o) for n, o in optimizers.items()}
        return log
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr('branchynet.data.mnist.MNIST_SHA256', mnist_dir[1])
        mp.setenv('BRANCHYNET_DATA_ROOT', str(out / 'data_root'))
        mp.setattr(training, 'run_phase', recording_run_phase)
        train(out, mnist_dir[0], epochs_main=2, epochs_joint=2)
    return out, seen


def test_main_optimizer_continues_and_heads_start_fresh(optimizer_run):
    """Item 3: main's Adam steps through both phases; heads get new ones."""
    out, seen = optimizer_run
    start, end = seen['start'], seen['end']
    assert sorted(start) == ['exit1', 'exit2', 'main']
    phase1_steps = 2 * ITERS_PER_EPOCH
    # main's Adam starts phase 2 where phase 1 left it: the saved state
    saved = numpy.load(str(out / 'phase1' / 'optimizer.npz'))
    assert int(saved['t']) == phase1_steps
    for name, (t, m, v) in start['main'].items():
        assert t == phase1_steps, name
        numpy.testing.assert_array_equal(m, saved[name.lstrip('/') + '/m'])
        numpy.testing.assert_array_equal(v, saved[name.lstrip('/') + '/v'])
    # main's Adam covers the trunk and main's own classifier
    assert {n.split('/')[1] for n in start['main']} == {'stages', 'head'}
    for name in ('exit1', 'exit2'):
        assert all(t == 0 and m is None for t, m, _ in start[name].values())
        assert all(t == 2 * ITERS_PER_EPOCH
                   for t, _, _ in end[name].values())
    assert all(t == phase1_steps + 2 * ITERS_PER_EPOCH
               for t, _, _ in end['main'].values())


def test_main_classifier_drifts_on_its_phase_1_momentum(optimizer_run):
    """Item 4's model: zero gradients still move Adam's parameters.

    Replays Adam's update rule by hand, with zero gradients, from the state
    phase 1 saved, and compares with the classifier of the saved
    ``baseline_after_joint`` model.
    """
    out, _ = optimizer_run
    saved = numpy.load(str(out / 'phase1' / 'optimizer.npz'))
    baseline = load_model(str(out / 'baseline'))[0]
    after = load_model(str(out / 'baseline_after_joint'))[0]
    branchy = load_model(str(out / 'branchynet'))[0]
    alpha, beta1, beta2, eps = 0.001, 0.9, 0.999, 1e-8
    for name in ('W', 'b'):
        w = getattr(baseline.exits[-1][0], name).array.astype(numpy.float64)
        m = saved['head/0/%s/m' % name].astype(numpy.float64)
        v = saved['head/0/%s/v' % name].astype(numpy.float64)
        t = int(saved['head/0/%s/t' % name])
        for _ in range(2 * ITERS_PER_EPOCH):
            t += 1
            m, v = beta1 * m, beta2 * v
            lr = alpha * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
            w = w - lr * m / (numpy.sqrt(v) + eps)
        got = getattr(after.exits[-1][0], name).array
        numpy.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
        assert not numpy.array_equal(
            got, getattr(baseline.exits[-1][0], name).array)
    # its trunk is the phase-2 trunk
    assert_same_params(params(after), params(branchy), '/stages/')


def test_baseline_after_joint_keeps_phase_1_batchnorm_statistics():
    """The reference never ran ``main`` forward in phase 2."""
    from branchynet.networks import NETWORKS
    numpy.random.seed(0)
    build = NETWORKS['b_resnet110']
    baseline, initial = build(), build()
    baseline.stages[0][1].avg_mean[...] = 3.0
    model, head = training.phase2_start(baseline, initial, 'reference')
    # phase 2's trunk starts with the parameters, not the statistics
    numpy.testing.assert_array_equal(model.stages[0][0].W.array,
                                     baseline.stages[0][0].W.array)
    numpy.testing.assert_array_equal(model.stages[0][1].avg_mean, 0.0)
    model.stages[0][0].W.array[...] = 7.0
    model.stages[0][1].avg_mean[...] = 5.0
    after = training.baseline_after_joint(baseline, model, head)
    numpy.testing.assert_array_equal(after.stages[0][0].W.array, 7.0)
    numpy.testing.assert_array_equal(after.stages[0][1].avg_mean, 3.0)


def test_the_reference_protocol_trains_on_everything(published, tmp_path,
                                                    monkeypatch):
    """Item 5: all training images, short last batch, no test pass."""
    sizes = []
    real_next = EpochIterator.__next__

    def recording_next(self):
        batch = real_next(self)
        sizes.append(len(batch))
        return batch
    monkeypatch.setattr(EpochIterator, 'next', recording_next)
    results = train(tmp_path, published, protocol='reference', val_size=None,
                    batch_size=10, epochs_main=2, epochs_joint=1)
    settings = results['baseline']['settings']
    assert settings['val_size'] == 0 and settings['eval_every'] == 0
    # 64 images at batch 10: 6 full batches and one of 4, every epoch
    assert sizes == [10] * 6 + [4] + [10] * 6 + [4] + [10] * 6 + [4]
    log = json.loads((tmp_path / 'phase1' / 'log').read_text())
    assert [e['iteration'] for e in log] == [7, 14]
    assert not any(k.startswith('test/') for e in log for k in e)
    assert 0 <= results['baseline']['test_accuracy_main'] <= 1


def test_holdout_evaluates_every_n_epochs_and_at_the_end(published,
                                                        tmp_path):
    train(tmp_path, published, epochs_main=5, eval_every=2)
    log = json.loads((tmp_path / 'phase1' / 'log').read_text())
    tested = [e['epoch'] for e in log if 'test/main/loss' in e]
    assert tested == [2, 4, 5]


def test_rerun_skips_finished_phases(first_run, published, monkeypatch,
                                     capsys):
    out, results, _ = first_run
    before = {f: os.path.getmtime(out / f)
              for f in ('baseline.npz', 'branchynet.npz')}

    def no_training(*args, **kwargs):
        raise AssertionError('a finished phase was trained again')
    monkeypatch.setattr(training, 'run_phase', no_training)
    again = train(out, published)
    assert again['branchynet'] == results['branchynet']
    assert again['baseline'] == results['baseline']
    for f, mtime in before.items():
        assert os.path.getmtime(out / f) == mtime
    printed = capsys.readouterr().out
    assert 'phase 1' in printed and 'phase 2' in printed
    assert printed.count('skipping') == 2
    assert 'trained with' not in printed          # same settings: no note

    # asking for another schedule: still skipped, but the user is told
    train(out, published, epochs_main=3)
    printed = capsys.readouterr().out
    assert printed.count('skipping') == 2
    assert printed.count('trained with epochs_main 1 (asked 3)') == 2


def test_same_seed_gives_identical_weights(first_run, published, tmp_path):
    out, _, _ = first_run
    train(tmp_path / 'again', published)
    for role in ('baseline', 'branchynet'):
        a = params(str(out / role))
        b = params(str(tmp_path / 'again' / role))
        assert_same_params(a, b)


def test_other_seed_gives_other_weights(first_run, published, tmp_path):
    out, _, _ = first_run
    train(tmp_path / 'seed1', published, seed=1)
    assert differs(params(str(out / 'baseline')),
                   params(str(tmp_path / 'seed1' / 'baseline')), '/')


def test_resume_continues_from_the_snapshot(first_run, published, tmp_path,
                                            capsys):
    out, first, _ = first_run
    # an interrupted phase 1: its epoch-1 snapshot, no model file yet
    run = tmp_path / 'resumed'
    shutil.copytree(out / 'phase1', run / 'phase1')
    updates = []
    real_update_core = JointUpdater.update_core

    def counting_update_core(self):
        updates.append(self.iteration)
        return real_update_core(self)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(JointUpdater, 'update_core',
                   counting_update_core)
        results = train(run, published, epochs_main=2, resume=True)
    assert 'resuming from' in capsys.readouterr().out
    # phase 1 ran only its second epoch (iterations 7..13), phase 2 from 0
    assert updates == (list(range(ITERS_PER_EPOCH, 2 * ITERS_PER_EPOCH))
                       + list(range(ITERS_PER_EPOCH)))
    assert latest_snapshot(str(run / 'phase1')).endswith(
        'snapshot_iter_%d' % (2 * ITERS_PER_EPOCH))
    # the log kept the first epoch from the snapshot and added the second
    seconds = results['baseline']['epoch_seconds']
    assert len(seconds) == 2
    assert seconds[0] == first['baseline']['epoch_seconds'][0]
    # an uninterrupted 2-epoch run reaches the same weights (the snapshot
    # holds the optimizer state and the iterator's next order)
    train(tmp_path / 'straight', published, epochs_main=2)
    assert_same_params(params(str(run / 'baseline')),
                       params(str(tmp_path / 'straight' / 'baseline')))


def test_bad_settings_are_user_errors(tmp_path, published):
    for bad in (dict(epochs_main=0), dict(epochs_joint=-1),
                dict(batch_size=0), dict(lr=0.0), dict(betas='adam'),
                dict(exit_weights=(1.0,)), dict(exit_weights=(1.0, -1.0)),
                dict(recipe='modern'), dict(val_size=N_TRAIN)):
        with pytest.raises(BranchyNetError):
            train(tmp_path / 'bad', published, **bad)
        # rejected before any training
        assert not (tmp_path / 'bad' / 'baseline.npz').exists()
    with pytest.raises(BranchyNetError):
        training.train_experiment('vgg_mnist', str(tmp_path / 'bad'))


def test_resolve_exit_weights():
    assert settings.resolve_exit_weights(None, 3) == [1.0, 1.0, 1.0]
    assert settings.resolve_exit_weights('code', 2) == [1.0, 1.0]
    assert settings.resolve_exit_weights('paper', 2) == [1.0, 0.3]
    assert settings.resolve_exit_weights((0.5, 2), 2) == [0.5, 2.0]
    with pytest.raises(BranchyNetError):
        settings.resolve_exit_weights((1.0, float('nan')), 2)


def test_joint_training_lowers_the_loss_of_b_lenet(synthetic_digits):
    images, labels = synthetic_digits(32, seed=7)
    x = (images[:, None] / 255.0).astype(numpy.float32)
    t = labels.astype(numpy.int32)
    numpy.random.seed(0)
    model = b_lenet()
    loss_link = JointLoss(model)
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(loss_link)
    losses = []
    for _ in range(4):
        loss = loss_link(x, t)
        losses.append(float(loss.array))
        loss_link.cleargrads()
        loss.backward()
        optimizer.update()
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


@pytest.mark.parametrize('name,shape', [('b_lenet', (1, 28, 28)),
                                        ('b_alexnet', (3, 32, 32)),
                                        ('b_resnet110', (3, 32, 32))])
@pytest.mark.parametrize('main_only', [True, False], ids=['phase1', 'phase2'])
def test_one_training_iteration_of_each_network(name, shape, main_only):
    from branchynet.networks import NETWORKS
    rng = numpy.random.RandomState(0)
    x = rng.rand(4, *shape).astype(numpy.float32)
    t = numpy.array([0, 1, 2, 3], numpy.int32)
    numpy.random.seed(0)
    loss_link = JointLoss(NETWORKS[name](), main_only=main_only)
    before = {n: p.array.copy() for n, p in loss_link.namedparams()}
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(loss_link)
    with chainer.using_config('train', True):
        optimizer.update(loss_link, x, t)
    assert optimizer.t == 1
    changed = {n for n, p in loss_link.namedparams()
               if not numpy.array_equal(p.array, before[n])}
    model = loss_link.model
    last = model.n_exits - 1
    for n in before:
        # phase 1 trains stages + the final exit only; phase 2 everything
        in_side_exit = any(n.startswith('/model/exits/%d/' % k)
                           for k in range(last))
        assert (n in changed) == (not (main_only and in_side_exit)), n


def test_a_non_finite_loss_stops_training_and_keeps_the_last_snapshot(
        published, tmp_path, monkeypatch):
    real_forward = JointLoss.forward
    steps = []

    def poisoned(self, x, t):
        loss = real_forward(self, x, t)
        if chainer.config.train:          # not the test passes
            steps.append(1)
            if len(steps) == 2 * ITERS_PER_EPOCH + 3:
                return loss * float('nan')
        return loss
    monkeypatch.setattr(JointLoss, 'forward', poisoned)
    with pytest.raises(BranchyNetError, match=(
            r'^phase 1: the loss became nan at epoch 3, iteration %d; '
            r'training stopped, the last good snapshot is .*snapshot_iter_%d$'
            % (2 * ITERS_PER_EPOCH + 3, 2 * ITERS_PER_EPOCH))):
        train(tmp_path, published, epochs_main=4)
    # the weights never saw the NaN: the snapshot resumes cleanly
    assert not (tmp_path / 'baseline.json').exists()
    monkeypatch.setattr(JointLoss, 'forward', real_forward)
    results = train(tmp_path, published, epochs_main=4, resume=True)
    assert 0 <= results['baseline']['test_accuracy_main'] <= 1


def test_the_warm_baseline_after_phase_2_is_the_trained_main_path():
    """In warm mode phase 2 trains the final exit from main's classifier:
    the main network after phase 2 is the trunk with that exit."""
    from branchynet.networks import NETWORKS
    numpy.random.seed(0)
    build = NETWORKS['b_resnet110']
    baseline, model = build(), build()
    model.stages[0][1].avg_mean[...] = 5.0
    model.exits[-1][0].W.array[...] = 2.0
    head = copy.deepcopy(baseline.exits[-1])
    after = training.baseline_after_joint(baseline, model, head, 'warm')
    assert_same_params(params(after), params(model), '/stages/')
    assert_same_params(params(after), params(model), '/exits/2/')
    numpy.testing.assert_array_equal(after.stages[0][1].avg_mean, 5.0)


def test_a_fresh_start_draws_its_initial_weights_again(first_run, published,
                                                      tmp_path):
    """A run started over (no --resume) with another seed does not reuse
    the initial weights an earlier run left in the folder."""
    out, _, _ = first_run
    run = tmp_path / 'again'
    run.mkdir()
    shutil.copy(out / 'initial.npz', run / 'initial.npz')      # seed 0's
    train(run, published, seed=1)
    numpy.random.seed(1)
    seed1 = params(b_lenet())
    with numpy.load(str(run / 'initial.npz')) as npz:
        saved = {'/' + k: npz[k] for k in npz.files}
    assert_same_params(saved, seed1)


def test_a_kill_between_a_models_npz_and_its_json_blocks_nothing(
        first_run, published, tmp_path):
    """The JSON, written after the npz, marks a phase done: an npz alone
    (a kill between the two writes) is retrained and overwritten."""
    out, _, _ = first_run
    run = tmp_path / 'run'
    run.mkdir()
    shutil.copy(out / 'baseline.npz', run / 'baseline.npz')
    results = train(run, published, resume=True)
    assert (run / 'baseline.json').exists()
    assert results['baseline']['epoch_seconds']          # it trained
    assert_same_params(params(str(run / 'baseline')),
                       params(str(out / 'baseline')))


def test_the_warm_phase_2_starts_with_phase_1_batchnorm_statistics():
    """``warm`` carries the whole trained main path into phase 2, its
    BatchNormalization statistics included (``reference`` does not: see
    test_baseline_after_joint_keeps_phase_1_batchnorm_statistics)."""
    from branchynet.networks import NETWORKS
    numpy.random.seed(0)
    build = NETWORKS['b_resnet110']
    baseline, initial = build(), build()
    baseline.stages[0][1].avg_mean[...] = 3.0
    baseline.stages[0][1].avg_var[...] = 4.0
    model, _ = training.phase2_start(baseline, initial, 'warm')
    numpy.testing.assert_array_equal(model.stages[0][1].avg_mean, 3.0)
    numpy.testing.assert_array_equal(model.stages[0][1].avg_var, 4.0)
    assert_same_params(params(model), params(baseline), '/stages/')


#: a user's network with BatchNormalization and dropout in its trunk (which
#: a frozen trunk must run as at inference)
BN_DROPOUT_NETWORK = '''
import chainer
import chainer.links as L
from branchynet import BranchyNet
from branchynet.networks.layers import dropout, max_pool, relu

def tiny(n_classes, in_shape):
    c = in_shape[0]
    return BranchyNet(
        [chainer.Sequential(L.Convolution2D(c, 4, 3, pad=1),
                            L.BatchNormalization(4), relu, dropout(0.5)),
         chainer.Sequential(max_pool(2, 2), L.Convolution2D(4, 8, 3),
                            L.BatchNormalization(8), relu, dropout(0.5))],
        [chainer.Sequential(max_pool(2, 2), L.Linear(None, n_classes)),
         chainer.Sequential(L.Linear(None, n_classes))])
tiny.name = 'TinyBN'
'''


def test_exits_added_on_a_frozen_batchnorm_trunk_leave_it_bit_for_bit(
        tmp_path, user_networks, capsys):
    """``--from-trained --freeze-trunk`` on a trunk with BatchNormalization
    and dropout: every entry of the stages and the final exit, running
    statistics included, is the trained model's in all three models."""
    from helpers import run_cli, tiny_data, write_network
    spec = write_network(tmp_path / 'net.py', BN_DROPOUT_NETWORK)
    data = tiny_data(tmp_path / 'd.npz')
    common = ['--network', spec, '--dataset', data, '--epochs-main', '1',
              '--epochs-joint', '1', '--batch-size', '16', '--val-size',
              '16', '--no-progress']
    source, added = tmp_path / 'source', tmp_path / 'added'
    assert run_cli(['train', '--out', str(source)] + common) == 0
    assert run_cli(['train', '--out', str(added), '--from-trained',
                    str(source), '--freeze-trunk'] + common) == 0
    capsys.readouterr()
    with numpy.load(str(source / 'baseline.npz')) as npz:
        want = {k: npz[k] for k in npz.files
                if k.startswith(('stages/', 'exits/1/'))}
    statistics = [k for k in want if k.endswith(('/avg_mean', '/avg_var'))]
    assert len(statistics) == 4, sorted(want)
    # phase 1 did move the statistics from their initial 0 and 1
    assert all(want[k].any() and (want[k] != 1).any() for k in statistics)
    for role in ('baseline', 'branchynet', 'baseline_after_joint'):
        with numpy.load(str(added / (role + '.npz'))) as npz:
            for k, v in want.items():
                numpy.testing.assert_array_equal(npz[k], v,
                                                 err_msg=role + ' ' + k)
    # the heads trained
    with numpy.load(str(added / 'initial.npz')) as a, \
            numpy.load(str(added / 'branchynet.npz')) as b:
        heads = [k for k in a.files if k.startswith('exits/0/')]
        assert heads and not any(numpy.array_equal(a[k], b[k])
                                 for k in heads)
