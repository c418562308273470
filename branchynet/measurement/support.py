"""Is every layer of a network supported through the pipeline?

The multiply-add counter (:mod:`branchynet.measurement.profiling`) and the
ONNX exporter (:mod:`branchynet.runtimes.onnx.converters`) each know a
table of layer kinds. :func:`check_supported` asks both, before any long
work (training, an export), so that a network with a layer either one
lacks fails at once, in one line naming the layer, not hours later.

A layer of a ``chainer.Sequential`` is known by its kind: a link class, a
chainer function, or a ``functools.partial`` of one (the helpers of
:mod:`branchynet.networks.layers` are such). A lambda cannot be recognised:
it is an unknown layer.
"""
import chainer
import numpy

from branchynet.errors import BranchyNetError
from branchynet.measurement.profiling import check_layers
from branchynet.networks.model import BranchyNet


def check_supported(model, in_shape):
    """Raise one line if a layer of ``model`` cannot be counted or exported.

    First the counter's check, which runs nothing (:func:`check_layers`);
    then the exporter's: one zero sample of shape ``(1,) + in_shape``
    traced through every stage and exit head, each layer converted without
    writing anything (:func:`~branchynet.runtimes.onnx.export.
    check_exportable`). The trace runs on a CPU copy of the model, with
    NumPy's random state put back: the model, and the random numbers
    training will draw, are as they were.

    Args:
        model (BranchyNet): the network.
        in_shape (tuple): the shape of one sample, ``(C, H, W)``.

    Raises:
        BranchyNetError: one line naming the first unsupported layer by its
        path (``stages/1/3``: stage 1's layer 3, counted from 0) and its
        kind.
    """
    from branchynet.runtimes.onnx.export import check_exportable
    if not isinstance(model, BranchyNet):
        raise BranchyNetError('expected a branchynet.BranchyNet, got %s'
                              % type(model).__name__)
    check_layers(model)
    state = numpy.random.get_state()
    try:
        copy = model.copy(mode='copy')
        copy.to_device(chainer.backend.CpuDevice())
        check_exportable(copy, tuple(int(n) for n in in_shape))
    finally:
        numpy.random.set_state(state)
