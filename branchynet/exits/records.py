"""The one-pass records: every sample's logits at every exit, and its label.

One batched pass (:func:`branchynet.exits.inference.exit_logits`, or the ONNX
runtime's) records, for each sample and exit, the logits float32
``(N, K, classes)`` and the entropy as the runtime's early exit computes it
(float32 ``(N, K)``). Every exit score of :mod:`branchynet.exits.scores`, every
threshold vector and every rule is then evaluated from these arrays without
running the network again. For B-LeNet on 10000 images the logits take
0.8 MB.

On disk (``records.npz``, written by ``branchynet sweep``) each split
``S`` (``tune``, ``test``) is four entries: ``S_logits``, ``S_entropy``,
``S_prediction`` (argmax per exit, int32, what Fig. 4 reads) and
``S_label``.
"""
import numpy

from branchynet.utils.atomic import atomic_path
from branchynet.errors import BranchyNetError
from branchynet.exits.inference import score_of
from branchynet.utils.safe_npz import SafeNpz

#: the most bytes one array of a ``records.npz`` may declare
MAX_RECORD_BYTES = 2 ** 30


class Records:
    """Logits, entropy and labels of one split, at every exit.

    Args:
        logits (numpy.ndarray): float32 ``(N, K, classes)``.
        entropy (numpy.ndarray): float ``(N, K)``, the runtime's entropy
            (what its early exit compares).
        labels (numpy.ndarray or None): int ``(N,)``.

    Raises:
        BranchyNetError: shapes that do not fit together, labels outside
            the classes.
    """

    def __init__(self, logits, entropy, labels=None):
        logits = numpy.asarray(logits)
        entropy = numpy.asarray(entropy)
        if logits.ndim != 3 or logits.shape[1] < 1 or logits.shape[2] < 2 \
                or entropy.shape != logits.shape[:2] or (
                    labels is not None
                    and numpy.shape(labels) != logits.shape[:1]):
            raise BranchyNetError(
                'records do not fit together: logits %s, entropy %s, labels '
                '%s' % (logits.shape, entropy.shape,
                        None if labels is None else numpy.shape(labels)))
        if labels is not None and len(labels) and not (
                numpy.min(labels) >= 0
                and numpy.max(labels) < logits.shape[2]):
            # an edited file: the accuracies would be silently wrong
            raise BranchyNetError('records hold labels outside 0..%d'
                                  % (logits.shape[2] - 1))
        self.logits = logits
        self.entropy = entropy
        self.labels = None if labels is None else \
            numpy.asarray(labels).astype(numpy.int32)
        self._scores = {}

    @classmethod
    def from_runtime(cls, runtime, x, labels=None, batch_size=256):
        """Record ``x`` in one batched pass of a runtime
        (:mod:`branchynet.runtimes.runtime`)."""
        entropy, logits = runtime.exit_logits(x, batch_size)
        return cls(logits, entropy, labels)

    @property
    def n_exits(self):
        return self.logits.shape[1]

    @property
    def n_classes(self):
        return self.logits.shape[2]

    def __len__(self):
        return len(self.logits)

    @property
    def prediction(self):
        """int32 ``(N, K)``: the answer at every exit."""
        return self.logits.argmax(axis=2).astype(numpy.int32)

    def scores(self, score='entropy'):
        """``(N, K)`` values of ``score`` at every exit (computed once).

        Entropy is the recorded one; the others come from the logits, row by
        row, exactly as the early exit computes them.
        """
        score = score_of(score)
        if score.name == 'entropy':
            return self.entropy
        if score.name not in self._scores:
            self._scores[score.name] = numpy.stack(
                [score(self.logits[:, k]) for k in range(self.n_exits)],
                axis=1)
        return self._scores[score.name]

    def subset(self, n):
        """The first ``n`` samples."""
        return Records(self.logits[:n], self.entropy[:n],
                       None if self.labels is None else self.labels[:n])

    def arrays(self, split):
        """The npz entries of this split (see the module doc)."""
        arrays = {split + '_logits': self.logits,
                  split + '_entropy': self.entropy,
                  split + '_prediction': self.prediction}
        if self.labels is not None:
            arrays[split + '_label'] = self.labels
        return arrays


def save_records(path, splits):
    """Write ``{split: Records}`` to ``path`` (npz, compressed, atomic)."""
    arrays = {}
    for split, records in splits.items():
        arrays.update(records.arrays(split))
    with atomic_path(path) as tmp:
        numpy.savez_compressed(tmp, **arrays)


def load_records(path, splits=('tune', 'test')):
    """Read the records of ``splits`` from a ``records.npz`` (checked,
    never unpickled).

    Returns:
        dict: split -> :class:`Records`.

    Raises:
        BranchyNetError: unreadable, a missing entry (a file written before
            records held logits: rerun ``branchynet sweep``), or arrays that
            do not fit together.
    """
    out = {}
    with SafeNpz(path) as npz:
        for split in splits:
            keys = {k: '%s_%s' % (split, k) for k in ('logits', 'entropy',
                                                       'label')}
            missing = [v for v in keys.values() if v not in npz]
            if missing:
                raise npz.error(
                    'has no %s (it was written before records held logits, '
                    'or by something else): rerun `branchynet sweep`'
                    % ', '.join(missing))
            read = {k: npz.read(v, kinds=kinds, max_bytes=MAX_RECORD_BYTES)
                    for (k, v), kinds in zip(keys.items(), ('f', 'f', 'iu'))}
            try:
                out[split] = Records(read['logits'], read['entropy'],
                                     read['label'])
            except BranchyNetError as e:
                raise npz.error(str(e)) from None
    return out
