"""What a forward runs: the Chainer functions (FunctionNodes) of one stage
or exit head, in the order run, each with the link path it ran under.

The multiply-add counter (:mod:`branchynet.measurement.profiling`) and the
ONNX exporter (:mod:`branchynet.runtimes.onnx.export`) both read these
traces, so a network is counted and exported by what it computes, whatever
its Python classes: a researcher's own Chain, a lambda in a Sequential, a
subclass with a forward of its own are all traced by the functions they
run. This module sits below both (``networks``), so neither imports the
other for it.

How, and why so:

* onnx-chainer (Chainer's exporter; dead: its last release, 1.6.0 of
  2019, needs chainer < 7 and fails at import with 7.8.1) ran the model
  with ``enable_backprop`` on and walked the creator graph back from the
  outputs. That graph keeps the FunctionNodes and their input
  VariableNodes, but not the arrays: so a :class:`chainer.FunctionHook`
  (which chainer-computational-cost used to count FLOPs, keyed by function
  type) records each node as it runs, with its input arrays, and a
  :class:`chainer.LinkHook` tells under which link it ran. The creator walk
  from the output then keeps the nodes the output depends on (work whose
  result is dropped is neither counted nor exported).
* Test mode (``train=False``): batch normalisation uses its fixed
  statistics, dropout is not run at all (no node: an identity).
* A forward may do what a graph cannot hold: compute with NumPy on
  ``.array`` (the graph then starts at a constant), build a constant from
  the batch size, branch on the data. :func:`compare` finds these from two
  traces at different batch sizes on different inputs (:func:`problems_of`).
"""
import collections

import chainer
import numpy

from branchynet.errors import BranchyNetError

#: one unsupported place: ``where`` is ``stages/0/3 (BasicBlock) ran Sin``
Problem = collections.namedtuple('Problem', 'where reason')


def kind_of(layer):
    """A layer's kind in one word: its link class or function name (a
    ``functools.partial`` by its function's)."""
    if isinstance(layer, chainer.Link):
        return type(layer).__name__
    func = getattr(layer, 'func', layer)
    return getattr(func, '__name__', type(func).__name__)


def function_name(node):
    """A FunctionNode's name as users see it in messages."""
    return type(node).__name__


class Step:
    """One FunctionNode run: ``node``, the link path ``where`` (with its
    kind, ``stages/0/3 (BasicBlock)``), the input VariableNodes and their
    arrays (the graph keeps no arrays)."""

    def __init__(self, node, where, arrays):
        self.node, self.where = node, where
        self.arrays = tuple(arrays)

    @property
    def inputs(self):
        # set by Chainer after the hooks have run: read when asked
        return self.node.inputs

    @property
    def place(self):
        return '%s ran %s' % (self.where, function_name(self.node))

    def __repr__(self):
        return '<Step %s>' % self.place


class Trace:
    """The functions one stage or exit head ran on input ``x``.

    Attributes:
        where (str): the segment's path, ``stages/1``.
        input (VariableNode): the traced input's node.
        output (chainer.Variable): what the forward returned.
        steps (list of Step): the nodes the output depends on, in the
            order run (a topological order).
    """

    def __init__(self, where, x, output, steps):
        self.where, self.x, self.output = where, x, output
        self.input = None
        self.steps = steps
        self._arrays = {}
        for step in steps:
            for vn, array in zip(step.inputs, step.arrays):
                self._arrays[id(vn)] = array
        self._arrays[id(output.node)] = output.array

    def array(self, vn):
        """The array a VariableNode held during the trace (None for an
        output nothing read)."""
        return self._arrays.get(id(vn))

    def is_input(self, vn):
        return vn is self.input

    def producers(self):
        """``id(VariableNode) -> (step index, output index)``."""
        found = {}
        for i, step in enumerate(self.steps):
            for j, ref in enumerate(step.node.outputs):
                vn = ref()
                if vn is not None:
                    found[id(vn)] = (i, j)
        return found


def is_parameter(vn):
    return isinstance(vn.get_variable_or_none(), chainer.Parameter)


class _LinkStack(chainer.LinkHook):
    """The links being run, outermost first."""

    name = 'BranchyNetTraceLinks'

    def __init__(self):
        self.links = []

    def forward_preprocess(self, args):
        self.links.append(args.link)

    def forward_postprocess(self, args):
        self.links.pop()


class _Recorder(chainer.FunctionHook):
    """Records every FunctionNode run, with the link path it ran under."""

    name = 'BranchyNetTrace'

    def __init__(self):
        self.steps, self.stack = [], _LinkStack()
        self.base, self.kind, self.skip = '', '', 0

    def forward_postprocess(self, function, in_data):
        self.steps.append(Step(function, self.where(), in_data))

    def where(self):
        """``base/inner/link/names (InnermostClass)``."""
        inner = self.stack.links[self.skip:]
        path = self.base + ''.join('/' + (link.name or '?') for link in inner)
        kind = type(inner[-1]).__name__ if inner else self.kind
        return '%s (%s)' % (path, kind)

    def __enter__(self):
        self.stack.__enter__()
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self.stack.__exit__(*exc)


def _is_plain_sequential(layer):
    """A Sequential that only runs its layers in turn: walked layer by
    layer, so that a function layer has its own path (``stages/1/3``)."""
    return isinstance(layer, chainer.Sequential) and \
        type(layer).forward is chainer.Sequential.forward and \
        type(layer).__call__ is chainer.Sequential.__call__


def _run(recorder, layer, h, where):
    if _is_plain_sequential(layer):
        for i, sub in enumerate(layer):
            h = _run(recorder, sub, h, '%s/%d' % (where, i))
        return h
    recorder.base, recorder.kind = where, kind_of(layer)
    recorder.skip = len(recorder.stack.links) + \
        isinstance(layer, chainer.Link)
    try:
        y = layer(h)
    except Exception as e:          # the user's code: any error, one line
        raise BranchyNetError('%s (%s) fails on an input of shape %s: %s: %s'
                              % (where, kind_of(layer), tuple(h.shape),
                                 type(e).__name__,
                                 ' '.join(str(e).split())[:300])) from None
    return chainer.as_variable(y)


def _reachable(output, steps):
    """The steps ``output`` depends on, in the order run."""
    seen, todo = set(), [output.node]
    while todo:
        vn = todo.pop()
        creator = vn.creator_node
        if creator is not None and id(creator) not in seen:
            seen.add(id(creator))
            todo.extend(creator.inputs)
    return [s for s in steps if id(s.node) in seen]


def trace(layer, x, where):
    """Run ``layer`` on array ``x`` in test mode and record what it runs.

    Raises:
        BranchyNetError: the layer fails on ``x`` (one line naming it).
    """
    xv = chainer.Variable(x, requires_grad=True)
    recorder = _Recorder()
    with chainer.using_config('train', False), \
            chainer.using_config('enable_backprop', True), recorder:
        y = _run(recorder, layer, xv, where)
    t = Trace(where, x, y, _reachable(y, recorder.steps))
    t.input = xv.node
    return t


def trace_model(model, x):
    """Traces of every stage and exit head of a BranchyNet on ``x``:
    ``[(stage trace, head trace), ...]`` (each stage fed the traced output
    of the one before)."""
    traces, h = [], x
    for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
        s = trace(stage, h, 'stages/%d' % k)
        h = s.output.array
        traces.append((s, trace(head, h, 'exits/%d' % k)))
    return traces


def _ref(t, producers, vn):
    """Where an input comes from: the traced input, a step's output, a
    parameter (the same object in every trace) or a constant."""
    if t.is_input(vn):
        return ('input',)
    if id(vn) in producers:
        return ('step',) + producers[id(vn)]
    if is_parameter(vn):
        return ('parameter', id(vn.get_variable_or_none()))
    return ('constant',)


def _signature(t, step, producers):
    """What must not change with the input or the batch size: the
    function, where its inputs come from and their per-sample shapes (the
    batch axis varies; a constant's shape is compared on its own)."""
    refs = tuple(_ref(t, producers, vn) for vn in step.inputs)
    shapes = tuple(None if r == ('constant',) else tuple(a.shape[1:])
                   for r, a in zip(refs, step.arrays))
    return type(step.node), step.where, refs, shapes


def _constant_problem(place, a, b, na, nb):
    """The reason a constant input is refused, or None when the two traces
    hold the same value."""
    if a.shape == b.shape and (a == b).all():
        return None
    if a.shape[1:] == b.shape[1:] and (len(a), len(b)) == (na, nb) and \
            (a == b[:na]).all():
        return Problem(place, 'an input is a constant whose size follows the batch '
                       '(%s at batch %d, %s at batch %d): an export holds one '
                       'size; make it from the input with Chainer functions '
                       '(F.pad, F.broadcast_to)' % (a.shape, na, b.shape, nb))
    return Problem(place, 'an input was computed outside Chainer functions '
                   '(NumPy on .array, a Variable made in forward, random '
                   'numbers): they differ from one input to another, and an '
                   'export would hold the traced ones')


def compare(a, b):
    """Problems that two traces of one segment show (taken at batch sizes
    ``na != nb`` on different inputs): a forward that ran other functions
    (control flow on the data or the batch size), or a constant that
    changed (a graph break, a constant made with the batch size).

    Returns:
        list of Problem (empty when the traces agree).
    """
    na, nb = len(a.x), len(b.x)
    pa, pb = a.producers(), b.producers()
    for i in range(max(len(a.steps), len(b.steps))):
        sa = _signature(a, a.steps[i], pa) if i < len(a.steps) else None
        sb = _signature(b, b.steps[i], pb) if i < len(b.steps) else None
        if sa != sb:
            step = a.steps[i] if sa is not None else b.steps[i]
            other = '%s at batch %d' % (
                function_name(b.steps[i].node), nb) if sb else 'nothing'
            return [Problem(step.place, 'other functions ran for another '
                            'input or batch size (%s): control flow on the '
                            'data or on the batch size cannot be exported'
                            % other)]
    found = []
    for sa, sb in zip(a.steps, b.steps):
        for vn, xa, xb in zip(sa.inputs, sa.arrays, sb.arrays):
            if _ref(a, pa, vn) == ('constant',):
                found.append(_constant_problem(sa.place, _host(xa),
                                               _host(xb), na, nb))
    if a.output.creator_node is None and not a.is_input(a.output.node):
        found.append(_constant_problem(
            '%s (%s)' % (a.where, 'its output'), _host(a.output.array),
            _host(b.output.array), na, nb))
    return [p for p in found if p is not None]


def _host(array):
    return chainer.backend.CpuDevice().send(array)


def refuse(problems, what):
    """Raise one line listing every problem, each place once.

    Args:
        problems (list of Problem): empty: nothing is raised.
        what (str): what cannot be done, ``cannot export``.
    """
    reasons = collections.OrderedDict()
    for p in problems:
        reasons.setdefault(p.where, [])
        if p.reason not in reasons[p.where]:
            reasons[p.where].append(p.reason)
    if reasons:
        raise BranchyNetError('%s: %s' % (what, '; '.join(
            '%s: %s' % (where, ', '.join(r)) for where, r in
            reasons.items())))


def trace_inputs(in_shape):
    """The two traced inputs: one image-like sample in [0, 1), and two
    signed samples (another batch size, other values, other signs: what a
    constant or a branch depends on shows). Their own generator: the
    caller's random state is untouched."""
    rng = numpy.random.RandomState(0)
    x1 = rng.uniform(0, 1, (1,) + tuple(in_shape)).astype(numpy.float32)
    x2 = rng.standard_normal((2,) + tuple(in_shape)).astype(numpy.float32)
    return x1, x2


def checked_traces(model, in_shape):
    """Traces of every stage and exit head at batch size 2, and the
    problems that comparing them with traces at batch size 1 shows
    (:func:`compare`).

    Returns:
        tuple: ``(traces, problems)``, traces as :func:`trace_model`.
    """
    x1, x2 = (model.device.send(x) for x in trace_inputs(in_shape))
    ones, twos = trace_model(model, x1), trace_model(model, x2)
    problems = []
    for pair_1, pair_2 in zip(ones, twos):
        for a, b in zip(pair_1, pair_2):
            problems += compare(a, b)
    return twos, problems
