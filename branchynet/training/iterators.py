"""Training batches: the reference's epoch order, and crop/flip augmentation.

Both keep their randomness in ``numpy.random.RandomState`` objects that
:class:`branchynet.training.resume.RandomStates` puts into every snapshot, so a
resumed run draws exactly what the uninterrupted one would have.
"""
import chainer
import numpy
from chainer.iterators import _statemachine


class EpochIterator(chainer.iterators.SerialIterator):
    """A SerialIterator whose last batch of an epoch may be short.

    The reference loops ``for i in range(0, N, batchsize)`` over a fresh
    permutation per epoch, so its last batch holds ``N % batchsize``
    samples. Chainer's SerialIterator instead fills that batch up with the
    next epoch's first samples. With ``keep_short_batch=False`` this class is
    a plain SerialIterator.
    """

    def __init__(self, dataset, batch_size, order_sampler,
                 keep_short_batch=True):
        super().__init__(dataset, batch_size, order_sampler=order_sampler)
        self.keep_short_batch = keep_short_batch

    def __next__(self):
        if not self.keep_short_batch:
            return super().__next__()
        self._previous_epoch_detail = self.epoch_detail
        size = min(self.batch_size,
                   self._epoch_size - self.current_position)
        # the state machine starts a new epoch when the batch reaches the end
        self._state, indices = _statemachine.iterator_statemachine(
            self._state, size, True, self.order_sampler, len(self.dataset))
        return [self.dataset[i] for i in indices]

    next = __next__


def iterations_per_epoch(n_samples, batch_size, keep_short_batch):
    """Updates in one epoch (the wrapped form averages to ``N / batch``)."""
    if keep_short_batch:
        return -(-n_samples // batch_size)
    return n_samples / batch_size


class CropFlip(chainer.dataset.Converter):
    """Batch converter: random crop after zero padding, random h-flip.

    Augments the whole batch in the main process (vectorised, a few
    microseconds per image), from one ``RandomState`` that is saved in the
    snapshots: worker processes would draw from generators that a resume
    cannot restore.

    Args:
        rng (numpy.random.RandomState): the augmentation's random source.
        pad (int): zero padding on each side before cropping back.
    """

    def __init__(self, rng, pad=4):
        self.rng = rng
        self.pad = pad

    def __call__(self, batch, device=None):
        x, t = chainer.dataset.concat_examples(batch)
        x = self.augment(x)
        return (chainer.dataset.to_device(device, x),
                chainer.dataset.to_device(device, t))

    def augment(self, x):
        """Crop and flip a float32 ``(N, C, H, W)`` batch (a new array)."""
        n, c, h, w = x.shape
        p = self.pad
        padded = numpy.zeros((n, c, h + 2 * p, w + 2 * p), x.dtype)
        padded[:, :, p:p + h, p:p + w] = x
        offsets = self.rng.randint(0, 2 * p + 1, size=(n, 2))
        flips = self.rng.randint(2, size=n).astype(bool)
        out = numpy.empty_like(x)
        for k, (i, j) in enumerate(offsets):
            crop = padded[k, :, i:i + h, j:j + w]
            out[k] = crop[:, :, ::-1] if flips[k] else crop
        return out
