"""The early exit on ONNX Runtime against Chainer's, and a deployed export
running without Chainer."""
import json
import os
import shutil
import subprocess
import sys

import chainer
import numpy
import onnxruntime
import pytest

from branchynet.errors import BranchyNetError
from branchynet.exits import inference, scores
from branchynet.networks import b_alexnet, b_lenet
from branchynet.networks.model import JointLoss
from branchynet.networks.serialization import save_model
from branchynet.runtimes.onnx import inference as onnx_inference
from branchynet.runtimes.onnx.export import export_model_dir, to_onnx_bytes
from branchynet.runtimes.onnx.inference import ExportError, OnnxBranchyNet
from helpers import REAL_MNIST

#: an entropy this close to a threshold may fall on either side of it in
#: two runtimes (float32 sums in a different order); nothing else may differ
FLOAT_ERROR = 1e-5

HAVE_MNIST = REAL_MNIST is not None and REAL_MNIST.is_dir()
needs_mnist = pytest.mark.skipif(not HAVE_MNIST,
                                 reason='no real MNIST files found')


def on_onnx(model):
    graphs = to_onnx_bytes(model, 'b_lenet')
    return OnnxBranchyNet(graphs['segments'], graphs['main'])


def test_every_function_equals_chainer_on_random_weights():
    numpy.random.seed(0)
    model = b_lenet()
    net = on_onnx(model)
    x = numpy.random.RandomState(1).rand(40, 1, 28, 28).astype(numpy.float32)
    want_h, want_p = inference.exit_records(model, x, batch_size=16)
    got_h, got_p = onnx_inference.exit_records(net, x, batch_size=16)
    assert got_h.dtype == numpy.float32 and got_h.shape == (40, 2)
    assert got_p.dtype == numpy.int32 and got_p.shape == (40, 2)
    numpy.testing.assert_allclose(got_h, want_h, rtol=0, atol=1e-5)
    numpy.testing.assert_array_equal(got_p, want_p)
    # thresholds between the samples' entropies: no tie within float error
    cuts = numpy.sort(want_h[:, 0])
    for t in (0.0, (cuts[9] + cuts[10]) / 2, (cuts[29] + cuts[30]) / 2,
              float('inf')):
        want = inference.early_exit(model, x, [t])
        got = onnx_inference.early_exit(net, x, [t])
        for a, b in zip(got, want):
            assert a.dtype == numpy.int32
            numpy.testing.assert_array_equal(a, b)
        one = [onnx_inference.early_exit_one(net, x[i:i + 1], [t])
               for i in range(5)]
        assert one == [inference.early_exit_one(model, x[i:i + 1], [t])
                       for i in range(5)]
        assert all(type(v) is int for pair in one for v in pair)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        main = model.forward_main(x).array
    numpy.testing.assert_allclose(onnx_inference.forward_main(net, x), main,
                                  rtol=0, atol=1e-5)


def test_sessions_have_explicit_threads():
    net = on_onnx(b_lenet())
    assert net.settings['intra_op_num_threads'] == 1
    assert net.settings['providers'] == ['CPUExecutionProvider']
    options = onnx_inference.session_options(3)
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == \
        (3, 1)
    with pytest.raises(ExportError):
        onnx_inference.session_options(0)


def test_settings_are_read_from_the_sessions(monkeypatch):
    # sessions built with other options than the defaults: the settings
    # must report what the sessions have, not what the class assumes
    def other_options(threads=1):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 2
        options.inter_op_num_threads = 3
        options.graph_optimization_level = \
            onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.add_session_config_entry('session.intra_op.allow_spinning',
                                         '0')
        return options
    monkeypatch.setattr(onnx_inference, 'session_options', other_options)
    settings = on_onnx(b_lenet()).settings
    assert (settings['intra_op_num_threads'],
            settings['inter_op_num_threads']) == (2, 3)
    assert settings['graph_optimization_level'] == 'basic'
    assert settings['allow_spinning'] is False
    assert settings['execution_mode'] == 'sequential'


@pytest.mark.parametrize('score, thresholds', [
    ('entropy', [float('nan')]), ('entropy', [0.5, 0.5]), ('entropy', []),
    ('entropy', [-1.0]), ('maxprob', [5.0]), ('entropy', 'ab'),
    ('entropy', [None]), ('nonsense', [0.5])])
def test_thresholds_are_checked_as_on_chainer(score, thresholds):
    numpy.random.seed(0)
    model = b_lenet()
    net = on_onnx(model)
    x = numpy.zeros((2, 1, 28, 28), numpy.float32)
    with pytest.raises(BranchyNetError) as chainer_error:
        inference.early_exit(model, x, thresholds, score)
    # the same one line, as a ValueError (the module has no chainer)
    message = str(chainer_error.value)
    assert '\n' not in message
    for run in (lambda: onnx_inference.early_exit(net, x, thresholds, score),
                lambda: onnx_inference.early_exit_one(net, x[:1], thresholds,
                                                      score)):
        with pytest.raises(ValueError) as error:
            run()
        assert str(error.value) == message


def between_records(values):
    """A threshold between two adjacent sorted record values, in the widest
    gap of the middle half: some samples on each side, none within float
    error of it."""
    v = numpy.sort(numpy.asarray(values, numpy.float64))
    lo, hi = len(v) // 4, max(3 * len(v) // 4, len(v) // 4 + 1)
    i = lo + int(numpy.argmax(v[lo:hi + 1] - v[lo - 1:hi]))
    assert v[i] - v[i - 1] > 100 * FLOAT_ERROR, v
    return float(v[i - 1] + v[i]) / 2


def test_b_alexnet_exits_each_take_their_own_threshold():
    numpy.random.seed(0)
    model = b_alexnet()
    # random heads scaled up: entropies spread from near 0 to near log 10
    # at every exit, not all within 1e-3 of log 10
    for head in model.exits:
        for link in head.links():
            if isinstance(link, chainer.links.Linear) and link.out_size == 10:
                link.W.array *= 300
    graphs = to_onnx_bytes(model, 'b_alexnet')
    net = OnnxBranchyNet(graphs['segments'], graphs['main'])
    x = numpy.random.RandomState(1).rand(24, 3, 32, 32).astype(numpy.float32)
    h, _ = inference.exit_records(model, x)
    # exit 1's threshold on its records; exit 2's on the records of the
    # samples that reach it
    t1 = between_records(h[:, 0])
    t = [t1, between_records(h[h[:, 0] >= t1, 1])]
    want = inference.early_exit(model, x, t)
    assert sorted(set(want[1].tolist())) == [0, 1, 2]
    # exit 2 with exit 1's threshold would route otherwise
    assert not numpy.array_equal(
        inference.early_exit(model, x, [t1, t1])[1], want[1])
    got = onnx_inference.early_exit(net, x, t)
    for a, b in zip(got, want):
        numpy.testing.assert_array_equal(a, b)
    one = [onnx_inference.early_exit_one(net, x[i:i + 1], t)
           for i in range(len(x))]
    assert one == [inference.early_exit_one(model, x[i:i + 1], t)
                   for i in range(len(x))]
    assert one == list(zip(*(w.tolist() for w in want)))


@pytest.fixture(scope='module')
def mnist():
    if not HAVE_MNIST:
        pytest.skip('no real MNIST files found')
    from branchynet.data.mnist import get_mnist
    x_train, y_train, x_test, y_test = get_mnist(str(REAL_MNIST.parent),
                                                 download=False)
    return x_train[:2048], y_train[:2048], x_test[:1000], y_test[:1000]


@pytest.fixture(scope='module')
def trained(mnist):
    """A B-LeNet trained jointly for 64 steps on real MNIST (about 80%).

    Enough for realistic logits, and entropies from near 0 to near log 10
    at exit 1; accuracy is not the point here.
    """
    x, y = mnist[0], mnist[1]
    numpy.random.seed(0)
    model = b_lenet()
    loss = JointLoss(model)
    optimizer = chainer.optimizers.Adam(alpha=0.003)
    optimizer.setup(loss)
    order = numpy.random.RandomState(0).permutation(len(x))
    for i in range(0, len(x), 32):
        batch = order[i:i + 32]
        optimizer.update(loss, x[batch], y[batch])
    return model


def disagreements(h_chainer, thresholds, got, want):
    """Indices where the two runtimes' (prediction, exit) differ; checks
    that each is a sample whose entropy lies within float error of the
    threshold of the exit where they part."""
    differ = numpy.flatnonzero((got[0] != want[0]) | (got[1] != want[1]))
    for i in differ:
        k = min(got[1][i], want[1][i])           # the first exit they part at
        assert abs(float(h_chainer[i, k]) - thresholds[k]) <= FLOAT_ERROR, (
            i, h_chainer[i], thresholds)
    return differ


@needs_mnist
def test_trained_logits_match_chainer_on_real_mnist(trained, mnist):
    x = mnist[2]
    net = on_onnx(trained)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        want = [z.array for z in trained(x)]
    h = x
    for k in range(net.n_exits):
        h, z, entropy = net.segment(k, h)
        numpy.testing.assert_allclose(z, want[k], rtol=0, atol=1e-4)
        numpy.testing.assert_allclose(entropy, inference.entropy(want[k]),
                                      rtol=0, atol=1e-4)
    # trained: the exit 1 entropies spread over a wide range
    spread = inference.entropy(want[0])
    assert spread.min() < 0.01 and spread.max() > 1


@needs_mnist
def test_early_exit_equals_chainer_on_1000_mnist_images(trained, mnist):
    x = mnist[2]
    net = on_onnx(trained)
    h_chainer, _ = inference.exit_records(trained, x)
    quantiles = numpy.quantile(h_chainer[:, 0], [0.25, 0.5, 0.75])
    # and one threshold equal to a sample's entropy: that sample may fall
    # on either side in ONNX Runtime (the one acceptable disagreement)
    tie = float(numpy.sort(h_chainer[:, 0])[600])
    counts = {}
    for t in [0.025] + [float(q) for q in quantiles] + [tie]:
        want = inference.early_exit(trained, x, [t])
        got = onnx_inference.early_exit(net, x, [t])
        counts[t] = len(disagreements(h_chainer, [t], got, want))
        # the per-sample procedure on a slice
        one = numpy.array([onnx_inference.early_exit_one(net, x[i:i + 1],
                                                         [t])
                           for i in range(100)]).T
        disagreements(h_chainer, [t], one, (want[0][:100], want[1][:100]))
    print('disagreements per threshold (all within %g of it): %s'
          % (FLOAT_ERROR, counts))
    # both exits in use at the middle thresholds
    middle = onnx_inference.early_exit(net, x, [float(quantiles[1])])[1]
    assert 0 < middle.mean() < 1


@pytest.fixture(scope='module')
def exported(trained, tmp_path_factory):
    root = tmp_path_factory.mktemp('deploy')
    numpy.random.seed(5)
    for role, model in (('branchynet', trained), ('baseline', b_lenet())):
        save_model(str(root / 'model' / role), model,
                   {'network': 'b_lenet', 'role': role,
                    'settings': {'experiment': 'lenet_mnist'}})
    export_model_dir(str(root / 'model'), str(root / 'onnx'))
    return root


#: run in a fresh interpreter: only onnxruntime, numpy and the one file
DEPLOYED = '''
import importlib.abc, importlib.util, sys
# the project's venv imports the package root at start-up (its .pth file,
# branchynet.compat.write_startup_hook); a deployment has no branchynet:
# drop it, and make any import of it, chainer or cupy an error
for name in [m for m in sys.modules if m.split('.')[0] == 'branchynet']:
    del sys.modules[name]
class NoProject(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('branchynet', 'chainer', 'cupy'):
            raise ImportError('the deployed early exit imports ' + name)
sys.meta_path.insert(0, NoProject())
import numpy
spec = importlib.util.spec_from_file_location('ort_early_exit', sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
net = mod.OnnxBranchyNet.load(sys.argv[2])
base = mod.OnnxBranchyNet.load(sys.argv[2], 'baseline')
x = numpy.load(sys.argv[3])
t = float(sys.argv[4])
prediction, exit_index = mod.early_exit(net, x, [t])
entropy, _ = mod.exit_records(net, x)
main = mod.forward_main(base, x).argmax(axis=1)
assert 'chainer' not in sys.modules and 'branchynet' not in sys.modules
assert 'cupy' not in sys.modules
numpy.savez(sys.argv[5], prediction=prediction, exit_index=exit_index,
            entropy=entropy, main=main,
            modules=numpy.array(sorted(sys.modules)))
'''


@needs_mnist
def test_export_runs_without_chainer(exported, trained, mnist, tmp_path):
    x = mnist[2][:200]
    numpy.save(tmp_path / 'x.npy', x)
    h_chainer, _ = inference.exit_records(trained, x)
    t = float(numpy.median(h_chainer[:, 0]))
    # deployed as the module's docstring says: the two files side by side
    deploy = tmp_path / 'deploy'
    deploy.mkdir()
    shutil.copy(onnx_inference.__file__, deploy / 'inference.py')
    shutil.copy(scores.__file__, deploy / 'scores.py')
    subprocess.run([sys.executable, '-c', DEPLOYED, deploy / 'inference.py',
                    str(exported / 'onnx'), str(tmp_path / 'x.npy'), str(t),
                    str(tmp_path / 'out.npz')], check=True, timeout=120,
                   env=dict(os.environ, PYTHONPATH=''))
    with numpy.load(tmp_path / 'out.npz') as out:
        got = (out['prediction'], out['exit_index'])
        numpy.testing.assert_allclose(out['entropy'], h_chainer, atol=1e-4)
        modules = set(out['modules'].tolist())
        main = out['main']
    assert 'onnxruntime' in modules and 'chainer' not in modules
    want = inference.early_exit(trained, x, [t])
    disagreements(h_chainer, [t], got, want)
    from branchynet.networks.serialization import load_model
    baseline, _ = load_model(str(exported / 'model' / 'baseline'))
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        numpy.testing.assert_array_equal(
            main, baseline.forward_main(x).array.argmax(axis=1))


def test_load_refuses_what_is_not_an_intact_export(tmp_path):
    with pytest.raises(ExportError, match='not an ONNX export folder'):
        OnnxBranchyNet.load(str(tmp_path))
    (tmp_path / 'export.json').write_text(json.dumps({'format': 'other'}))
    with pytest.raises(ExportError, match='is not a branchynet-onnx'):
        OnnxBranchyNet.load(str(tmp_path))


def test_load_detects_an_altered_graph(lenet_export):
    out = lenet_export
    assert OnnxBranchyNet.load(str(out)).n_exits == 2
    assert OnnxBranchyNet.load(str(out), 'baseline').segments == []
    with pytest.raises(ExportError, match="no 'teacher' model"):
        OnnxBranchyNet.load(str(out), 'teacher')
    graph = out / 'branchynet_segment2.onnx'
    graph.write_bytes(graph.read_bytes()[:-1] + b'\0')
    with pytest.raises(ExportError, match='does not match its checksum'):
        OnnxBranchyNet.load(str(out))


@pytest.mark.parametrize('damage', [
    lambda s: s.pop('models'), lambda s: s.update(models=[]),
    lambda s: s['models'].update(branchynet={}),
    lambda s: s['models'].update(branchynet='x'),
    lambda s: s['models']['branchynet'].update(main=1),
    lambda s: s['models']['branchynet'].update(segments='x.onnx'),
    lambda s: s.pop('files'), lambda s: s.pop('exits'),
    lambda s: s.update(exits='3'), lambda s: s.update(exits=0)])
def test_load_refuses_an_incomplete_sidecar(damage, lenet_export):
    path = lenet_export / 'export.json'
    sidecar = json.loads(path.read_text())
    damage(sidecar)
    path.write_text(json.dumps(sidecar))
    with pytest.raises(ExportError, match='is incomplete'):
        OnnxBranchyNet.load(str(lenet_export))


@pytest.fixture
def lenet_export(tmp_path):
    numpy.random.seed(0)
    for role in ('branchynet', 'baseline'):
        save_model(str(tmp_path / 'model' / role), b_lenet(),
                   {'network': 'b_lenet', 'role': role,
                    'settings': {'experiment': 'lenet_mnist'}})
    export_model_dir(str(tmp_path / 'model'), str(tmp_path / 'onnx'))
    return tmp_path / 'onnx'
