"""Data sets: loading by name, and the validation split used to tune thresholds.

This file only re-exports, and registers the data sets and the sources one
line each, so that it is the list of what :mod:`branchynet.data` offers.

Every function takes the **data root**, the folder holding ``mnist/``,
``cifar10/`` and ``pcifar10/`` (as ChainerCV's dataset root); ``'auto'`` is
:func:`get_data_root`'s default. The modules: :mod:`.root` (the data root
and a data set's folder in it), :mod:`.download` (bounded verified
downloads), :mod:`.mnist`, :mod:`.cifar10` (the official python batches),
:mod:`.safe_pickle` (their restricted unpickling), :mod:`.pcifar10` (its
recipes and ``data.npz``), :mod:`.normalisation` (the recipes' arithmetic:
ZCA whitening, min-max, contrast normalisation), :mod:`.user_npz` (a user's
own data set file, validated), :mod:`.images` (an image folder as a data
set, its decoded images cached), :mod:`.image_files` (its files found,
checked, ordered, fingerprinted), :mod:`.image_decoding` (its images
decoded and checked), :mod:`.files` (every data file is opened only when it
is a regular file, never waiting on a FIFO; a data set's folder is checked
before anything is downloaded into it), :mod:`.registry` (the two
registries), :mod:`.loading` (a data set by name: resolved, described, its
classes checked, loaded) and :mod:`.splits` (the validation split, and the
three splits of a data set).

A data set name is ``mnist``, ``pcifar10``, ``npz:PATH``: a user's own
file (:func:`~branchynet.data.user_npz.load_user_npz`) standing in for the
experiment's data set, with its image shape and classes, or ``images:DIR``:
an image folder ``DIR/{train,test}/CLASS/*.png|jpg|jpeg|bmp``
(:mod:`.images`), pixels scaled to [0, 1], standing in the same way (the
images must have the network's size; at most its number of classes).

The named data sets and the sources are registries (:mod:`.registry`):
:data:`DATASETS` (name -> :class:`~.registry.DatasetSpec`: loader, image
shape, classes, size; each module's ``SPEC``) and :data:`SOURCES` (prefix
-> :class:`~.registry.DataSource`; each module's ``SOURCE``).
"""
from branchynet.data import images, mnist, pcifar10, user_npz
from branchynet.data.cifar10 import CIFAR10_CLASSES
from branchynet.data.root import get_data_root
from branchynet.data.images import IMAGES_PREFIX
from branchynet.data.loading import (check_classes, dataset_classes,
                                     dataset_origin, describe_dataset,
                                     load_dataset, resolve_dataset)
from branchynet.data.mnist import get_mnist
from branchynet.data.pcifar10 import get_pcifar10
from branchynet.data.registry import (DATASETS, SOURCES, DatasetSpec,
                                      DataSource, register_dataset,
                                      register_source, source_of)
from branchynet.data.splits import load_splits, split_validation
from branchynet.data.user_npz import USER_PREFIX, load_user_npz

register_dataset(mnist.SPEC)
register_dataset(pcifar10.SPEC)

register_source(user_npz.SOURCE)
register_source(images.SOURCE)

#: image shape ``(C, H, W)`` and classes of each named data set (a view of
#: :data:`DATASETS`)
SHAPES = DATASETS.view(lambda spec: (spec.shape, spec.n_classes))

__all__ = ['CIFAR10_CLASSES', 'DATASETS', 'DataSource', 'DatasetSpec',
           'IMAGES_PREFIX', 'SHAPES', 'SOURCES', 'USER_PREFIX',
           'check_classes', 'dataset_classes', 'dataset_origin',
           'describe_dataset', 'get_data_root', 'get_mnist', 'get_pcifar10',
           'load_dataset', 'load_splits', 'load_user_npz',
           'register_dataset', 'register_source', 'resolve_dataset',
           'source_of', 'split_validation']
