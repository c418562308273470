"""The contract of a runtime (:func:`assert_is_runtime`)."""
import numpy

from branchynet.testing.common import ATOL, images, thresholds_between


def assert_runtime_matches_chainer(name, model, network, x):
    """Runtime ``name`` gives Chainer's logits at every exit and on the
    main path (within :data:`~branchynet.testing.common.ATOL`; the same classes), and its early exit
    makes Chainer's choices at thresholds between the records
    (:func:`thresholds_between`)."""
    from branchynet.exits import inference
    from branchynet.runtimes import make_runtime
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
    x = images(INPUT_SHAPES[network], n)
    rt = assert_runtime_matches_chainer(cls.name, model, network, x)
    assert rt.settings['runtime'] == cls.name
    for text in (cls.note(rt.settings), cls.line(rt.settings)):
        assert isinstance(text, str) and text.strip()
