"""``branchynet compare``: every exit score under every rule."""
from branchynet.cli.args import (MAX_GRID_SIZE, add_figs, add_model_dir,
                                 add_rule_settings, check_folder,
                                 default_results, int_in)

NAME = 'compare'


def add_parser(subparsers):
    """The ``compare`` sub-command's options."""
    p = subparsers.add_parser(NAME, help='every exit score under every '
                              'rule, side by side, from the records `sweep` '
                              'wrote (no network runs)')
    add_model_dir(p)
    p.add_argument('--results', help="the sweep's results folder (default "
                   'results/NAME, as `sweep` writes it)')
    add_figs(p)
    # every rule has a row: the settings have defaults
    add_rule_settings(p, 'the %s rule', alpha=0.01,
                      target="the sweep's choice's accuracy on the tuning "
                             'split')
    p.add_argument('--grid-size', type=int_in(1, MAX_GRID_SIZE), default=33,
                   help="quantiles of each score's grid per threshold, 1 "
                        "to %d (default 33)" % MAX_GRID_SIZE)
    return p


def run(args):
    from branchynet.measurement.compare import RULES
    from branchynet.report.compare import run_compare
    results = args.results or default_results(args.model_dir)
    check_folder('--figs', args.figs)
    result, markdown, written = run_compare(
        args.model_dir, results, args.figs, alpha=args.alpha,
        target=args.target, grid_size=args.grid_size)
    print(markdown)
    print('compared %d scores x %d rules in %.2f s (the records pass it '
          'reused took %s s in the sweep)' % (
              len(result['frontiers']), len(RULES), result['seconds'],
              '?' if result['records_seconds'] is None
              else '%.2f' % result['records_seconds']))
    for path in written:
        print('wrote %s' % path)
