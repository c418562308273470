"""SHA256SUMS manifests, and the sha256 of arrays (branchynet.utils.digest)."""
import hashlib
import os

import numpy
import pytest

from branchynet.errors import BranchyNetError
from branchynet.utils.digest import (MANIFEST, check_manifest, read_manifest,
                                     sha256_of, sha256_of_arrays,
                                     write_manifest_text)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / 'a.npz').write_bytes(b'weights')
    (tmp_path / 'b.json').write_text('{}')
    (tmp_path / MANIFEST).write_text(
        write_manifest_text(str(tmp_path), ['b.json', 'a.npz']))
    return tmp_path


def test_the_manifest_is_sha256sum_format_sorted(folder):
    lines = (folder / MANIFEST).read_text().splitlines()
    assert lines == ['%s  a.npz' % hashlib.sha256(b'weights').hexdigest(),
                     '%s  b.json' % hashlib.sha256(b'{}').hexdigest()]
    assert read_manifest(str(folder)) == {
        'a.npz': sha256_of(str(folder / 'a.npz')),
        'b.json': sha256_of(str(folder / 'b.json'))}
    check_manifest(str(folder))


@pytest.mark.parametrize('line', [
    'zz' * 32 + '  a.npz', '0' * 64 + '  ../a.npz', '0' * 64 + ' a.npz',
    '0' * 64 + '  sub/a.npz', '0' * 63 + '  a.npz'])
def test_a_malformed_line_is_refused(folder, line):
    (folder / MANIFEST).write_text(line + '\n')
    with pytest.raises(BranchyNetError, match='line 1 is not'):
        read_manifest(str(folder))


def test_a_name_listed_twice_is_refused(folder):
    text = (folder / MANIFEST).read_text()
    (folder / MANIFEST).write_text(text + text.splitlines()[0] + '\n')
    with pytest.raises(BranchyNetError, match='line 3'):
        read_manifest(str(folder))


def test_an_empty_or_huge_manifest_is_refused(folder):
    (folder / MANIFEST).write_text('')
    with pytest.raises(BranchyNetError, match='lists no files'):
        read_manifest(str(folder))
    (folder / MANIFEST).write_text('x' * (64 * 1024 + 1))
    with pytest.raises(BranchyNetError, match='larger than'):
        read_manifest(str(folder))


def test_a_changed_file_is_named(folder):
    (folder / 'b.json').write_text('{"x": 1}')
    with pytest.raises(BranchyNetError, match=r'b\.json is not the file '
                       r'shipped'):
        check_manifest(str(folder))


def test_a_fifo_is_not_read(folder):
    os.unlink(folder / 'a.npz')
    os.mkfifo(folder / 'a.npz')          # opening it would wait forever
    with pytest.raises(BranchyNetError, match='not a regular file'):
        check_manifest(str(folder))
    os.unlink(folder / MANIFEST)
    os.mkfifo(folder / MANIFEST)
    with pytest.raises(BranchyNetError, match='SHA256SUMS is missing'):
        read_manifest(str(folder))


def test_arrays_digest_their_bits_dtype_shape_and_order():
    x = numpy.arange(12, dtype=numpy.float32).reshape(3, 4)
    y = numpy.arange(3, dtype=numpy.int32)
    digest = sha256_of_arrays(x, y)
    assert digest == sha256_of_arrays(x.copy(), y.copy())
    assert digest == sha256_of_arrays(numpy.asfortranarray(x), y)
    one_ulp = x.copy()
    one_ulp[1, 2] = numpy.nextafter(one_ulp[1, 2], numpy.float32(99))
    for other in [(one_ulp, y), (x.astype(numpy.float64), y),
                  (x.reshape(4, 3), y), (y, x), (x, y[::-1].copy())]:
        assert sha256_of_arrays(*other) != digest
    empty = numpy.zeros((0, 3), numpy.float32)
    assert sha256_of_arrays(empty) != sha256_of_arrays(empty.reshape(3, 0))
