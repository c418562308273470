"""Benchmark: time and peak memory of building pcifar10 at full size.

Real CIFAR-10 may not be reachable (no network), so this writes a tarball in
the official format (``cifar-10-batches-py/``, 5 x 10000 training and 10000
test images, random pixels) to a temporary folder and runs the same code
``branchynet data pcifar10`` runs on it: unpack and verify, preprocess,
write ``data.npz`` + ``data.json``. The preprocessing cost does not depend
on the pixel values (ZCA: a 3072 x 3072 covariance and eigendecomposition).

    python scripts/bench/bench_pcifar10.py [--recipe zca|gcn] [--keep DIR]

Peak memory is the process's maximum resident set size (``ru_maxrss``),
of a fresh child process that only builds, so the synthetic data's own
generation does not count.
"""
import argparse
import hashlib
import io
import multiprocessing
import os
import pickle
import resource
import tarfile
import tempfile
import time

import numpy

N_TRAIN_BATCH, N_TEST = 10000, 10000


def write_tarball(path, seed=0):
    """A CIFAR-10 python tarball of random images; returns its md5."""
    rng = numpy.random.RandomState(seed)
    names = ['data_batch_%d' % i for i in range(1, 6)] + ['test_batch']
    with tarfile.open(path, 'w:gz', compresslevel=1) as tar:
        for name in names:
            n = N_TEST if name == 'test_batch' else N_TRAIN_BATCH
            batch = {b'batch_label': name.encode(),
                     b'labels': rng.randint(0, 10, n).tolist(),
                     b'data': rng.randint(0, 256, (n, 3072)).astype(
                         numpy.uint8),
                     b'filenames': [b'%d.png' % i for i in range(n)]}
            data = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo('cifar-10-batches-py/' + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, 'md5').hexdigest()


def _build(work, recipe, md5, queue):
    import branchynet  # noqa: F401  (patches NumPy 2 before chainer)
    from branchynet.data.pcifar10 import get_pcifar10
    start = time.perf_counter()
    get_pcifar10(work, recipe=recipe, download=False, md5=md5)
    seconds = time.perf_counter() - start
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--recipe', choices=['zca', 'gcn'], default='zca')
    parser.add_argument('--keep', help='work in DIR and keep the files '
                        '(default: a temporary folder, removed)')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or tmp
        os.makedirs(os.path.join(work, 'cifar10'), exist_ok=True)
        tarball = os.path.join(work, 'cifar10', 'cifar-10-python.tar.gz')
        start = time.perf_counter()
        md5 = write_tarball(tarball)
        print('synthetic tarball: %.0f MiB in %.1f s'
              % (os.path.getsize(tarball) / 2 ** 20,
                 time.perf_counter() - start))
        queue = multiprocessing.get_context('spawn').Queue()
        child = multiprocessing.get_context('spawn').Process(
            target=_build, args=(work, args.recipe, md5, queue))
        child.start()
        seconds, max_kib = queue.get()
        child.join()
        npz = os.path.join(work, 'pcifar10', 'data.npz')
        print('pcifar10 (%s): %.1f s, peak RSS %.2f GiB, data.npz %.0f MiB'
              % (args.recipe, seconds, max_kib / 2 ** 20,
                 os.path.getsize(npz) / 2 ** 20))


if __name__ == '__main__':
    main()
