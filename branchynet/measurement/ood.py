"""Out-of-distribution inputs: how many leave early, under each exit score.

An early exit trusts a confident side exit. An input unlike the training
data should not look confident; if it does, it leaves early with a wrong
answer. BrevisNet reports that energy exits are more robust to such inputs
than softmax ones. ``branchynet evaluate MODEL -t T --ood SOURCE`` measures
it on one's own model, all from one-pass records:

1. *calibration*: the records of in-distribution data (the validation
   split; the test split when the model has none). The thresholds ``-t``
   of ``--score`` send a share of these samples out at each exit;
2. *matching*: every other score gets the thresholds that send the same
   number of in-distribution samples out at each exit
   (:func:`branchynet.measurement.per_exit.matched_thresholds`), so that
   all scores work at the same in-distribution operating point;
3. the records of the OOD samples, one pass: under each score's
   thresholds, where each OOD sample leaves.

Reported per score: its thresholds; the share of in-distribution and of OOD
samples leaving before the final exit (and per exit); the OOD accuracy when
the source has labels; and how confident the OOD samples were: the mean
probability of the answer given by those that left early (beside the same
for in-distribution early leavers), and the median score at exit 1.

Sources: ``npz:PATH`` (key ``x``: float32 images of the input shape;
optional ``y``: labels) or a transform of the test set: ``inverted``
(``min + max - x`` per image), ``noise`` (uniform noise over the test
set's value range, no content; no labels) or ``rotated`` (90 degrees).
"""
import numpy

from branchynet.measurement.per_exit import matched_thresholds
from branchynet.data.user_npz import load_user_images
from branchynet.errors import BranchyNetError
from branchynet.measurement.evaluation import evaluation_split
from branchynet.exits.inference import check_thresholds, choose_exits, score_of
from branchynet.exits.records import Records
from branchynet.runtimes import make_runtime
from branchynet.exits.scores import SCORES, maxprob
from branchynet.experiments import load_trained

#: the built-in transforms of the test set
TRANSFORMS = ('inverted', 'noise', 'rotated')


def check_source(source):
    """``source`` as ``('npz', PATH)`` or ``('transform', NAME)``.

    Raises:
        BranchyNetError: neither a transform name nor ``npz:PATH``.
    """
    if source in TRANSFORMS:
        return 'transform', source
    if isinstance(source, str) and source.startswith('npz:') and source[4:]:
        return 'npz', source[4:]
    raise BranchyNetError('--ood takes npz:PATH or one of %s, got %.80r'
                          % (', '.join(TRANSFORMS), source))


def transform(name, x, seed=0):
    """A built-in OOD version of the images ``x`` (float32 ``(N, C, H, W)``).

    Returns:
        tuple: the images (float32, same shape) and whether the labels of
        ``x`` still hold (not for ``noise``).
    """
    if name == 'inverted':
        low = x.min(axis=(1, 2, 3), keepdims=True)
        high = x.max(axis=(1, 2, 3), keepdims=True)
        return (low + high - x).astype(numpy.float32), True
    if name == 'rotated':
        return numpy.ascontiguousarray(numpy.rot90(x, 1, axes=(2, 3)),
                                       numpy.float32), True
    if name == 'noise':
        rng = numpy.random.RandomState(seed)
        noise = rng.uniform(float(x.min()), float(x.max()), x.shape)
        return noise.astype(numpy.float32), False
    raise BranchyNetError('unknown transform %r (choose from %s)'
                          % (name, ', '.join(TRANSFORMS)))


def ood_images(source, x_test, y_test, n_classes):
    """The OOD images and labels (or None) of a checked ``source``."""
    kind, what = source
    if kind == 'npz':
        return load_user_images(what, x_test.shape[1:], n_classes,
                                name='OOD file')
    x, keeps_labels = transform(what, x_test)
    return x, (y_test if keeps_labels else None)


def _early_share(exits, n_exits):
    return float((exits < n_exits - 1).mean())


def _answer_confidence(records, exits, early):
    """Mean max-softmax probability of the answers of the samples in
    ``early`` (None when there are none)."""
    if not early.any():
        return None
    rows = numpy.flatnonzero(early)
    return float(maxprob(records.logits[rows, exits[rows]]).mean())


def _median_exit1(records, score):
    return float(numpy.median(records.scores(score)[:, 0]))


def score_row(score, thresholds, calibration, ood):
    """One score at its thresholds, on the calibration and OOD records."""
    k = calibration.n_exits
    id_exits = choose_exits(calibration.scores(score), thresholds, score)
    ood_exits = choose_exits(ood.scores(score), thresholds, score)
    row = {
        'score': score, 'thresholds': [float(t) for t in thresholds],
        'id_early': _early_share(id_exits, k),
        'ood_early': _early_share(ood_exits, k),
        'ood_exit_fractions': (numpy.bincount(ood_exits, minlength=k)
                               / len(ood_exits)).tolist(),
        'ood_accuracy': None,
        'id_early_pmax': _answer_confidence(calibration, id_exits,
                                            id_exits < k - 1),
        'ood_early_pmax': _answer_confidence(ood, ood_exits,
                                             ood_exits < k - 1),
        'id_median_exit1': _median_exit1(calibration, score),
        'ood_median_exit1': _median_exit1(ood, score),
    }
    if ood.labels is not None:
        answers = ood.prediction[numpy.arange(len(ood)), ood_exits]
        row['ood_accuracy'] = float((answers == ood.labels).mean())
    return row


def ood_report(calibration, ood, thresholds, score='entropy'):
    """Every score matched to ``thresholds`` of ``score`` on the
    calibration records, then measured on the OOD records.

    Args:
        calibration (Records): in-distribution records.
        ood (Records): OOD records (labels optional).
        thresholds (sequence of float): the operating point, ``K - 1``
            thresholds of ``score``.

    Returns:
        list of dict: one row per score, ``score`` first.
    """
    score = score_of(score).name
    reference = choose_exits(calibration.scores(score), thresholds, score)
    rows = []
    for name in [score] + [s for s in SCORES if s != score]:
        t = thresholds if name == score else matched_thresholds(
            calibration.scores(name), reference, name, calibration.n_classes)
        rows.append(score_row(name, t, calibration, ood))
    return rows


def _pct(value):
    return '-' if value is None else '%.1f' % (100 * value)


def to_markdown(rows):
    lines = ['| score | T | ID early % | OOD early % | OOD exit % | OOD acc % '
             '| p(answer) early ID / OOD | median exit-1 score ID / OOD |',
             '| --- ' * 8 + '|']
    for r in rows:
        pmax = ' / '.join('-' if v is None else '%.3f' % v
                          for v in (r['id_early_pmax'], r['ood_early_pmax']))
        lines.append('| %s |' % ' | '.join([
            r['score'], ', '.join('%.4g' % t for t in r['thresholds']),
            _pct(r['id_early']), _pct(r['ood_early']),
            ', '.join(_pct(f) for f in r['ood_exit_fractions']),
            _pct(r['ood_accuracy']), pmax,
            '%.4g / %.4g' % (r['id_median_exit1'], r['ood_median_exit1'])]))
    return '\n'.join(lines) + '\n'


def evaluate_ood(path, source, thresholds, score='entropy', device='@numpy',
                 data_dir='auto', runtime='chainer', threads=1,
                 batch_size=256):
    """What ``branchynet evaluate MODEL -t T --ood SOURCE`` does: print the
    table of :func:`ood_report` (see the module doc) and return its rows.
    """
    source = check_source(source)
    if thresholds is None:
        raise BranchyNetError(
            '--ood needs -t THRESHOLDS (of --score): the operating point on '
            'in-distribution data that every score is matched to')
    model, info = load_trained(path)
    if info.get('role') == 'baseline':
        raise BranchyNetError('%s is a baseline (one exit); --ood needs the '
                              'B-network (MODEL_DIR/branchynet)' % path)
    thresholds = check_thresholds(thresholds, model.n_exits, score)
    model = make_runtime(model, info['network'], runtime, device, threads)
    x_test, y_test = evaluation_split(info, 'test', data_dir)
    split = 'val' if info['settings'].get('val_size', 0) > 0 else 'test'
    x_cal, y_cal = (x_test, y_test) if split == 'test' else \
        evaluation_split(info, 'val', data_dir)
    calibration = Records.from_runtime(model, x_cal, y_cal, batch_size)
    x_ood, y_ood = ood_images(source, x_test, y_test, calibration.n_classes)
    ood = Records.from_runtime(model, x_ood, y_ood, batch_size)
    rows = ood_report(calibration, ood, thresholds, score)
    print('%s; in-distribution: %d %s samples; OOD: %s, %d samples%s' % (
        info['network'], len(calibration),
        'validation' if split == 'val' else 'test',
        source[1] if source[0] == 'transform' else 'file ' + source[1],
        len(ood), '' if y_ood is not None else ' (no labels)'))
    print('every score at the exit shares that %s T = %s gives on the '
          'in-distribution samples:' % (score, ', '.join(
              '%g' % t for t in thresholds)))
    print(to_markdown(rows))
    return rows
