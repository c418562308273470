"""Experiments: looking them up (user networks' derived), and the check of
a trained model's experiment, which lives here and not in networks (the
layers run one way, tests/test_layers.py)."""
import json

import numpy
import pytest

from branchynet.errors import BranchyNetError
from branchynet.experiments import (EXPERIMENTS, find_experiment,
                                    get_experiment, load_trained,
                                    read_trained_info)
from branchynet.networks import b_lenet
from branchynet.networks.serialization import load_model, save_model


@pytest.fixture
def saved(tmp_path):
    numpy.random.seed(5)
    prefix = str(tmp_path / 'model')
    save_model(prefix, b_lenet(), {'network': 'b_lenet', 'settings': {
        'experiment': 'lenet_mnist'}})
    return prefix


def _rewrite(prefix, settings):
    with open(prefix + '.json', 'w') as f:
        json.dump({'network': 'b_lenet', 'settings': settings}, f)


def test_a_trained_model_loads_with_its_experiment_checked(saved):
    model, info = load_trained(saved)
    assert info['settings']['experiment'] == 'lenet_mnist'
    assert model.n_exits == 2
    assert read_trained_info(saved + '.json') == info


@pytest.mark.parametrize('settings, match', [
    ({'experiment': 'vgg_mnist'}, "unknown experiment 'vgg_mnist'"),
    ({'experiment': ['lenet_mnist']}, 'unknown experiment'),
    ({'experiment': None}, 'unknown experiment'),
    ({'experiment': 'alexnet_cifar10'},
     'says network b_lenet but experiment alexnet_cifar10, which trains '
     'b_alexnet'),
])
def test_an_experiment_that_does_not_fit_is_one_line(saved, settings, match):
    _rewrite(saved, settings)
    for load in (load_trained, lambda p: read_trained_info(p + '.json')):
        with pytest.raises(BranchyNetError, match=match) as error:
            load(saved)
        assert saved + '.json' in str(error.value)
        assert '\n' not in str(error.value)
    # the network layer alone does not know experiments
    assert load_model(saved)[1]['settings'] == settings


def test_the_experiment_is_checked_before_any_weight_is_read(saved):
    _rewrite(saved, {'experiment': 'vgg_mnist'})
    with open(saved + '.npz', 'wb') as f:
        f.write(b'not an npz')
    with pytest.raises(BranchyNetError, match='unknown experiment'):
        load_trained(saved)


def test_built_in_names_are_found_and_others_are_not():
    assert get_experiment('lenet_mnist') is EXPERIMENTS['lenet_mnist']
    for name in ('b_lenet', 'vgg_mnist', None, ['lenet_mnist']):
        assert find_experiment(name) is None
    with pytest.raises(BranchyNetError, match='unknown network'):
        get_experiment('vgg_mnist')


@pytest.mark.usefixtures('user_networks')
def test_a_user_network_has_its_experiment_while_registered(tmp_path):
    from branchynet.experiments import GRID_17, USER_SCHEDULE
    from branchynet.networks import REGISTRY, user
    from helpers import write_network
    record, build = user.load_user_network(
        write_network(tmp_path / 'net.py'), (1, 8, 8), 3)
    user.register(record, build)
    experiment = get_experiment(record.key)
    assert (experiment.network, experiment.dataset) == (record.key, None)
    assert experiment.grid == GRID_17
    assert experiment.stands_for.shape == (1, 8, 8)
    assert experiment.stands_for.n_classes == 3
    assert experiment.recipe().batch_size == USER_SCHEDULE[0]
    assert record.key not in EXPERIMENTS    # derived, never registered
    REGISTRY.unregister(record.key)
    assert find_experiment(record.key) is None
