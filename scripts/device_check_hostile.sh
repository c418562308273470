#!/usr/bin/env bash
# GPU-machine check of the hostile-input work: the tests on that stack
# (Python 3.12, NumPy 2), @cupy:0 end to end, a bad GPU id, CuPy hidden,
# and npz loading into CuPy arrays (optimizer states, a bad shape refused).
# About a minute on an H200. Needs .whl/ (the chainer wheel) and
# .device/data/mnist/ (the four MNIST files) carried with the checkout: see
# scripts/device_check.sh for how to make them.
#
# usage: scripts/device_check_hostile.sh        (logs into $OUT or /tmp/out)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 -m pip install -q --upgrade --no-index --no-deps --no-compile --no-cache-dir \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 MPLBACKEND=Agg \
  BRANCHYNET_DATA_ROOT=$PWD/.device/data \
  BRANCHYNET_MNIST_MIRRORS=file:///nonexistent/
python3 -c "import sys, numpy, cupy; print(sys.version.split()[0], 'numpy', numpy.__version__, 'cupy', cupy.__version__)"
echo "== tests"
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_hostile.py \
  tests/test_serialization.py tests/test_data_mnist.py \
  tests/test_data_cifar10.py tests/test_data_user_npz.py tests/test_atomic.py \
  > "$OUT/tests.log" 2>&1; echo "tests rc=$?"; tail -8 "$OUT/tests.log"
echo "== a saved model on the GPU"
python3 - <<'PY'
import dataclasses, numpy
import branchynet
from branchynet.networks import b_lenet
from branchynet.networks.serialization import save_model
from branchynet.training.trainer import resolve_settings
s = resolve_settings('lenet_mnist', epochs_main=1, epochs_joint=1,
                     batch_size=8, val_size=1000)
numpy.random.seed(0)
save_model('/tmp/m/branchynet', b_lenet(), {
    'network': 'b_lenet', 'role': 'branchynet',
    'settings': dataclasses.asdict(s)})
PY
for dev in @cupy:0 @numpy; do
  python3 -m branchynet evaluate /tmp/m/branchynet -t 0.5 --device $dev; echo "rc=$?"
done
python3 -m branchynet evaluate /tmp/m/branchynet --device @cupy:7; echo "rc=$?"
python3 -c "import sys; sys.modules['cupy'] = None
from branchynet.cli import main
sys.exit(main(['evaluate', '/tmp/m/branchynet', '--device', '@cupy:0']))"; echo "rc=$?"
echo "== npz into CuPy arrays"
python3 - <<'PY'
import io, zipfile, numpy
import branchynet  # first: lets chainer 7.8.1 import on NumPy 2
import chainer, cupy
from branchynet.errors import BranchyNetError
from branchynet.networks import INPUT_SHAPES, b_lenet
from branchynet.networks.serialization import load_npz_safe

def trained():
    numpy.random.seed(1)
    model = b_lenet().to_gpu(0)
    opt = chainer.optimizers.Adam()
    opt.setup(model)
    x = cupy.random.rand(4, *INPUT_SHAPES['b_lenet']).astype(cupy.float32)
    model.cleargrads()
    chainer.functions.sum(model(x)[-1]).backward()
    opt.update()
    return model, opt

model, opt = trained()
chainer.serializers.save_npz('/tmp/opt.npz', opt)
chainer.serializers.save_npz('/tmp/model.npz', model)
for states_exist in (False, True):
    fresh_model = b_lenet().to_gpu(0)
    fresh = chainer.optimizers.Adam()
    fresh.setup(fresh_model)
    if states_exist:
        fresh_model.cleargrads()
        chainer.functions.sum(fresh_model(cupy.zeros((1,) + INPUT_SHAPES['b_lenet'], cupy.float32))[-1]).backward()
        fresh.update()
    load_npz_safe('/tmp/opt.npz', fresh)
    load_npz_safe('/tmp/model.npz', fresh_model)
    host = chainer.backend.CpuDevice().send
    diff = max(float(abs(host(p.update_rule.state[k]) - host(q.update_rule.state[k])).max())
               for (_, p), (_, q) in zip(model.namedparams(), fresh_model.namedparams())
               for k in p.update_rule.state)
    wdiff = max(float(abs(host(p.array) - host(q.array)).max()) for (_, p), (_, q) in zip(model.namedparams(), fresh_model.namedparams()))
    print('states existed before loading: %s; max |state diff| %g, max |weight diff| %g, states on %s'
          % (states_exist, diff, wdiff, type(next(iter(fresh_model.params())).update_rule.state['m']).__module__))
with zipfile.ZipFile('/tmp/model.npz') as z:
    entries = {n: z.read(n) for n in z.namelist()}
b = io.BytesIO(); numpy.save(b, numpy.zeros((1, 720), numpy.float32))
entries['stages/1/2/W.npy'] = b.getvalue()
with zipfile.ZipFile('/tmp/bad.npz', 'w') as z:
    for n, d in entries.items(): z.writestr(n, d)
try:
    load_npz_safe('/tmp/bad.npz', b_lenet().to_gpu(0))
    print('broadcastable entry into a CuPy array: LOADED (bad)')
except BranchyNetError as e:
    print('broadcastable entry into a CuPy array refused:', e)
PY
