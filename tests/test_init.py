"""The package's front door: its names load when first used, and importing
the NumPy-only modules imports no chainer (issue 32)."""
import subprocess
import sys

import pytest

import branchynet
from helpers import REPO


def _fresh(code):
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.mark.parametrize('module', ['branchynet', 'branchynet.exits.scores',
                                    'branchynet.errors',
                                    'branchynet.utils.atomic'])
def test_importing_a_light_module_imports_no_chainer(module):
    assert _fresh('import sys, %s; print("chainer" in sys.modules)'
                  % module) == ['False']


def test_every_public_name_resolves_and_chainer_then_works():
    out = _fresh('import sys, branchynet, numpy\n'
                 'print(all(getattr(branchynet, n) is not None '
                 'for n in branchynet.__all__))\n'
                 'x = numpy.zeros((1, 1, 28, 28), numpy.float32)\n'
                 'print(branchynet.b_lenet()(x)[0].shape)')
    assert out == ['True', '(1,', '10)']


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match='no_such_name'):
        branchynet.no_such_name          # noqa: B018
    assert 'BranchyNet' in dir(branchynet)
