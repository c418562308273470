"""BranchyNet: fast inference via early exiting, on Chainer 7.

Install with the hash-pinned stack (see README): scripts/setup_venv.sh,
which installs locks/cpu.txt (generated from requirements.txt by
scripts/lock.sh) and then this package.
"""
import pathlib
import re

from setuptools import find_packages, setup

# the one place the version is written (importing the package would need
# its dependencies)
VERSION = re.search(r"^__version__ = '([^']+)'$", (pathlib.Path(
    __file__).parent / 'branchynet' / 'version.py').read_text(), re.M)[1]

setup(
    name='branchynet',
    version=VERSION,
    description='BranchyNet (Teerapittayanon, McDanel, Kung, ICPR 2016) '
                'reproduced on Chainer 7 / CuPy',
    packages=find_packages(include=['branchynet', 'branchynet.*']),
    # the Pythons CI tests (scripts/pythons.sh)
    python_requires='>=3.10,<3.15',
    classifiers=[
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'Programming Language :: Python :: 3.13',
        'Programming Language :: Python :: 3.14',
    ],
    install_requires=[
        'chainer==7.8.1',
        'numpy>=2,<3',
        'scipy>=1.10',
        'matplotlib>=3.5',
        'pillow>=10',
        'filelock>=3',
        # chainer's import-time check reads pkg_resources
        'setuptools>=70.1,<74',
    ],
    entry_points={'console_scripts': ['branchynet=branchynet.cli:main']},
)
