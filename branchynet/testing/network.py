"""The contract of a network (:func:`assert_is_network`)."""
import numpy

from branchynet.testing.common import images
from branchynet.testing.runtime import assert_runtime_matches_chainer


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
    x = images(spec.input_shape, n)
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
