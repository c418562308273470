"""Bounded, verified downloads from mirrors.

A download streams into a temporary file beside its target, never more than
a size cap, and a mirror that sends nothing for ``timeout`` seconds (or takes
longer than ``deadline`` in all) is given up with a message; the file is
checked (``verify``) before it is moved into place, so nothing unverified is
ever kept (written with :func:`branchynet.utils.atomic.atomic_path`). The
data root and a data set's folder are :mod:`branchynet.data.root`'s.
"""
import http.client
import os
import sys
import time
import urllib.error
import urllib.request

from branchynet.utils.atomic import atomic_path
from branchynet.errors import BranchyNetError

#: seconds a mirror may send nothing before it is given up
#: (``$BRANCHYNET_DOWNLOAD_TIMEOUT`` overrides)
DOWNLOAD_TIMEOUT = 60.0
#: seconds one download from one mirror may take in all
DOWNLOAD_DEADLINE = 3600.0
_BLOCK = 1 << 20


def download_timeout():
    """:data:`DOWNLOAD_TIMEOUT`, or ``$BRANCHYNET_DOWNLOAD_TIMEOUT``."""
    text = os.environ.get('BRANCHYNET_DOWNLOAD_TIMEOUT')
    if not text:
        return DOWNLOAD_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float('nan')
    if not 0 < value <= DOWNLOAD_DEADLINE:   # a download's whole time
        raise BranchyNetError('BRANCHYNET_DOWNLOAD_TIMEOUT must be a number '
                              'of seconds in (0, %g], got %.40r'
                              % (DOWNLOAD_DEADLINE, text))
    return value


class _MirrorError(Exception):
    """One mirror failed (network, size, time); the next one is tried."""


def _reason(error):
    if isinstance(error, urllib.error.URLError) and not isinstance(
            error, urllib.error.HTTPError):
        error = error.reason
    if isinstance(error, TimeoutError):
        return 'timed out'
    return str(error) or type(error).__name__


def _stream(url, out, max_bytes, timeout, deadline):
    """Copy ``url`` into the open binary file ``out``; at most ``max_bytes``.

    Network failures raise :class:`_MirrorError`; write failures (a full
    disk) propagate as they are.
    """
    start = time.monotonic()
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except (urllib.error.URLError, http.client.HTTPException, OSError,
            ValueError) as e:
        raise _MirrorError(_reason(e)) from None
    with response:
        length = response.headers.get('Content-Length')
        if length and length.isdigit() and int(length) > max_bytes:
            raise _MirrorError('announces %s bytes, more than the %d expected'
                               % (length, max_bytes))
        total = 0
        while True:
            if time.monotonic() - start > deadline:
                raise _MirrorError('took longer than %g s' % deadline)
            try:
                block = response.read(_BLOCK)
            except TimeoutError:
                raise _MirrorError('sent nothing for %g s (timed out)'
                                   % timeout) from None
            except (http.client.HTTPException, OSError) as e:
                raise _MirrorError(_reason(e)) from None
            if not block:
                return total
            total += len(block)
            if total > max_bytes:
                raise _MirrorError('sends more than the %d bytes expected'
                                   % max_bytes)
            out.write(block)


def download_verified(urls, target, verify, max_bytes, timeout=None,
                      deadline=DOWNLOAD_DEADLINE):
    """Download the first of ``urls`` whose content passes ``verify``.

    Args:
        urls (list of str): mirrors, tried in order (``file://`` works too).
        target (str): where the verified file goes (atomically).
        verify (callable): ``verify(path)`` raises :class:`BranchyNetError`
            when the downloaded file is not the expected one.
        max_bytes (int): the most bytes a download may have.
        timeout (float): seconds without data before a mirror is given up
            (default :func:`download_timeout`).
        deadline (float): seconds one mirror may take in all.

    Returns:
        str: ``target``.

    Raises:
        BranchyNetError: every mirror failed; the message lists why, one
            reason per mirror.
    """
    timeout = download_timeout() if timeout is None else timeout
    failures = []
    for url in urls:
        print('branchynet: downloading %s (timeout %g s)' % (url, timeout),
              file=sys.stderr, flush=True)
        try:
            with atomic_path(target) as tmp:
                with open(tmp, 'wb') as out:
                    _stream(url, out, max_bytes, timeout, deadline)
                verify(tmp)
        except (_MirrorError, BranchyNetError) as e:
            failures.append('%s: %s' % (url, e))
            continue
        return target
    raise BranchyNetError('; '.join(failures) or 'no mirror given')


__all__ = ['DOWNLOAD_DEADLINE', 'DOWNLOAD_TIMEOUT', 'download_timeout',
           'download_verified']
