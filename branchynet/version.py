"""The package's version, in one place (``setup.py`` reads it from here;
``pcifar10``'s build record and ``branchynet.__version__`` import it)."""
__version__ = '0.1.0'
