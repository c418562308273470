"""The example networks (examples/): they build for other data too, pass
the network contract (layers known to the counter and the exporter, ONNX
equal to Chainer) and train through the command line."""
import chainer.links as L
import pytest

from branchynet.measurement.preflight import check_supported
from branchynet.networks import REGISTRY, user
from branchynet import testing
from helpers import REPO, run_cli, tiny_data

pytestmark = pytest.mark.usefixtures('user_networks')

EXAMPLES = {'vgg11': ('examples/vgg11_exits.py:vgg11', (3, 32, 32), 5),
            'small_cnn': ('examples/small_cnn_mnist.py:small_cnn',
                          (1, 28, 28), 2),
            # a researcher's own blocks (issue 29): no layer table knows
            # them, they are counted and exported by what they run
            'own_resnet': ('examples/own_resnet.py:small_resnet',
                           (3, 32, 32), 3),
            'mobilenet': ('examples/mobilenet_dws.py:mobilenet',
                          (3, 32, 32), 2),
            'inception': ('examples/inception_concat.py:mini_inception',
                          (3, 32, 32), 2)}


def spec_of(name, in_shape=None, n_classes=10):
    text, shape, _ = EXAMPLES[name]
    record, build = user.load_user_network(str(REPO / text),
                                           in_shape or shape, n_classes)
    return user.register(record, build)


@pytest.mark.parametrize('name', sorted(EXAMPLES))
def test_an_example_meets_the_network_contract(name):
    spec = spec_of(name)
    assert spec.n_exits == EXAMPLES[name][2]
    testing.assert_is_network(spec, n=2)


@pytest.mark.parametrize('name, in_shape, n_classes', [
    ('vgg11', (1, 64, 64), 4), ('small_cnn', (3, 30, 30), 3),
    ('own_resnet', (1, 20, 24), 4), ('mobilenet', (1, 28, 28), 3),
    ('inception', (1, 28, 30), 5)])
def test_an_example_builds_for_other_data(name, in_shape, n_classes):
    spec = spec_of(name, in_shape, n_classes)
    model = spec.builder()
    assert model.n_exits == EXAMPLES[name][2]
    assert REGISTRY[spec.name].input_shape == in_shape
    last = [link for link in model.exits[-1].links()
            if isinstance(link, L.Linear)][-1]
    assert last.W.shape[0] == n_classes
    check_supported(model, in_shape)


@pytest.mark.parametrize('name', sorted(EXAMPLES))
def test_an_example_trains_through_the_command_line(name, tmp_path):
    text, shape, n_exits = EXAMPLES[name]
    data = tiny_data(tmp_path / 'd.npz', n_train=48, n_test=16, shape=shape)
    out = tmp_path / 'model'
    assert run_cli(['train', '--network', str(REPO / text), '--dataset',
                    data, '--out', str(out), '--epochs-main', '1',
                    '--epochs-joint', '1', '--batch-size', '16',
                    '--val-size', '16', '--no-progress']) == 0
    assert (out / 'network.py').read_text() == \
        (REPO / text.partition(':')[0]).read_text()
