"""A network of your own (``--network FILE.py:FUNCTION``): loading its
code, its record, and what a model folder lets run."""
import json

import pytest

from branchynet.errors import BranchyNetError
from branchynet.networks import REGISTRY, user
from helpers import TINY_NETWORK as TINY, write_network as write

pytestmark = pytest.mark.usefixtures('user_networks')

def test_the_function_is_built_for_the_data_and_recorded(tmp_path):
    spec = write(tmp_path / 'net.py')
    record, build = user.load_user_network(spec, (1, 8, 8), 3)
    assert record.key == 'user-Tiny' and record.name == 'Tiny'
    assert record.sha256 == user.sha256_of(str(tmp_path / 'net.py'))
    assert (record.in_shape, record.n_classes) == ((1, 8, 8), 3)
    model = build()
    # Chainer's lazily sized Linear got its weights at the first forward
    assert model.exits[0][1].W.array.shape == (3, 4 * 4 * 4)
    assert user.record_from_json(
        json.loads(json.dumps(record.to_json())), 'x') == record


@pytest.mark.parametrize('text, spec, expected', [
    (TINY, 'net.py', 'FILE.py:FUNCTION'),
    (TINY, 'net.py:nothing', 'has no function nothing'),
    (TINY, 'missing.py:tiny', 'does not exist'),
    ('raise RuntimeError("boom")\n', 'net.py:tiny', 'boom'),
    ('def tiny(n_classes, in_shape):\n    return 3\n', 'net.py:tiny',
     'not a branchynet.BranchyNet'),
    (TINY.replace('pad=1', 'pad=0').replace('(4, 8, 3)', '(4, 8, 9)'),
     'net.py:tiny', 'cannot take one (1, 8, 8) input'),
    (TINY.replace("'Tiny'", "'../x'"), 'net.py:tiny', 'network name'),
    (TINY, 'no_such_module_x:tiny', 'cannot import'),
])
def test_a_bad_network_is_one_line(tmp_path, monkeypatch, text, spec,
                                   expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'net.py').write_text(text)
    with pytest.raises(BranchyNetError) as e:
        user.load_user_network(spec, (1, 8, 8), 3)
    assert expected in str(e.value) and '\n' not in str(e.value)


def test_a_module_name_works_too(tmp_path, monkeypatch):
    (tmp_path / 'my_nets.py').write_text(TINY)
    monkeypatch.syspath_prepend(str(tmp_path))
    record, _ = user.load_user_network('my_nets:tiny', (1, 8, 8), 3)
    assert record.path == str(tmp_path / 'my_nets.py')


def test_two_networks_of_one_name_are_refused(tmp_path):
    a, b = tmp_path / 'a.py', tmp_path / 'b.py'
    user.register(*user.load_user_network(write(a), (1, 8, 8), 3))
    second = user.load_user_network(write(b, TINY + '# other\n'),
                                    (1, 8, 8), 3)
    with pytest.raises(BranchyNetError, match='two different networks'):
        user.register(*second)


def train_folder(tmp_path):
    """A folder as training leaves it: the copy and the record."""
    spec = write(tmp_path / 'net.py')
    record, build = user.load_user_network(spec, (1, 8, 8), 3)
    folder = tmp_path / 'model'
    folder.mkdir()
    user.keep_copy(str(folder), record)
    return folder, spec, record


def test_the_folder_keeps_a_copy_and_its_record(tmp_path):
    folder, spec, record = train_folder(tmp_path)
    assert (folder / 'network.py').read_text() == TINY
    assert user.saved_record(str(folder)) == record


def test_a_folder_runs_no_code_unless_told(tmp_path):
    folder, spec, record = train_folder(tmp_path)
    assert user.install_for_model(str(folder)) is None
    assert record.key not in REGISTRY
    user.register_record(record, str(folder), 2)
    with pytest.raises(BranchyNetError, match='--trust-saved-network'):
        REGISTRY[record.key].builder()


def test_the_saved_copy_runs_when_trusted(tmp_path):
    folder, spec, record = train_folder(tmp_path)
    (tmp_path / 'net.py').unlink()           # the original is gone
    assert user.install_for_model(str(folder), trust_saved=True) == record
    assert REGISTRY[record.key].builder().n_exits == 2


def test_a_changed_file_or_copy_is_refused(tmp_path):
    folder, spec, record = train_folder(tmp_path)
    (tmp_path / 'net.py').write_text(TINY + '# edited\n')
    with pytest.raises(BranchyNetError, match='sha256 is [0-9a-f]{12}'):
        user.install_for_model(str(folder), spec)
    (folder / 'network.py').write_text(TINY + '# edited\n')
    with pytest.raises(BranchyNetError, match='sha256 differs'):
        user.install_for_model(str(folder), trust_saved=True)


def test_the_options_are_refused_for_a_built_in_model(tmp_path):
    with pytest.raises(BranchyNetError, match='built-in network'):
        user.install_for_model(str(tmp_path), trust_saved=True)


@pytest.mark.parametrize('edit', [
    {'sha256': 'x' * 64}, {'in_shape': [1, 8]}, {'n_classes': 1},
    {'name': '../../etc'}, {'extra': 1}, {'n_classes': True}])
def test_a_damaged_record_is_one_line(tmp_path, edit):
    folder, spec, record = train_folder(tmp_path)
    value = dict(record.to_json(), **edit)
    (folder / 'network.json').write_text(json.dumps(value))
    with pytest.raises(BranchyNetError, match='user_network'):
        user.saved_record(str(folder))


def test_one_file_edited_between_two_loads_is_two_networks(tmp_path):
    """The same path, other bytes: two networks, the line naming the
    sha256 (not only the path decides)."""
    path = tmp_path / 'a.py'
    user.register(*user.load_user_network(write(path), (1, 8, 8), 3))
    edited = user.load_user_network(write(path, TINY + '# edited\n'),
                                    (1, 8, 8), 3)
    with pytest.raises(BranchyNetError) as e:
        user.register(*edited)
    assert 'two different networks' in str(e.value)
    assert 'its sha256 is' in str(e.value)


def test_one_network_from_two_places_is_one(tmp_path):
    """The same bytes from another path: one network (where the file was
    is not what it is)."""
    a, b = tmp_path / 'a.py', tmp_path / 'b.py'
    first, build = user.load_user_network(write(a), (1, 8, 8), 3)
    user.register(first, build)
    second, build = user.load_user_network(write(b), (1, 8, 8), 3)
    assert user.register(second, build).source == second
    assert user.register_record(first, str(tmp_path), 2).source == second
