"""Atomic writes keep the umask's mode and leave nothing half-written;
leftovers of a killed run are removed."""
import errno
import os
import stat
import time

import pytest

from branchynet.utils.atomic import (TMP_PREFIX, atomic_path, current_umask,
                               remove_leftovers, write_bytes_atomic,
                               write_json_atomic)
from helpers import files_in


@pytest.fixture
def umask():
    def set_mask(mask):
        os.umask(mask)
    old = os.umask(0o022)
    yield set_mask
    os.umask(old)


@pytest.mark.parametrize('mask', [0o022, 0o002, 0o077, 0o000])
def test_mode_follows_the_umask(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    write_bytes_atomic(tmp_path / 'a.bin', b'x')
    write_json_atomic(tmp_path / 'b.json', {'a': 1})
    plain = tmp_path / 'plain'
    plain.write_bytes(b'x')
    for name in ('a.bin', 'b.json'):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o666 & ~mask == stat.S_IMODE(plain.stat().st_mode)


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / 'table.md'
    target.write_text('old')

    def fill_disk(path):
        with atomic_path(path) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half')
            raise OSError(errno.ENOSPC, 'No space left on device')
    with pytest.raises(OSError) as error:
        fill_disk(target)
    assert error.value.errno == errno.ENOSPC
    assert target.read_text() == 'old'
    assert files_in(tmp_path) == ['table.md']


def age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_remove_leftovers(tmp_path):
    (tmp_path / 'phase1' / 'tmpsnapshot_iter_7abc').mkdir(parents=True)
    (tmp_path / 'phase1' / 'tmpsnapshot_iter_7abc' / 'snapshot_iter_7'
     ).write_bytes(b'half')
    (tmp_path / 'phase1' / (TMP_PREFIX + 'x1.npz')).write_bytes(b'half')
    (tmp_path / (TMP_PREFIX + 'x2.json')).write_bytes(b'half')
    (tmp_path / '.tmp-other.json').write_bytes(b'not ours')
    (tmp_path / 'tmp_not_ours').mkdir()               # not Chainer's prefix
    (tmp_path / 'phase1' / 'snapshot_iter_5').write_bytes(b'kept')
    (tmp_path / 'baseline.npz').write_bytes(b'kept')
    removed = remove_leftovers(str(tmp_path))
    assert removed == sorted([str(tmp_path / (TMP_PREFIX + 'x2.json')),
                              str(tmp_path / 'phase1' / (TMP_PREFIX +
                                                         'x1.npz'))])
    assert (tmp_path / 'phase1' / 'tmpsnapshot_iter_7abc').exists()
    removed = remove_leftovers(str(tmp_path), snapshot_dirs=True)
    assert removed == [str(tmp_path / 'phase1' / 'tmpsnapshot_iter_7abc')]
    assert files_in(tmp_path) == ['.tmp-other.json', 'baseline.npz',
                                  'phase1/snapshot_iter_5']
    assert (tmp_path / 'tmp_not_ours').is_dir()


def test_remove_leftovers_of_one_folder_only(tmp_path):
    (tmp_path / 'below').mkdir()
    top, below = (tmp_path / (TMP_PREFIX + 'a'),
                  tmp_path / 'below' / (TMP_PREFIX + 'b'))
    top.write_bytes(b'')
    below.write_bytes(b'')
    assert remove_leftovers(str(tmp_path), recursive=False) == [str(top)]
    assert below.exists()


def test_atomic_temporaries_have_the_prefix_the_cleanup_removes(tmp_path):
    with atomic_path(str(tmp_path / 'a.json')) as tmp:
        assert os.path.basename(tmp).startswith(TMP_PREFIX)
        assert remove_leftovers(str(tmp_path)) == [tmp]
        open(tmp, 'w').close()


def test_remove_leftovers_spares_young_temporaries(tmp_path):
    old, young = (tmp_path / (TMP_PREFIX + 'old'),
                  tmp_path / (TMP_PREFIX + 'young'))
    old.write_bytes(b'')
    young.write_bytes(b'')
    age(old, 3600)
    assert remove_leftovers(str(tmp_path), older_than=600) == [str(old)]
    assert young.exists()


def test_remove_leftovers_of_a_missing_folder(tmp_path):
    assert remove_leftovers(str(tmp_path / 'nothing')) == []
