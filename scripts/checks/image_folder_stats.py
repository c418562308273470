"""The sanity check of an image folder against CIFAR-10's known statistics.

    python scripts/checks/image_folder_stats.py DIR [--data-dir ROOT]

Reads ``DIR/{train,test}/CLASS/*`` as ``branchynet train --dataset
images:DIR`` does (:mod:`branchynet.data.images`: checked, decoded once and
cached in ``ROOT/images-cache/``) and prints, per split, the per-channel
mean and standard deviation of the pixels in [0, 1] scale (over all pixels
of all images, float64) and the images per class, with CIFAR-10's published
training-set values beside them (mean 0.4914 / 0.4822 / 0.4465, std
0.2470 / 0.2435 / 0.2616). Exit status 2 with one line for a bad folder.
"""
import argparse
import sys

import numpy

#: CIFAR-10's training set, per channel (R, G, B), pixels / 255
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def main(argv=None):
    from branchynet.data.images import channel_statistics, load_image_folder
    from branchynet.errors import BranchyNetError
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('folder')
    p.add_argument('--data-dir', default='auto',
                   help='data root for the decoded-images cache')
    args = p.parse_args(argv)
    try:
        (x, y, tx, ty), classes = load_image_folder(args.folder,
                                                    data_root=args.data_dir)
    except BranchyNetError as e:
        print('image_folder_stats: error: %s' % e, file=sys.stderr)
        return 2
    print('classes: %s' % ', '.join('%d: %s' % (i, c)
                                     for i, c in enumerate(classes)))
    for name, xs, ys in (('train', x, y), ('test', tx, ty)):
        mean, std = channel_statistics(xs)
        print('%s: %d images %s; mean %s; std %s' % (
            name, len(xs), 'x'.join(map(str, xs.shape[1:])),
            ' / '.join('%.4f' % v for v in mean),
            ' / '.join('%.4f' % v for v in std)))
        print('  per class: %s' % ', '.join(
            '%s %d' % (c, n) for c, n in
            zip(classes, numpy.bincount(ys, minlength=len(classes)))))
    print('CIFAR-10 (official, train): mean %s; std %s' % (
        ' / '.join('%.4f' % v for v in CIFAR10_MEAN),
        ' / '.join('%.4f' % v for v in CIFAR10_STD)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
