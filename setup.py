"""BranchyNet: fast inference via early exiting, on Chainer 7.

Install with the pinned stack (see README):

    PIP_CONSTRAINT=constraints.txt PIP_BUILD_CONSTRAINT=constraints.txt \
        pip install -r requirements.txt -e .
"""
from setuptools import find_packages, setup

setup(
    name='branchynet',
    version='0.1.0',
    description='BranchyNet (Teerapittayanon, McDanel, Kung, ICPR 2016) '
                'reproduced on Chainer 7 / CuPy',
    packages=find_packages(include=['branchynet', 'branchynet.*']),
    python_requires='>=3.9,<3.12',
    install_requires=[
        'chainer==7.8.1',
        'numpy>=1.26,<3',
        'scipy>=1.10',
        'matplotlib>=3.5',
    ],
    entry_points={'console_scripts': ['branchynet=branchynet.cli:main']},
)
