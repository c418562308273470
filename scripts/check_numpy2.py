"""The NumPy 2 / Python 3.12 smoke run of scripts/check_numpy2.sh.

usage: PYTHON scripts/check_numpy2.py REPO_ROOT

Run by an interpreter that has numpy >= 2 and chainer 7.8.1 (the shell
script makes one): loads branchynet.compat from its file (importing the
package would import chainer first), imports chainer through it, and runs
a CPU smoke test of chainer and the branchynet networks. Prints PASS/FAIL
lines; exits 1 on any FAIL.
"""
import importlib.util
import os
import sys
import tempfile
import traceback
import warnings

ROOT = sys.argv[1]
FAILS = []


def check(name):
    def run(fn):
        try:
            detail = fn()
        except Exception:
            FAILS.append(name)
            print('FAIL: %s\n%s' % (name, traceback.format_exc()), flush=True)
        else:
            print('PASS: %s%s' % (name, ': %s' % detail if detail else ''),
                  flush=True)
    return run


# The shim, from the file: `import branchynet.compat` would run
# branchynet/__init__.py, which imports chainer.
spec = importlib.util.spec_from_file_location(
    'branchynet_compat_smoke', os.path.join(ROOT, 'branchynet', 'compat.py'))
compat = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compat)
assert 'chainer' not in sys.modules
patched = compat.patch_numpy_for_chainer()
print('PASS: patch_numpy_for_chainer() -> %r, again -> %r'
      % (patched, compat.patch_numpy_for_chainer()), flush=True)

warnings.simplefilter('default')
with warnings.catch_warnings(record=True) as import_warnings:
    stubbed = compat.import_chainer()
import chainer
import numpy
import chainer.functions as F
import chainer.links as L
from chainer import training
from chainer.training import extensions
print('PASS: import chainer %s with numpy %s (stand-ins for: %s)'
      % (chainer.__version__, numpy.__version__,
         ', '.join(stubbed) or 'none'), flush=True)
for w in import_warnings:
    print('NOTE: warning at import: %s: %s' % (w.category.__name__, w.message))

rng = numpy.random.RandomState(0)


class Net(chainer.Chain):
    """Every layer kind the BranchyNet networks use, and a few more."""

    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.c1 = L.Convolution2D(3, 8, 3, pad=1)
            self.bn = L.BatchNormalization(8)
            self.c2 = L.Convolution2D(8, 8, 3, pad=1,
                                      initialW=chainer.initializers.HeNormal())
            self.fc = L.Linear(None, 10)

    def forward(self, x):
        h = F.relu(self.bn(self.c1(x)))
        h = F.max_pooling_2d(h, 3, 2)                    # cover_all=True
        h = F.local_response_normalization(h, n=3, k=2, alpha=5e-5, beta=.75)
        a = F.average_pooling_2d(self.c2(h), 1, 2)       # 8x8 -> 4x4
        b = F.max_pooling_2d(h, 2, 2, cover_all=False)
        h = F.concat([a, b], axis=1)
        return self.fc(F.dropout(h, 0.5))


def float32_everywhere(link):
    for name, p in link.namedparams():
        assert p.array.dtype == numpy.float32, (name, p.array.dtype)
        if p.grad is not None:
            assert p.grad.dtype == numpy.float32, (name, p.grad.dtype)


x = rng.uniform(-1, 1, (4, 3, 17, 17)).astype(numpy.float32)
t = rng.randint(0, 10, 4).astype(numpy.int32)


@check('layers forward/backward + Adam/MomentumSGD updates stay float32')
def _():
    out = []
    for opt in (chainer.optimizers.Adam(alpha=1e-3),
                chainer.optimizers.MomentumSGD(lr=0.01, momentum=0.9)):
        model = Net()
        opt.setup(model)
        opt.add_hook(chainer.optimizer_hooks.WeightDecay(1e-4))
        losses = []
        for _ in range(4):
            y = model(x)
            loss = F.softmax_cross_entropy(y, t)
            acc = F.accuracy(y, t)
            ls = F.log_softmax(y)
            assert ls.dtype == numpy.float32 and acc.dtype == numpy.float32
            assert loss.dtype == numpy.float32, loss.dtype
            model.cleargrads()
            loss.backward()
            opt.update()
            float32_everywhere(model)
            losses.append(float(loss.array))
        assert all(numpy.isfinite(losses)), losses
        with chainer.using_config('train', False):
            y = model(x)
        assert y.dtype == numpy.float32
        out.append('%s loss %.3f -> %.3f' % (type(opt).__name__, losses[0],
                                            losses[-1]))
    return '; '.join(out)


@check('functions using the restored names: resize_images (numpy.float), '
       'as_strided backward (numpy.sctypes)')
def _():
    v = chainer.Variable(x)
    y = F.resize_images(v, (9, 9))
    y2 = F.resize_images(v, (9, 9), mode='nearest', align_corners=False)
    s = F.as_strided(chainer.Variable(numpy.arange(12, dtype=numpy.float32)),
                     (3, 4), (2, 1))       # strides in elements
    F.sum(y * y + y2).backward()
    F.sum(s * s).backward()
    assert y.dtype == numpy.float32 and v.grad.dtype == numpy.float32
    return 'shapes %s %s' % (y.shape, s.shape)


@check('save_npz -> numpy.load(allow_pickle=False) + NpzDeserializer, '
       'model and Adam state')
def _():
    model = Net()
    opt = chainer.optimizers.Adam()
    opt.setup(model)
    for _ in range(2):
        model.cleargrads()
        F.softmax_cross_entropy(model(x), t).backward()
        opt.update()
    with tempfile.TemporaryDirectory() as d:
        chainer.serializers.save_npz(os.path.join(d, 'm.npz'), model)
        chainer.serializers.save_npz(os.path.join(d, 'o.npz'), opt)
        model2 = Net()
        model2(x)                          # materialise the lazy Linear
        opt2 = chainer.optimizers.Adam()
        opt2.setup(model2)
        with numpy.load(os.path.join(d, 'm.npz'), allow_pickle=False) as f:
            chainer.serializers.NpzDeserializer(f).load(model2)
        with numpy.load(os.path.join(d, 'o.npz'), allow_pickle=False) as f:
            chainer.serializers.NpzDeserializer(f).load(opt2)
        chainer.serializers.load_npz(os.path.join(d, 'm.npz'), model2)
    for (n, p), (_, q) in zip(sorted(model.namedparams()),
                              sorted(model2.namedparams())):
        numpy.testing.assert_array_equal(p.array, q.array, err_msg=n)
    assert opt2.t == opt.t == 2 and isinstance(opt2.t, int), opt2.t
    return '%d params, t=%d' % (len(list(model.params())), opt2.t)


@check('Trainer: 1 epoch, Evaluator, LogReport, MultistepShift, snapshot, '
       'PrintReport, PlotReport, resume from the snapshot')
def _():
    xs = rng.uniform(-1, 1, (24, 3, 17, 17)).astype(numpy.float32)
    ts = rng.randint(0, 10, 24).astype(numpy.int32)
    data = chainer.datasets.TupleDataset(xs, ts)
    data = chainer.datasets.TransformDataset(data, lambda e: (e[0][:, ::-1],
                                                              e[1]))

    def make(out):
        clf = L.Classifier(Net())
        opt = chainer.optimizers.Adam(alpha=1e-3)
        opt.setup(clf)
        it = chainer.iterators.SerialIterator(
            data, 8, order_sampler=chainer.iterators.ShuffleOrderSampler(
                numpy.random.RandomState(1)))
        test_it = chainer.iterators.SerialIterator(data, 16, repeat=False,
                                                   shuffle=False)
        upd = training.StandardUpdater(it, opt, device='@numpy')
        tr = training.Trainer(upd, (1, 'epoch'), out=out)
        tr.extend(extensions.Evaluator(test_it, clf, device='@numpy'),
                  name='test')
        tr.extend(extensions.LogReport())
        tr.extend(extensions.MultistepShift('alpha', 0.1, [2], 1e-3))
        tr.extend(extensions.observe_value(
            'alpha', lambda tr: tr.updater.get_optimizer('main').alpha))
        tr.extend(extensions.snapshot(
            filename='snapshot_iter_{.updater.iteration}', n_retains=1),
            trigger=(1, 'epoch'))
        tr.extend(extensions.PlotReport(['main/loss', 'test/main/loss'],
                                        'epoch', file_name='loss.png'))
        tr.extend(extensions.PrintReport(['epoch', 'main/loss',
                                          'test/main/accuracy', 'alpha']),
                  trigger=(1, 'epoch'))
        return tr

    with tempfile.TemporaryDirectory() as d:
        tr = make(d)
        tr.run()
        log = tr.get_extension('LogReport').log
        assert len(log) == 1 and numpy.isfinite(log[0]['main/loss']), log
        snap = os.path.join(d, 'snapshot_iter_3')
        assert os.path.exists(snap), os.listdir(d)
        tr2 = make(os.path.join(d, 'again'))
        with numpy.load(snap, allow_pickle=False) as f:
            chainer.serializers.NpzDeserializer(f).load(tr2)
        assert tr2.updater.iteration == 3, tr2.updater.iteration
        return 'main/loss %.3f, alpha %g' % (log[0]['main/loss'],
                                            log[0]['alpha'])


try:
    import branchynet
    print('PASS: import branchynet (from %s)'
          % os.path.dirname(branchynet.__file__), flush=True)
except Exception:
    FAILS.append('import branchynet')
    print('FAIL: import branchynet\n%s' % traceback.format_exc(), flush=True)
    branchynet = None

if branchynet is not None:
    shapes = {'b_lenet': (1, 28, 28), 'b_alexnet': (3, 32, 32),
              'b_resnet110': (3, 32, 32)}
    for name, shape in shapes.items():
        @check('%s: JointLoss forward/backward, Adam step, eval forward'
               % name)
        def _(name=name, shape=shape):
            model = getattr(branchynet, name)()
            loss_link = branchynet.JointLoss(model)
            opt = chainer.optimizers.Adam()
            opt.setup(loss_link)
            xb = rng.uniform(-1, 1, (2,) + shape).astype(numpy.float32)
            tb = numpy.array([1, 7], numpy.int32)
            loss = loss_link(xb, tb)
            assert loss.dtype == numpy.float32, loss.dtype
            loss_link.cleargrads()
            loss.backward()
            opt.update()
            float32_everywhere(loss_link)
            with chainer.using_config('train', False), \
                    chainer.no_backprop_mode():
                logits = model(xb)
            assert all(z.shape == (2, 10) and z.dtype == numpy.float32
                       for z in logits)
            return '%d exits, loss %.3f' % (len(logits), float(loss.array))

    @check('b_lenet: save_model/load_model, early_exit, exit_records')
    def _():
        model = branchynet.b_lenet()
        xb = rng.uniform(-1, 1, (5, 1, 28, 28)).astype(numpy.float32)
        with tempfile.TemporaryDirectory() as d:
            prefix = os.path.join(d, 'lenet')
            import dataclasses
            from branchynet.settings import resolve_settings
            settings = dataclasses.asdict(resolve_settings('lenet_mnist'))
            branchynet.save_model(prefix, model, {'network': 'b_lenet',
                                                  'settings': settings})
            model2, info = branchynet.load_model(prefix)
        with chainer.using_config('train', False):
            z1 = [z.array for z in model(xb)]
            z2 = [z.array for z in model2(xb)]
        for a, b in zip(z1, z2):
            numpy.testing.assert_array_equal(a, b)
        pred, exit_index = branchynet.early_exit(model2, xb, [0.5])
        ent, preds = branchynet.exit_records(model2, xb)
        assert ent.dtype == numpy.float32 and ent.shape == (5, 2)
        assert pred.dtype == numpy.int32 and exit_index.dtype == numpy.int32
        return 'exits %s' % exit_index.tolist()

if FAILS:
    print('smoke: %d check(s) failed: %s' % (len(FAILS), ', '.join(FAILS)))
    sys.exit(1)
print('smoke: all checks passed on numpy %s' % numpy.__version__)
