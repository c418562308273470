"""Contract checks, one per extension point (as ChainerCV's ``assert_is_*``).

``tests/test_contracts.py`` runs them over everything registered, so a new
network, runtime or data set gets its tests by being registered; a user's
own item can be checked the same way::

    from branchynet.utils.testing import assert_is_network
    assert_is_network(my_spec)
"""
import numpy

#: how far an exported or other runtime's logits may be from Chainer's
ATOL = 1e-4


#: data sets whose images are whitened (finite, of any range) rather than in
#: [0, 1]; a data set registered elsewhere says so with ``whitened=True``
WHITENED = frozenset(['pcifar10'])


def _images(shape, n, seed=0):
    return numpy.random.RandomState(seed).uniform(
        0, 1, (n,) + tuple(shape)).astype(numpy.float32)


def thresholds_between(entropy):
    """Thresholds for a test of the early exit's choices: at each exit but
    the last, halfway across the widest gap between the sorted distinct
    entropies of the records (so that both outcomes occur and no record's
    exit depends on the last bits of its entropy: the exit test is a strict
    ``<``); above them all when they are all equal.

    Args:
        entropy: ``(N, K)`` entropies per record and exit (Chainer's).

    Returns:
        list: ``K - 1`` floats.
    """
    entropy = numpy.asarray(entropy, numpy.float64)
    assert numpy.isfinite(entropy).all(), 'entropies not finite'
    thresholds = []
    for k in range(entropy.shape[1] - 1):
        values = numpy.unique(entropy[:, k])
        if len(values) == 1:
            thresholds.append(float(values[0]) + 1.0)
            continue
        i = int(numpy.diff(values).argmax())
        thresholds.append(float((values[i] + values[i + 1]) / 2))
    return thresholds


def assert_is_network(spec, n=3):
    """A registered network builds, gives its declared exits and shapes,
    has every layer kind known to the multiply-add counter (never a silent
    zero), and exports to ONNX equal to Chainer within :data:`ATOL`.

    Args:
        spec (NetworkSpec): the network's registry entry.
    """
    import chainer
    from branchynet.measurement.profiling import check_layers, count_macs
    from branchynet.networks import random_network
    from branchynet.networks.model import BranchyNet
    model = random_network(spec.name)
    assert isinstance(model, BranchyNet), type(model)
    assert model.n_exits == spec.n_exits, (model.n_exits, spec.n_exits)
    assert len(spec.input_shape) == 3 and min(spec.input_shape) > 0
    assert spec.display and spec.baseline_display
    x = _images(spec.input_shape, n)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        logits = [h.array for h in model(x)]
    assert len(logits) == spec.n_exits
    classes = logits[-1].shape[1]
    for h in logits:
        assert h.shape == (n, classes) and numpy.isfinite(h).all(), h.shape
    check_layers(model)
    macs = count_macs(model, x[:1])
    assert len(macs['stage']) == len(macs['exit']) == spec.n_exits
    assert min(macs['stage'] + macs['exit']) > 0, macs
    assert_runtime_matches_chainer('onnxruntime', model, spec.name, x)


def assert_runtime_matches_chainer(name, model, network, x):
    """Runtime ``name`` gives Chainer's logits at every exit and on the
    main path (within :data:`ATOL`; the same classes), and its early exit
    makes Chainer's choices at thresholds between the records
    (:func:`thresholds_between`)."""
    from branchynet.exits import inference
    from branchynet.runtimes.runtime import make_runtime
    rt = make_runtime(model, network, name)
    assert rt.n_exits == model.n_exits
    want_h, want = inference.exit_logits(model, x)    # (N, K), (N, K, C)
    got_h, got = (numpy.asarray(a) for a in rt.exit_logits(x))
    numpy.testing.assert_allclose(got, want, atol=ATOL)
    numpy.testing.assert_allclose(got_h, want_h, atol=ATOL)
    numpy.testing.assert_array_equal(numpy.asarray(rt.predict_main(x)),
                                     want[:, -1].argmax(axis=1))
    t = thresholds_between(want_h)
    got_p, got_e = rt.early_exit(x, t)
    want_p, want_e = inference.early_exit(model, x, t)
    numpy.testing.assert_array_equal(numpy.asarray(got_e), want_e)
    numpy.testing.assert_array_equal(numpy.asarray(got_p), want_p)
    return rt


def assert_is_runtime(cls, network='b_lenet', n=8):
    """A registered runtime names itself for the CLI and Table I, reads
    recorded settings into a note and a line, and runs a network as Chainer
    does (:func:`assert_runtime_matches_chainer`)."""
    from branchynet.networks import INPUT_SHAPES, random_network
    from branchynet.runtimes.registry import REGISTRY
    assert REGISTRY[cls.name] is cls
    assert isinstance(cls.display, str) and cls.display
    model = random_network(network)
    x = _images(INPUT_SHAPES[network], n)
    rt = assert_runtime_matches_chainer(cls.name, model, network, x)
    assert rt.settings['runtime'] == cls.name
    for text in (cls.note(rt.settings), cls.line(rt.settings)):
        assert isinstance(text, str) and text.strip()


def assert_is_dataset(spec, data_root, whitened=None):
    """A registered data set, loaded from ``data_root``, has its declared
    image shape, float32 images in [0, 1] (or, whitened, finite), int32
    labels covering every one of its classes in both splits, and as many
    class names as classes.

    Args:
        spec (DatasetSpec): the data set's registry entry.
        data_root (str): where its files are.
        whitened (bool): its images are whitened (any finite values);
            default: whether its name is in :data:`WHITENED`.
    """
    if whitened is None:
        whitened = spec.name in WHITENED
    assert len(spec.shape) == 3 and spec.n_classes >= 2 and spec.n_train > 0
    x_train, y_train, x_test, y_test = spec.load(data_root)
    assert len(x_train) == spec.n_train, (len(x_train), spec.n_train)
    classes = numpy.arange(spec.n_classes)
    for split, x, y in (('train', x_train, y_train),
                        ('test', x_test, y_test)):
        assert len(x), '%s split is empty' % split
        assert x.dtype == numpy.float32, (split, x.dtype)
        assert x.shape[1:] == spec.shape, (split, x.shape)
        assert numpy.isfinite(x).all(), split
        if not whitened:
            assert x.min() >= 0 and x.max() <= 1, (
                '%s images outside [0, 1]: %g..%g' % (split, x.min(),
                                                      x.max()))
        assert y.dtype == numpy.int32 and y.ndim == 1, (split, y.dtype)
        assert len(y) == len(x), (split, len(y), len(x))
        assert y.min() >= 0 and y.max() < spec.n_classes, split
        missing = numpy.setdiff1d(classes, y)
        assert not len(missing), '%s labels miss classes %s' % (
            split, missing.tolist())
    assert len(spec.classes(data_root)) == spec.n_classes


def assert_onnx_matches_chainer(model, x):
    """As :func:`assert_runtime_matches_chainer` on ONNX Runtime, for a
    model of no registered network (a user's, a test's): its graphs
    exported in memory for ``x``'s sample shape, then the logits and
    entropies at every exit, the main path's logits (within :data:`ATOL`)
    and the early exit's choices compared with Chainer's.

    Returns:
        the OnnxRuntime.
    """
    from branchynet.exits import inference
    from branchynet.runtimes.onnx.export import main_graph, segment_graphs
    from branchynet.runtimes.onnx import inference as onnx_inference
    from branchynet.runtimes.onnx.runtime import OnnxRuntime
    shape = x.shape[1:]
    rt = OnnxRuntime(onnx_inference.OnnxBranchyNet(
        [g.SerializeToString() for g in segment_graphs(model, shape)],
        main_graph(model, shape).SerializeToString(), n_exits=model.n_exits))
    want_h, want = inference.exit_logits(model, x)    # (N, K), (N, K, C)
    got_h, got = rt.exit_logits(x)
    numpy.testing.assert_allclose(got, want, atol=ATOL)
    numpy.testing.assert_allclose(got_h, want_h, atol=ATOL)
    numpy.testing.assert_allclose(onnx_inference.forward_main(rt.net, x),
                                  want[:, -1], atol=ATOL)
    t = thresholds_between(want_h)
    for got_a, want_a in zip(rt.early_exit(x, t),
                             inference.early_exit(model, x, t)):
        numpy.testing.assert_array_equal(got_a, want_a)
    return rt
