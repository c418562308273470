"""The network registry: one spec per network, read-only views of it."""
import pytest

from branchynet.errors import BranchyNetError
from branchynet.networks import (INPUT_SHAPES, N_EXITS, NETWORKS, REGISTRY,
                                 NetworkSpec, b_lenet, get_network, register)
from branchynet.networks import lenet


@pytest.fixture
def tiny():
    """A fifth network registered for one test."""
    spec = register(NetworkSpec('b_tiny', b_lenet, (1, 28, 28), 2,
                                display='B-Tiny', baseline_display='Tiny'))
    yield spec
    REGISTRY.unregister('b_tiny')


#: the paper's networks, in its table's order (a network added later comes
#: after them and needs no edit here)
BUILT_INS = ['b_lenet', 'b_alexnet', 'b_resnet110']


def test_the_three_networks_in_table_order():
    assert list(REGISTRY)[:3] == BUILT_INS
    assert get_network('b_lenet') is lenet.SPEC
    assert (lenet.SPEC.display, lenet.SPEC.baseline_display) == \
        ('B-LeNet', 'LeNet')


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="network 'b_lenet' is already "
                                         "registered"):
        register(NetworkSpec('b_lenet', b_lenet, (1, 28, 28), 2, 'X', 'Y'))
    assert get_network('b_lenet') is lenet.SPEC
    with pytest.raises(TypeError):
        register(('b_other', b_lenet))


def test_an_unknown_network_is_one_line():
    with pytest.raises(BranchyNetError) as e:
        get_network('vgg')
    assert str(e.value) == ("unknown network 'vgg' (choose from %s)"
                            % ', '.join(REGISTRY))
    assert ', '.join(BUILT_INS) in str(e.value)
    with pytest.raises(BranchyNetError, match='unknown network'):
        get_network(['b_lenet'])


def test_the_views_follow_the_registry_and_are_read_only(tiny):
    assert NETWORKS['b_tiny'] is b_lenet
    assert INPUT_SHAPES['b_tiny'] == (1, 28, 28) and N_EXITS['b_tiny'] == 2
    assert list(NETWORKS)[-1] == 'b_tiny'
    with pytest.raises(TypeError):
        NETWORKS['b_tiny'] = b_lenet
    REGISTRY.unregister('b_tiny')
    assert 'b_tiny' not in NETWORKS and 'b_tiny' not in N_EXITS
    register(tiny)                      # for the fixture's unregister


def test_a_spec_is_frozen():
    with pytest.raises(AttributeError):
        lenet.SPEC.n_exits = 3
