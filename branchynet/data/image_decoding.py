"""Images decoded with Pillow into ``uint8`` arrays, each checked.

:func:`decode_all` decodes one split's files (as
:func:`~branchynet.data.image_files.scan` lists them) into one preallocated
``uint8`` ``(N, C, H, W)`` array: sizes are read from the headers before
anything is decoded (memory: the data set's bytes, one image at a time
besides). Refused, each one line (:class:`~branchynet.errors.BranchyNetError`)
naming the file:

- an image Pillow cannot read: corrupt or truncated;
- a decompression bomb: more than Pillow's ``Image.MAX_IMAGE_PIXELS``
  pixels (its warning is an error here), or more than :data:`MAX_BYTES` of
  decoded arrays in all;
- mixed sizes (every image must have the first one's width and height, and
  the network's when a shape is required), or an unsupported mode (``L``,
  ``P``, ``RGB`` are converted to the channels
  wanted; ``RGBA``, ``CMYK``, 16-bit, a palette with transparency and others
  are refused).

Every image is opened only when it is a regular file
(:mod:`branchynet.data.files`).
"""
import contextlib
import warnings

import numpy

from branchynet.data.files import open_regular
from branchynet.errors import BranchyNetError

#: the most bytes the decoded uint8 arrays may take together
MAX_BYTES = 8 * 2 ** 30
#: image modes converted; anything else is refused
MODES = ('1', 'L', 'P', 'RGB')


def pillow():
    """Pillow's ``Image`` module; its absence is one line."""
    try:
        from PIL import Image
    except ImportError:                  # pragma: no cover
        raise BranchyNetError('reading image folders needs Pillow (pip '
                              'install Pillow)') from None
    return Image


@contextlib.contextmanager
def opened_image(Image, path):
    """The opened image (header only), from a regular file only (a FIFO
    is one line, never a wait); closed after the block."""
    try:
        f = open_regular(path, 'image')
    except OSError as e:
        raise BranchyNetError('image %s: cannot be read (%s)'
                              % (path, e.strerror or e)) from None
    with f:
        im = _open(Image, f, path)
        try:
            yield im
        finally:
            im.close()


def _open(Image, f, path):
    """The image of open file ``f`` (header only); bombs and unreadable
    files are one line naming ``path``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('error', Image.DecompressionBombWarning)
            return Image.open(f)
    except (Image.DecompressionBombError,
            Image.DecompressionBombWarning) as e:
        raise BranchyNetError('image %s: refused as a decompression bomb '
                              '(%s)' % (path, ' '.join(str(e).split())[:200])
                              ) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise BranchyNetError('image %s: not a readable image, truncated or '
                              'corrupt (%s)' % (
            path, ' '.join(str(e).split())[:200] or type(e).__name__)
        ) from None


def _decode(Image, path, channels, size, what):
    with opened_image(Image, path) as im:
        if im.size != size:
            raise BranchyNetError('image %s is %dx%d, not %dx%d like %s '
                                  '(mixed sizes: resize them all to one '
                                  'size first)' % ((path,) + im.size + size
                                                   + (what,)))
        if im.mode not in MODES:
            raise BranchyNetError('image %s has mode %s, not one of %s'
                                  % (path, im.mode, ', '.join(MODES)))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('error', Image.DecompressionBombWarning)
                im.load()
            if im.mode == 'P' and 'transparency' in im.info:
                raise BranchyNetError('image %s is a palette image with '
                                      'transparency' % path)
            a = numpy.asarray(im.convert('RGB' if channels == 3 else 'L'),
                              dtype=numpy.uint8)
        except BranchyNetError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise BranchyNetError('image %s: truncated or corrupt (%s)' % (
                path, ' '.join(str(e).split())[:200] or type(e).__name__)
            ) from None
    return a.transpose(2, 0, 1) if channels == 3 else a[None]


def decode_all(files, channels=3, size=None, max_bytes=MAX_BYTES,
               what='the size required'):
    """Decode ``files`` (as :func:`~branchynet.data.image_files.scan`
    returns them, one split) into ``(uint8 (N, C, H, W), int32 (N,))``;
    ``size`` ``(W, H)`` or None for the first image's; ``what`` names where
    the size comes from."""
    Image = pillow()
    if not files:
        raise BranchyNetError('no images')
    if size is None:
        with opened_image(Image, files[0][0]) as im:
            size, what = im.size, 'the first image %s' % files[0][0]
    n = len(files)
    need = n * channels * size[0] * size[1]
    if need > max_bytes:
        raise BranchyNetError('image %s: %d images of %dx%d would take %d '
                              'bytes decoded, more than the %d allowed' % (
                                  files[0][0], n, size[0], size[1], need,
                                  max_bytes))
    x = numpy.empty((n, channels, size[1], size[0]), numpy.uint8)
    y = numpy.empty(n, numpy.int32)
    for i, (path, label, _, _) in enumerate(files):
        x[i] = _decode(Image, path, channels, size, what)
        y[i] = label
    return x, y


__all__ = ['MAX_BYTES', 'MODES', 'decode_all', 'opened_image', 'pillow']
