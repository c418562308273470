"""Experiments: a network, its data set, training recipes, its sweep grid.

The names are the ones ``get_results.sh`` and ``branchynet train`` take.
The ``reference`` recipe and the grids are the reference's (kunglab/branchynet);
the ``reference`` recipe comes in two schedules (:data:`SCHEDULES`), the
``experiment_*.py`` scripts' and the notebooks' (``experiment_*.ipynb``, as
committed in f16d273 and 5c80c3a); the ``modern`` recipe is ours (SGD with
momentum, weight decay, step learning-rate drops, random crop and flip).
"""
import dataclasses

from branchynet.errors import BranchyNetError

#: threshold grid of the reference's B-LeNet and B-ResNet sweeps (17 values)
GRID_17 = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
           0.25, 0.5, 0.75, 1, 2, 3, 5, 10)
#: threshold grid of the reference's B-AlexNet sweep (11 values)
GRID_11 = (0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 0.75, 1, 5, 10)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train: optimiser, schedule, augmentation.

    Attributes:
        name: ``reference`` or ``modern``.
        optimizer: ``adam`` (``lr`` is Adam's alpha) or ``momentum_sgd``
            (momentum 0.9).
        batch_size: training batch size.
        epochs_main: phase-1 epochs (main network alone, the baseline).
        epochs_joint: phase-2 epochs (all exits jointly).
        lr: initial learning rate (Adam's step size for ``adam``).
        weight_decay: L2 coefficient (0: none).
        lr_drops: fractions of a phase's epochs at which lr is multiplied
            by 0.1.
        augment: random crop (4-pixel zero padding) and horizontal flip.
        phase2: how phase 2 starts, ``reference`` or ``warm`` (see
            :mod:`branchynet.training.trainer`).
    """
    name: str
    optimizer: str
    batch_size: int
    epochs_main: int
    epochs_joint: int
    lr: float = 0.001
    weight_decay: float = 0.0
    lr_drops: tuple = ()
    augment: bool = False
    phase2: str = 'reference'


#: the reference recipe's schedules. ``script``: ``experiment_*.py``
#: (TRAIN_BATCHSIZE, TRAIN_NUM_EPOCHS of each phase, unchanged since 43e183f);
#: ``notebook``: ``experiment_*.ipynb`` after f16d273 (LeNet phase 1: 100
#: epochs, its stored run reached the paper's B-LeNet row) and 5c80c3a
#: (ResNet batch 128). The notebooks were the last schedule the authors ran.
SCHEDULES = ('notebook', 'script')
DEFAULT_SCHEDULE = 'notebook'


def _reference(batch_size, epochs_main, epochs_joint):
    return Recipe('reference', 'adam', batch_size, epochs_main, epochs_joint)


def _modern(lr, weight_decay):
    # phase 1 as in He et al. (2016) for CIFAR-10 (~164 epochs, drops at
    # 50% and 75%); phase 2 fine-tunes all exits from the trained trunk
    return Recipe('modern', 'momentum_sgd', 128, 160, 60, lr=lr,
                  weight_decay=weight_decay, lr_drops=(0.5, 0.75),
                  augment=True, phase2='warm')


@dataclasses.dataclass(frozen=True)
class Experiment:
    """What to train on what, and how.

    Attributes:
        name: experiment name (``lenet_mnist`` ...).
        network: a registered network (:data:`branchynet.networks.NETWORKS`).
        dataset: a registered data set (:data:`branchynet.data.DATASETS`).
        grid: candidate values per threshold for the sweep.
        recipes: recipe name -> :class:`Recipe`, besides ``reference``.
        schedules: schedule name -> (batch size, phase-1 epochs, phase-2
            epochs) of the ``reference`` recipe.
        stands_for: a user network's: the
            :class:`~branchynet.data.registry.DatasetSpec` (shape, classes)
            that its ``--dataset`` must fit; None for the package's own,
            whose ``dataset`` says it.
        in_full_job: whether ``get_results.sh`` without ``--only`` runs it
            (False: only ``--only NAME`` does; for an experiment that is
            not one of the paper's rows).
    """
    name: str
    network: str
    dataset: str
    grid: tuple
    recipes: dict
    schedules: dict
    stands_for: object = None
    in_full_job: bool = True

    def recipe(self, name='reference', schedule=DEFAULT_SCHEDULE):
        """The :class:`Recipe` called ``name`` (the reference one in
        ``schedule``); a clear error otherwise."""
        if name == 'reference':
            if schedule not in self.schedules:
                raise BranchyNetError('schedule must be one of %s, got %r'
                                      % (', '.join(SCHEDULES), schedule))
            return _reference(*self.schedules[schedule])
        try:
            return self.recipes[name]
        except KeyError:
            raise BranchyNetError('%s has no recipe %r (choose from %s)' % (
                self.name, name, ', '.join(['reference'] + list(
                    self.recipes)))) from None


EXPERIMENTS = {e.name: e for e in [
    Experiment('lenet_mnist', 'b_lenet', 'mnist', GRID_17, {},
               {'script': (512, 50, 100), 'notebook': (512, 100, 100)}),
    Experiment('alexnet_cifar10', 'b_alexnet', 'pcifar10', GRID_11,
               {'modern': _modern(0.01, 5e-4)},
               {'script': (512, 50, 100), 'notebook': (512, 50, 100)}),
    Experiment('resnet_cifar10', 'b_resnet110', 'pcifar10', GRID_17,
               {'modern': _modern(0.1, 1e-4)},
               {'script': (64, 100, 100), 'notebook': (128, 100, 100)}),
]}


#: a user network's reference schedule (batch, phase-1 and phase-2
#: epochs): the scripts' LeNet and AlexNet one, under either name
USER_SCHEDULE = (512, 50, 100)


def _no_classes(data_root):
    return None


def user_experiment(network):
    """The experiment of user network ``network`` (registered by
    :mod:`branchynet.networks.user`), or None when ``network`` is not one:
    the reference recipe (Adam) with :data:`USER_SCHEDULE`, any data set
    of its input shape and classes, the 17-point threshold grid. Its name
    is the network's key.

    Derived here, where experiments are looked up, so that networks never
    import experiments (the layers run one way, ``tests/test_layers.py``).
    """
    from branchynet.data.registry import DatasetSpec
    from branchynet.networks.registry import REGISTRY
    spec = REGISTRY.get(network)
    user = None if spec is None else spec.source
    if user is None:
        return None
    like = DatasetSpec(network, None, tuple(user.in_shape), user.n_classes,
                       _no_classes, 0)
    return Experiment(network, network, None, GRID_17, {},
                      dict.fromkeys(SCHEDULES, USER_SCHEDULE),
                      stands_for=like)


def find_experiment(name):
    """The :class:`Experiment` called ``name`` (a built-in one, or a
    registered user network's, :func:`user_experiment`), or None."""
    if not isinstance(name, str):
        return None
    return EXPERIMENTS.get(name) or user_experiment(name)


def get_experiment(name):
    """:func:`find_experiment`, with a clear error for an unknown name."""
    experiment = find_experiment(name)
    if experiment is None:
        raise BranchyNetError('unknown network %r (choose from %s)' % (
            name, ', '.join(sorted(EXPERIMENTS))))
    return experiment


def check_trained(info, json_path):
    """Raise unless model description ``info`` (read from ``json_path`` by
    :func:`~branchynet.networks.serialization.read_model_info`) names, if
    any, a known experiment that trains its network."""
    settings = info['settings']
    if 'experiment' not in settings:
        return
    name, network = settings['experiment'], info['network']
    experiment = find_experiment(name)
    if experiment is None:
        raise BranchyNetError(
            'model file %s: names an unknown experiment %.80r (known: %s)'
            % (json_path, name, ', '.join(EXPERIMENTS)))
    if experiment.network != network:
        raise BranchyNetError(
            'model file %s: says network %s but experiment %s, which trains '
            '%s' % (json_path, network, name, experiment.network))


def read_trained_info(json_path):
    """A trained model's checked description: its network known
    (:func:`~branchynet.networks.serialization.read_model_info`) and its
    experiment too (:func:`check_trained`)."""
    from branchynet.networks.serialization import read_model_info
    info = read_model_info(json_path)
    check_trained(info, json_path)
    return info


def load_trained(prefix):
    """``(model, info)`` of the model saved at ``prefix``
    (:func:`~branchynet.networks.serialization.load_model`), its
    description checked by :func:`check_trained` before its weights are
    read."""
    from branchynet.networks.serialization import load_model
    return load_model(prefix, check_info=check_trained)


def print_experiments():
    """Print ``NAME DATASET FULL`` of every experiment of the package, one a
    line, in order: what ``get_results.sh`` may run, the data set it
    prepares for each, and ``full`` when its full job (no ``--only``) runs
    it, else ``only`` (:attr:`Experiment.in_full_job`)."""
    for experiment in EXPERIMENTS.values():
        if experiment.stands_for is None:
            print(experiment.name, experiment.dataset,
                  'full' if experiment.in_full_job else 'only')
