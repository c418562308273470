"""Early-exit inference on ONNX Runtime (the paper's Fig. 2), without Chainer.

The same procedure as :mod:`branchynet.exits.inference`, on the graphs of
:mod:`branchynet.runtimes.onnx.export`: segment k returns stage k's output, exit
k's logits and their entropy (nats, computed in the graph); the decision
``H < T_k`` is taken here, in Python, in float64 as the Chainer runtime
does. The other exit scores (``score='maxprob'``, ``'margin'``,
``'energy'``) are computed here from the graph's logits, in float64, by
:mod:`branchynet.exits.scores`. The functions have the signatures and return
shapes of their namesakes in :mod:`branchynet.exits.inference`, with an
:class:`OnnxBranchyNet` in place of the Chainer model.

This module imports only the standard library, numpy, onnxruntime and
``scores.py`` (not chainer, not the rest of this package), so a deployed
model needs only those: copy this file and ``branchynet/exits/scores.py`` side by
side, beside an export folder, and::

    net = OnnxBranchyNet.load('export_folder')
    prediction, exit_index = early_exit(net, images, [0.025])

Sessions are created once per model, with explicit thread settings
(:func:`session_options`; :attr:`OnnxBranchyNet.settings` reports them).
"""
import hashlib
import importlib.util
import json
import os

import numpy
import onnxruntime


def _load_scores():
    """:mod:`branchynet.exits.scores`, or the ``scores.py`` beside this file when
    this file was loaded on its own (a deployment: no package, no chainer).
    """
    if __package__:
        from branchynet.exits import scores
        return scores
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'scores.py')
    spec = importlib.util.spec_from_file_location('_deployed_scores', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_scores = _load_scores()

#: the export folder's sidecar (see branchynet.runtimes.onnx.export)
SIDECAR = 'export.json'
FORMAT = 'branchynet-onnx'


class ExportError(ValueError):
    """An export folder that cannot be loaded (missing, corrupt, unknown)."""


#: intra-op threads a session may have: a few per CPU (10000 threads took
#: gigabytes and ran for half an hour; 10**11 broke the binding)
MAX_THREADS = 4 * (os.cpu_count() or 1)


def session_options(threads=1):
    """Explicit ONNX Runtime settings: ``threads`` intra-op, sequential.

    One intra-op thread is the batch-1 setting (no thread pool to wake up);
    more help large batches. Every setting that decides the speed is set
    here, not left to the library's defaults, so that timings can name them.
    """
    if not 1 <= int(threads) <= MAX_THREADS:
        raise ExportError('threads must be in [1, %d] (4 per CPU), got %r'
                          % (MAX_THREADS, threads))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = \
        onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # idle pool threads spin briefly before sleeping (the library default);
    # set explicitly because it trades CPU for latency
    options.add_session_config_entry('session.intra_op.allow_spinning', '1')
    return options


class OnnxBranchyNet:
    """A BranchyNet's graphs on ONNX Runtime: one session per segment.

    Args:
        segments (list of bytes or str): serialised graphs (or paths) of the
            ``K`` segments, segment 1 first; empty for a main-only model
            (a baseline).
        main (bytes or str): the main network as one graph (optional).
        n_exits (int): ``K`` (needed when ``segments`` is empty).
        threads (int): intra-op threads of every session.
        providers (list of str): execution providers (default: the CPU).

    Attributes:
        segments (list of onnxruntime.InferenceSession)
        main (onnxruntime.InferenceSession or None)
        graphs (dict): the serialised graphs, ``segments`` and ``main``.
    """

    def __init__(self, segments, main=None, n_exits=None, threads=1,
                 providers=None):
        self.providers = list(providers or ['CPUExecutionProvider'])
        self.threads = int(threads)
        options = session_options(threads)
        self.graphs = {'segments': list(segments), 'main': main}
        self.segments = [self._session(g, options) for g in segments]
        self.main = None if main is None else self._session(main, options)
        self.n_exits = int(n_exits or len(self.segments))
        if not self.n_exits:
            raise ExportError('a model needs segments or n_exits')
        if self.segments and len(self.segments) != self.n_exits:
            raise ExportError('%d segments for %d exits'
                              % (len(self.segments), self.n_exits))

    def _session(self, graph, options):
        return onnxruntime.InferenceSession(graph, sess_options=options,
                                            providers=self.providers)

    @property
    def settings(self):
        """The thread and provider settings, to report with timings, as the
        first session has them (what ran, not what was asked)."""
        session = (self.segments or [self.main])[0]
        options = session.get_session_options()
        return {'runtime': 'onnxruntime',
                'onnxruntime': onnxruntime.__version__,
                'providers': session.get_providers(),
                'intra_op_num_threads': options.intra_op_num_threads,
                'inter_op_num_threads': options.inter_op_num_threads,
                # ORT_SEQUENTIAL -> sequential, ORT_ENABLE_ALL -> all
                'execution_mode': _short(options.execution_mode),
                'graph_optimization_level': _short(
                    options.graph_optimization_level),
                'allow_spinning': options.get_session_config_entry(
                    'session.intra_op.allow_spinning') != '0'}

    def segment(self, k, h):
        """Run segment ``k`` (0-based) on ``h``.

        Returns:
            tuple of numpy arrays: stage output (None for the last segment),
            logits float32 ``(N, classes)``, entropy float32 ``(N,)``.
        """
        out = self.segments[k].run(None, {'input': h})
        if k == self.n_exits - 1:
            return None, out[0], out[1]
        return out[0], out[1], out[2]

    @classmethod
    def load(cls, export_dir, role='branchynet', threads=1, providers=None):
        """Sessions for one model of an export folder.

        Args:
            export_dir (str): written by ``branchynet export``.
            role (str): ``branchynet`` (segments and main path) or
                ``baseline`` (main network only).

        Raises:
            ExportError: no such folder, not an export, an incomplete
                sidecar, a graph missing or not matching its checksum.
        """
        sidecar = read_sidecar(export_dir)
        entry = _model_entry(sidecar, export_dir, role)
        read = lambda name: _read_checked(export_dir, name, sidecar['files'])
        return cls([read(n) for n in entry.get('segments', [])],
                   read(entry['main']), n_exits=sidecar['exits'],
                   threads=threads, providers=providers)


def _short(enum):
    return enum.name.lower().replace('ort_', '').replace('enable_', '')


def read_sidecar(export_dir):
    """The export folder's sidecar, checked to be one of ours."""
    path = os.path.join(export_dir, SIDECAR)
    if not os.path.isfile(path):
        raise ExportError('%s is not an ONNX export folder (no %s; write one '
                          'with `branchynet export`)' % (export_dir, SIDECAR))
    try:
        with open(path) as f:
            sidecar = json.load(f)
    except (OSError, ValueError) as e:
        raise ExportError('cannot read %s: %s' % (path, e)) from None
    if not isinstance(sidecar, dict) or sidecar.get('format') != FORMAT:
        raise ExportError('%s is not a %s sidecar' % (path, FORMAT))
    return sidecar


def _model_entry(sidecar, export_dir, role):
    """The sidecar's entry of ``role``, with the fields :meth:`load` reads
    checked (a sidecar that is JSON but not whole is not an export)."""
    models = sidecar.get('models')
    entry = models.get(role) if isinstance(models, dict) else None
    if isinstance(models, dict) and entry is None:
        raise ExportError('%s holds no %r model' % (export_dir, role))
    exits = sidecar.get('exits')
    if not (isinstance(entry, dict) and isinstance(entry.get('main'), str)
            and _names(entry.get('segments', []))
            and isinstance(sidecar.get('files'), dict)
            and type(exits) is int and exits >= 1):
        raise ExportError('%s is incomplete (models.%s.main, its segments, '
                          'files or exits missing or malformed): write it '
                          'again with `branchynet export`'
                          % (os.path.join(export_dir, SIDECAR), role))
    return entry


def _names(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _read_checked(export_dir, name, checksums):
    path = os.path.join(export_dir, os.path.basename(name))
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise ExportError('cannot read %s: %s' % (path, e)) from None
    if hashlib.sha256(data).hexdigest() != checksums.get(name):
        raise ExportError('%s does not match its checksum in %s (an '
                          'interrupted or altered export?)' % (path, SIDECAR))
    return data


def exit_scores(logits, entropy, score='entropy'):
    """Each row's score at one exit: the graph's entropy, or another score
    of :mod:`branchynet.exits.scores` from the logits (float64).

    Args:
        logits (numpy.ndarray): float32 ``(N, classes)``.
        entropy (numpy.ndarray): float32 ``(N,)``, the graph's.

    Returns:
        numpy.ndarray: ``(N,)``.
    """
    score = _scores.get_score(score)
    return entropy if score.name == 'entropy' else score(logits)


def early_exit_one(model, x, thresholds, score='entropy'):
    """The paper's procedure for one sample (batch size 1).

    Args:
        model (OnnxBranchyNet): the sessions.
        x (numpy.ndarray): float32 ``(1, C, H, W)``, C-contiguous.
        thresholds (sequence of float): ``K - 1`` thresholds of ``score``.
        score (str or Score): the exit score of
            :mod:`branchynet.exits.scores` (default: entropy, the paper's).

    Returns:
        tuple: ``(prediction, exit_index)`` as Python ints.

    Raises:
        ValueError: thresholds of the wrong number or range, or an unknown
            score (:func:`branchynet.exits.scores.check_thresholds`).
    """
    thresholds = _scores.check_thresholds(thresholds, model.n_exits,
                                          score)
    score = _scores.get_score(score)
    last = model.n_exits - 1
    h = x
    for k in range(model.n_exits):
        h, z, entropy = model.segment(k, h)
        if k == last or score.leaves(exit_scores(z, entropy, score)[0],
                                     thresholds[k]):
            return int(z.argmax()), k


def early_exit(model, x, thresholds, score='entropy'):
    """Early-exit inference of a batch, dropping exited samples as it goes.

    Args:
        model (OnnxBranchyNet): the sessions.
        x (numpy.ndarray): float32 ``(N, C, H, W)``.
        thresholds (sequence of float): ``K - 1`` thresholds of ``score``.
        score (str or Score): the exit score of
            :mod:`branchynet.exits.scores` (default: entropy, the paper's).

    Returns:
        tuple: ``prediction`` int32 ``(N,)`` and ``exit_index`` int32 ``(N,)``
        (0-based).

    Raises:
        ValueError: as :func:`early_exit_one`.
    """
    thresholds = _scores.check_thresholds(thresholds, model.n_exits,
                                          score)
    score = _scores.get_score(score)
    n = len(x)
    prediction = numpy.zeros(n, numpy.int32)
    exit_index = numpy.zeros(n, numpy.int32)
    remaining = numpy.arange(n)
    last = model.n_exits - 1
    h = numpy.ascontiguousarray(x, numpy.float32)
    for k in range(model.n_exits):
        h, z, entropy = model.segment(k, h)
        if k == last:
            leave = numpy.ones(len(z), bool)
        else:
            # compared in float64, as branchynet.exits.inference does
            leave = score.leaves(exit_scores(z, entropy, score),
                                 thresholds[k])
        prediction[remaining[leave]] = z.argmax(axis=1)[leave]
        exit_index[remaining[leave]] = k
        stay = ~leave
        remaining = remaining[stay]
        if len(remaining) == 0:
            break
        h = h[stay]
    return prediction, exit_index


def exit_logits(model, x, batch_size=256):
    """Every sample's logits and entropy at every exit, in one pass.

    Args:
        model (OnnxBranchyNet): the sessions.
        x (numpy.ndarray): float32 ``(N, C, H, W)``.
        batch_size (int): samples per run of each segment.

    Returns:
        tuple of numpy arrays: ``entropy`` float32 ``(N, K)`` (the graph's)
        and ``logits`` float32 ``(N, K, classes)``.
    """
    entropies, logits = [], []
    for i in range(0, len(x), batch_size):
        h = numpy.ascontiguousarray(x[i:i + batch_size], numpy.float32)
        hs, zs = [], []
        for k in range(model.n_exits):
            h, z, entropy = model.segment(k, h)
            hs.append(entropy)
            zs.append(z)
        entropies.append(numpy.stack(hs, axis=1))
        logits.append(numpy.stack(zs, axis=1))
    return (numpy.concatenate(entropies).astype(numpy.float32),
            numpy.concatenate(logits).astype(numpy.float32))


def exit_records(model, x, batch_size=256):
    """Every sample's entropy and prediction at every exit, in one pass.

    Returns:
        tuple of numpy arrays: ``entropy`` float32 ``(N, K)`` and
        ``prediction`` int32 ``(N, K)`` (see :func:`exit_logits`).
    """
    h, z = exit_logits(model, x, batch_size)
    return h, z.argmax(axis=2).astype(numpy.int32)


def forward_main(model, x):
    """Logits of the main network alone.

    Args:
        x (numpy.ndarray): float32 ``(N, C, H, W)``.

    Returns:
        numpy.ndarray: float32 ``(N, classes)``.
    """
    if model.main is None:
        raise ExportError('this model has no main graph')
    return model.main.run(None, {'input': x})[0]
