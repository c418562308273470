"""branchynet.compat: the NumPy 2 shim for Chainer 7.8.1.

The project's stack is NumPy 2 on every supported Python (locks/cpu.txt), so
the whole suite runs chainer through the shim; these tests check the
patching itself on stand-ins for a NumPy 2 module, the version gate that
keeps it a no-op on NumPy 1, and that chainer needs it.
"""
import os
import subprocess
import sys
import types

import numpy
import pytest

from branchynet import compat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUMPY1 = int(numpy.__version__.split('.')[0]) < 2

# The scalar types _sctypes reads, taken from the installed NumPy.
TYPE_NAMES = [n for n in (
    'int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 '
    'float64 float96 float128 complex64 complex128 complex192 complex256 '
    'intp void').split() if hasattr(numpy, n)]


def numpy2_like(**extra):
    """A stand-in for the numpy 2 module: scalar types, no removed names."""
    return types.SimpleNamespace(
        **{n: getattr(numpy, n) for n in TYPE_NAMES}, **extra)


class Numpy2Module(types.ModuleType):
    """Like numpy 2: a removed name raises AttributeError from __getattr__."""

    def __getattr__(self, name):
        if name in ('sctypes', 'float'):
            raise AttributeError('`np.%s` was removed' % name)
        raise AttributeError(name)


def test_patch_adds_the_aliases():
    fake = numpy2_like()
    assert compat._patch(fake) == ['sctypes', 'float']
    assert fake.float is float
    s = fake.sctypes
    assert sorted(s) == ['complex', 'float', 'int', 'others', 'uint']
    assert s['int'][:4] == [numpy.int8, numpy.int16, numpy.int32,
                            numpy.int64]
    assert s['uint'][:4] == [numpy.uint8, numpy.uint16, numpy.uint32,
                             numpy.uint64]
    assert s['float'][:3] == [numpy.float16, numpy.float32, numpy.float64]
    assert s['complex'][:2] == [numpy.complex64, numpy.complex128]
    assert s['others'] == [bool, object, bytes, str, numpy.void]
    assert numpy.intp in s['int']
    # what chainer's as_strided does with it
    index_dtype = {t().itemsize: t for t in s['int']}
    assert index_dtype[8] is numpy.int64
    assert numpy.dtype(numpy.float32) in s['float']


def test_patch_is_idempotent():
    fake = numpy2_like()
    compat._patch(fake)
    sctypes, flt = fake.sctypes, fake.float
    assert compat._patch(fake) == []
    assert fake.sctypes is sctypes and fake.float is flt


def test_patch_never_overwrites():
    mine = object()
    fake = numpy2_like(sctypes=mine, float=mine)
    assert compat._patch(fake) == []
    assert fake.sctypes is mine and fake.float is mine
    fake = numpy2_like(float=mine)
    assert compat._patch(fake) == ['sctypes']
    assert fake.float is mine


def test_patch_on_a_module_with_numpy2_getattr():
    mod = Numpy2Module('fake_numpy')
    for n in TYPE_NAMES:
        setattr(mod, n, getattr(numpy, n))
    with pytest.raises(AttributeError):
        mod.sctypes
    assert compat._patch(mod) == ['sctypes', 'float']
    assert mod.float is float and mod.sctypes['float'][1] is numpy.float32
    assert compat._patch(mod) == []


@pytest.mark.parametrize('version,major', [
    ('1.26.4', 1), ('2.0.0rc1', 2), ('2.0.2', 2), ('2.4.6', 2), ('10.1', 10)])
def test_numpy_major(version, major):
    assert compat._numpy_major(version) == major


def test_version_gate(monkeypatch):
    calls = []
    monkeypatch.setattr(compat, '_patch',
                        lambda np_module: calls.append(np_module) or ['x'])
    monkeypatch.setattr(numpy, '__version__', '1.26.4')
    assert compat.patch_numpy_for_chainer() == [] and calls == []
    monkeypatch.setattr(numpy, '__version__', '2.0.0')
    assert compat.patch_numpy_for_chainer() == ['x'] and calls == [numpy]


def test_compat_imports_no_chainer():
    code = (
        'import importlib.util, sys\n'
        'spec = importlib.util.spec_from_file_location("c", sys.argv[1])\n'
        'm = importlib.util.module_from_spec(spec)\n'
        'spec.loader.exec_module(m)\n'
        'm.patch_numpy_for_chainer()\n'
        'assert "chainer" not in sys.modules, "compat imported chainer"\n')
    subprocess.run([sys.executable, '-c', code,
                    os.path.join(ROOT, 'branchynet', 'compat.py')],
                   check=True, timeout=120)


#: prepended to code run "without us": the venv's start-up file
#: (write_startup_hook) has put compat's hook on sys.meta_path; take it off
WITHOUT_HOOK = ('import sys\n'
                'sys.meta_path[:] = [f for f in sys.meta_path\n'
                '                    if type(f).__name__ != "ChainerFirst"]\n')


def test_the_stack_is_numpy2_and_chainer_needs_the_shim_there():
    """The locked stack is NumPy 2 on every Python; chainer fails without us."""
    assert not NUMPY1, 'the locks install NumPy 2 (locks/cpu.txt)'
    plain = subprocess.run([sys.executable, '-c',
                            WITHOUT_HOOK + 'import chainer'],
                           capture_output=True, text=True, cwd='/',
                           timeout=120)
    assert plain.returncode != 0
    assert '`np.sctypes` was removed' in plain.stderr
    shimmed = subprocess.run(
        [sys.executable, '-c', 'import branchynet, chainer, numpy; '
         'print(chainer.__version__, numpy.sctypes["float"][1].__name__)'],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert shimmed.returncode == 0, shimmed.stderr
    assert shimmed.stdout.split() == ['7.8.1', 'float32']


BLOCKED_IMPORT = '''
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    """As on Python 3.12 with NumPy 2 and setuptools >= 82."""
    def find_spec(self, name, path=None, target=None):
        if name in ('numpy.distutils', 'pkg_resources'):
            raise ModuleNotFoundError('No module named %r' % name)

sys.meta_path.insert(0, Block())
import branchynet, chainer, numpy
from branchynet.compat import import_chainer
assert 'pkg_resources' not in sys.modules, 'a stand-in stayed behind'
assert not hasattr(numpy, 'distutils')
x = numpy.zeros((2, 1, 28, 28), numpy.float32)
print(chainer.__version__, [z.shape for z in branchynet.b_lenet()(x)])
'''


def test_chainer_imports_without_numpy_distutils_and_pkg_resources():
    """Chainer's import check reads two modules Python 3.12 stacks lack."""
    proc = subprocess.run([sys.executable, '-c', BLOCKED_IMPORT],
                          capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['7.8.1', '[(2,', '10),', '(2,', '10)]']
    # and without the shim chainer's import fails there
    plain = WITHOUT_HOOK + BLOCKED_IMPORT.replace(
        'import branchynet, chainer, numpy', 'import chainer')
    proc = subprocess.run([sys.executable, '-c', plain], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode != 0
    # (on NumPy 2 it fails earlier, at np.sctypes)
    assert "No module named 'numpy.distutils'" in proc.stderr or \
        '`np.sctypes` was removed' in proc.stderr


def test_import_chainer_is_a_plain_import_where_nothing_is_missing():
    assert compat.import_chainer() == []


NETWORK_FILE_CHAINER_FIRST = '''
import chainer                      # before branchynet, as a researcher writes
import chainer.functions as F
import chainer.links as L
import branchynet


def tiny(n_classes, in_shape):
    c = in_shape[0]
    return branchynet.BranchyNet(
        [chainer.Sequential(L.Convolution2D(c, 4, 3, pad=1), F.relu)],
        [chainer.Sequential(L.Linear(None, n_classes))])
'''


def test_a_plain_import_chainer_first_works_in_the_projects_venv():
    """The start-up file the setup writes (write_startup_hook) prepares a
    plain ``import chainer`` on NumPy 2, before anything imports
    branchynet: a network file run alone, a notebook."""
    proc = subprocess.run(
        [sys.executable, '-c', 'import chainer, numpy\n'
         'print(chainer.functions.relu(numpy.ones(2, "f")).shape)'],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['(2,)']


def test_a_network_file_that_imports_chainer_first_works_alone(tmp_path):
    path = tmp_path / 'mynet.py'
    path.write_text(NETWORK_FILE_CHAINER_FIRST)
    proc = subprocess.run(
        [sys.executable, '-c', 'import sys, numpy; sys.path.insert(0, %r)\n'
         'import mynet\n'
         'm = mynet.tiny(3, (1, 4, 4))\n'
         'print(m(numpy.zeros((2, 1, 4, 4), "f"))[0].shape)' % str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['(2,', '3)']


def test_the_startup_file_imports_the_package(tmp_path):
    path = compat.write_startup_hook(str(tmp_path))
    assert path == str(tmp_path / compat.STARTUP_FILE)
    assert (tmp_path / compat.STARTUP_FILE).read_text() == 'import branchynet\n'
    assert not list(tmp_path.glob('*.tmp'))
