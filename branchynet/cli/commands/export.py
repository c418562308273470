"""``branchynet export``: a trained experiment as ONNX graphs."""
import os

from branchynet.cli.args import add_model_dir, add_user_network

NAME = 'export'
#: the model argument (a user network's code is run for it first)
MODEL_ARG = 'model_dir'


def add_parser(subparsers):
    """The ``export`` sub-command's options."""
    p = subparsers.add_parser(NAME, help='write a trained experiment as '
                              'ONNX graphs (one per segment, and the '
                              'baseline)')
    add_model_dir(p)
    p.add_argument('--out', help='output folder (default MODEL_DIR/onnx)')
    add_user_network(p)
    return p


def run(args):
    from branchynet.runtimes.onnx.export import export_model_dir
    out = args.out or os.path.join(args.model_dir, 'onnx')
    sidecar = export_model_dir(args.model_dir, out)
    print('%s, %d exits, %d classes, input %s, opset %d:' % (
        sidecar['network'], sidecar['exits'], sidecar['classes'],
        'x'.join(map(str, sidecar['input_shape'])), sidecar['opset']))
    for name in sorted(sidecar['files']):
        print('  %s' % os.path.join(out, name))
    print('  %s (sidecar)' % os.path.join(out, 'export.json'))
