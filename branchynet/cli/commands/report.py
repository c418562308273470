"""``branchynet report``: Table I and the figures from the sweeps."""
from branchynet.cli.args import add_figs, check_folder

NAME = 'report'


def add_parser(subparsers):
    """The ``report`` sub-command's options."""
    p = subparsers.add_parser(NAME, help='Table I and figures from all '
                              'sweep results')
    # the folder of every sweep, not one sweep's folder (compare's and
    # recheck's results): its own dest
    p.add_argument('--results', dest='results_root', default='results',
                   metavar='RESULTS',
                   help='folder holding NAME/sweep.json (default results)')
    add_figs(p)
    return p


def run(args):
    from branchynet.report.table import load_results, to_markdown, write_table
    from branchynet.report.figures import make_figures
    check_folder('--results', args.results_root)
    check_folder('--figs', args.figs)
    results = load_results(args.results_root)
    rows = write_table(results, args.results_root)
    print(to_markdown(rows))
    for path in make_figures(results, args.results_root, args.figs):
        print('wrote %s' % path)
