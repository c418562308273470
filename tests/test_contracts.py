"""Every registered network, runtime, data set, score and rule against its
contract (:mod:`branchynet.testing`): registering an item is what gives it
these tests."""
import pytest

from branchynet.data.registry import DATASETS
from branchynet.exits.scores import SCORES
from branchynet.measurement.rules import REGISTRY as RULES
from branchynet.networks.registry import REGISTRY as NETWORKS
from branchynet.runtimes.registry import REGISTRY as RUNTIMES
from branchynet import testing
from helpers import REAL_DATA_ROOT


@pytest.mark.parametrize('name', list(NETWORKS))
def test_network_contract(name):
    testing.assert_is_network(NETWORKS[name])


@pytest.mark.parametrize('name', list(RUNTIMES))
@pytest.mark.parametrize('network', ['b_lenet', 'b_alexnet'])
def test_runtime_contract(name, network):
    testing.assert_is_runtime(RUNTIMES[name], network)


@pytest.mark.parametrize('name', list(DATASETS))
def test_dataset_contract(name):
    root = REAL_DATA_ROOT
    spec = DATASETS[name]
    if root is None or not (root / name).is_dir():
        pytest.skip('no %s under the real data root (%s)' % (name, root))
    testing.assert_is_dataset(spec, str(root))


def test_the_network_contract_catches_a_wrong_exit_count():
    import dataclasses
    spec = dataclasses.replace(NETWORKS['b_lenet'], n_exits=3)
    with pytest.raises(AssertionError):
        testing.assert_is_network(spec)


@pytest.mark.parametrize('name', list(SCORES))
def test_score_contract(name):
    testing.assert_is_score(SCORES[name])


@pytest.mark.parametrize('name', list(RULES))
def test_rule_contract(name):
    testing.assert_is_rule(RULES[name])
