"""``branchynet data``: prepare a built-in data set."""
import os

from branchynet.cli.args import add_data_root, one_of
from branchynet.errors import BranchyNetError

NAME = 'data'

#: the pcifar10 recipes in short, for ``--recipe``'s help; a recipe missing
#: here is described by its
#: :data:`~branchynet.data.pcifar10.RECIPE_DESCRIPTIONS` entry
RECIPE_HELP = {
    'zca': "ZCA whitening + per-image min-max, the reference's cifar10.py, "
           'fitted in float64',
    'zca32': 'the same fitted in float32, as the reference did',
    'gcn': 'global contrast normalisation',
}


def add_parser(subparsers):
    """The ``data`` sub-command's options."""
    from branchynet.data.pcifar10 import RECIPE_DESCRIPTIONS, RECIPES
    p = subparsers.add_parser(NAME, help='prepare a data set: pcifar10 from '
                              'the CIFAR-10 python batches')
    p.add_argument('dataset', choices=list(PREPARE), help='; '.join(
        '%s: %s' % (name, what) for name, (_, what) in PREPARE.items()))
    # the pcifar10 recipe, not train's --recipe: its own dest
    p.add_argument('--recipe', dest='pcifar10_recipe', choices=list(RECIPES),
                   default='zca', help=one_of(RECIPES, {
                       name: RECIPE_HELP.get(name, RECIPE_DESCRIPTIONS.get(
                           name)) for name in RECIPES}))
    p.add_argument('--force', action='store_true',
                   help='rebuild data.npz even when it exists')
    add_data_root(p)
    p.add_argument('--cifar-dir', default='auto',
                   help='folder holding cifar-10-python.tar.gz or '
                        'cifar-10-batches-py/ (default <data root>/cifar10)')
    p.add_argument('--from-images', metavar='DIR',
                   help='pcifar10: build it from an image folder '
                        'DIR/{train,test}/CLASS/*.{png,jpg,jpeg,bmp} (32x32, '
                        '10 classes, sorted folder names as labels) instead '
                        'of the CIFAR-10 batches; same recipe')
    return p


def run(args):
    prepare, _ = PREPARE[args.dataset]
    prepare(args)


def _prepare_mnist(args):
    from branchynet.data.root import dataset_dir
    from branchynet.data.mnist import get_mnist
    x_train, _, x_test, _ = get_mnist(args.data_dir)
    print('mnist: %d training and %d test images, checksums verified, '
          'in %s' % (len(x_train), len(x_test),
                     dataset_dir('mnist', args.data_dir)))


def _prepare_pcifar10(args):
    from branchynet.data.pcifar10 import prepare_pcifar10
    if args.from_images is not None and args.cifar_dir != 'auto':
        raise BranchyNetError('data pcifar10: --from-images and --cifar-dir '
                              'name two sources; give one')
    path = prepare_pcifar10(data_root=args.data_dir, cifar_dir=args.cifar_dir,
                            recipe=args.pcifar10_recipe, force=args.force,
                            images_dir=args.from_images)
    print('pcifar10 (%s recipe): %s' % (args.pcifar10_recipe, path))
    if args.from_images is not None:
        _print_classes(os.path.join(os.path.dirname(path), 'data.json'))


def _print_classes(path):
    """Print the class mapping recorded in ``data.json`` (images source)."""
    from branchynet.data.files import read_json
    source = read_json(path, 'pcifar10 description').get('source', {})
    classes = source.get('classes') or []
    print('classes (label: folder): %s' % ', '.join(
        '%d: %s' % (i, c) for i, c in enumerate(classes)))
    counts = source.get('counts')
    if counts:
        print('images: %d train, %d test, from %s' % (
            counts['train'], counts['test'], source.get('path')))


#: the data sets this command prepares (the choices of DATASET, in order):
#: how, and what it does (the help of DATASET)
PREPARE = {
    'mnist': (_prepare_mnist,
              'verify the four files, downloading the missing ones'),
    'pcifar10': (_prepare_pcifar10, 'build data.npz'),
}
