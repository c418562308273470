"""Shared helpers of the core tests: tiny networks and tiny MNIST files.

Fixtures (none is autouse, so other test files are unaffected):

- ``tiny_branchynet(seed=0, n_exits=3)``: a BranchyNet of small Linear
  layers on 8-d inputs (fast enough to run thousands of times).
- ``synthetic_digits(n, seed)``: uint8 28x28 images and labels, one bright
  square per class (separable).
- ``tiny_mnist(directory, n_train, n_test, gz=True)``: four IDX files of
  class-dependent 28x28 images; returns the raw arrays and the sha256 of the
  decompressed files (what :func:`branchynet.data.get_mnist` checks).
- ``data_root``: ``$BRANCHYNET_DATA_ROOT`` pointed at a fresh temporary
  folder, so no test touches the repository's data folder or the user's.
- ``silent_server``: the URL of an HTTP 'mirror' on loopback that accepts
  connections and never answers (download time-outs).
- ``user_networks``: the networks and experiments a test registers (a
  user's own, ``--network``) are removed after it.
"""
import contextlib
import gzip
import hashlib
import pathlib
import socket
import threading

import branchynet  # noqa: F401  (first: patches NumPy 2 before chainer)
import chainer
import chainer.links as L
import numpy
import pytest

from branchynet.networks.model import BranchyNet

MNIST_NAMES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
               't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')


def idx_bytes(array):
    """IDX encoding of a uint8 array: magic 0x0000 08 ndim, big-endian dims."""
    array = numpy.ascontiguousarray(array, numpy.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    for n in array.shape:
        header += int(n).to_bytes(4, 'big')
    return header + array.tobytes()


def _write_idx(path, array, gz=True):
    data = idx_bytes(array)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _synthetic_digits(n, seed):
    """``n`` 28x28 uint8 images whose class shows as a bright 6x6 square.

    Class ``c`` puts the square at one of 10 fixed places, over noise, so a
    network can separate the classes; labels cycle through all 10 classes.
    """
    rng = numpy.random.RandomState(seed)
    labels = (numpy.arange(n) % 10).astype(numpy.uint8)
    rng.shuffle(labels)
    images = rng.randint(0, 60, size=(n, 28, 28)).astype(numpy.uint8)
    for i, c in enumerate(labels):
        r, col = 2 + 12 * (c // 5), 2 + 5 * (c % 5)
        images[i, r:r + 6, col:col + 6] = 255
    return images, labels


def _tiny_mnist(directory, n_train=64, n_test=16, gz=True, seed=0):
    """Write the four MNIST files; ``gz`` may be a bool or a per-file dict."""
    directory = pathlib.Path(directory)
    x_train, y_train = _synthetic_digits(n_train, seed)
    x_test, y_test = _synthetic_digits(n_test, seed + 1)
    arrays = dict(zip(MNIST_NAMES, (x_train, y_train, x_test, y_test)))
    checksums = {}
    for name, array in arrays.items():
        zipped = gz[name] if isinstance(gz, dict) else gz
        filename = name + '.gz' if zipped else name
        checksums[name] = _write_idx(directory / filename, array, zipped)
    return arrays, checksums


def _tiny_branchynet(seed=0, n_exits=3, n_in=8, n_classes=4):
    numpy.random.seed(seed)
    stages = [L.Linear(n_in, 16)] + [
        chainer.Sequential(chainer.functions.relu, L.Linear(16, 16))
        for _ in range(n_exits - 1)]
    exits = [L.Linear(16, n_classes) for _ in range(n_exits)]
    return BranchyNet(stages, exits)


@pytest.fixture(scope='session')
def tiny_branchynet():
    return _tiny_branchynet


@pytest.fixture(scope='session')
def synthetic_digits():
    return _synthetic_digits


@pytest.fixture(scope='session')
def tiny_mnist():
    return _tiny_mnist


@pytest.fixture
def user_networks():
    """The user networks a test registers are forgotten after it (their
    experiments go with them: they are derived from the registry)."""
    from branchynet.networks.registry import REGISTRY
    before = set(REGISTRY)
    yield
    for name in set(REGISTRY) - before:
        REGISTRY.unregister(name)


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    root = tmp_path / 'data_root'
    root.mkdir()
    monkeypatch.setenv('BRANCHYNET_DATA_ROOT', str(root))
    return root


@pytest.fixture
def silent_server():
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(8)
    held = []

    def accept():
        with contextlib.suppress(OSError):
            while True:
                held.append(server.accept()[0])
    threading.Thread(target=accept, daemon=True).start()
    yield 'http://127.0.0.1:%d/' % server.getsockname()[1]
    server.close()
    for connection in held:
        connection.close()
