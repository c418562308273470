"""Saving and loading trained networks: npz weights plus a JSON of settings.

``NAME.npz`` holds the parameters (Chainer's npz serializer); ``NAME.json``
holds the network name and the settings needed to rebuild it. Loading reads
the npz with ``allow_pickle=False``, so a model file can never execute code
(Chainer's own ``load_npz`` allows pickle).
"""
import json
import os

import chainer
import numpy

from branchynet.data.download import atomic_path, write_json_atomic
from branchynet.errors import BranchyNetError
from branchynet.networks import NETWORKS


def load_npz_safe(path, obj, strict=True):
    """Deserialize ``obj`` from an npz file without allowing pickle."""
    try:
        with numpy.load(path, allow_pickle=False) as npz:
            chainer.serializers.NpzDeserializer(npz, strict=strict).load(obj)
    except (OSError, ValueError, KeyError) as e:
        raise BranchyNetError('cannot load %s: %s' % (path, e)) from None


def save_npz_atomic(path, obj):
    """Chainer's ``save_npz``, written to a temporary file and moved in."""
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as f:
            chainer.serializers.save_npz(f, obj)


def model_paths(prefix):
    """``(PREFIX.npz, PREFIX.json)`` for a prefix with or without ``.npz``."""
    if prefix.endswith('.npz') or prefix.endswith('.json'):
        prefix = os.path.splitext(prefix)[0]
    return prefix + '.npz', prefix + '.json'


def save_model(prefix, model, info):
    """Save ``model`` as ``PREFIX.npz`` and ``info`` as ``PREFIX.json``.

    Args:
        prefix (str): output path without extension.
        model (BranchyNet): the network (any device).
        info (dict): JSON-serialisable settings; must hold ``network`` (a key
            of :data:`~branchynet.networks.NETWORKS`).
    """
    if info.get('network') not in NETWORKS:
        raise ValueError('info needs a known network name')
    npz_path, json_path = model_paths(prefix)
    save_npz_atomic(npz_path, model)
    write_json_atomic(json_path, info)


def load_model(prefix):
    """Rebuild and load a model saved by :func:`save_model`.

    Returns:
        tuple: ``(model, info)``; the model is on the CPU.
    """
    npz_path, json_path = model_paths(prefix)
    for path in (npz_path, json_path):
        if not os.path.exists(path):
            raise BranchyNetError('model file %s does not exist' % path)
    try:
        with open(json_path) as f:
            info = json.load(f)
    except (OSError, ValueError) as e:
        raise BranchyNetError('cannot read %s: %s' % (json_path, e)) from None
    network = info.get('network') if isinstance(info, dict) else None
    if network not in NETWORKS:
        raise BranchyNetError('%s names no known network (got %r)'
                              % (json_path, network))
    model = NETWORKS[network]()
    load_npz_safe(npz_path, model)
    return model, info
