"""Let Chainer 7.8.1 import and run on NumPy 2 (a no-op on NumPy 1.x).

Chainer 7.8.1, the last release, still uses two NumPy attributes that NumPy
removed. Both are restored here, on NumPy >= 2 only, as aliases of what they
were in NumPy 1.x:

``numpy.sctypes``
    Removed in NumPy 2.0. ``chainer/functions/array/as_strided.py`` reads
    ``np.sctypes['int']`` at import time (``import chainer`` fails with
    ``AttributeError: `np.sctypes` was removed in the NumPy 2.0 release``)
    and ``np.sctypes['float']`` in ``F.as_strided``'s backward pass.
    Restored as the NumPy 1.x dict: ``'int'``, ``'uint'``, ``'float'``,
    ``'complex'`` lists of the sized scalar types this platform has, and
    ``'others': [bool, object, bytes, str, numpy.void]``.
``numpy.float``
    The alias of the builtin ``float`` (removed in NumPy 1.24).
    ``F.resize_images`` (``chainer/functions/array/resize_images.py``) uses
    ``numpy.float`` as a dtype when it runs. Restored as ``float``.

Nothing else is needed: every other NumPy name that chainer, chainermn and
onnx_chainer use (an AST scan of their sources) still exists in NumPy 2, no
module imports ``numpy.core``, and their ``copy=False`` arguments are the
``astype``/``meshgrid``/``numpy.ma`` ones, whose meaning NumPy 2 kept (the one
``xp.array(..., copy=False)``, in chainermn's mixed-precision allreduce, runs
on CuPy arrays only). The ``numpy.*`` constants of ``chainerx/__init__.py``
(``Inf``, ``NINF``, ...) are not restored: that file reads them only in a
ChainerX build, which the PyPI sdist does not make by default.

Chainer itself is not touched: only missing attributes of the ``numpy``
module are added, and an attribute that exists is never overwritten.

On Python 3.12 (NumPy 2, a setuptools without ``pkg_resources``) chainer's
import-time environment check also reads two modules that no longer exist:
:func:`import_chainer` imports chainer with stand-ins for them.

Usage: ``branchynet/__init__.py`` calls :func:`install_import_hook`, which
costs nothing until chainer is imported: the first ``import chainer`` (or
``chainer.functions``, ...) after it patches NumPy and imports chainer as
:func:`import_chainer` does. So ``import branchynet.exits.scores`` does not
import chainer, and every module that does gets a working one. By hand, call
:func:`patch_numpy_for_chainer` (or :func:`import_chainer`) before the
first ``import chainer`` anywhere in the process::

    from branchynet.compat import patch_numpy_for_chainer
    patch_numpy_for_chainer()
    import chainer

This module imports only the standard library and NumPy, so importing it
never imports chainer. The call is idempotent. ``numpy.float`` on NumPy 1.24
to 1.26 is deliberately left alone there: on NumPy 1.x nothing is patched.
"""
__all__ = ['import_chainer', 'install_import_hook', 'patch_numpy_for_chainer',
           'write_startup_hook']

# The names _patch restores, in order.
PATCHED_NAMES = ('sctypes', 'float')


def _sctypes(np_module):
    """NumPy 1.x's ``numpy.sctypes`` dict, built from ``np_module``'s types.

    Mirrors ``numpy.core.numerictypes._set_array_types`` of NumPy 1.26: the
    sized types that exist on this platform, smallest first, then ``intp``
    added to ``'int'`` if it is not there yet. Uses ``longdouble`` and
    ``clongdouble`` for the extended types, the names NumPy 1.26 lists them
    under (they are the same type objects as ``float128``/``complex256``).
    """
    sized = {
        'int': ('int', (8, 16, 32, 64, 128, 256)),
        'uint': ('uint', (8, 16, 32, 64, 128, 256)),
        'float': ('float', (16, 32, 64, 80, 96, 128, 256)),
        'complex': ('complex', (32, 64, 128, 160, 192, 256, 512)),
    }
    sctypes = {}
    for key, (prefix, bits) in sized.items():
        types = []
        for b in bits:
            t = getattr(np_module, '%s%d' % (prefix, b), None)
            if isinstance(t, type) and t not in types:
                types.append(t)
        sctypes[key] = types
    intp = getattr(np_module, 'intp', None)
    if isinstance(intp, type) and intp not in sctypes['int']:
        sctypes['int'].append(intp)
    void = getattr(np_module, 'void', None)
    sctypes['others'] = [bool, object, bytes, str]
    if void is not None:
        sctypes['others'].append(void)
    return sctypes


def _has(np_module, name):
    # NumPy 2's module __getattr__ raises AttributeError (with a removal
    # note) for a removed name, so hasattr is False for it.
    try:
        getattr(np_module, name)
    except AttributeError:
        return False
    return True


def _patch(np_module):
    """Add the aliases chainer needs to ``np_module``; the names added.

    Works on any module-like object (the tests pass a stand-in). An
    attribute that ``np_module`` already has is never overwritten, so a
    second call adds nothing and returns ``[]``. The NumPy version is not
    checked here; :func:`patch_numpy_for_chainer` does that.
    """
    makers = {
        'sctypes': lambda: _sctypes(np_module),
        'float': lambda: float,
    }
    patched = []
    for name in PATCHED_NAMES:
        if not _has(np_module, name):
            setattr(np_module, name, makers[name]())
            patched.append(name)
    return patched


def _numpy_major(version):
    return int(version.split('.', 1)[0])


def patch_numpy_for_chainer():
    """Make the installed NumPy usable by Chainer 7.8.1; the names added.

    On NumPy < 2 this does nothing and returns ``[]``. On NumPy >= 2 it adds
    ``numpy.sctypes`` and ``numpy.float`` where missing (see the module
    docstring) and returns the names it added: ``['sctypes', 'float']`` the
    first time, ``[]`` afterwards. Call it before ``import chainer``; called
    later, ``import chainer`` has already failed on NumPy 2.
    """
    import numpy
    if _numpy_major(numpy.__version__) < 2:
        return []
    return _patch(numpy)


def _importable(name):
    import importlib.util
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):    # no parent package; a None entry
        return False


def _stub_modules():
    """Stand-ins for the two build-tool modules chainer's import check reads.

    ``chainer/_environment_check.py`` imports ``numpy.distutils.system_info``
    (NumPy has none on Python >= 3.12) to inspect BLAS on macOS only, and
    ``pkg_resources`` (gone from setuptools 82) to warn about versions of
    optional packages. The stand-ins answer "no BLAS info" and "optional
    package not installed", which only skips those warnings.
    """
    import types
    stubs = {}
    if not _importable('numpy.distutils'):
        distutils = types.ModuleType('numpy.distutils')
        system_info = types.ModuleType('numpy.distutils.system_info')
        system_info.get_info = lambda name, notfound_action=0: {}
        distutils.system_info = system_info
        stubs['numpy.distutils'] = distutils
        stubs['numpy.distutils.system_info'] = system_info
    if not _importable('pkg_resources'):
        pkg = types.ModuleType('pkg_resources')

        class DistributionNotFound(Exception):
            pass

        class VersionConflict(Exception):
            pass

        def require(requirement):
            raise DistributionNotFound(requirement)
        pkg.DistributionNotFound = DistributionNotFound
        pkg.VersionConflict = VersionConflict
        pkg.require = require
        pkg.get_distribution = require
        stubs['pkg_resources'] = pkg
    return stubs


def import_chainer():
    """``import chainer`` on NumPy 2 and Python 3.12 too; the stubs used.

    Patches NumPy (:func:`patch_numpy_for_chainer`), then imports chainer
    with the stand-ins of :func:`_stub_modules` in ``sys.modules`` for the
    modules that are missing, and removes them again afterwards, so nothing
    else in the process sees a fake ``pkg_resources``. Where both modules
    exist (Python 3.11, setuptools < 74) it is a plain ``import chainer``.

    Returns:
        list of str: the names of the modules that were stubbed.
    """
    import sys
    patch_numpy_for_chainer()
    if 'chainer' in sys.modules:
        return []
    with _stand_ins() as stubs:
        import chainer  # noqa: F401
    return sorted(stubs)


class _stand_ins:
    """The stand-ins of :func:`_stub_modules` in ``sys.modules`` (and
    ``numpy.distutils``) while chainer's ``__init__`` runs, removed after,
    so nothing else in the process sees a fake ``pkg_resources``; ``with``
    gives the stubbed names' dict."""

    def __enter__(self):
        import sys
        import numpy
        self.stubs = _stub_modules()
        sys.modules.update(self.stubs)
        if 'numpy.distutils' in self.stubs:
            numpy.distutils = self.stubs['numpy.distutils']
        return self.stubs

    def __exit__(self, *exc):
        import sys
        import numpy
        for name in self.stubs:
            sys.modules.pop(name, None)
        if 'numpy.distutils' in self.stubs:
            del numpy.distutils
        return False


class _StubbedLoader:
    """Chainer's own loader, run with the stand-ins of :func:`_stub_modules`
    in ``sys.modules`` while chainer's ``__init__`` runs (its import check),
    removed afterwards as :func:`import_chainer` removes them."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):          # get_resource_reader, is_package
        return getattr(self._real, name)

    def create_module(self, spec):
        return self._real.create_module(spec)

    def exec_module(self, module):
        with _stand_ins():
            self._real.exec_module(module)


class ChainerFirst:
    """A meta path finder that prepares the first ``import chainer``: NumPy
    patched (:func:`patch_numpy_for_chainer`), chainer's loader run with the
    stand-ins (:class:`_StubbedLoader`). It leaves ``sys.meta_path`` at its
    first use; other names it leaves to the finders after it."""

    def find_spec(self, name, path=None, target=None):
        if name != 'chainer':
            return None
        import importlib.machinery
        import sys
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        patch_numpy_for_chainer()
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _StubbedLoader(spec.loader)
        return spec


#: the start-up file :func:`write_startup_hook` puts in site-packages
STARTUP_FILE = 'branchynet-chainer-numpy2.pth'


def write_startup_hook(site_dir=None):
    """Make a plain ``import chainer`` work in this environment, before
    anything imports branchynet (a network file or a notebook that imports
    chainer first): a ``.pth`` file in ``site_dir`` (default: this
    interpreter's site-packages) whose line ``import branchynet`` runs at
    every interpreter start and installs :func:`install_import_hook` (a
    few milliseconds: the package root imports no chainer and no NumPy).
    The project's setup (``scripts/setup_venv.sh``, the Docker images)
    calls it. Returns the file's path."""
    import os
    import sysconfig
    site_dir = site_dir or sysconfig.get_paths()['purelib']
    path = os.path.join(site_dir, STARTUP_FILE)
    with open(path + '.tmp', 'w') as f:
        f.write('import branchynet\n')
    os.replace(path + '.tmp', path)
    return path


def install_import_hook():
    """Put :class:`ChainerFirst` first on ``sys.meta_path``, unless chainer
    is imported already (then :func:`import_chainer` prepared it, or it
    failed) or the hook is there. Imports nothing; idempotent."""
    import sys
    if 'chainer' in sys.modules or any(isinstance(f, ChainerFirst)
                                       for f in sys.meta_path):
        return
    sys.meta_path.insert(0, ChainerFirst())


if __name__ == '__main__':  # pragma: no cover - a manual check
    import numpy
    print('numpy', numpy.__version__, 'patched:', patch_numpy_for_chainer())
