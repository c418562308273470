"""Optimizers and the update step of both training phases.

The reference (``branchynet/net.py``, ``BranchyNet.__init__`` and ``train``)
keeps one Adam for ``main`` (the trunk and main's own classifier) that steps
through both phases, and one fresh Adam per exit for that exit's head in
phase 2. ``main.zerograds()`` gives main's classifier zero, not missing,
gradients in phase 2, so Adam keeps moving it with its decaying momentum.
:class:`JointUpdater` reproduces that with one Chainer optimizer per
parameter group: Chainer's gradient methods turn a missing gradient into
zeros before they step (``GradientMethod.reallocate_cleared_grads``), and
ChainerMN's multi-node optimizer does the same (``zero_fill``), so main's
classifier drifts as it did in the reference.
"""
import math

import chainer
from chainer.dataset import convert
from chainer.training import extensions

from branchynet.errors import BranchyNetError

#: Adam betas of the reference code (Chainer's defaults) and of the paper
ADAM_BETAS = {'code': (0.9, 0.999), 'paper': (0.99, 0.999)}


def make_optimizer(recipe, settings):
    """A fresh optimizer of ``recipe`` (its hooks added at setup).

    Returns:
        tuple: ``(optimizer, name of its learning-rate attribute)``.
    """
    if recipe.optimizer == 'adam':
        beta1, beta2 = ADAM_BETAS[settings.betas]
        return chainer.optimizers.Adam(alpha=settings.lr, beta1=beta1,
                                       beta2=beta2), 'alpha'
    return chainer.optimizers.MomentumSGD(lr=settings.lr, momentum=0.9), 'lr'


def setup_optimizers(recipe, settings, targets, iterations):
    """One optimizer per target link; learning-rate drops for each.

    Args:
        recipe (Recipe): optimizer kind, weight decay, lr drops.
        settings (TrainSettings): lr, betas.
        targets (dict): name -> link; ``'main'`` must be among them.
        iterations (int): updates in the phase (for the lr drops).

    Returns:
        tuple: ``(optimizers dict, list of lr-drop extensions)``.
    """
    optimizers, shifts = {}, []
    for name, target in targets.items():
        optimizer, attr = make_optimizer(recipe, settings)
        optimizer.setup(target)
        if recipe.weight_decay:
            optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(
                recipe.weight_decay))
        optimizers[name] = optimizer
        if recipe.lr_drops:
            shifts.append(extensions.MultistepShift(
                attr, 0.1, [int(f * iterations) for f in recipe.lr_drops],
                settings.lr, optimizer=optimizer))
    return optimizers, shifts


class NonFiniteLoss(BranchyNetError):
    """The training loss became NaN or infinite."""


class JointUpdater(chainer.training.updaters.StandardUpdater):
    """One backward pass, then every optimizer steps its own parameters.

    A parameter that received no gradient is stepped with a zero one (see
    the module docstring): Chainer v1's ``zerograds`` semantics, so Adam
    keeps applying its momentum to it as the reference did.

    A non-finite loss stops training before it reaches the weights
    (:class:`NonFiniteLoss`, naming epoch and iteration). Chainer's
    ``FailOnNonNumber`` extension would only notice after the update, in
    the parameters, and name neither.

    Args:
        iterator: the training iterator.
        optimizers (dict): name -> optimizer; ``'main'`` is the trunk's.
        loss_func (callable): ``loss_func(x, t)`` returns the loss Variable.
        converter: batch converter.
        device: the training device.
    """

    def __init__(self, iterator, optimizers, loss_func, converter, device):
        super().__init__(iterator, optimizers, converter=converter,
                         device=device, loss_func=loss_func)

    def update_core(self):
        iterator = self._iterators['main']
        epoch = iterator.epoch              # (next() may start a new one)
        batch = iterator.next()
        x, t = convert._call_converter(self.converter, batch,
                                       self.input_device)
        optimizers = list(self._optimizers.values())
        for optimizer in optimizers:
            optimizer.target.cleargrads()
        loss = self.loss_func(x, t)
        value = float(loss.array)
        if not math.isfinite(value):
            raise NonFiniteLoss('the loss became %s at epoch %d, iteration %d'
                                % (value, epoch + 1, self.iteration + 1))
        loss.backward()
        for optimizer in optimizers:
            optimizer.update()
            if iterator.is_new_epoch:
                optimizer.new_epoch(auto=True)
