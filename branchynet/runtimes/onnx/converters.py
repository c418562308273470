"""Chainer functions -> ONNX nodes: one converter per FunctionNode type.

A network is exported by the functions its forward runs
(:mod:`branchynet.networks.tracing`), whatever its Python classes:
:data:`CONVERTERS` maps each FunctionNode type to a converter
``(graph, call) -> output name(s)``; ``call`` (:class:`Call`) holds the
node (its settings), the names of its inputs in the graph and the traced
input and output arrays (for shapes). A type not in the table is an error,
never skipped. The graph (``g.op``, ``g.weight``) is
:class:`branchynet.runtimes.onnx.export._Graph`.

Places where Chainer and ONNX differ:

* LRN is not ONNX's ``LRN`` operator (whose ``alpha`` is divided by the
  window size, and whose ONNX Runtime kernel is slow) but the formula
  itself, the window sum as a banded 1x1 convolution (:func:`_lrn`); odd
  windows only (``n // 2`` channels on each side), even ``n`` is refused.
* Max pooling with ``cover_all=True`` becomes ``ceil_mode=1``. Both round
  the output size up, but ONNX drops a last window that would start past
  the input; every pooling and convolution's output size is checked
  against the traced Chainer output, so a mismatch is an error, never a
  silently different graph.
* The graphs take any batch size, so every function must keep the batch
  axis: a reshape that moves values across it (``F.flatten``), a concat,
  split, transpose, pad or reduction over it are refused.
"""
import collections

import numpy

from branchynet.errors import BranchyNetError
from chainer.functions.activation import (clipped_relu, elu, hard_sigmoid,
                                          leaky_relu, log_softmax, prelu, relu,
                                          sigmoid, softmax, softplus, swish,
                                          tanh)
from chainer.functions.array import (broadcast, concat, expand_dims, pad,
                                     reshape, split_axis, squeeze, transpose)
from chainer.functions.connection import (convolution_2d, deconvolution_2d,
                                          linear)
from chainer.functions.math import average, basic_math, minmax, sum as sum_
from chainer.functions.normalization import (batch_normalization,
                                             layer_normalization,
                                             local_response_normalization)
from chainer.functions.pooling import (average_pooling_2d, max_pooling_nd,
                                       unpooling_2d)

#: one function run, as a converter sees it: ``node`` (its settings),
#: ``ins`` (input names in the graph), ``x`` (traced input arrays), ``y``
#: (traced output arrays; None for an output nothing read)
Call = collections.namedtuple('Call', 'node ins x y')


def _conv(g, c):
    n = c.node
    k = c.x[1].shape[2:]
    want = tuple(c.y[0].shape[2:])
    got = tuple((size + 2 * p - (kk - 1) * d - 1) // s + 1 for size, kk, s, p, d
                in zip(c.x[0].shape[2:], k, (n.sy, n.sx), (n.ph, n.pw),
                       (n.dy, n.dx)))
    if got != want:        # cover_all rounds up: ONNX has no such mode
        raise BranchyNetError('Chainer gives %s, ONNX would give %s'
                              % (want, got))
    return g.op('Conv', c.ins, kernel_shape=list(k), strides=[n.sy, n.sx],
                pads=[n.ph, n.pw, n.ph, n.pw], dilations=[n.dy, n.dx],
                group=int(n.groups))


def _deconv(g, c):
    n = c.node
    k = c.x[1].shape[2:]
    default = [(size - 1) * s + (kk - 1) * d + 1 - 2 * p for size, kk, s, p, d
               in zip(c.x[0].shape[2:], k, (n.sy, n.sx), (n.ph, n.pw),
                      (n.dy, n.dx))]
    extra = [o - d for o, d in zip(c.y[0].shape[2:], default)]
    if not all(0 <= e < s for e, s in zip(extra, (n.sy, n.sx))):
        raise BranchyNetError('output size %s cannot be had from %s'
                              % (tuple(c.y[0].shape[2:]), tuple(default)))
    return g.op('ConvTranspose', c.ins, kernel_shape=list(k),
                strides=[n.sy, n.sx], pads=[n.ph, n.pw, n.ph, n.pw],
                dilations=[n.dy, n.dx], group=int(n.groups),
                output_padding=extra)


def _linear(g, c):
    if c.x[0].ndim != 2:
        raise BranchyNetError('a linear map of a %d-D input'
                              % c.x[0].ndim)
    return g.op('Gemm', c.ins, transB=1)


def _batch_norm(g, c):
    if tuple(c.node.key_axis) != (1,):
        raise BranchyNetError('normalisation over axis %s, not the channels'
                              % (c.node.key_axis,))
    # test mode: the fixed statistics, inputs (x, gamma, beta, mean, var)
    return g.op('BatchNormalization', c.ins, epsilon=float(c.node.eps))


def _layer_norm(g, c):
    if c.x[0].ndim != 2:
        raise BranchyNetError('layer normalisation of a %d-D input'
                              % c.x[0].ndim)
    return g.op('LayerNormalization', c.ins, axis=1,
                epsilon=float(c.node.eps))


def _unary(op_type, **attrs):
    """The converter of a function that is one ONNX operator as is."""
    return lambda g, c: g.op(op_type, c.ins[:1], **attrs)


def _leaky_relu(g, c):
    return g.op('LeakyRelu', c.ins, alpha=float(c.node.slope))


def _elu(g, c):
    return g.op('Elu', c.ins, alpha=float(c.node.alpha))


def _scalar(g, value, hint='c'):
    return g.weight(numpy.array(value), hint)


def _softplus(g, c):
    """Chainer's ``log(1 + exp(beta * x)) / beta``; ONNX's has no beta."""
    beta = float(c.node.beta)
    if beta == 1.0:
        return g.op('Softplus', c.ins)
    scaled = g.op('Mul', [c.ins[0], _scalar(g, beta, 'beta')])
    return g.op('Div', [g.op('Softplus', [scaled]), _scalar(g, beta, 'beta')])


def _clipped_relu(g, c):                 # ReLU6 too: cap 6
    return g.op('Clip', [c.ins[0], _scalar(g, 0.0, 'zero'),
                         _scalar(g, float(c.node.cap), 'cap')])


def _channel_weight(g, c, i, hint):
    """Input ``i`` (PReLU's slope, swish's beta: Chainer broadcasts it
    over the axes after it) shaped to broadcast as ONNX does."""
    w = c.x[i]
    shape = w.shape + (1,) * (c.x[0].ndim - 1 - w.ndim)
    return g.weight(numpy.asarray(w).reshape(shape), hint)


def _prelu(g, c):
    return g.op('PRelu', [c.ins[0], _channel_weight(g, c, 1, 'slope')])


def _swish(g, c):
    """``x * sigmoid(beta * x)``."""
    bx = g.op('Mul', [c.ins[0], _channel_weight(g, c, 1, 'beta')])
    return g.op('Mul', [c.ins[0], g.op('Sigmoid', [bx])])


def _softmax(op_type):
    def convert(g, c):
        if c.node.axis in (0, -c.x[0].ndim):
            raise BranchyNetError('a softmax across the batch axis')
        return g.op(op_type, c.ins, axis=int(c.node.axis))
    return convert


def onnx_pool_outsize(size, k, s, p, ceil_mode):
    """Output size of ONNX pooling along one axis (the operator's spec).

    With ``ceil_mode`` the size rounds up, but a last window that would
    start in the right padding (or past the input) is dropped.
    """
    if not ceil_mode:
        return (size + 2 * p - k) // s + 1
    out = -(-(size + 2 * p - k) // s) + 1
    if (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool(g, op_type, c, k, s, p, ceil_mode, **attrs):
    x_shape, y_shape = c.x[0].shape, c.y[0].shape
    onnx_shape = tuple(onnx_pool_outsize(n, *kps, ceil_mode)
                       for n, kps in zip(x_shape[2:], zip(k, s, p)))
    if onnx_shape != tuple(y_shape[2:]):
        raise BranchyNetError(
            '%s with ksize %s, stride %s, pad %s on %s: Chainer gives %s, '
            'ONNX would give %s' % (op_type, k, s, p, tuple(x_shape[2:]),
                                    tuple(y_shape[2:]), onnx_shape))
    return g.op(op_type, c.ins, kernel_shape=list(k), strides=list(s),
                pads=list(p) * 2, ceil_mode=int(ceil_mode), **attrs)


def _max_pool(g, c):
    n = c.node
    if n.return_indices or n.ndim != 2:
        raise BranchyNetError('max pooling of %d-D maps or with indices'
                              % n.ndim)
    return _pool(g, 'MaxPool', c, n.ksize, n.stride, n.pad,
                 ceil_mode=bool(n.cover_all))


def _avg_pool(g, c):
    n = c.node
    # Chainer divides by the full window, padding included
    return _pool(g, 'AveragePool', c, (n.kh, n.kw), (n.sy, n.sx),
                 (n.ph, n.pw), ceil_mode=bool(n.cover_all),
                 count_include_pad=1)


def _unpool(g, c):
    """Window = stride, no padding, ``k`` times the size: each value
    copied to a ``k x k`` block, a nearest-neighbour resize."""
    n = c.node
    k = (n.kh, n.kw)
    size = tuple(s * kk for s, kk in zip(c.x[0].shape[2:], k))
    if k != (n.sy, n.sx) or (n.ph, n.pw) != (0, 0) or \
            size != tuple(c.y[0].shape[2:]):
        raise BranchyNetError('unpooling other than window = stride, no '
                              'padding, output = input x window')
    scales = g.weight(numpy.array([1.0, 1.0] + list(k)), 'scales')
    return g.op('Resize', [c.ins[0], '', scales], mode='nearest',
                coordinate_transformation_mode='asymmetric',
                nearest_mode='floor')


def _lrn(g, c):
    """Chainer's ``x / (k + alpha * sum_window x^2)^beta``, spelled out.

    ONNX has an ``LRN`` operator, but ONNX Runtime's CPU kernel took 1.43
    ms on B-ResNet's (1, 64, 30, 30) map at one thread, 60% of the exit-1
    path. The window sum as a 1x1 convolution of the squares with a banded
    ``(C, C)`` matrix (``alpha`` on the band, ``k`` as its bias), and
    ``^0.75`` as ``sqrt(d) * sqrt(sqrt(d))``, took 0.15 ms, equal to
    Chainer's to 1e-6 relative.
    """
    n, h = int(c.node.n), c.ins[0]
    if n % 2 == 0:
        raise BranchyNetError('cannot export LRN with an even window (n=%d): '
                              'its window is not centred' % n)
    ch = int(c.x[0].shape[1])
    offset = numpy.arange(ch)[:, None] - numpy.arange(ch)[None, :]
    band = (abs(offset) <= n // 2) * float(c.node.alpha)
    d = g.op('Conv', [g.op('Mul', [h, h]),
                      g.weight(band.reshape(ch, ch, 1, 1), 'lrn_band'),
                      g.weight(numpy.full(ch, float(c.node.k)), 'lrn_k')],
             kernel_shape=[1, 1])
    beta = float(c.node.beta)
    if beta == 0.75:
        root = g.op('Sqrt', [d])
        denominator = g.op('Mul', [root, g.op('Sqrt', [root])])
    else:
        denominator = g.op('Pow', [d, _scalar(g, beta, 'beta')])
    return g.op('Div', [h, denominator])


def _keep_batch(c, what):
    if c.y[0].shape[:1] != c.x[0].shape[:1]:
        raise BranchyNetError(
            '%s moves values across the batch axis (%s -> %s): the axes '
            'after the first must hold one sample (for (N, -1) use '
            'branchynet.networks.layers.flatten)'
            % (what, c.x[0].shape, c.y[0].shape))


def _reshape(g, c):
    """Reshape, squeeze, expand_dims: to the traced per-sample shape."""
    _keep_batch(c, 'reshape to %s' % (tuple(c.y[0].shape),))
    shape = (-1,) + tuple(c.y[0].shape[1:])
    if len(shape) == 2:
        return g.op('Flatten', c.ins[:1], axis=1)
    # allowzero: a 0 is a zero-length axis, as in Chainer, not a copy
    return g.op('Reshape', [c.ins[0], g.weight(numpy.asarray(shape), 'shape',
                                               numpy.int64)], allowzero=1)


def _broadcast(g, c):
    _keep_batch(c, 'broadcast_to %s' % (tuple(c.y[0].shape),))
    shape = numpy.asarray((1,) + tuple(c.y[0].shape[1:]))
    return g.op('Expand', [c.ins[0], g.weight(shape, 'shape', numpy.int64)])


def _axis(c, axis, what):
    axis = int(axis) % c.x[0].ndim
    if axis == 0:
        raise BranchyNetError('%s along the batch axis' % what)
    return axis


def _concat(g, c):
    return g.op('Concat', c.ins, axis=_axis(c, c.node.axis, 'concat'))


def _split(g, c):
    axis = _axis(c, c.node.axis, 'split')
    size = c.x[0].shape[axis]
    if c.node.indices is not None:
        bounds = [0] + [int(i) for i in c.node.indices] + [size]
    else:
        step = size // int(c.node.sections)
        bounds = list(range(0, size + 1, step))
    sizes = numpy.diff(bounds)
    names = [g.name('split') for _ in sizes]
    g.op('Split', [c.ins[0], g.weight(sizes, 'split', numpy.int64)],
         out=names, axis=axis)
    return names


def _transpose(g, c):
    perm = [int(a) % c.x[0].ndim for a in (c.node.axes or
                                            range(c.x[0].ndim)[::-1])]
    if perm[0] != 0:
        raise BranchyNetError('a transpose that moves the batch axis')
    return g.op('Transpose', c.ins, perm=perm)


def _pad(g, c):
    widths = numpy.asarray(c.node.pad_width)
    widths = numpy.broadcast_to(widths.reshape(-1, 2) if widths.size > 1
                                else widths, (c.x[0].ndim, 2))
    if tuple(widths[0]) != (0, 0) or c.node.mode not in ('constant',
                                                          'reflect', 'edge'):
        raise BranchyNetError('pad of the batch axis, or mode %r'
                              % c.node.mode)
    pads = g.weight(numpy.concatenate([widths[:, 0], widths[:, 1]]), 'pads',
                    numpy.int64)
    value = float(numpy.asarray(c.node.keywords.get('constant_values', 0)))
    return g.op('Pad', [c.ins[0], pads, _scalar(g, value, 'value')],
                mode=c.node.mode)


def _reduce(op_type, axes_as_input):
    """Mean, sum, max over axes that leave the batch axis alone."""
    def convert(g, c):
        axes = c.node.axis
        axes = range(c.x[0].ndim) if axes is None else axes
        axes = sorted(int(a) % c.x[0].ndim for a in axes)
        if 0 in axes:
            raise BranchyNetError('a reduction over the batch axis')
        keep = int(bool(c.node.keepdims))
        if axes_as_input:           # opset 13+: ReduceSum's axes are input
            return g.op(op_type, [c.ins[0], g.weight(
                numpy.asarray(axes), 'axes', numpy.int64)], keepdims=keep)
        return g.op(op_type, c.ins, axes=axes, keepdims=keep)
    return convert


def _binary(op_type):
    return lambda g, c: g.op(op_type, c.ins)


def _with_constant(op_type, constant_first=False):
    """``x + c``, ``x * c``, ``c - x``, ``c / x``: the constant a weight."""
    def convert(g, c):
        value = g.weight(numpy.asarray(c.node.value), 'value')
        ins = [value, c.ins[0]] if constant_first else [c.ins[0], value]
        return g.op(op_type, ins)
    return convert


#: FunctionNode type -> converter. The multiply-add counter has an entry for
#: each of these (``branchynet.measurement.profiling.COSTS``; a test checks
#: that the two tables hold the same types).
CONVERTERS = {
    # groups, dilation; a depthwise convolution is one with groups
    convolution_2d.Convolution2DFunction: _conv,
    deconvolution_2d.Deconvolution2DFunction: _deconv,
    linear.LinearFunction: _linear,
    batch_normalization.FixedBatchNormalization: _batch_norm,
    layer_normalization.LayerNormalization: _layer_norm,
    relu.ReLU: _unary('Relu'), leaky_relu.LeakyReLU: _leaky_relu,
    elu.ELU: _elu, tanh.Tanh: _unary('Tanh'), sigmoid.Sigmoid:
    _unary('Sigmoid'), softplus.Softplus: _softplus,
    clipped_relu.ClippedReLU: _clipped_relu, prelu.PReLUFunction: _prelu,
    swish.Swish: _swish,
    hard_sigmoid.HardSigmoid: _unary('HardSigmoid', alpha=0.2, beta=0.5),
    softmax.Softmax: _softmax('Softmax'),
    log_softmax.LogSoftmax: _softmax('LogSoftmax'),
    max_pooling_nd.MaxPoolingND: _max_pool,
    average_pooling_2d.AveragePooling2D: _avg_pool,
    unpooling_2d.Unpooling2D: _unpool,
    average.Mean: _reduce('ReduceMean', False),       # global pooling
    sum_.Sum: _reduce('ReduceSum', True), minmax.Max: _reduce('ReduceMax',
                                                              False),
    local_response_normalization.LocalResponseNormalization: _lrn,
    concat.Concat: _concat, split_axis.SplitAxis: _split,
    reshape.Reshape: _reshape, squeeze.Squeeze: _reshape,
    expand_dims.ExpandDims: _reshape, broadcast.BroadcastTo: _broadcast,
    transpose.Transpose: _transpose, pad.Pad: _pad,
    basic_math.Add: _binary('Add'), basic_math.Sub: _binary('Sub'),
    basic_math.Mul: _binary('Mul'), basic_math.Div: _binary('Div'),
    basic_math.Neg: _unary('Neg'),
    basic_math.AddConstant: _with_constant('Add'),
    basic_math.MulConstant: _with_constant('Mul'),
    basic_math.SubFromConstant: _with_constant('Sub', constant_first=True),
    basic_math.DivFromConstant: _with_constant('Div', constant_first=True),
    basic_math.PowVarConst: _with_constant('Pow'),
}


def convert(g, node, ins, x, y):
    """Add one traced function to the graph; returns its output names.

    Raises:
        BranchyNetError: no converter for its type, or ONNX cannot do what
        it did (the message says why; the caller names the place).
    """
    converter = CONVERTERS.get(type(node))
    if converter is None:
        raise BranchyNetError('no ONNX converter (branchynet.'
                              'runtimes.onnx.converters.CONVERTERS)')
    out = converter(g, Call(node, list(ins), list(x), list(y)))
    return out if isinstance(out, list) else [out]
