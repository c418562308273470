"""The settings of a training run: what it depends on, and their checks.

:class:`TrainSettings` is saved with every model and with the run's output
folder (``settings.json``); :func:`resolve_settings` fills in a recipe's
defaults; :func:`prepare_data` loads the splits a run's settings name.
"""
import dataclasses
import json
import os

from branchynet import data as data_lib
from branchynet.errors import BranchyNetError
from branchynet.experiments import DEFAULT_SCHEDULE, SCHEDULES, get_experiment
from branchynet.networks.model import paper_exit_weights
from branchynet.training.updater import ADAM_BETAS

PHASE2_MODES = ('reference', 'warm')
PROTOCOLS = ('holdout', 'reference')


@dataclasses.dataclass
class TrainSettings:
    """Everything one training run depends on (saved with the model).

    ``recipe`` names an :class:`~branchynet.experiments.Recipe` of the
    experiment; ``epochs_*``, ``batch_size``, ``lr`` and ``phase2`` default
    to it, for the reference recipe in ``schedule`` (``notebook`` or
    ``script``; None for other recipes). ``protocol`` is ``holdout`` (ours: ``val_size`` training images
    held out to tune thresholds, full batches, the test set evaluated every
    ``eval_every`` epochs) or ``reference`` (the reference's: all training
    images, a short last batch per epoch, the test set only after training).
    """
    experiment: str
    epochs_main: int
    epochs_joint: int
    batch_size: int
    recipe: str = 'reference'
    lr: float = 0.001              # Adam's alpha for the reference recipe
    seed: int = 0
    betas: str = 'code'            # Adam betas
    exit_weights: tuple = None     # None: all 1 (the reference code)
    phase2: str = 'reference'
    protocol: str = 'holdout'
    val_size: int = 5000           # held out of training to tune thresholds
    eval_every: int = 1            # epochs between test passes (0: at the end)
    train_limit: int = 0           # 0: all training samples
    test_limit: int = 0            # 0: all test samples
    dataset: str = None            # None: the experiment's data set
    schedule: str = DEFAULT_SCHEDULE   # the reference recipe's; None else
    from_trained: str = None       # phase 1 replaced by this model's npz
    freeze_trunk: bool = False     # phase 2 trains the exit heads only

    @property
    def keep_short_batch(self):
        return self.protocol == 'reference'

    def check(self):
        """Raise :class:`BranchyNetError` naming the first bad field."""
        for name in ('epochs_main', 'epochs_joint', 'batch_size'):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise BranchyNetError('%s must be a positive integer, got %r'
                                      % (name.replace('_', ' '), value))
        if not (isinstance(self.lr, float) and 0 < self.lr < float('inf')):
            raise BranchyNetError('learning rate must be positive and '
                                  'finite, got %r' % (self.lr,))
        get_experiment(self.experiment).recipe(self.recipe,
                                               self.schedule or 'script')
        if (self.schedule is None) != (self.recipe != 'reference'):
            raise BranchyNetError('a schedule (%s) goes with the reference '
                                  'recipe only, got %r with recipe %r' % (
                                      ', '.join(SCHEDULES), self.schedule,
                                      self.recipe))
        for name, choices in (('betas', ADAM_BETAS), ('phase2', PHASE2_MODES),
                              ('protocol', PROTOCOLS)):
            if getattr(self, name) not in choices:
                raise BranchyNetError('%s must be one of %s, got %r' % (
                    name, ', '.join(choices), getattr(self, name)))
        if not 0 <= self.seed < 2 ** 32:
            raise BranchyNetError('seed must be in [0, 2**32), got %r'
                                  % (self.seed,))
        if min(self.val_size, self.train_limit, self.test_limit,
               self.eval_every) < 0:
            raise BranchyNetError('sizes, limits and --eval-every must be '
                                  '>= 0')
        if self.dataset is not None:
            data_lib.resolve_dataset(self.dataset)
        elif get_experiment(self.experiment).dataset is None:
            raise BranchyNetError('a network of your own trains on the data '
                                  'set --dataset names')
        self._check_trained()
        if self.protocol == 'reference' and self.val_size:
            raise BranchyNetError('the reference protocol trains on every '
                                  'training image: it takes no validation '
                                  'split')

    def _check_trained(self):
        if self.freeze_trunk not in (True, False):
            raise BranchyNetError('freeze_trunk must be true or false, got '
                                  '%r' % (self.freeze_trunk,))
        if self.from_trained is None:
            if self.freeze_trunk:
                raise BranchyNetError('--freeze-trunk needs --from-trained')
            return
        if not isinstance(self.from_trained, str):
            raise BranchyNetError('from_trained must be a path, got %r'
                                  % (self.from_trained,))
        # its existence is checked when a run starts (trained_npz), not
        # when a model trained from it is read
        if self.phase2 != 'warm':
            raise BranchyNetError(
                '--from-trained keeps the trained final exit: phase 2 starts '
                "warm (--phase2 warm), not %r" % self.phase2)

    @classmethod
    def from_saved(cls, saved):
        """Settings from a model's JSON; a clear error if they do not fit."""
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(saved, dict) or not set(saved) <= names \
                or 'experiment' not in saved:
            raise BranchyNetError('the saved settings are not those of this '
                                  'version of branchynet: %.200r' % (saved,))
        saved = with_schedule(saved)
        try:
            settings = cls(**saved)
        except TypeError as e:
            raise BranchyNetError('the saved settings are incomplete: %s'
                                  % e) from None
        if isinstance(settings.exit_weights, list):
            settings.exit_weights = tuple(settings.exit_weights)
        try:
            settings.check()
        except TypeError as e:   # null, a list... where a number or name is
            raise BranchyNetError('the saved settings hold a value of the '
                                  'wrong type (%s): %.200r' % (e, saved)
                                  ) from None
        return settings


def with_schedule(saved, asked=None):
    """``saved`` settings with a ``schedule``: runs saved before there was a
    choice followed the scripts' schedule (the only one there was). Against
    ``asked`` settings with the same batch size and epochs, such a run takes
    the asked name: nothing it trained with differs (AlexNet's two
    schedules are one; explicit epochs and batch override either)."""
    if 'schedule' in saved:
        return saved
    if saved.get('recipe', 'reference') != 'reference':
        return dict(saved, schedule=None)
    same = asked is not None and all(
        saved.get(k) == asked.get(k)
        for k in ('batch_size', 'epochs_main', 'epochs_joint'))
    return dict(saved, schedule=asked.get('schedule') if same else 'script')


def resolve_settings(name, **overrides):
    """:class:`TrainSettings` of experiment ``name``, defaults filled in.

    ``overrides`` left ``None`` take the recipe's value; the reference
    protocol also sets ``val_size`` to 0 and, unless given, ``eval_every`` to
    0 (the test set only after training).
    """
    experiment = get_experiment(name)
    recipe_name = overrides.get('recipe') or 'reference'
    schedule = overrides.pop('schedule', None)
    if recipe_name != 'reference' and schedule is not None:
        raise BranchyNetError('--schedule is for the reference recipe; '
                              'recipe %r has its own' % recipe_name)
    if recipe_name == 'reference' and schedule is None:
        schedule = DEFAULT_SCHEDULE
    recipe = experiment.recipe(recipe_name, schedule or DEFAULT_SCHEDULE)
    fields = {'epochs_main': recipe.epochs_main,
              'epochs_joint': recipe.epochs_joint,
              'batch_size': recipe.batch_size, 'lr': recipe.lr,
              'phase2': recipe.phase2, 'schedule': schedule}
    given = {k: v for k, v in overrides.items() if v is not None}
    if given.get('from_trained') is not None:
        given['from_trained'] = trained_npz(given['from_trained'])
        fields['phase2'] = 'warm'      # its trained final exit is kept
    if given.get('protocol') == 'reference':
        fields.update(val_size=0, eval_every=0)
    fields.update(given)
    if isinstance(fields['lr'], int):
        fields['lr'] = float(fields['lr'])
    settings = TrainSettings(experiment=name, **fields)
    settings.check()
    return settings


def trained_npz(path):
    """``--from-trained``'s weights: a training folder's ``baseline.npz``
    (its phase-1 network), else the model ``PATH`` or ``PATH.npz``; the
    absolute path (saved with the settings)."""
    from branchynet.networks.serialization import model_paths
    if os.path.isdir(path):
        npz = os.path.join(path, 'baseline.npz')
    else:
        npz = model_paths(path)[0]
    if not os.path.isfile(npz):
        raise BranchyNetError('--from-trained: %s holds no trained model '
                              '(%s does not exist)' % (path, npz))
    return os.path.abspath(npz)


def resolve_exit_weights(spec, n_exits):
    """Exit weights from ``None``/'code' (all 1), 'paper', or numbers."""
    if spec in (None, 'code'):
        return [1.0] * n_exits
    if spec == 'paper':
        return paper_exit_weights(n_exits)
    weights = [float(w) for w in spec]
    if len(weights) != n_exits or \
            any(not 0 <= w < float('inf') for w in weights) or \
            not any(weights):
        raise BranchyNetError('need %d finite, non-negative exit weights, '
                              'not all zero, got %r' % (n_exits, spec))
    return weights


def prepare_data(settings, data_dir='auto'):
    """The training run's splits (see :func:`branchynet.data.load_splits`).

    A user's file (``dataset='npz:PATH'``) stands in for the experiment's
    data set, with its image shape and number of classes.
    """
    experiment = get_experiment(settings.experiment)
    name = settings.dataset or experiment.dataset
    splits = data_lib.load_splits(
        name, settings.val_size, settings.train_limit, settings.test_limit,
        data_dir, like=experiment.stands_for or experiment.dataset)
    _check_input_shape(experiment, name, splits)
    return splits


def _check_input_shape(experiment, dataset, splits):
    """Images the network cannot take fail now, in one line, not in
    Chainer's type check at the first step."""
    from branchynet.networks import INPUT_SHAPES
    want = tuple(INPUT_SHAPES[experiment.network])
    got = tuple(splits['train'][0].shape[1:])
    if got != want:
        raise BranchyNetError(
            'data set %s holds images of shape %s, but %s (%s) takes %s: '
            'choose a data set of that shape' % (
                dataset, '(%s)' % ', '.join(map(str, got)), experiment.name,
                experiment.network, '(%s)' % ', '.join(map(str, want))))


def saved_form(settings):
    """``settings`` as a model's JSON holds them (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(settings)))
