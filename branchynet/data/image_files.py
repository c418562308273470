"""An image folder's files: ``DIR/SPLIT/CLASS/*.{png,jpg,jpeg,bmp}`` found
and checked (:func:`scan`), put in their fixed order (:func:`shuffled`) and
fingerprinted (:func:`fingerprint`); nothing here opens an image.

``DIR`` holds two splits, ``train/`` and ``test/``; each holds one folder
per class. The classes are the sorted folder names (label 0 is the first),
and both splits must have the same ones, none empty. Files with other
extensions, and names starting with ``.``, are ignored. As torchvision's
``ImageFolder`` or Keras' ``image_dataset_from_directory`` read them. A
symlink (file or folder) whose target lies outside ``DIR``, an empty class,
or classes that differ between train and test are one line each
(:class:`~branchynet.errors.BranchyNetError`) naming the file or folder.

Each split comes out in a fixed pseudo-random order (a permutation with seed
:data:`ORDER_SEED`, the same for the same files), not class by class: the
CIFAR-10 batches are shuffled too, and ``--train-limit``, ``--test-limit``
and the sweep's first test samples then hold every class.

The fingerprint, a sha256 over every file's relative path, size and
modification time and the class list, says whether the folder changed: the
image cache (:mod:`branchynet.data.images`) and pcifar10 ``--from-images``
(its ``data.json``) record it.
"""
import hashlib
import json
import os

import numpy

from branchynet.errors import BranchyNetError

#: the file extensions read (lower case)
EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')
SPLITS = ('train', 'test')
#: the version of the fingerprint (and of the image cache it keys)
CACHE_VERSION = 2
#: the seed of each split's order (:func:`shuffled`)
ORDER_SEED = 0


def _inside(path, root_real):
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real + os.sep)


def _listdir(path):
    try:
        return sorted(n for n in os.listdir(path) if not n.startswith('.'))
    except OSError as e:
        raise BranchyNetError('image folder %s: cannot list it (%s)'
                              % (path, e.strerror or e)) from None


def scan(root):
    """The files of image folder ``root``, checked (symlinks, classes).

    Returns:
        tuple: ``(classes, files)``: the sorted class names, and for each
        split a list of ``(path, label, size, mtime_ns)``.
    """
    root = os.path.abspath(os.path.expanduser(root))
    if not os.path.isdir(root):
        raise BranchyNetError('image folder %s does not exist or is not a '
                              'folder' % root)
    root_real = os.path.realpath(root)
    for split in SPLITS:
        if not os.path.isdir(os.path.join(root, split)):
            raise BranchyNetError('image folder %s has no %s/ folder (it '
                                  'needs train/CLASS/*.png|jpg|jpeg|bmp and '
                                  'test/CLASS/...)' % (root, split))
    found = {}
    for split in SPLITS:
        split_dir = os.path.join(root, split)
        if not _inside(split_dir, root_real):
            raise BranchyNetError('image folder %s: symlink leads outside '
                                  'the folder' % split_dir)
        classes = [c for c in _listdir(split_dir)
                   if os.path.isdir(os.path.join(split_dir, c))]
        if not classes:
            raise BranchyNetError('image folder %s has no class folders'
                                  % split_dir)
        files = []
        for label, name in enumerate(classes):
            files.extend(_class_files(root, root_real,
                                      os.path.join(split_dir, name), name,
                                      label))
        found[split] = (classes, files)
    (train_classes, _), (test_classes, _) = found['train'], found['test']
    if train_classes != test_classes:
        only_train = sorted(set(train_classes) - set(test_classes))
        only_test = sorted(set(test_classes) - set(train_classes))
        raise BranchyNetError(
            'image folder %s: the classes differ between train/ and test/ '
            '(only in train: %s; only in test: %s)' % (
                root, ', '.join(only_train) or '-',
                ', '.join(only_test) or '-'))
    return train_classes, {s: found[s][1] for s in SPLITS}


def _class_files(root, root_real, class_dir, name, label):
    """The image files of class folder ``class_dir`` (class ``name``, label
    ``label``) as :func:`scan` lists them; a symlink leading outside
    ``root``, or no image file at all, is refused."""
    if not _inside(class_dir, root_real):
        raise BranchyNetError('image folder %s: symlink leads outside %s'
                              % (class_dir, root))
    files = []
    for fname in _listdir(class_dir):
        if os.path.splitext(fname)[1].lower() not in EXTENSIONS:
            continue
        path = os.path.join(class_dir, fname)
        if not _inside(path, root_real):
            raise BranchyNetError('image %s: symlink leads outside %s'
                                  % (path, root))
        try:
            st = os.stat(path)
        except OSError as e:
            raise BranchyNetError('image %s: %s' % (path, e.strerror or e)
                                  ) from None
        if not os.path.isfile(path):
            continue
        files.append((path, label, st.st_size, st.st_mtime_ns))
    if not files:
        raise BranchyNetError('image folder %s: class %r is empty (no %s '
                              'file)' % (class_dir, name,
                                         '/'.join(EXTENSIONS)))
    return files


def shuffled(files, seed=ORDER_SEED):
    """``files`` (one split, as :func:`scan` lists them) in a fixed
    pseudo-random order."""
    order = numpy.random.RandomState(seed).permutation(len(files))
    return [files[i] for i in order]


def fingerprint(root, classes, files, channels):
    """sha256 over the class list, every file's relative path, size and
    modification time, and the channels."""
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, channels, classes]).encode())
    for split in SPLITS:
        for path, label, size, mtime in files[split]:
            h.update(('%s\0%d\0%d\0%d\n' % (os.path.relpath(path, root),
                                            label, size, mtime)).encode())
    return h.hexdigest()


__all__ = ['CACHE_VERSION', 'EXTENSIONS', 'ORDER_SEED', 'SPLITS',
           'fingerprint', 'scan', 'shuffled']
