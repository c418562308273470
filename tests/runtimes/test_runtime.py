"""Choosing the runtime: one interface over Chainer and ONNX Runtime."""
import numpy
import onnxruntime
import pytest

from branchynet.errors import BranchyNetError
from branchynet.networks import b_lenet
from branchynet.measurement.evaluation import _runtime_line
from branchynet.runtimes import (REGISTRY, RUNTIMES, ChainerRuntime,
                                 OnnxRuntime, Runtime, as_runtime,
                                 get_runtime, make_runtime, register)
from branchynet.runtimes.onnx.runtime import ort_providers


def test_both_runtimes_answer_alike():
    numpy.random.seed(0)
    model = b_lenet()
    x = numpy.random.RandomState(1).rand(12, 1, 28, 28).astype(numpy.float32)
    chainer_rt = make_runtime(model, 'b_lenet', 'chainer')
    onnx_rt = make_runtime(model, 'b_lenet', 'onnxruntime')
    assert isinstance(chainer_rt, ChainerRuntime)
    assert isinstance(onnx_rt, OnnxRuntime)
    assert chainer_rt.n_exits == onnx_rt.n_exits == 2
    a, b = chainer_rt.predict_main(x), onnx_rt.predict_main(x)
    assert a.dtype == b.dtype == numpy.int32
    numpy.testing.assert_array_equal(a, b)
    entropies, _ = chainer_rt.exit_records(x)
    t = [float(numpy.median(entropies[:, 0])) + 1e-4]
    for got, want in zip(onnx_rt.early_exit(x, t), chainer_rt.early_exit(x, t)):
        assert got.dtype == want.dtype == numpy.int32
        numpy.testing.assert_array_equal(got, want)
    assert onnx_rt.run_one(onnx_rt.send(x[:1]), None) == \
        chainer_rt.run_one(chainer_rt.send(x[:1]), None)
    h_chainer, h_onnx = chainer_rt.send(x[:1]), onnx_rt.send(x[:1])
    for s_chainer, s_onnx in zip(chainer_rt.trunk_stages(),
                                 onnx_rt.trunk_stages()):
        h_chainer, h_onnx = s_chainer(h_chainer), s_onnx(h_onnx)
        numpy.testing.assert_allclose(h_onnx, h_chainer.array, atol=1e-5)
    assert chainer_rt.settings['runtime'] == 'chainer'
    assert onnx_rt.settings['device'] == '@numpy'


def test_as_runtime_wraps_models_and_passes_runtimes():
    model = b_lenet()
    assert isinstance(as_runtime(model), ChainerRuntime)
    rt = make_runtime(model, 'b_lenet', 'onnxruntime', main_only=True)
    assert as_runtime(rt) is rt and rt.net.segments == []
    assert isinstance(as_runtime(rt.net), OnnxRuntime)
    with pytest.raises(TypeError):
        as_runtime('model')


def test_bad_runtime_or_device_is_a_user_error():
    with pytest.raises(BranchyNetError, match='unknown runtime'):
        make_runtime(b_lenet(), 'b_lenet', 'tvm')
    with pytest.raises(BranchyNetError, match='bad device'):
        ort_providers('gpu')
    assert ort_providers('@numpy') == ['CPUExecutionProvider']
    if 'CUDAExecutionProvider' not in onnxruntime.get_available_providers():
        with pytest.raises(BranchyNetError, match='onnxruntime-gpu'):
            ort_providers('@cupy:0')


class FakeRuntime(Runtime):
    """A third runtime, registered for one test."""
    name = 'fake'
    display = 'Fake Engine'

    def __init__(self, model, device='@numpy'):
        self.model, self.device = model, device

    @classmethod
    def for_model(cls, model, network, device='@numpy', threads=1,
                  main_only=False):
        return cls(model, device)

    @classmethod
    def wrap(cls, model):
        return cls(model) if model == 'fake model' else None

    @staticmethod
    def note(settings):
        return 'Fake Engine %s' % settings.get('fake', '')

    @staticmethod
    def line(settings):
        return 'fake %s' % settings['fake']


@pytest.fixture
def fake_runtime():
    register(FakeRuntime)
    yield FakeRuntime
    REGISTRY.unregister('fake')


def test_the_runtimes_are_registered_by_name_in_order():
    assert RUNTIMES[:2] == ('chainer', 'onnxruntime')
    assert RUNTIMES == tuple(REGISTRY)
    assert get_runtime('chainer') is ChainerRuntime
    assert get_runtime('onnxruntime') is OnnxRuntime
    assert [cls.display for cls in REGISTRY.values()][:2] == \
        ['Chainer', 'ONNX Runtime']


def test_a_runtime_name_is_registered_once():
    class Again(ChainerRuntime):
        pass
    with pytest.raises(ValueError, match="runtime 'chainer' is already "
                                         "registered"):
        register(Again)
    assert get_runtime('chainer') is ChainerRuntime
    with pytest.raises(TypeError):
        register(object)


def test_unknown_runtime_names_the_registered_ones():
    with pytest.raises(BranchyNetError) as e:
        make_runtime(b_lenet(), 'b_lenet', 'tvm')
    assert str(e.value) == ("unknown runtime 'tvm' (choose from %s)"
                            % ', '.join(REGISTRY))
    assert 'chainer, onnxruntime' in str(e.value)


def test_a_registered_runtime_is_made_and_wrapped_by_name(fake_runtime):
    rt = make_runtime('a model', 'b_lenet', 'fake', device='@cupy:1')
    assert isinstance(rt, FakeRuntime) and rt.device == '@cupy:1'
    assert isinstance(as_runtime('fake model'), FakeRuntime)
    assert as_runtime(rt) is rt
    assert _runtime_line({'runtime': 'fake', 'fake': '0.1'}) == 'fake 0.1'


def test_evaluate_line_of_each_runtime():
    assert _runtime_line({'runtime': 'chainer', 'chainer': '7.8.1'}) == \
        'chainer 7.8.1'
    assert _runtime_line({'runtime': 'onnxruntime', 'onnxruntime': '1.2',
                          'intra_op_num_threads': 1}) == \
        'onnxruntime 1.2, 1 intra-op thread(s)'
