"""Image folders (branchynet.data.images): DIR/{train,test}/CLASS/*.png...

Every test makes its own small folder of images with Pillow; no CIFAR image
is used. Each hostile folder ends in one line naming the file (or folder),
exit status 2, and nothing written.
"""
import json
import os

import numpy
import pytest
from PIL import Image

from branchynet.cli import main
from branchynet.data import dataset_origin, load_dataset, resolve_dataset
from branchynet.data import images as images_lib
from branchynet.errors import BranchyNetError


def pattern(label, k, size, channels=3):
    """A separable image of class ``label`` (a bright square per class)."""
    h, w = size
    rng = numpy.random.RandomState(1000 * label + k)
    a = (rng.rand(h, w, channels) * 60).astype(numpy.uint8)
    r, c = (label * 3) % max(h - 4, 1), (label * 5) % max(w - 4, 1)
    a[r:r + 4, c:c + 4] = 255
    return a if channels == 3 else a[:, :, 0]


def make_folder(root, classes=('cat', 'dog', 'ant'), n_train=4, n_test=2,
                size=(32, 32), ext='png', channels=3):
    """``root/{train,test}/CLASS/NNNN.ext``; returns the pixels written (for
    png, lossless) by split as ``(uint8 (N, H, W, C), labels)``."""
    written = {}
    for split, n in (('train', n_train), ('test', n_test)):
        xs, ys = [], []
        for label, name in enumerate(sorted(classes)):
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for k in range(n):
                a = pattern(label, k + (0 if split == 'train' else 100),
                            size, channels)
                Image.fromarray(a).save(d / ('%04d.%s' % (k, ext)))
                xs.append(a)
                ys.append(label)
        written[split] = (numpy.array(xs), numpy.array(ys))
    return written


def cli(*args):
    return main([str(a) for a in args])


def fails(capsys, *args):
    """Run the command; it must fail with status 2 and one line."""
    assert cli(*args) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith('branchynet: error: ')
    assert 'Traceback' not in err
    return lines[0]


def test_loads_pixels_labels_and_sorted_classes(tmp_path, data_root):
    written = make_folder(tmp_path / 'img', classes=('zebra', 'ant', 'cat'))
    (x, y, tx, ty), classes = images_lib.load_image_folder(tmp_path / 'img')
    assert classes == ['ant', 'cat', 'zebra']
    assert x.dtype == numpy.uint8 and x.shape == (12, 3, 32, 32)
    assert tx.shape == (6, 3, 32, 32)
    # a fixed pseudo-random order, not class by class
    order = numpy.random.RandomState(0).permutation(12)
    numpy.testing.assert_array_equal(x, written['train'][0][order].transpose(
        0, 3, 1, 2))
    numpy.testing.assert_array_equal(y, written['train'][1][order])
    numpy.testing.assert_array_equal(
        ty, numpy.array([0, 0, 1, 1, 2, 2])[
            numpy.random.RandomState(0).permutation(6)])
    assert y.dtype == numpy.int32


def test_grey_and_palette_images_are_converted(tmp_path, data_root):
    root = tmp_path / 'img'
    make_folder(root, size=(28, 28), channels=1)
    Image.fromarray(pattern(0, 7, (28, 28))).convert('P').save(
        root / 'train' / 'ant' / 'p.png')
    (x, y, _, _), _ = images_lib.load_image_folder(root, channels=1,
                                                   size=(28, 28))
    assert x.shape == (13, 1, 28, 28)
    (x3, _, _, _), _ = images_lib.load_image_folder(root, channels=3,
                                                    size=(28, 28))
    assert x3.shape == (13, 3, 28, 28)
    # grey -> RGB repeats the channel
    numpy.testing.assert_array_equal(x3[1, 0], x3[1, 2])


def test_cache_is_used_and_invalidated(tmp_path, data_root, monkeypatch):
    root = tmp_path / 'img'
    make_folder(root)
    first, _ = images_lib.load_image_folder(root)
    caches = os.listdir(data_root / 'images-cache')
    assert len(caches) == 1 and caches[0].endswith('.npz')
    # a hit decodes nothing (not monkeypatch.undo(): that would drop the
    # data root too, and the cache go to the checkout's datasets/data)
    with monkeypatch.context() as m:
        m.setattr(images_lib, 'decode_all', lambda *a, **k: 1 / 0)
        again, _ = images_lib.load_image_folder(root)
    for a, b in zip(first, again):
        numpy.testing.assert_array_equal(a, b)
    # an edited file (new size and mtime) is decoded again
    target = root / 'train' / 'ant' / '0000.png'
    Image.fromarray(numpy.full((32, 32, 3), 7, numpy.uint8)).save(target)
    os.utime(target, ns=(1, 1))
    (x, _, _, _), _ = images_lib.load_image_folder(root)
    assert ((x == 7).all(axis=(1, 2, 3))).sum() == 1
    # a removed file too
    os.remove(root / 'train' / 'dog' / '0003.png')
    (x, _, _, _), _ = images_lib.load_image_folder(root)
    assert len(x) == 11
    # a corrupt cache is rebuilt, not trusted
    cache = data_root / 'images-cache' / caches[0]
    cache.write_bytes(b'not an npz')
    (x, _, _, _), _ = images_lib.load_image_folder(root)
    assert len(x) == 11
    assert not [n for n in os.listdir(data_root / 'images-cache')
                if n != caches[0]]             # no temporary file left


#: the hostile folders' image size: LeNet's, so train reaches every check
S = (28, 28)


def _truncated(root):
    path = root / 'train' / 'cat' / '0001.jpg'
    Image.fromarray(pattern(1, 1, S)).save(path, quality=75)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 40])     # the header is whole
    return path


def _truncated_header(root):
    path = root / 'test' / 'ant' / '0001.jpg'
    Image.fromarray(pattern(1, 1, S)).save(path, quality=75)
    path.write_bytes(path.read_bytes()[:30])
    return path


def _corrupt(root):
    path = root / 'test' / 'dog' / '0000.png'
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + os.urandom(200))
    return path


def _not_an_image(root):
    path = root / 'train' / 'ant' / 'notes.jpg'
    path.write_text('hello')
    return path


def _mixed(root):
    path = root / 'train' / 'dog' / '0002.png'
    Image.fromarray(pattern(2, 2, (S[0], S[1] - 1))).save(path)
    return path


def _empty_class(root):
    path = root / 'train' / 'eel'
    path.mkdir()
    (path / 'README.txt').write_text('no images')
    (root / 'test' / 'eel').mkdir()
    Image.fromarray(pattern(3, 1, S)).save(
        root / 'test' / 'eel' / '0000.png')
    return path


def _classes_differ(root):
    os.rename(root / 'test' / 'dog', root / 'test' / 'wolf')
    return root


def _symlink_file(root):
    outside = root.parent / 'outside.png'
    Image.fromarray(pattern(0, 9, S)).save(outside)
    path = root / 'train' / 'ant' / 'link.png'
    os.symlink(outside, path)
    return path


def _symlink_folder(root):
    outside = root.parent / 'elsewhere'
    outside.mkdir()
    Image.fromarray(pattern(0, 9, S)).save(outside / 'x.png')
    path = root / 'train' / 'bee'
    os.symlink(outside, path)
    (root / 'test' / 'bee').mkdir()
    Image.fromarray(pattern(0, 9, S)).save(
        root / 'test' / 'bee' / 'x.png')
    return path


def _symlink_to_a_sibling(root):
    """A sibling folder whose name starts with the root's (``img2`` beside
    ``img``) is outside it: the check compares whole path components."""
    sibling = root.parent / (root.name + '2')
    sibling.mkdir()
    Image.fromarray(pattern(0, 9, S)).save(sibling / 'x.png')
    path = root / 'train' / 'ant' / 'link.png'
    os.symlink(sibling / 'x.png', path)
    return path


def _palette_with_transparency(root):
    path = root / 'train' / 'cat' / 'clear.png'
    Image.fromarray(pattern(1, 9, S)).convert('P').save(path,
                                                        transparency=0)
    with Image.open(path) as im:
        assert im.mode == 'P' and 'transparency' in im.info
    return path


def _bad_mode(root):
    path = root / 'train' / 'cat' / 'rgba.png'
    Image.fromarray(numpy.zeros(S + (4,), numpy.uint8), 'RGBA').save(path)
    return path


HOSTILE = [
    (_truncated, 'truncated or corrupt'),
    (_truncated_header, 'truncated or corrupt'),
    (_corrupt, 'not a readable image'),
    (_not_an_image, 'not a readable image'),
    (_mixed, 'mixed sizes'),
    (_empty_class, "class 'eel' is empty"),
    (_classes_differ, 'classes differ between train/ and test/ (only in '
                      'train: dog; only in test: wolf)'),
    (_symlink_file, 'symlink leads outside'),
    (_symlink_folder, 'symlink leads outside'),
    (_symlink_to_a_sibling, 'symlink leads outside'),
    (_palette_with_transparency, 'palette image with transparency'),
    (_bad_mode, 'has mode RGBA'),
]


@pytest.mark.parametrize('damage, words', HOSTILE,
                         ids=[d.__name__.strip('_') for d, _ in HOSTILE])
def test_hostile_folder_is_one_line_naming_the_file(tmp_path, data_root,
                                                    capsys, damage, words):
    root = tmp_path / 'img'
    make_folder(root, classes=('ant', 'cat', 'dog'), size=S, channels=1)
    named = damage(root)
    with pytest.raises(BranchyNetError) as e:
        images_lib.load_image_folder(root)
    assert words in str(e.value) and str(named) in str(e.value)
    assert '\n' not in str(e.value)
    # through train --dataset images:DIR: one line, nothing written
    out = tmp_path / 'model'
    line = fails(capsys, 'train', 'lenet_mnist', '--dataset',
                 'images:%s' % root, '--epochs-main', 1, '--epochs-joint', 1,
                 '--out', out, '--no-progress')
    assert words in line and str(named) in line
    assert not os.path.exists(out) or not [
        f for f in os.listdir(out) if f.endswith('.npz')]
    assert not os.path.exists(data_root / 'images-cache') or \
        not os.listdir(data_root / 'images-cache')


def test_decompression_bomb_is_refused_before_decoding(tmp_path, data_root,
                                                       monkeypatch):
    root = tmp_path / 'img'
    make_folder(root)
    # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that: both
    # are refused (a real bomb is a huge image; the limit is lowered here)
    for limit in (1000, 400):
        monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', limit)
        with pytest.raises(BranchyNetError) as e:
            images_lib.load_image_folder(root, cache=False)
        assert 'decompression bomb' in str(e.value)
        assert str(root / 'train') in str(e.value)
        assert str(e.value).split(':')[0].endswith('.png')


def test_real_bomb_header_is_refused(tmp_path, data_root):
    """A 30000 x 30000 PNG (900 Mpixels, a few kB on disk) is refused from
    its header: Pillow's default limit, nothing allocated."""
    root = tmp_path / 'img'
    make_folder(root)
    bomb = Image.new('1', (30000, 30000))
    path = root / 'test' / 'cat' / 'bomb.png'
    bomb.save(path)
    assert path.stat().st_size < 10 ** 6
    with pytest.raises(BranchyNetError) as e:
        images_lib.load_image_folder(root, cache=False)
    assert 'decompression bomb' in str(e.value) and str(path) in str(e.value)


def test_too_many_bytes_is_refused_before_allocating(tmp_path, data_root):
    root = tmp_path / 'img'
    make_folder(root)
    with pytest.raises(BranchyNetError) as e:
        images_lib.load_image_folder(root, max_bytes=1000)
    assert 'more than the 1000 allowed' in str(e.value)


def test_the_test_split_gets_what_the_training_split_left(tmp_path,
                                                          data_root):
    """The byte budget is for both splits together: each fits alone here
    (12 and 6 images of 3 x 32 x 32 bytes: 36864 and 18432), both do
    not."""
    root = tmp_path / 'img'
    make_folder(root)
    with pytest.raises(BranchyNetError) as e:
        images_lib.load_image_folder(root, max_bytes=40000, cache=False)
    assert '6 images of 32x32 would take 18432 bytes decoded, more than ' \
        'the 3136 allowed' in str(e.value)
    assert str(root / 'test') in str(e.value)
    arrays, _ = images_lib.load_image_folder(root, max_bytes=36864 + 18432,
                                             cache=False)
    assert arrays[0].nbytes + arrays[2].nbytes == 36864 + 18432


def test_missing_split_and_folder(tmp_path, data_root, capsys):
    (tmp_path / 'img' / 'train' / 'a').mkdir(parents=True)
    with pytest.raises(BranchyNetError, match='has no test/ folder'):
        images_lib.load_image_folder(tmp_path / 'img')
    line = fails(capsys, 'train', 'lenet_mnist', '--dataset',
                 'images:%s' % (tmp_path / 'nope'))
    assert 'does not exist' in line


def test_train_on_an_image_folder_saves_and_prints_the_classes(
        tmp_path, data_root, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / 'img'
    make_folder(root, classes=[str(d) for d in range(10)][::-1], n_train=6,
                n_test=3, size=(28, 28), channels=1)
    assert resolve_dataset('images:%s' % root) == 'images:%s' % root
    x, y, tx, ty = load_dataset('images:%s' % root, like='mnist')
    assert x.dtype == numpy.float32 and x.shape == (60, 1, 28, 28)
    assert 0 <= x.min() and x.max() == 1
    model = tmp_path / 'model'
    assert cli('train', 'lenet_mnist', '--dataset', 'images:%s' % root,
               '--epochs-main', 1, '--epochs-joint', 1, '--batch-size', 16,
               '--val-size', 10, '--out', model, '--no-progress') == 0
    out = capsys.readouterr().out
    assert 'classes (label: name): 0: 0, 1: 1, 2: 2' in out
    with open(model / 'branchynet.json') as f:
        info = json.load(f)
    assert info['classes'] == [str(d) for d in range(10)]
    assert info['settings']['dataset'] == 'images:%s' % root
    # evaluate reloads the folder (from the cache)
    assert cli('evaluate', model / 'branchynet', '-t', 0.5) == 0
    assert 'on 30 test samples' in capsys.readouterr().out


def test_wrong_image_size_for_the_network(tmp_path, data_root, capsys):
    root = tmp_path / 'img'
    make_folder(root, size=(32, 32))
    line = fails(capsys, 'train', 'lenet_mnist', '--dataset',
                 'images:%s' % root, '--out', tmp_path / 'm')
    assert 'is 32x32, not 28x28 like the size required' in line


def test_pcifar10_from_images(tmp_path, data_root, capsys):
    root = tmp_path / 'img'
    names = ['c%d' % i for i in range(10)]
    written = make_folder(root, classes=names, n_train=4, n_test=2)
    assert cli('data', 'pcifar10', '--from-images', root, '--recipe',
               'gcn') == 0
    out = capsys.readouterr().out
    assert 'classes (label: folder): 0: c0, 1: c1' in out
    assert 'images: 40 train, 20 test' in out
    meta = json.loads((data_root / 'pcifar10' / 'data.json').read_text())
    assert meta['source']['kind'] == 'images'
    assert meta['source']['classes'] == names
    assert dataset_origin('pcifar10') == {'built_from': 'an image folder',
                                          'recipe': 'gcn'}
    with numpy.load(data_root / 'pcifar10' / 'data.npz') as z:
        x, y = z['train_x'], z['train_y']
    # the gcn recipe on the pixels written (in the folder's fixed order)
    from branchynet.data.pcifar10 import build_pcifar10
    order = numpy.random.RandomState(0).permutation(40)
    raw = written['train'][0][order].transpose(0, 3, 1, 2)
    want, _ = build_pcifar10(raw, written['test'][0].transpose(0, 3, 1, 2),
                             'gcn')
    numpy.testing.assert_allclose(x, want, rtol=1e-6, atol=1e-6)
    numpy.testing.assert_array_equal(y, written['train'][1][order])
    # again: the file is checked against the folder, not rebuilt
    assert cli('data', 'pcifar10', '--from-images', root, '--recipe',
               'gcn') == 0
    capsys.readouterr()
    # an edited image: refused without --force, rebuilt with it
    target = root / 'train' / 'c0' / '0000.png'
    Image.fromarray(numpy.zeros((32, 32, 3), numpy.uint8)).save(target)
    os.utime(target, ns=(1, 1))
    line = fails(capsys, 'data', 'pcifar10', '--from-images', root,
                 '--recipe', 'gcn')
    assert 'was not built from the image folder' in line and '--force' in line
    assert cli('data', 'pcifar10', '--from-images', root, '--recipe', 'gcn',
               '--force') == 0


def test_pcifar10_from_images_records_only_the_images_it_decoded(
        tmp_path, data_root, capsys, monkeypatch):
    """An image edited while the folder is decoded: the fingerprint in
    data.json would describe the edited folder, the arrays the images
    before the edit (and a later run would accept the file as built from
    the folder as it is). Refused instead, nothing written."""
    root = tmp_path / 'img'
    make_folder(root, classes=['c%d' % i for i in range(10)], n_train=2,
                n_test=1)
    real = images_lib.decode_all

    def decode_then_edit(files, *args, **kwargs):
        decoded = real(files, *args, **kwargs)
        target = root / 'train' / 'c0' / '0000.png'
        Image.fromarray(numpy.zeros((32, 32, 3), numpy.uint8)).save(target)
        os.utime(target, ns=(1, 1))
        return decoded
    with monkeypatch.context() as m:
        m.setattr(images_lib, 'decode_all', decode_then_edit)
        line = fails(capsys, 'data', 'pcifar10', '--from-images', root,
                     '--recipe', 'gcn')
    assert 'image folder %s changed while it was read' % root in line
    assert not (data_root / 'pcifar10' / 'data.npz').exists()
    assert not (data_root / 'pcifar10' / 'data.json').exists()
    # unchanged while read: built, and its fingerprint is the folder's
    assert cli('data', 'pcifar10', '--from-images', root, '--recipe',
               'gcn') == 0
    meta = json.loads((data_root / 'pcifar10' / 'data.json').read_text())
    classes, files = images_lib.scan(str(root))
    assert meta['source']['fingerprint'] == images_lib.fingerprint(
        str(root), classes, files, 3)


def test_pcifar10_from_images_refuses_bad_folders(tmp_path, data_root,
                                                  capsys):
    root = tmp_path / 'img'
    make_folder(root, classes=['c%d' % i for i in range(3)])
    line = fails(capsys, 'data', 'pcifar10', '--from-images', root)
    assert 'has 3 classes (c0, c1, c2), pcifar10 needs 10' in line
    root2 = tmp_path / 'img2'
    make_folder(root2, classes=['c%d' % i for i in range(10)], n_train=1,
                n_test=1, size=(28, 28))
    line = fails(capsys, 'data', 'pcifar10', '--from-images', root2)
    assert 'is 28x28, not 32x32 like the size required' in line
    assert not (data_root / 'pcifar10' / 'data.npz').exists()
    assert not (data_root / 'pcifar10' / 'data.json').exists()
    line = fails(capsys, 'data', 'pcifar10', '--from-images', root,
                 '--cifar-dir', tmp_path)
    assert 'give one' in line


def test_channel_statistics():
    x = numpy.zeros((2, 3, 2, 2), numpy.uint8)
    x[:, 0] = 255
    x[0, 1] = 255
    mean, std = images_lib.channel_statistics(x)
    numpy.testing.assert_allclose(mean, [1, 0.5, 0])
    numpy.testing.assert_allclose(std, [0, 0.5, 0], atol=1e-7)


def test_a_model_whose_image_classes_changed_is_refused(tmp_path, data_root,
                                                        capsys):
    """Issue 31: a class folder renamed after training gives the model's
    labels other meanings; evaluate and sweep compare the classes saved
    with the model with the folder's, and refuse (one line naming the
    difference) before any work."""
    from branchynet.networks import b_lenet
    from branchynet.networks.serialization import save_model
    root = tmp_path / 'img'
    make_folder(root, classes=('ant', 'bee', 'cat'), n_train=4, n_test=2,
                size=(28, 28), channels=1)
    model = tmp_path / 'model'
    numpy.random.seed(0)
    settings = {'experiment': 'lenet_mnist', 'epochs_main': 1,
                'epochs_joint': 1, 'batch_size': 4, 'val_size': 3,
                'dataset': 'images:%s' % root}
    for role in ('branchynet', 'baseline'):
        save_model(str(model / role), b_lenet(),
                   {'network': 'b_lenet', 'role': role, 'settings': settings,
                    'classes': ['ant', 'bee', 'cat']})
    assert cli('evaluate', model / 'branchynet', '-t', 0.5) == 0
    capsys.readouterr()
    for split in ('train', 'test'):
        os.rename(root / split / 'cat', root / split / 'cow')
    line = fails(capsys, 'evaluate', model / 'branchynet', '-t', 0.5)
    assert ("data set images:%s has other classes than the model was "
            "trained on (only in the model: 'cat'; only in the data set "
            "now: 'cow')" % root) in line
    out = tmp_path / 'sweep'
    line = fails(capsys, 'sweep', model, '--out', out, '--quick')
    assert "only in the model: 'cat'" in line
    assert not out.exists() or not os.listdir(out)
