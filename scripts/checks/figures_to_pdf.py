"""Put every PNG figure under some folders into one PDF, a page each.

usage: python scripts/checks/figures_to_pdf.py OUT.pdf FOLDER [FOLDER ...]

For a run on a machine whose files come back a few at a time
(scripts/device_check.sh): one file holds Table I's figures and the
training curves. Each page is titled with the figure's path.
"""
import glob
import os
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402


def pngs(folders):
    """Sorted PNG paths below ``folders`` (recursively)."""
    found = []
    for folder in folders:
        found += glob.glob(os.path.join(folder, '**', '*.png'),
                           recursive=True)
    return sorted(found)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out, folders = argv[0], argv[1:]
    paths = pngs(folders)
    if not paths:
        print('figures_to_pdf.py: error: no PNG under %s' % ', '.join(folders),
              file=sys.stderr)
        return 2
    tmp = out + '.tmp'
    with PdfPages(tmp) as pdf:
        for path in paths:
            fig = plt.figure(figsize=(8.27, 11.69))
            ax = fig.add_axes([0, 0, 1, 0.95])
            ax.imshow(matplotlib.image.imread(path))
            ax.axis('off')
            fig.suptitle(path, fontsize=8)
            pdf.savefig(fig)
            plt.close(fig)
    os.replace(tmp, out)
    print('%d figures -> %s' % (len(paths), out))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
