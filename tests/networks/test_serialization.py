"""Saving and loading models: round trip, no pickle, clear errors, atomic;
npz entries checked from their headers (shape, dtype, size) before reading."""
import io
import json
import os
import zipfile

import chainer
import numpy
import pytest

from branchynet.errors import BranchyNetError
from branchynet.networks import b_alexnet, b_lenet
from branchynet.networks.serialization import (MAX_FREE_ENTRY_BYTES, load_model,
                                      load_npz_safe, model_paths, save_model)

SETTINGS = {'experiment': 'lenet_mnist', 'epochs_main': 1, 'epochs_joint': 1,
            'batch_size': 8}


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
    info = {'network': 'b_lenet', 'role': 'branchynet', 'note': [1, 2],
            'settings': SETTINGS}
    save_model(prefix, model, info)
    return model, prefix, info


@pytest.mark.parametrize('build, shape', [
    (b_lenet, (3, 1, 28, 28)), (b_alexnet, (2, 3, 32, 32))],
    ids=['b_lenet', 'b_alexnet'])
def test_round_trip_gives_identical_outputs(tmp_path, build, shape):
    model = build()
    prefix = str(tmp_path / 'm')
    saved_info = {'network': build.__name__, 'settings': {}}
    save_model(prefix, model, saved_info)
    loaded, info = load_model(prefix)
    assert info == saved_info
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
    save_model(str(tmp_path / 'r'), model, {'network': 'b_resnet110',
                                            'settings': {}})
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
        json.dump({'network': 'b_alexnet', 'settings': {}}, f)
    with pytest.raises(BranchyNetError, match='cannot load'):
        load_model(prefix)


@pytest.mark.parametrize('missing', ['.npz', '.json'])
def test_missing_file_is_an_error(saved, missing):
    model, prefix, info = saved
    os.remove(prefix + missing)
    with pytest.raises(BranchyNetError) as error:
        load_model(prefix)
    assert prefix + missing in str(error.value)


@pytest.mark.parametrize('content, match', [
    ('{"network": "b_vggnet", "settings": {}}', 'no known network'),
    ('{"settings": {}}', 'no known network'),
    ('{"network": ["b_lenet"], "settings": {}}', 'no known network'),
    ('{"network": {"a": 1}, "settings": {}}', 'no known network'),
    ('["b_lenet"]', 'not an object'),
    ('"b_lenet"', 'not an object'),
    ('null', 'not an object'),
    ('{"network": "b_lenet"', 'JSON'),
    ('', 'JSON'),
    ('\xff\xfe', 'JSON'),
    ('{"network": "b_lenet"}', "no 'settings'"),
    ('{"network": "b_lenet", "settings": [1]}', "no 'settings'"),
    ('[' * 100000 + ']' * 100000, 'nested too deeply'),
    ('{"a":' * 50000 + '1' + '}' * 50000, 'nested too deeply'),
    # our bound, not the parser's: the same on every Python (3.14's parser
    # takes 50000 levels; every parser takes 100)
    ('{"network": "b_lenet", "settings": {}, "x": %s1%s}'
     % ('[' * 100, ']' * 100), 'nested too deeply'),
])
def test_bad_json_is_an_error(saved, content, match):
    model, prefix, info = saved
    with open(prefix + '.json', 'w', encoding='latin-1') as f:
        f.write(content)
    with pytest.raises(BranchyNetError, match=match) as error:
        load_model(prefix)
    assert prefix + '.json' in str(error.value)
    assert '\n' not in str(error.value)


def test_brackets_in_strings_are_not_nesting(saved):
    model, prefix, info = saved
    with open(prefix + '.json', 'w') as f:
        json.dump(dict(info, note='[{' * 100 + '\\"' + '[' * 100), f)
    assert load_model(prefix)[1]['note'].startswith('[{[{')


def test_huge_json_is_refused_unread(saved, monkeypatch):
    model, prefix, info = saved
    monkeypatch.setattr('branchynet.networks.serialization.MAX_JSON_BYTES', 100)
    with open(prefix + '.json', 'w') as f:
        json.dump(dict(info, padding='x' * 200), f)
    with pytest.raises(BranchyNetError, match='larger than 100 bytes'):
        load_model(prefix)


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


# ---------------------------------------------------------------------------
# npz entries are checked before they are read
# ---------------------------------------------------------------------------

def npz_arrays(path):
    with numpy.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def rewrite(path, **changes):
    """Rewrite the npz at ``path`` with some entries replaced or removed."""
    arrays = npz_arrays(path)
    for key, value in changes.items():
        key = key.replace('__', '/')
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    numpy.savez_compressed(path, **arrays)


W = 'stages__1__2__W'        # B-LeNet's (84, 720) fully connected weight


@pytest.mark.parametrize('value, match', [
    (numpy.zeros((1, 720), numpy.float32), r'shape \(1, 720\), expected '
                                           r'\(84, 720\)'),
    (numpy.zeros((720, 84), numpy.float32), 'shape'),
    (numpy.zeros((84, 720), numpy.float64), 'dtype float64, expected float32'),
    (numpy.zeros((84, 720), numpy.float16), 'dtype'),
    (numpy.zeros((84, 720), '>f4'), 'dtype'),
    (numpy.zeros((84, 720), numpy.int32), 'dtype'),
    (numpy.full((84, 720), 'x'), 'expected'),
    (numpy.full((84, 720), b'x'), 'expected'),
    (numpy.zeros((84, 720), numpy.complex64), 'expected'),
    (numpy.zeros(1, [('a', 'f4')]), 'expected'),
    (numpy.full((84, 720), numpy.nan, numpy.float32), 'NaN'),
    (numpy.pad(numpy.zeros((84, 719), numpy.float32), ((0, 0), (0, 1)),
               constant_values=numpy.inf), 'infinite'),
])
def test_entry_must_match_the_parameter_exactly(saved, value, match):
    model, prefix, info = saved
    rewrite(prefix + '.npz', **{W: value})
    with pytest.raises(BranchyNetError, match=match) as error:
        load_model(prefix)
    assert prefix + '.npz' in str(error.value)
    assert 'stages/1/2/W' in str(error.value)


def test_missing_entry_is_named(saved):
    model, prefix, info = saved
    rewrite(prefix + '.npz', **{W: None})
    with pytest.raises(BranchyNetError, match='no entry.*stages/1/2/W'):
        load_model(prefix)


@pytest.mark.parametrize('damage', ['empty', 'truncated', 'half', 'text',
                                    'npy', 'flipped'])
def test_damaged_npz_is_one_error(saved, damage):
    model, prefix, info = saved
    path = prefix + '.npz'
    data = open(path, 'rb').read()
    if damage == 'empty':
        data = b''
    elif damage == 'truncated':
        data = data[:-100]
    elif damage == 'half':
        data = data[:len(data) // 2]
    elif damage == 'text':
        data = b'hello'
    elif damage == 'npy':
        buffer = io.BytesIO()
        numpy.save(buffer, numpy.zeros(3))
        data = buffer.getvalue()
    else:                          # a bit flipped inside compressed data
        data = bytearray(data)
        data[len(data) // 3] ^= 0x40
        data = bytes(data)
    with open(path, 'wb') as f:
        f.write(data)
    with pytest.raises(BranchyNetError) as error:
        load_model(prefix)
    assert path in str(error.value)
    assert '\n' not in str(error.value)


def npy_header(shape, dtype='<f4'):
    """A version-1.0 .npy header declaring ``shape`` (no data follows)."""
    buffer = io.BytesIO()
    numpy.lib.format.write_array_header_1_0(buffer, {
        'descr': dtype, 'fortran_order': False, 'shape': shape})
    return buffer.getvalue()


def forge(path, name, payload):
    """Replace entry ``name`` of the zip at ``path`` by raw ``payload``."""
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    entries[name + '.npy'] = payload
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        for n, data in entries.items():
            z.writestr(n, data)


def test_a_tib_header_is_refused_without_allocating(saved):
    model, prefix, info = saved
    forge(prefix + '.npz', 'stages/1/2/W', npy_header((2 ** 38,)) + b'\0' * 64)
    with pytest.raises(BranchyNetError, match='shape'):
        load_model(prefix)


def test_a_tib_header_in_a_free_entry_is_refused(saved, tmp_path):
    """Optimizer states of a fresh optimizer have no array to land in: the
    size cap applies."""
    model, prefix, info = saved
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)
    model.cleargrads()
    loss = chainer.functions.sum(model(numpy.zeros((1, 1, 28, 28),
                                                   numpy.float32))[-1])
    loss.backward()
    optimizer.update()
    path = str(tmp_path / 'optimizer.npz')
    chainer.serializers.save_npz(path, optimizer)
    fresh = chainer.optimizers.Adam()
    fresh.setup(b_lenet())
    load_npz_safe(path, fresh)                         # the genuine file loads
    key = 'stages/1/2/W/m'
    forge(path, key, npy_header((2 ** 38,)) + b'\0' * 64)
    fresh = chainer.optimizers.Adam()
    fresh.setup(b_lenet())
    with pytest.raises(BranchyNetError) as error:
        load_npz_safe(path, fresh)
    assert 'more than the %d allowed' % MAX_FREE_ENTRY_BYTES in \
        str(error.value)
    assert key in str(error.value)


def test_declared_size_must_match_the_stored_bytes(saved):
    model, prefix, info = saved
    forge(prefix + '.npz', 'stages/1/2/W',
          npy_header((84, 720)) + b'\0' * 100)
    with pytest.raises(BranchyNetError, match='truncated or forged'):
        load_model(prefix)


def test_a_zip_declaring_more_than_deflate_allows_is_refused(saved):
    model, prefix, info = saved
    path = prefix + '.npz'
    data = bytearray(open(path, 'rb').read())
    with zipfile.ZipFile(path) as z:
        entry = z.getinfo('stages/1/2/W.npy')
    # find the entry's central directory record (signature PK\1\2; name
    # length at offset 28, name at 46); its uncompressed size is at 24
    start = 0
    while True:
        record = data.find(b'PK\x01\x02', start)
        assert record >= 0
        name_len = int.from_bytes(data[record + 28:record + 30], 'little')
        if data[record + 46:record + 46 + name_len] == b'stages/1/2/W.npy':
            break
        start = record + 4
    data[record + 24:record + 28] = (entry.compress_size * 2000).to_bytes(
        4, 'little')
    open(path, 'wb').write(bytes(data))
    with pytest.raises(BranchyNetError, match='compressed bytes can hold'):
        load_model(prefix)


class _FinalExit(chainer.Chain):
    def __init__(self, net):
        super().__init__()
        with self.init_scope():
            self.net = net

    def forward(self, x):
        return self.net(x)[-1]


def tiny_trainer(tmp_path, model, iterations):
    from chainer import training
    from chainer.training import extensions
    x = numpy.random.RandomState(0).rand(32, 1, 28, 28).astype(numpy.float32)
    y = numpy.arange(32, dtype=numpy.int32) % 10
    iterator = chainer.iterators.SerialIterator(
        chainer.datasets.TupleDataset(x, y), 8)
    classifier = chainer.links.Classifier(_FinalExit(model))
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(classifier)
    updater = training.updaters.StandardUpdater(
        iterator, optimizer, loss_func=classifier)
    trainer = training.Trainer(updater, (iterations, 'iteration'),
                               out=str(tmp_path))
    trainer.extend(extensions.LogReport(trigger=(1, 'iteration')))
    return trainer


def test_a_trainer_snapshot_round_trips(tmp_path):
    """Snapshots hold strings (the log), scalars and optimizer states with no
    array to land in: all load, and equal what was saved."""
    numpy.random.seed(0)
    trainer = tiny_trainer(tmp_path, b_lenet(), 3)
    trainer.run()
    path = str(tmp_path / 'snapshot')
    chainer.serializers.save_npz(path, trainer)
    fresh = tiny_trainer(tmp_path, b_lenet(), 3)
    load_npz_safe(path, fresh)
    assert fresh.updater.iteration == 3
    old, new = (t.updater.get_optimizer('main') for t in (trainer, fresh))
    for (name, p), (_, q) in zip(old.target.namedparams(),
                                 new.target.namedparams()):
        numpy.testing.assert_array_equal(p.array, q.array, err_msg=name)
        for key in p.update_rule.state:
            numpy.testing.assert_array_equal(
                p.update_rule.state[key], q.update_rule.state[key])
            assert q.update_rule.state[key].flags.writeable
    assert fresh.get_extension('LogReport').log == \
        trainer.get_extension('LogReport').log


def test_a_truncated_snapshot_is_one_error(tmp_path):
    trainer = tiny_trainer(tmp_path, b_lenet(), 1)
    trainer.run()
    path = str(tmp_path / 'snapshot_iter_1')
    chainer.serializers.save_npz(path, trainer)
    data = open(path, 'rb').read()
    for cut in (0, 10, len(data) // 2, len(data) - 30):
        with open(path, 'wb') as f:
            f.write(data[:cut])
        with pytest.raises(BranchyNetError) as error:
            load_npz_safe(path, tiny_trainer(tmp_path, b_lenet(), 1))
        assert path in str(error.value)
