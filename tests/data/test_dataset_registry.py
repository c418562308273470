"""The data set and source registries: the names, shapes and messages."""
import numpy
import pytest

from branchynet.data import images, mnist, pcifar10, user_npz
from branchynet.data import (DATASETS, SHAPES, SOURCES, DatasetSpec,
                             DataSource, check_classes, dataset_classes,
                             load_dataset, register_dataset,
                             register_source, resolve_dataset)
from branchynet.errors import BranchyNetError


def arrays(shape, n=4):
    x = numpy.zeros((n,) + shape, numpy.float32)
    y = numpy.arange(n, dtype=numpy.int32) % 3
    return x, y, x[:2], y[:2]


@pytest.fixture
def tiny():
    """A third named data set, registered for one test."""
    spec = register_dataset(DatasetSpec(
        'tiny', lambda root: arrays((1, 8, 8)) + (root,), (1, 8, 8), 3,
        lambda root: ['a', 'b', 'c'], n_train=4))
    yield spec
    DATASETS.unregister('tiny')


def test_the_named_data_sets_and_sources():
    assert list(DATASETS)[:2] == ['mnist', 'pcifar10']
    assert dict(SHAPES)['mnist'] == ((1, 28, 28), 10)
    assert dict(SHAPES)['pcifar10'] == ((3, 32, 32), 10)
    assert [DATASETS[n].n_train for n in DATASETS][:2] == [60000, 50000]
    assert list(SOURCES) == ['npz:', 'images:']
    assert dataset_classes('mnist') == [str(d) for d in range(10)]


def test_a_name_or_prefix_is_registered_once():
    with pytest.raises(ValueError, match="data set 'mnist' is already "
                                         "registered"):
        register_dataset(DatasetSpec('mnist', None, (1, 28, 28), 10, None,
                                     1))
    with pytest.raises(ValueError, match="data source 'npz:' is already "
                                         "registered"):
        register_source(DataSource('npz:', '', '', None, None))
    with pytest.raises(TypeError):
        register_dataset(('mnist',))
    assert DATASETS['mnist'].n_train == 60000


def test_the_messages_name_the_data_sets_and_sources():
    with pytest.raises(BranchyNetError) as e:
        resolve_dataset('cifar100')
    assert str(e.value) == (
        "unknown data set 'cifar100' (%s, npz:PATH for your "
        "own file, or images:DIR for an image folder)" % ', '.join(DATASETS))
    with pytest.raises(BranchyNetError) as e:
        load_dataset('cifar100')
    assert str(e.value) == "unknown data set 'cifar100'"
    with pytest.raises(BranchyNetError) as e:
        load_dataset('npz:x.npz', like='cifar100')
    assert str(e.value) == (
        "a data set file (npz:x.npz) needs the data set it stands in for "
        "(one of %s), got 'cifar100'" % ', '.join(DATASETS))
    with pytest.raises(BranchyNetError) as e:
        load_dataset('images:x', like=None)
    assert str(e.value) == (
        "an image folder (images:x) needs the data set it stands in for "
        "(one of %s), got None" % ', '.join(DATASETS))
    assert dataset_classes('cifar100') is None
    assert dataset_classes('npz:/no/such/file.npz') is None


def test_a_registered_data_set_is_resolved_loaded_and_stood_in_for(
        tiny, tmp_path):
    assert resolve_dataset('tiny') == 'tiny'
    assert load_dataset('tiny', data_root='here')[-1] == 'here'
    assert dataset_classes('tiny') == ['a', 'b', 'c']
    assert SHAPES['tiny'] == ((1, 8, 8), 3)
    with pytest.raises(BranchyNetError, match=r"\(mnist, pcifar10, .*tiny, "
                                              r"npz:PATH"):
        resolve_dataset('nothing')
    x, y, _, _ = arrays((1, 8, 8))
    path = tmp_path / 'mine.npz'
    numpy.savez(path, train_x=x, train_y=y, test_x=x[:2], test_y=y[:2])
    loaded = load_dataset('npz:%s' % path, like='tiny')
    numpy.testing.assert_array_equal(loaded[0], x)



def test_check_classes_names_what_changed(tiny):
    check_classes('tiny', ['a', 'b', 'c'])
    check_classes('tiny', [])        # a model saved before classes were kept
    with pytest.raises(BranchyNetError, match='same names in another order'):
        check_classes('tiny', ['b', 'a', 'c'])
    with pytest.raises(BranchyNetError, match="only in the model: 'd'; only "
                                              "in the data set now: 'c'"):
        check_classes('tiny', ['a', 'b', 'd'])
    with pytest.raises(BranchyNetError, match='not a list of names'):
        check_classes('tiny', 'abc')

def test_the_named_data_sets_load_with_their_modules_loaders(monkeypatch):
    """mnist is :func:`get_mnist` with its defaults; pcifar10 whichever
    recipe built its ``data.npz`` (``recipe=None``)."""
    assert DATASETS['mnist'] is mnist.SPEC
    assert DATASETS['mnist'].load is mnist.get_mnist
    assert DATASETS['pcifar10'] is pcifar10.SPEC
    monkeypatch.setattr(pcifar10, 'get_pcifar10',
                        lambda root, recipe: ('pcifar10', root, recipe))
    assert load_dataset('pcifar10', 'r') == ('pcifar10', 'r', None)
    assert list(SOURCES.values()) == [user_npz.SOURCE, images.SOURCE]


def test_the_package_only_re_exports_and_registers():
    """``data/__init__.py`` defines no function or class (issue 32): the
    logic is in the modules named for it; every name it lists is there."""
    import ast
    import branchynet.data as package
    tree = ast.parse(open(package.__file__).read())
    assert not [node.name for node in ast.walk(tree) if isinstance(
        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert [name for name in package.__all__
            if not hasattr(package, name)] == []
