"""The contract of a threshold rule (:func:`assert_is_rule`)."""
import numpy

#: settings under which every built-in rule has a choice on
#: :func:`_swept`'s grid
SETTINGS = {'baseline_accuracy': 0.85, 'epsilon': 0.02, 'budget_ms': 1.5,
            'alpha': 0.01, 'baseline_ms': 2.0, 'target': 0.85}


def _records(n=400, seed=0):
    """Records of a 3-exit, 4-class network whose early exits are right
    mostly where they are confident."""
    from branchynet.exits.records import Records
    from branchynet.exits.scores import entropy as entropy_of
    rng = numpy.random.RandomState(seed)
    labels = rng.randint(0, 4, n)
    logits = rng.normal(0, 1, (n, 3, 4)).astype(numpy.float32)
    sure = rng.uniform(0, 6, (n, 3)) * numpy.array([0.6, 0.8, 1.0])
    right = rng.uniform(size=(n, 3)) < 0.55 + 0.1 * sure
    target = numpy.where(right, labels[:, None], (labels[:, None] + 1) % 4)
    numpy.put_along_axis(logits, target[..., None], sure[..., None], axis=2)
    entropy = numpy.stack([entropy_of(logits[:, k]) for k in range(3)],
                          axis=1)
    return Records(logits, entropy, labels), labels


def _swept(records, labels):
    """Every vector of a grid: ms and accuracy (paths 0.5, 1, 2 ms)."""
    from branchynet.measurement.sweep import evaluate_thresholds, \
        threshold_grid
    grid = threshold_grid([0.05, 0.2, 0.5, 0.8, 1.1, 1.4], 3)
    result = evaluate_thresholds(records.scores('entropy'),
                                 records.prediction, labels, grid,
                                 [0.5, 1.0, 2.0])
    return numpy.asarray(result['ms']), numpy.asarray(result['accuracy'])


def assert_is_rule(rule):
    """A registered rule declares the settings it needs (and refuses to run
    without each, in one line), and its choice is a threshold vector of
    the score's range: its own, or a point of the swept grid that no other
    point beats in both time and accuracy.

    Args:
        rule (Rule): the rule's registry entry.
    """
    from branchynet.errors import BranchyNetError
    from branchynet.exits.scores import check_thresholds
    from branchynet.measurement.rules import (REGISTRY, SETTINGS as NEEDS,
                                              settings_of)
    assert REGISTRY[rule.name] is rule
    assert set(rule.needs) <= set(NEEDS), rule.needs
    settings = settings_of(**SETTINGS)
    rule.check(settings)
    for key in rule.needs:
        try:
            rule.check(dict(settings, **{key: None}))
        except BranchyNetError as e:
            assert NEEDS[key][0] in str(e), e
        else:
            raise AssertionError('%s ran without %s' % (rule.name, key))
    records, labels = _records()
    own = rule.own_thresholds(records, labels, 'entropy', settings)
    if own is not None:
        check_thresholds(own, 3, 'entropy')
        return
    ms, accuracy = _swept(records, labels)
    i = rule.choose(ms, accuracy, settings)
    assert isinstance(i, (int, numpy.integer)) and 0 <= i < len(ms), i
    beaten = (ms < ms[i] - 1e-12) & (accuracy > accuracy[i]
                                     + settings['allowance'])
    assert not beaten.any(), (
        '%s chose point %d (%.3f ms, %.4f) though point %d is faster and '
        'more accurate' % (rule.name, i, ms[i], accuracy[i],
                           int(numpy.argmax(beaten))))
