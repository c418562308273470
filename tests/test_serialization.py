"""Saving and loading models: round trip, no pickle, clear errors, atomic."""
import json
import os

import chainer
import numpy
import pytest

from branchynet.errors import BranchyNetError
from branchynet.networks import b_alexnet, b_lenet
from branchynet.serialization import (load_model, load_npz_safe, model_paths,
                                      save_model)


def outputs(model, x):
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        return [z.array for z in model(x)]


class _MakesAFile:
    """Unpickling this object would create ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


@pytest.fixture
def saved(tmp_path):
    numpy.random.seed(5)
    model = b_lenet()
    prefix = str(tmp_path / 'model')
    info = {'network': 'b_lenet', 'role': 'branchynet', 'note': [1, 2]}
    save_model(prefix, model, info)
    return model, prefix, info


@pytest.mark.parametrize('build, shape', [
    (b_lenet, (3, 1, 28, 28)), (b_alexnet, (2, 3, 32, 32))],
    ids=['b_lenet', 'b_alexnet'])
def test_round_trip_gives_identical_outputs(tmp_path, build, shape):
    model = build()
    prefix = str(tmp_path / 'm')
    save_model(prefix, model, {'network': build.__name__})
    loaded, info = load_model(prefix)
    assert info == {'network': build.__name__}
    assert type(loaded) is type(model)
    x = numpy.random.RandomState(0).rand(*shape).astype(numpy.float32)
    for a, b in zip(outputs(model, x), outputs(loaded, x)):
        numpy.testing.assert_array_equal(a, b)
    # a fresh network differs, so the equality above is the loaded weights
    assert not numpy.array_equal(outputs(build(), x)[-1],
                                 outputs(model, x)[-1])


def test_round_trip_keeps_batch_norm_statistics(tmp_path):
    """Persistent values (running mean/var) are saved with the weights."""
    from branchynet.networks import b_resnet110
    model = b_resnet110()
    bn = model.stages[0][1]
    bn.avg_mean[...] = numpy.arange(16, dtype=numpy.float32)
    bn.avg_var[...] = 2.0
    save_model(str(tmp_path / 'r'), model, {'network': 'b_resnet110'})
    loaded, _ = load_model(str(tmp_path / 'r'))
    numpy.testing.assert_array_equal(loaded.stages[0][1].avg_mean,
                                     bn.avg_mean)
    numpy.testing.assert_array_equal(loaded.stages[0][1].avg_var, bn.avg_var)


def test_prefix_may_carry_an_extension(saved):
    model, prefix, info = saved
    assert model_paths(prefix + '.npz') == (prefix + '.npz', prefix + '.json')
    assert model_paths(prefix + '.json') == (prefix + '.npz',
                                             prefix + '.json')
    assert load_model(prefix + '.npz')[1] == info
    with open(prefix + '.json') as f:
        assert json.load(f) == info


def test_object_array_in_npz_is_rejected_without_unpickling(saved, tmp_path):
    model, prefix, info = saved
    with numpy.load(prefix + '.npz') as npz:
        arrays = {k: npz[k] for k in npz.files}
    key = sorted(arrays)[0]
    marker = str(tmp_path / 'unpickled')
    arrays[key] = numpy.array([_MakesAFile(marker)], dtype=object)
    numpy.savez(prefix + '.npz', **arrays)           # pickles the object
    with pytest.raises(BranchyNetError) as error:
        load_model(prefix)
    assert 'pickle' in str(error.value)
    assert not os.path.exists(marker)
    # chainer's own loader would have run the pickle: the marker is real
    with pytest.raises(Exception):
        chainer.serializers.load_npz(prefix + '.npz', b_lenet())
    assert os.path.exists(marker)


def test_npz_of_another_network_is_an_error(saved):
    model, prefix, info = saved
    with open(prefix + '.json', 'w') as f:
        json.dump({'network': 'b_alexnet'}, f)
    with pytest.raises(BranchyNetError, match='cannot load'):
        load_model(prefix)


@pytest.mark.parametrize('missing', ['.npz', '.json'])
def test_missing_file_is_an_error(saved, missing):
    model, prefix, info = saved
    os.remove(prefix + missing)
    with pytest.raises(BranchyNetError) as error:
        load_model(prefix)
    assert prefix + missing in str(error.value)


@pytest.mark.parametrize('content', [
    '{"network": "b_vggnet"}', '{"settings": {}}', '["b_lenet"]',
    '{"network": "b_lenet"', ''])
def test_bad_json_is_an_error(saved, content):
    model, prefix, info = saved
    with open(prefix + '.json', 'w') as f:
        f.write(content)
    with pytest.raises(BranchyNetError) as error:
        load_model(prefix)
    assert prefix + '.json' in str(error.value)


def test_save_needs_a_known_network(tmp_path):
    with pytest.raises(ValueError):
        save_model(str(tmp_path / 'm'), b_lenet(), {'network': 'lenet'})
    assert os.listdir(tmp_path) == []


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    def broken_save_npz(file, obj, compression=True):
        file.write(b'PK\x03\x04 partial')
        raise OSError('disk full')
    monkeypatch.setattr(chainer.serializers, 'save_npz', broken_save_npz)
    prefix = str(tmp_path / 'm')
    with pytest.raises(OSError):
        save_model(prefix, b_lenet(), {'network': 'b_lenet'})
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_the_previous_model(saved, monkeypatch):
    model, prefix, info = saved
    before = open(prefix + '.npz', 'rb').read()

    def broken_save_npz(file, obj, compression=True):
        file.write(b'partial')
        raise OSError('disk full')
    monkeypatch.setattr(chainer.serializers, 'save_npz', broken_save_npz)
    with pytest.raises(OSError):
        save_model(prefix, b_lenet(), info)
    assert open(prefix + '.npz', 'rb').read() == before
    assert sorted(os.listdir(os.path.dirname(prefix))) == ['model.json',
                                                           'model.npz']


def test_load_npz_safe_names_the_file(tmp_path):
    path = tmp_path / 'junk.npz'
    path.write_bytes(b'not a zip file')
    with pytest.raises(BranchyNetError) as error:
        load_npz_safe(str(path), b_lenet())
    assert str(path) in str(error.value)
