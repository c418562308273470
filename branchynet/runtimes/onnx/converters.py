"""Chainer layers -> ONNX nodes: one converter per layer kind.

The kinds: convolution (groups, dilation), linear, batch normalisation
(inference), max pooling (pad, ``cover_all``), average pooling (pad),
dropout (identity), ReLU, leaky ReLU, ELU, tanh, sigmoid, softplus, ReLU6
and clipped ReLU, LRN, reshape and :func:`branchynet.networks.layers.flatten`,
and the ResNet block with its zero-channel shortcut. Each converter is
``(graph, settings, input name, input shape, output shape) -> output name``,
``settings`` being the link itself or a function's bound arguments;
:data:`LINKS` and :data:`FUNCTIONS` map layer kinds to them and
:func:`converter` finds a layer's (a layer of no kind there is an error,
never skipped; a lambda cannot be recognised, so it is one). The graph
(``g.op``, ``g.weight``) is :class:`branchynet.runtimes.onnx.export._Graph`.

Places where Chainer and ONNX differ:

* LRN is not ONNX's ``LRN`` operator (whose ``alpha`` is divided by the
  window size, and whose ONNX Runtime kernel is slow) but the formula
  itself, the window sum as a banded 1x1 convolution (:func:`_lrn`); odd
  windows only (``n // 2`` channels on each side), even ``n`` is refused.
* Max pooling with ``cover_all=True`` becomes ``ceil_mode=1``. Both round
  the output size up, but ONNX drops a last window that would start past the
  input; the output size of every pooling layer is checked against the
  traced Chainer output while exporting, so a mismatch is an error, never a
  silently different graph.
* The graphs take any batch size, so every layer must keep the batch axis:
  ``F.flatten`` (which flattens it too) and a reshape whose first axis is
  not ``-1``, or that moves samples across it, are refused.
"""
import functools
import inspect

import chainer
import chainer.functions as F
import chainer.links as L
import numpy

from branchynet.errors import BranchyNetError
from branchynet.networks.layers import ResBlock, flatten


def _conv(g, link, h, x_shape, y_shape):
    ph, pw = link.pad
    inputs = [h, g.weight(link.W.array, 'W')]
    if link.b is not None:
        inputs.append(g.weight(link.b.array, 'b'))
    return g.op('Conv', inputs, kernel_shape=list(link.W.shape[2:]),
                strides=list(link.stride), pads=[ph, pw, ph, pw],
                dilations=list(link.dilate), group=link.groups)


def _linear(g, link, h, x_shape, y_shape):
    # Chainer's Linear flattens every axis after the batch axis
    flat = g.op('Flatten', [h], axis=1)
    inputs = [flat, g.weight(link.W.array, 'W')]
    if link.b is not None:
        inputs.append(g.weight(link.b.array, 'b'))
    return g.op('Gemm', inputs, transB=1)


def _batch_norm(g, link, h, x_shape, y_shape):
    if link.axis is not None:
        raise BranchyNetError('cannot export BatchNormalization over axis %r'
                              % (link.axis,))
    c = link.avg_mean.shape[0]
    gamma = link.gamma.array if link.gamma is not None else numpy.ones(c)
    beta = link.beta.array if link.beta is not None else numpy.zeros(c)
    # inference: the running statistics, as chainer.config.train=False uses
    return g.op('BatchNormalization', [
        h, g.weight(gamma, 'gamma'), g.weight(beta, 'beta'),
        g.weight(link.avg_mean, 'mean'), g.weight(link.avg_var, 'var')],
        epsilon=float(link.eps))


def _unary(op_type):
    """The converter of an activation that is one ONNX operator as is."""
    return lambda g, args, h, x_shape, y_shape: g.op(op_type, [h])


def _leaky_relu(g, args, h, x_shape, y_shape):
    return g.op('LeakyRelu', [h], alpha=float(args['slope']))


def _elu(g, args, h, x_shape, y_shape):
    return g.op('Elu', [h], alpha=float(args['alpha']))


def _softplus(g, args, h, x_shape, y_shape):
    """Chainer's ``log(1 + exp(beta * x)) / beta``; ONNX's has no beta."""
    beta = float(args['beta'])
    if beta == 1.0:
        return g.op('Softplus', [h])
    scaled = g.op('Mul', [h, g.weight(numpy.array(beta), 'beta')])
    return g.op('Div', [g.op('Softplus', [scaled]),
                        g.weight(numpy.array(beta), 'beta')])


def _clip(g, top, h):
    return g.op('Clip', [h, g.weight(numpy.array(0.0), 'zero'),
                         g.weight(numpy.array(top), 'top')])


def _relu6(g, args, h, x_shape, y_shape):
    return _clip(g, 6.0, h)


def _clipped_relu(g, args, h, x_shape, y_shape):
    return _clip(g, float(args['z']), h)


def _identity(g, args, h, x_shape, y_shape):
    return h          # dropout at inference


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


def _pool(g, op_type, args, h, x_shape, y_shape, ceil_mode, **attrs):
    k = _pair(args['ksize'])
    s = _pair(args['stride'] if args['stride'] is not None else args['ksize'])
    p = _pair(args['pad'])
    onnx_shape = tuple(onnx_pool_outsize(n, *kps, ceil_mode)
                       for n, kps in zip(x_shape[2:], zip(k, s, p)))
    if onnx_shape != tuple(y_shape[2:]):
        raise BranchyNetError(
            '%s with ksize %s, stride %s, pad %s on %s: Chainer gives %s, '
            'ONNX would give %s' % (op_type, k, s, p, tuple(x_shape[2:]),
                                    tuple(y_shape[2:]), onnx_shape))
    return g.op(op_type, [h], kernel_shape=list(k), strides=list(s),
                pads=[p[0], p[1], p[0], p[1]], ceil_mode=int(ceil_mode),
                **attrs)


def _max_pool(g, args, h, x_shape, y_shape):
    if args['return_indices']:
        raise BranchyNetError('cannot export max pooling with return_indices')
    return _pool(g, 'MaxPool', args, h, x_shape, y_shape,
                 ceil_mode=bool(args['cover_all']))


def _avg_pool(g, args, h, x_shape, y_shape):
    # Chainer divides by the full window, padding included
    return _pool(g, 'AveragePool', args, h, x_shape, y_shape,
                 ceil_mode=False, count_include_pad=1)


def _lrn(g, args, h, x_shape, y_shape):
    """Chainer's ``x / (k + alpha * sum_window x^2)^beta``, spelled out.

    ONNX has an ``LRN`` operator, but ONNX Runtime's CPU kernel took 1.43
    ms on B-ResNet's (1, 64, 30, 30) map at one thread, 60% of the exit-1
    path. The window sum as a 1x1 convolution of the squares with a banded
    ``(C, C)`` matrix (``alpha`` on the band, ``k`` as its bias), and
    ``^0.75`` as ``sqrt(d) * sqrt(sqrt(d))``, took 0.15 ms, equal to
    Chainer's to 1e-6 relative.
    """
    n = int(args['n'])
    if n % 2 == 0:
        raise BranchyNetError('cannot export LRN with an even window (n=%d): '
                              'its window is not centred' % n)
    c = int(x_shape[1])
    offset = numpy.arange(c)[:, None] - numpy.arange(c)[None, :]
    band = (abs(offset) <= n // 2) * float(args['alpha'])
    d = g.op('Conv', [g.op('Mul', [h, h]),
                      g.weight(band.reshape(c, c, 1, 1), 'lrn_band'),
                      g.weight(numpy.full(c, float(args['k'])), 'lrn_k')],
             kernel_shape=[1, 1])
    beta = float(args['beta'])
    if beta == 0.75:
        root = g.op('Sqrt', [d])
        denominator = g.op('Mul', [root, g.op('Sqrt', [root])])
    else:
        denominator = g.op('Pow', [d, g.weight(numpy.array(beta), 'beta')])
    return g.op('Div', [h, denominator])


def _reshape(g, args, h, x_shape, y_shape):
    shape = tuple(numpy.atleast_1d(args['shape']).tolist())
    # the graphs take any batch: a literal batch size would run at that
    # size only, and a -1 that takes in part of a sample mixes samples
    if not shape or shape[0] != -1:
        raise BranchyNetError(
            'reshape to %s fixes the batch size: write -1 for the batch '
            'axis, or use branchynet.networks.layers.flatten' % (shape,))
    if y_shape[0] != x_shape[0]:
        raise BranchyNetError(
            'reshape to %s moves values across the batch axis (%s -> %s): '
            'the axes after -1 must hold one sample' % (shape, x_shape,
                                                        y_shape))
    # allowzero: a 0 is a zero-length axis, as in Chainer, not a copy
    return g.op('Reshape', [h, g.weight(numpy.asarray(shape), 'shape',
                                        numpy.int64)], allowzero=1)


def _flatten(g, args, h, x_shape, y_shape):
    return g.op('Flatten', [h], axis=1)       # layers.flatten: (N, -1)


def _batch_flatten(g, args, h, x_shape, y_shape):
    raise BranchyNetError('F.flatten flattens the batch axis too; use '
                          'branchynet.networks.layers.flatten for (N, -1)')


def _res_block(g, block, h, x_shape, y_shape):
    """``relu(BN(conv(relu(BN(conv(x))))) + shortcut(x))`` (ResBlock)."""
    r = g.op('Relu', [_batch_norm(g, block.bn1, _conv(
        g, block.conv1, h, None, None), None, None)])
    r = _batch_norm(g, block.bn2, _conv(g, block.conv2, r, None, None),
                    None, None)
    shortcut = h
    if block.stride != 1:
        shortcut = g.op('AveragePool', [shortcut], kernel_shape=[1, 1],
                        strides=[block.stride, block.stride])
    grow = block.out_channels - block.in_channels
    if grow:
        # the reference concatenates zero channels in front; Pad does that
        # without a zeros tensor whose batch size would have to follow N
        pads = g.weight(numpy.array([0, grow, 0, 0, 0, 0, 0, 0]), 'pads',
                        numpy.int64)
        shortcut = g.op('Pad', [shortcut, pads], mode='constant')
    return g.op('Relu', [g.op('Add', [r, shortcut])])


#: link classes -> converter (a subclass counts as its class unless it has
#: a forward or a __call__ of its own: :func:`link_kind`)
LINKS = {L.Convolution2D: _conv, L.Linear: _linear,
         L.BatchNormalization: _batch_norm, ResBlock: _res_block}
#: chainer.functions (plain or in functools.partial) -> converter
FUNCTIONS = {
    F.relu: _unary('Relu'), F.leaky_relu: _leaky_relu, F.elu: _elu,
    F.tanh: _unary('Tanh'), F.sigmoid: _unary('Sigmoid'),
    F.softplus: _softplus, F.relu6: _relu6, F.clipped_relu: _clipped_relu,
    F.max_pooling_2d: _max_pool, F.average_pooling_2d: _avg_pool,
    F.local_response_normalization: _lrn, F.dropout: _identity,
    F.reshape: _reshape, flatten: _flatten, F.flatten: _batch_flatten}


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _function_args(layer):
    """``(function, {argument: value})`` of a function or partial layer."""
    func = layer.func if isinstance(layer, functools.partial) else layer
    args = layer.args if isinstance(layer, functools.partial) else ()
    kwargs = layer.keywords if isinstance(layer, functools.partial) else {}
    try:
        bound = inspect.signature(func).bind(None, *args, **kwargs)
    except TypeError as e:
        raise BranchyNetError('its arguments do not fit: %s' % e) from None
    bound.apply_defaults()
    return func, dict(bound.arguments)


def kind_of(layer):
    """A layer's kind in one word: its link class or function name."""
    if isinstance(layer, chainer.Link):
        return type(layer).__name__
    func = getattr(layer, 'func', layer)          # a functools.partial
    return getattr(func, '__name__', type(func).__name__)


#: methods of a known class that a subclass may have of its own
_HARMLESS = frozenset({'__init__', '__repr__', '__str__', '__reduce__'})


def own_code(link, cls):
    """The method by which ``link``'s class changes what ``cls`` runs, or
    None: its ``forward``, its ``__call__``, or another method ``cls``
    defines (``BatchNormalization._get_gamma``, which its forward calls). A
    method of its own may do anything, so the link is not of ``cls``'s
    kind."""
    names = ['forward', '__call__'] + sorted(
        name for name, value in vars(cls).items()
        if callable(value) and name not in _HARMLESS)
    for name in names:
        if getattr(type(link), name, None) is not getattr(cls, name, None):
            return name
    return None


def link_kind(link, table):
    """The nearest class of ``link`` that ``table`` knows, or None.

    Raises:
        BranchyNetError: ``link`` is of a subclass of that class with a
        ``forward`` or ``__call__`` of its own (the message says so; the
        caller names the layer).
    """
    for cls in type(link).__mro__:
        if cls in table:
            method = own_code(link, cls)
            if method is not None:
                raise BranchyNetError(
                    'a subclass of %s with a %s of its own (which may do '
                    'anything) is not %s\'s kind'
                    % (cls.__name__, method, cls.__name__))
            return cls
    return None


def _link_converter(link):
    try:
        cls = link_kind(link, LINKS)
    except BranchyNetError as e:
        raise BranchyNetError('no ONNX converter: %s' % e) from None
    return None if cls is None else LINKS[cls]


def converter(layer):
    """The converter for ``layer`` and the object it reads its settings from.

    Raises:
        BranchyNetError: the layer's kind has no converter (the message
        says so; the caller names the layer).
    """
    if isinstance(layer, chainer.Link):
        convert = _link_converter(layer)
        if convert is not None:
            return convert, layer
        table = 'LINKS'
    else:
        func = layer.func if isinstance(layer, functools.partial) else layer
        if func in FUNCTIONS:
            return FUNCTIONS[func], _function_args(layer)[1]
        table = 'FUNCTIONS'
    hint = ('; a lambda cannot be recognised: use the chainer function '
            'itself or a functools.partial of it'
            if kind_of(layer) == '<lambda>' else '')
    raise BranchyNetError('no ONNX converter for its kind in '
                          'branchynet.runtimes.onnx.converters.%s%s'
                          % (table, hint))
