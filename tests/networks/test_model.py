"""BranchyNet chain and JointLoss: shared trunk, weighted loss, phase 1."""
import chainer
import chainer.links as L
import numpy
import pytest

from branchynet.networks.model import BranchyNet, JointLoss, paper_exit_weights
from branchynet.networks import b_alexnet, b_lenet


class CallCounter(chainer.LinkHook):
    """Counts forward calls per link it is added to."""
    name = 'CallCounter'

    def __init__(self):
        self.calls = {}

    def forward_preprocess(self, args):
        key = id(args.link)
        self.calls[key] = self.calls.get(key, 0) + 1

    def count(self, link):
        return self.calls.get(id(link), 0)


def counted(model):
    counter = CallCounter()
    for link in list(model.stages) + list(model.exits):
        link.add_hook(counter)
    return counter


def lenet_batch(n=6, seed=0):
    rng = numpy.random.RandomState(seed)
    x = rng.rand(n, 1, 28, 28).astype(numpy.float32)
    t = rng.randint(0, 10, n).astype(numpy.int32)
    return x, t


def cross_entropy(logits, t):
    """Mean softmax cross-entropy in float64, by hand."""
    z = logits.astype(numpy.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - numpy.log(numpy.exp(z).sum(axis=1, keepdims=True))
    return -log_p[numpy.arange(len(t)), t].mean()


def value(v):
    """A reported value (Variable or array) as a Python float."""
    return float(getattr(v, 'array', v))


def observe(loss_link, *args):
    """Call ``loss_link`` under a Reporter; returns (loss, observation)."""
    reporter = chainer.Reporter()
    reporter.add_observer('main', loss_link)
    observation = {}
    with reporter.scope(observation):
        loss = loss_link(*args)
    return loss, observation


@pytest.mark.parametrize('build, shape', [
    (b_lenet, (2, 1, 28, 28)), (b_alexnet, (2, 3, 32, 32))],
    ids=['b_lenet', 'b_alexnet'])
def test_forward_computes_each_stage_once(build, shape):
    model = build()
    counter = counted(model)
    x = numpy.random.RandomState(0).rand(*shape).astype(numpy.float32)
    with chainer.using_config('train', False):
        logits = model(x)
    assert len(logits) == model.n_exits
    for link in list(model.stages) + list(model.exits):
        assert counter.count(link) == 1


def test_forward_main_skips_the_branch_heads():
    model = b_alexnet()
    counter = counted(model)
    x = numpy.random.RandomState(0).rand(2, 3, 32, 32).astype(numpy.float32)
    with chainer.using_config('train', False):
        model.forward_main(x)
    assert [counter.count(s) for s in model.stages] == [1, 1, 1]
    assert [counter.count(e) for e in model.exits] == [0, 0, 1]


@pytest.mark.parametrize('build, shape', [
    (b_lenet, (3, 1, 28, 28)), (b_alexnet, (3, 3, 32, 32))],
    ids=['b_lenet', 'b_alexnet'])
def test_forward_main_equals_the_last_exit(build, shape):
    model = build()
    x = numpy.random.RandomState(1).rand(*shape).astype(numpy.float32)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        all_logits = model(x)
        main = model.forward_main(x)
    numpy.testing.assert_array_equal(main.array, all_logits[-1].array)


def test_branchynet_needs_one_exit_per_stage():
    with pytest.raises(ValueError):
        BranchyNet([L.Linear(2, 2)], [L.Linear(2, 2), L.Linear(2, 2)])
    with pytest.raises(ValueError):
        BranchyNet([], [])


def test_joint_loss_is_the_weighted_sum_of_exit_losses():
    model = b_lenet()
    x, t = lenet_batch()
    weights = [0.7, 0.2]
    loss, observation = observe(JointLoss(model, weights), x, t)
    logits = [z.array for z in model(x)]
    ce = [cross_entropy(z, t) for z in logits]
    expected = sum(w * c for w, c in zip(weights, ce))
    assert float(loss.array) == pytest.approx(expected, rel=1e-5)
    for k, (z, c) in enumerate(zip(logits, ce), 1):
        assert value(observation['main/exit%d/loss' % k]) == pytest.approx(
            c, rel=1e-5)
        accuracy = (z.argmax(axis=1) == t).mean()
        assert value(observation['main/exit%d/accuracy' % k]) == \
            pytest.approx(accuracy)
    assert value(observation['main/loss']) == pytest.approx(expected,
                                                           rel=1e-5)
    assert value(observation['main/accuracy']) == pytest.approx(
        (logits[-1].argmax(axis=1) == t).mean())


def test_joint_loss_default_weights_are_all_one():
    model = b_alexnet()
    x = numpy.random.RandomState(0).rand(3, 3, 32, 32).astype(numpy.float32)
    t = numpy.array([1, 5, 9], numpy.int32)
    with chainer.using_config('train', False):
        loss, observation = observe(JointLoss(model), x, t)
        ce = [cross_entropy(z.array, t) for z in model(x)]
    assert float(loss.array) == pytest.approx(sum(ce), rel=1e-5)
    assert sorted(observation) == sorted(
        ['main/loss', 'main/accuracy']
        + ['main/exit%d/%s' % (k, m) for k in (1, 2, 3)
           for m in ('loss', 'accuracy')])


def test_joint_loss_gradient_equals_per_exit_gradients_summed():
    """One shared forward gives the reference's gradients (trunk per exit)."""
    model = b_lenet()
    x, t = lenet_batch(seed=2)
    weights = [1.0, 0.3]
    model.cleargrads()
    JointLoss(model, weights)(x, t).backward()
    joint = {name: p.grad.copy() for name, p in model.namedparams()}

    summed = {name: numpy.zeros_like(p.array)
              for name, p in model.namedparams()}
    for k, w in enumerate(weights):
        model.cleargrads()
        h = x
        for stage in model.stages[:k + 1]:     # the trunk, recomputed
            h = stage(h)
        loss = w * chainer.functions.softmax_cross_entropy(
            model.exits[k](h), t)
        loss.backward()
        for name, p in model.namedparams():
            if p.grad is not None:
                summed[name] += p.grad
    for name in joint:
        numpy.testing.assert_allclose(joint[name], summed[name], rtol=1e-4,
                                      atol=1e-7, err_msg=name)


def test_main_only_loss_trains_only_the_main_network():
    model = b_lenet()
    x, t = lenet_batch(seed=3)
    model.cleargrads()
    loss, observation = observe(JointLoss(model, main_only=True), x, t)
    loss.backward()
    for p in model.exits[0].params():
        assert p.grad is None
    for link in list(model.stages) + [model.exits[-1]]:
        for p in link.params():
            assert p.grad is not None and numpy.abs(p.grad).sum() > 0
    expected = cross_entropy(model.forward_main(x).array, t)
    assert float(loss.array) == pytest.approx(expected, rel=1e-5)
    assert sorted(observation) == ['main/accuracy', 'main/loss']


def test_joint_loss_gives_every_exit_head_a_gradient():
    model = b_lenet()
    x, t = lenet_batch(seed=4)
    model.cleargrads()
    JointLoss(model)(x, t).backward()
    for p in model.params():
        assert p.grad is not None


def test_joint_loss_checks_the_number_of_weights():
    with pytest.raises(ValueError):
        JointLoss(b_lenet(), [1.0, 1.0, 1.0])


def test_paper_exit_weights():
    assert paper_exit_weights(1) == [1.0]
    assert paper_exit_weights(2) == [1.0, 0.3]
    assert paper_exit_weights(3) == pytest.approx([1.0, 0.65, 0.3])
    w = paper_exit_weights(5)
    assert w[0] == 1.0 and w[-1] == pytest.approx(0.3)
    assert numpy.allclose(numpy.diff(w), numpy.diff(w)[0])   # linear


def batchnorm_dropout_net(seed=0):
    """Two exits on 6 features; BatchNormalization and dropout in both
    stages (a frozen trunk must run them as at inference)."""
    from branchynet.networks.layers import dropout, relu
    numpy.random.seed(seed)
    return BranchyNet(
        [chainer.Sequential(L.Linear(6, 8), L.BatchNormalization(8), relu,
                            dropout(0.5)),
         chainer.Sequential(L.Linear(8, 8), L.BatchNormalization(8), relu,
                            dropout(0.5))],
        [L.Linear(8, 3), L.Linear(8, 3)])


def test_a_frozen_trunk_runs_as_at_inference():
    """Under training's config the trunk keeps its statistics, drops
    nothing and gets no gradient; the loss is the heads' alone."""
    model = batchnorm_dropout_net()
    for bn in (model.stages[0][1], model.stages[1][1]):
        bn.avg_mean[...] = numpy.linspace(-1, 1, 8)
        bn.avg_var[...] = numpy.linspace(0.5, 2, 8)
    stats = [(link.avg_mean.copy(), link.avg_var.copy())
             for link in (model.stages[0][1], model.stages[1][1])]
    rng = numpy.random.RandomState(5)
    x = rng.rand(16, 6).astype(numpy.float32)
    t = rng.randint(0, 3, 16).astype(numpy.int32)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        h1 = model.stages[0](x)
        want = [model.exits[0](h1).array,
                model.exits[1](model.stages[1](h1)).array]
    model.cleargrads()
    with chainer.using_config('train', True):
        loss, observation = observe(JointLoss(model, frozen_trunk=True),
                                    x, t)
    loss.backward()
    for (mean, var), link in zip(stats, (model.stages[0][1],
                                         model.stages[1][1])):
        numpy.testing.assert_array_equal(link.avg_mean, mean)
        numpy.testing.assert_array_equal(link.avg_var, var)
    for k, z in enumerate(want, 1):
        assert value(observation['main/exit%d/loss' % k]) == pytest.approx(
            cross_entropy(z, t), rel=1e-5)
    assert float(loss.array) == pytest.approx(cross_entropy(want[0], t),
                                              rel=1e-5)
    for link in list(model.stages) + [model.exits[-1]]:
        assert all(p.grad is None for p in link.params())
    assert all(p.grad is not None for p in model.exits[0].params())
