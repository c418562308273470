"""A model of no registered network against ONNX Runtime
(:func:`assert_onnx_matches_chainer`)."""
import numpy

from branchynet.testing.common import ATOL, thresholds_between


def assert_onnx_matches_chainer(model, x):
    """As :func:`assert_runtime_matches_chainer` on ONNX Runtime, for a
    model of no registered network (a user's, a test's): its graphs
    exported in memory for ``x``'s sample shape, then the logits and
    entropies at every exit, the main path's logits (within :data:`~branchynet.testing.common.ATOL`)
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
