"""What a snapshot needs beyond Chainer's own state for an exact resume.

Chainer's Trainer snapshot holds the model, the optimizers, the iterator's
position and current order. It does not hold the random generators that
decide the rest of the run: the one that draws each new epoch's order, the
global NumPy generator that dropout draws from on the CPU, and the one of
the crop/flip augmentation. :class:`RandomStates` is an extension whose only
job is to be serialized with the trainer, carrying those generators.

Also here: the check that a resumed run asks for the settings it was
started with. (The lock that keeps two runs out of one output folder is
:class:`branchynet.training.output.OutputLock`.)
"""
import glob
import os
import re

import numpy
from chainer import training

from branchynet.errors import BranchyNetError


def _mt_state(rng):
    _, key, pos, has_gauss, cached = rng.get_state()
    return key, numpy.array([pos, has_gauss, cached], numpy.float64)


class RandomStates(training.Extension):
    """Saves and restores ``RandomState`` objects with the trainer.

    Args:
        states (dict): name -> ``numpy.random.RandomState``; the name
            ``'numpy_global'`` may map to ``None`` for NumPy's global
            generator (``numpy.random.seed`` / dropout on the CPU).
    """
    trigger = (1, 'epoch')
    priority = training.PRIORITY_READER

    def __init__(self, states):
        self.states = dict(states)

    def __call__(self, trainer):
        pass                            # nothing to do but be serialized

    def _rng(self, name):
        rng = self.states[name]
        return numpy.random.mtrand._rand if rng is None else rng

    def serialize(self, serializer):
        for name in sorted(self.states):
            rng = self._rng(name)
            key, rest = _mt_state(rng)
            key = serializer(name + '/key', key.copy())
            rest = serializer(name + '/rest', rest.copy())
            rng.set_state(('MT19937', numpy.asarray(key, numpy.uint32),
                           int(rest[0]), int(rest[1]), float(rest[2])))


def snapshot_iterations(directory):
    """``[(iteration, path)]`` of the ``snapshot_iter_N`` files, sorted."""
    found = []
    for path in glob.glob(os.path.join(directory, 'snapshot_iter_*')):
        match = re.search(r'snapshot_iter_(\d+)$', path)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_snapshot(directory):
    """Path of the highest-numbered ``snapshot_iter_N`` in ``directory``."""
    found = snapshot_iterations(directory)
    return found[-1][1] if found else None


def settings_diff(saved, asked):
    """``['name SAVED (asked ASKED)', ...]`` for every field that differs."""
    return ['%s %r (asked %r)' % (key, saved.get(key), value)
            for key, value in sorted(asked.items())
            if saved.get(key) != value]


def check_resume_settings(saved, asked, allow_changes=False):
    """Refuse to resume a run with other settings than it was started with.

    Args:
        saved (dict or None): the settings the folder's run started with.
        asked (dict): the settings asked for now.
        allow_changes (bool): the user's explicit override.

    Raises:
        BranchyNetError: one line listing every difference.
    """
    if saved is None or allow_changes:
        return
    changed = settings_diff(saved, asked)
    if changed:
        raise BranchyNetError(
            'cannot resume: the run was started with %s; ask for the same '
            'settings, or pass --allow-changed-settings'
            % ', '.join(changed))
