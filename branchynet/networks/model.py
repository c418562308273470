"""The BranchyNet chain: trunk stages, one exit head after each stage.

A sample's path: ``x -> stages[0] -> exits[0] -> logits of exit 1``, and
``stages[0] -> stages[1] -> exits[1] -> logits of exit 2``, and so on; the
last exit is the main network's classifier. ``stages[:] + exits[-1]`` is
the main network's architecture. (Table I's baseline is the saved
``baseline_after_joint`` model: after a reference phase 2, whose final exit
was trained from its initial weights, that is the phase-2 trunk with main's
phase-1 classifier; see :mod:`branchynet.training.trainer`.)

Also here: :class:`MainNetwork`, the main network as a view on a
BranchyNet's links (what the trunk's optimizer steps), and
:class:`JointLoss`, the weighted loss of every exit.
"""
import chainer
import chainer.functions as F


class BranchyNet(chainer.Chain):
    """A network cut into trunk stages, with an exit head after each.

    Args:
        stages (list of callables/links): the trunk, ``K`` consecutive pieces.
        exits (list of callables/links): ``K`` exit heads; ``exits[k]`` reads
            the output of ``stages[k]`` and returns class logits.

    Attributes:
        stages (chainer.ChainList): the trunk stages.
        exits (chainer.ChainList): the exit heads; ``exits[-1]`` is the main
            classifier.
    """

    def __init__(self, stages, exits):
        super().__init__()
        if len(stages) != len(exits) or len(stages) < 1:
            raise ValueError('need one exit head per stage, got %d stages and '
                             '%d exits' % (len(stages), len(exits)))
        with self.init_scope():
            self.stages = chainer.ChainList(*stages)
            self.exits = chainer.ChainList(*exits)

    @property
    def n_exits(self):
        """Number of exits ``K`` (the last is the main classifier)."""
        return len(self.exits)

    def forward(self, x):
        """Logits of every exit, computing the shared trunk once.

        Args:
            x (array or Variable): input batch, float32, ``(N, C, H, W)``.

        Returns:
            list of Variable: ``K`` arrays of logits, float32 ``(N, classes)``.
        """
        logits = []
        h = x
        for stage, head in zip(self.stages, self.exits):
            h = stage(h)
            logits.append(head(h))
        return logits

    def forward_main(self, x):
        """Logits of the main network alone (all stages, the final exit)."""
        h = x
        for stage in self.stages:
            h = stage(h)
        return self.exits[-1](h)


class MainNetwork(chainer.Chain):
    """The main network as the reference's ``main``: trunk + own classifier.

    A view on links that also belong to a :class:`~branchynet.BranchyNet`
    (the stages), so that the trunk's optimizer has one target in both
    phases and its state carries over.

    Args:
        stages (chainer.ChainList): the trunk stages (shared, not copied).
        head (chainer.Link): main's classifier.
    """

    def __init__(self, stages, head):
        super().__init__()
        with self.init_scope():
            self.stages = stages
            self.head = head


class JointLoss(chainer.Chain):
    """Weighted sum of the exits' cross-entropies, reported per exit.

    ``loss = sum_k w_k * CE(z_k, t)``. With ``main_only=True`` only the main
    network is run and the loss is the final exit's cross-entropy (phase 1).

    Reported (under the observer name of this link, ``main`` in a Trainer):
    ``loss``, ``accuracy`` (of the final exit), and ``exitK/loss``,
    ``exitK/accuracy`` for K = 1..n_exits when training jointly.

    With ``frozen_trunk=True`` the stages and the final exit run as at
    inference (no gradients, BatchNormalization's statistics and dropout
    as in evaluation), and the loss is the exit heads' alone: exits added to
    a trained network, which stays bit for bit as it was.

    Args:
        model (BranchyNet): the network.
        weights (sequence of float): ``w_k`` per exit; default all 1 (as the
            reference code does).
        main_only (bool): train and report the main network only.
        frozen_trunk (bool): train the exit heads on a fixed trunk.
    """

    def __init__(self, model, weights=None, main_only=False,
                 frozen_trunk=False):
        super().__init__()
        if weights is None:
            weights = [1.0] * model.n_exits
        if len(weights) != model.n_exits:
            raise ValueError('need %d exit weights, got %d'
                             % (model.n_exits, len(weights)))
        self.weights = [float(w) for w in weights]
        self.main_only = main_only
        self.frozen_trunk = frozen_trunk
        with self.init_scope():
            self.model = model

    def forward(self, x, t):
        if self.main_only:
            z = self.model.forward_main(x)
            loss = F.softmax_cross_entropy(z, t)
            chainer.report({'loss': loss, 'accuracy': F.accuracy(z, t)}, self)
            return loss
        loss = 0
        report = {}
        all_logits = (self._on_frozen_trunk(x) if self.frozen_trunk
                      else self.model(x))
        for k, (z, w) in enumerate(zip(all_logits, self.weights), 1):
            loss_k = F.softmax_cross_entropy(z, t)
            if not (self.frozen_trunk and k == len(all_logits)):
                loss += w * loss_k
            report['exit%d/loss' % k] = loss_k
            report['exit%d/accuracy' % k] = F.accuracy(z, t)
        report['loss'] = loss
        report['accuracy'] = report['exit%d/accuracy' % len(all_logits)]
        chainer.report(report, self)
        return loss


    def _on_frozen_trunk(self, x):
        """The heads' logits on the trunk run as at inference, then the
        final exit's (a constant)."""
        with chainer.using_config('train', False), \
                chainer.no_backprop_mode():
            features, h = [], x
            for stage in self.model.stages:
                h = stage(h)
                features.append(h)
            final = self.model.exits[-1](h)
        heads = self.model.exits[:-1]
        return [head(f) for head, f in zip(heads, features)] + [final]


def paper_exit_weights(n_exits):
    """The paper's weighting: 1.0 at the first exit down to 0.3 at the last.

    The paper reports (1.0, ..., 0.3) for (first, ..., last); intermediate
    exits are spaced linearly.
    """
    if n_exits == 1:
        return [1.0]
    step = 0.7 / (n_exits - 1)
    return [round(1.0 - step * k, 6) for k in range(n_exits)]
