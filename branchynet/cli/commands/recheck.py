"""``branchynet recheck``: sweep a model again and compare with its
recorded sweep (the trained models in ``pretrained/``)."""
import os

from branchynet.cli.args import add_data_root, add_model_dir, check_folder
from branchynet.cli.commands import sweep

NAME = 'recheck'
#: runs the networks on the CPU (see :func:`branchynet.cli.main._run`)
RUNS_NETWORKS = True
#: rules whose settings ``sweep.json`` records (``accuracy``'s epsilon and
#: ``budget``'s milliseconds are not)
RECHECKABLE_RULES = ('knee', 'tradeoff', 'per-exit')


def add_parser(subparsers):
    """The ``recheck`` sub-command's options."""
    p = subparsers.add_parser(
        NAME, help='sweep a trained model again with the settings of a '
        'recorded sweep and compare every quantity that does not depend on '
        'the clock (accuracies, exit shares, multiply-adds); a data set '
        'built otherwise than the recorded one is refused first; for the '
        'models in pretrained/')
    add_model_dir(p, 'with SHA256SUMS, checked first, as in pretrained/NAME')
    p.add_argument('results', help='the recorded sweep: a folder holding '
                   'sweep.json (as in pretrained/results/NAME); its runtime, '
                   'device, rule, score, grid and split are used again')
    p.add_argument('--out', help='folder for the new sweep (default '
                   'results_recheck/ + the recorded folder\'s name)')
    sweep.add_quick(p, 'the timing columns are not compared')
    add_data_root(p)
    return p


def _recorded(results):
    """The recorded ``sweep.json``, checked as ``report`` checks it."""
    from branchynet.errors import BranchyNetError
    from branchynet.report.table import load_result
    path = os.path.join(results, 'sweep.json')
    summary = load_result(path, require=('sweep_tune',))
    if summary['rule'] not in RECHECKABLE_RULES:
        raise BranchyNetError(
            '%s was chosen by rule %r, whose settings sweep.json does not '
            'record; recheck takes %s' % (path, summary['rule'],
                                          ', '.join(RECHECKABLE_RULES)))
    return summary


def _sweep_again(args, recorded, out):
    from branchynet.measurement.pipeline import measure_experiment
    # sweep's own sample counts, and its --quick caps
    vars(args).update(sweep.SAMPLES)
    sweep.apply_quick(args)
    settings = recorded.get('runtime_settings', {})
    return measure_experiment(
        args.model_dir, out, device=recorded['device'],
        data_dir=args.data_dir, tune_on=recorded['tuned_on'],
        rule=recorded['rule'], grid=recorded['grid'],
        runtime=recorded['runtime'],
        threads=settings.get('intra_op_num_threads') or 1,
        score=recorded['score'], alpha=recorded.get('alpha'),
        target=recorded.get('target'), profile_samples=args.profile_samples,
        warmup=args.warmup, validate_samples=args.validate_samples)


def _check_data(recorded, data_dir):
    """The data set here built as the recorded sweep's (before any work)."""
    from branchynet.data import dataset_origin, get_data_root
    from branchynet.report.recheck import check_same_origin
    data = recorded.get('data')
    if data:
        check_same_origin(recorded, dataset_origin(data['dataset'], data_dir),
                          'the %s in data root %s' % (
                              data['dataset'], get_data_root(data_dir)))


def _data_note(recorded, fresh):
    """A line saying whether the inputs were bitwise the recorded ones."""
    from branchynet.report.recheck import data_differences
    if not recorded.get('data'):
        return ''
    splits = data_differences(recorded, fresh)
    if not splits:
        return 'the data were bitwise those of the recorded sweep'
    return ('the %s data differ bitwise from those of the recorded sweep '
            '(another build of the data set; a sample on a threshold may '
            'move)' % ' and '.join(splits))


def run(args):
    from branchynet.errors import BranchyNetError
    from branchynet.report.recheck import (agreement, agreement_markdown,
                                           differences)
    from branchynet.report.table import table_rows, to_markdown
    from branchynet.utils.digest import check_manifest
    check_manifest(args.model_dir)
    recorded = _recorded(args.results)
    out = args.out or os.path.join(
        'results_recheck', os.path.basename(os.path.normpath(args.results)))
    check_folder('--out', out)
    _check_data(recorded, args.data_dir)
    fresh = _sweep_again(args, recorded, out)
    print('\nrecorded (%s):\n%s' % (os.path.join(args.results, 'sweep.json'),
                                    to_markdown(table_rows(recorded))))
    print('this run (%s):\n%s' % (os.path.join(out, 'sweep.json'),
                                  to_markdown(table_rows(fresh))))
    rows = agreement(recorded, fresh)
    print(agreement_markdown(rows))
    note = _data_note(recorded, fresh)
    if note:
        print('recheck: ' + note)
    differ = differences(rows)
    if differ:
        raise BranchyNetError('recheck: %d quantities differ from %s: %s%s'
                              % (len(differ), args.results,
                                 '; '.join(differ),
                                 ' (%s)' % note if note else ''))
    print('recheck: %s reproduces %s (the timing columns are this '
          "machine's)" % (args.model_dir, args.results))
