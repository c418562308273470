"""The CuPy path on a GPU (marked ``gpu``; skipped where CuPy sees none).

Run on a GPU machine with ``pytest -m gpu tests/test_gpu.py``
(scripts/device_check.sh does). Each network's forward and backward on
``@cupy:0`` against the CPU's, the batched early exit against batch size 1,
and the profiler's timer waiting for the device.
"""
import time

import chainer
import numpy
import pytest

from branchynet.exits.inference import early_exit, early_exit_one, exit_records
from branchynet.networks.model import JointLoss
from branchynet.networks import NETWORKS

cupy = pytest.importorskip('cupy')
try:
    HAS_GPU = cupy.cuda.runtime.getDeviceCount() > 0
except cupy.cuda.runtime.CUDARuntimeError:
    HAS_GPU = False

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not HAS_GPU, reason='no CUDA device')]

SHAPES = {'b_lenet': (1, 28, 28), 'b_alexnet': (3, 32, 32),
          'b_resnet110': (3, 32, 32)}


def build(name, seed=0):
    numpy.random.seed(seed)
    return NETWORKS[name]()


def grads_and_logits(model, x, t, train):
    """Logits of every exit and every parameter's gradient, on the host."""
    loss_link = JointLoss(model)
    loss_link.cleargrads()
    with chainer.using_config('train', train):
        loss = loss_link(x, t)
        logits = [chainer.backend.CpuDevice().send(z.array)
                  for z in model(x)]
    loss.backward()
    grads = {n: chainer.backend.CpuDevice().send(p.grad)
             for n, p in model.namedparams()}
    return logits, grads


@pytest.mark.parametrize('name', sorted(SHAPES))
def test_forward_and_backward_on_the_gpu_equal_the_cpu(name):
    rng = numpy.random.RandomState(1)
    x = rng.rand(4, *SHAPES[name]).astype(numpy.float32)
    t = numpy.array([0, 3, 5, 9], numpy.int32)
    # train mode exercises BatchNormalization's batch statistics; B-AlexNet
    # has dropout, whose masks the two devices draw differently
    train = name != 'b_alexnet'
    cpu = build(name)
    gpu = build(name)
    gpu.to_device('@cupy:0')
    logits_c, grads_c = grads_and_logits(cpu, x, t, train)
    logits_g, grads_g = grads_and_logits(gpu, cupy.asarray(x),
                                         cupy.asarray(t), train)
    for zc, zg in zip(logits_c, logits_g):
        numpy.testing.assert_allclose(zg, zc, rtol=1e-3, atol=1e-4)
    for n in grads_c:
        scale = float(numpy.abs(grads_c[n]).max()) or 1.0
        numpy.testing.assert_allclose(grads_g[n], grads_c[n], rtol=1e-2,
                                      atol=1e-3 * scale, err_msg=n)


def test_batched_early_exit_equals_batch_one_on_the_gpu():
    model = build('b_alexnet')
    model.to_device('@cupy:0')
    x = cupy.asarray(numpy.random.RandomState(2).rand(64, 3, 32, 32)
                     .astype(numpy.float32))
    entropies, _ = exit_records(model, x)
    # thresholds at the entropies' quartiles: samples leave at every exit
    thresholds = [float(numpy.quantile(entropies[:, k], q))
                  for k, q in ((0, 0.3), (1, 0.5))]
    prediction, exit_index = (cupy.asnumpy(a) for a in
                              early_exit(model, x, thresholds))
    one = [early_exit_one(model, x[i:i + 1], thresholds)
           for i in range(len(x))]
    assert set(exit_index.tolist()) == {0, 1, 2}
    mismatched = [i for i, (p, e) in enumerate(one)
                  if (p, e) != (prediction[i], exit_index[i])]
    # only samples whose entropy lies within float error of a threshold
    for i in mismatched:
        assert min(abs(entropies[i, k] - thresholds[k])
                   for k in range(2)) < 1e-5, i


def test_the_profiler_waits_for_the_device():
    from branchynet.measurement.profiling import _timed
    from branchynet.runtimes import as_runtime
    runtime = as_runtime(build('b_lenet').to_device('@cupy:0'))
    a = cupy.random.rand(4096, 4096, dtype=numpy.float32)

    def work():
        for _ in range(20):
            a.dot(a)
    work()
    cupy.cuda.Device().synchronize()
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    work()
    end.record()
    end.synchronize()
    gpu_ms = cupy.cuda.get_elapsed_time(start, end)
    # without a synchronisation the host clock would see only the launches
    t0 = time.perf_counter()
    work()
    launch_ms = 1000 * (time.perf_counter() - t0)
    cupy.cuda.Device().synchronize()
    timed_ms = _timed(work, runtime)
    assert launch_ms < 0.5 * gpu_ms, (launch_ms, gpu_ms)
    assert timed_ms >= 0.9 * gpu_ms, (timed_ms, gpu_ms)
