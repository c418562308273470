"""Our two phases against a literal re-implementation of the reference's.

``ReferenceBranchyNet`` below transcribes the training of the reference
code (kunglab/branchynet, ``branchynet/net.py``: ``BranchyNet.__init__``,
``train_model``, ``train``) onto Chainer 7 links: ``main`` holds the trunk
and its own classifier; every Branch, the last one too, becomes a net of
deep copies (trunk so far + branch); each phase-2 step copies the trunk's
parameters from ``main`` into every net, back-propagates each net's loss,
adds the nets' trunk gradients into ``main``, steps ``main``'s Adam (whose
classifier has zero gradients) and every net's own Adam, and copies the
trunk again. Our implementation (one shared trunk, one optimizer per
parameter group, :mod:`branchynet.training.trainer`) must reach the same weights on
the same batches.

The network has a BatchNormalization layer in its trunk, and the
reference's scatter copies parameters only, as Chainer v1's ``copyparams``
did (v1.17.0 ``chainer/link.py``: ``Link.copyparams`` copies
``self._params``, no persistent values): so a BN regression (statistics
copied where v1 copied none) shows in the trunk's and the baseline's
running statistics.
"""
import copy

import chainer
import chainer.functions as F
import chainer.links as L
import numpy

from branchynet.experiments import get_experiment
from branchynet.networks.model import BranchyNet, JointLoss
from branchynet.training.settings import resolve_settings
from branchynet.training.trainer import (baseline_after_joint, phase2_start,
                                 phase2_targets)
from branchynet.networks.model import MainNetwork
from branchynet.training.updater import JointUpdater, setup_optimizers

N_IN, N_CLASSES, BATCH = 8, 4, 6


def tiny_network():
    """3 stages, 3 exits, with ReLUs (so the trunk gradients interact) and
    a BatchNormalization layer in stage 2 (shared by exits 2 and 3)."""
    stages = [chainer.Sequential(L.Linear(N_IN, 16), F.relu),
              # no bias before BN: its true gradient is 0, and Adam would
              # blow up float noise there into steps of size alpha
              chainer.Sequential(L.Linear(16, 16, nobias=True),
                                 L.BatchNormalization(16), F.relu),
              chainer.Sequential(L.Linear(16, 12), F.relu)]
    exits = [chainer.Sequential(L.Linear(16, N_CLASSES)),
             chainer.Sequential(L.Linear(16, 8), F.relu,
                                L.Linear(8, N_CLASSES)),
             chainer.Sequential(L.Linear(12, N_CLASSES))]
    return BranchyNet(stages, exits)


def batches(n, seed=0):
    rng = numpy.random.RandomState(seed)
    return [(rng.randn(BATCH, N_IN).astype(numpy.float32),
             rng.randint(0, N_CLASSES, BATCH).astype(numpy.int32))
            for _ in range(n)]


class ReferenceBranchyNet:
    """The reference's training, transcribed (see the module docstring)."""

    def __init__(self, initial):
        stages = [copy.deepcopy(s) for s in initial.stages]
        # main: the trunk and a deep copy of the last branch
        self.main = chainer.ChainList(
            *stages, copy.deepcopy(initial.exits[-1]))
        self.n_stages = len(stages)
        # one net per branch: deep copies of the trunk so far + the branch
        self.nets = [chainer.ChainList(
            *[copy.deepcopy(s) for s in stages[:k + 1]],
            copy.deepcopy(initial.exits[k])) for k in range(len(stages))]
        self.optimizer = chainer.optimizers.Adam(alpha=0.001)
        self.optimizer.setup(self.main)
        self.optimizers = []
        for net in self.nets:
            optimizer = chainer.optimizers.Adam()
            optimizer.setup(net)
            self.optimizers.append(optimizer)

    @staticmethod
    def forward(chain, x):
        h = x
        for link in chain:
            h = link(h)
        return h

    def train_main(self, x, t):                       # train_model(main)
        self.main.zerograds()
        F.softmax_cross_entropy(self.forward(self.main, x), t).backward()
        self.optimizer.update()

    def scatter(self):
        for net in self.nets:
            for j in range(len(net) - 1):             # the trunk, < endi
                # v1's copyparams: parameters, never BN statistics
                net[j].copyparams(self.main[j], copy_persistent=False)

    def train(self, x, t):                            # train (phase 2)
        self.scatter()
        self.main.zerograds()
        for net in self.nets:
            net.zerograds()
        for net in self.nets:
            F.softmax_cross_entropy(self.forward(net, x), t).backward()
        for i in range(self.n_stages):                # gather
            for net in self.nets:
                if i < len(net) - 1:
                    self.main[i].addgrads(net[i])
        self.optimizer.update()
        for optimizer in self.optimizers:
            optimizer.update()
        self.scatter()


def params_of(chain):
    return [p.array.copy() for p in chain.params()]


def bn_statistics(link):
    """``[avg_mean, avg_var]`` of every BatchNormalization under ``link``."""
    return [numpy.array(getattr(bn, name)) for bn in link.links()
            if isinstance(bn, L.BatchNormalization)
            for name in ('avg_mean', 'avg_var')]


def ours(initial, phase1, phase2):
    """Our two phases on the given batches; returns the trained models."""
    settings = resolve_settings('lenet_mnist')
    recipe = get_experiment('lenet_mnist').recipe()
    baseline = copy.deepcopy(initial)
    main = MainNetwork(baseline.stages, baseline.exits[-1])
    optimizers, _ = setup_optimizers(recipe, settings, {'main': main}, 0)
    run_steps(JointLoss(baseline, main_only=True), optimizers, phase1)
    model, main_head = phase2_start(baseline, initial, 'reference')
    targets = phase2_targets(model, main_head, 'reference')
    phase2_optimizers, _ = setup_optimizers(recipe, settings, targets, 0)
    # main's Adam goes on (what phase1/optimizer.npz carries)
    serializer = chainer.serializers.DictionarySerializer()
    optimizers['main'].serialize(serializer)
    phase2_optimizers['main'].serialize(
        chainer.serializers.NpzDeserializer(serializer.target))
    run_steps(JointLoss(model), phase2_optimizers, phase2)
    return baseline, model, main_head


def run_steps(loss_link, optimizers, data):
    iterator = chainer.iterators.SerialIterator(
        chainer.datasets.TupleDataset(
            numpy.concatenate([x for x, _ in data]),
            numpy.concatenate([t for _, t in data])), BATCH, shuffle=False)
    updater = JointUpdater(iterator, optimizers, loss_link,
                           chainer.dataset.concat_examples, '@numpy')
    for _ in data:
        updater.update()


def test_our_training_reaches_the_references_weights():
    numpy.random.seed(0)
    initial = tiny_network()
    phase1, phase2 = batches(5, seed=1), batches(7, seed=2)
    reference = ReferenceBranchyNet(initial)
    for x, t in phase1:
        reference.train_main(x, t)
    for x, t in phase2:
        reference.train(x, t)
    baseline, model, main_head = ours(initial, phase1, phase2)

    def close(a, b):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            numpy.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    # the trunk
    close(params_of(model.stages),
          [p.array for link in reference.main[:3] for p in link.params()])
    # every exit head, trained from its initial weights
    for k in range(3):
        close(params_of(model.exits[k]), params_of(reference.nets[k][-1]))
    # main's own classifier: trained in phase 1, drifting in phase 2
    close(params_of(main_head), params_of(reference.main[-1]))
    assert not numpy.allclose(params_of(main_head)[0],
                              params_of(baseline.exits[-1])[0])
    # the reference's Table I baseline is its main after phase 2
    after = baseline_after_joint(baseline, model, main_head)
    close(params_of(after.stages) + params_of(after.exits[-1]),
          params_of(reference.main))
    # BN statistics. The B-network's trunk: phase 2's updates only, from the
    # initial values (each reference net's trunk is a deep copy of them,
    # updated by its own forwards; exits 2 and 3 share stage 2 and agree)
    trunk_bn = bn_statistics(model.stages)
    assert len(trunk_bn) == 2
    for k in (1, 2):
        close(trunk_bn, bn_statistics(reference.nets[k][1]))
    # the baseline: main's statistics, which only phase 1 moved
    close(bn_statistics(after.stages), bn_statistics(reference.main[1]))
    # and the two differ by far more than the tolerance, so a copy of one
    # into the other cannot pass
    assert not numpy.allclose(trunk_bn[0], bn_statistics(after.stages)[0],
                              rtol=1e-2, atol=1e-3)
