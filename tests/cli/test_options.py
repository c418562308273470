"""The options of the sub-commands: the help of a registry's choices comes
from the registry, and a dest means one thing in every command."""
import argparse
import ast
import collections
import pathlib
import re

import pytest

from branchynet.cli import args as cli_args
from branchynet.cli import build_parser
from branchynet.cli.commands import data, train


def subparsers():
    """command name -> its parser."""
    parser = build_parser()
    return next(a for a in parser._actions
                if isinstance(a, argparse._SubParsersAction)).choices


def action(command, option):
    return next(a for a in subparsers()[command]._actions
                if option in a.option_strings or option == a.dest)


# ---------------------------------------------------------------------------
# registries: the choices and their help
# ---------------------------------------------------------------------------

def registries():
    """``(command, option, names, descriptions)``: each option whose
    choices are a registry's names, and the cli's help lookup for them."""
    from branchynet.data.pcifar10 import RECIPES
    from branchynet.experiments import SCHEDULES
    from branchynet.exits.scores import SCORES
    from branchynet.measurement.ood import TRANSFORMS
    from branchynet.measurement.rules import REGISTRY as RULE_REGISTRY
    from branchynet.measurement.rules import RULES
    from branchynet.runtimes import REGISTRY
    from branchynet.training.distributed import COMMUNICATORS
    from branchynet.training.settings import PHASE2_MODES, PROTOCOLS
    from branchynet.training.updater import ADAM_BETAS
    # the descriptions the registries carry (Score.help, Runtime.help)
    SCORE_HELP = {n: s.help for n, s in SCORES.items() if s.help}
    RUNTIME_HELP = {n: c.help for n, c in REGISTRY.items() if c.help}
    return [
        ('evaluate', '--score', SCORES, SCORE_HELP),
        ('sweep', '--score', SCORES, SCORE_HELP),
        ('evaluate', '--runtime', REGISTRY, RUNTIME_HELP),
        ('sweep', '--runtime', REGISTRY, RUNTIME_HELP),
        ('sweep', '--rule', RULES,
         {n: RULE_REGISTRY[n].help for n in RULES if RULE_REGISTRY[n].help}),
        ('data', '--recipe', RECIPES, data.RECIPE_HELP),
        ('data', 'dataset', data.PREPARE, {}),
        ('train', '--recipe', train._recipes(), train.RECIPE_HELP),
        ('train', '--schedule', SCHEDULES, train.SCHEDULE_HELP),
        ('train', '--betas', ADAM_BETAS, train.BETAS_HELP),
        ('train', '--phase2', PHASE2_MODES, train.PHASE2_HELP),
        ('train', '--protocol', PROTOCOLS, train.PROTOCOL_HELP),
        ('train', '--communicator', COMMUNICATORS, train.COMMUNICATOR_HELP),
        ('evaluate', '--ood', TRANSFORMS, {}),
    ]


def named(name, text):
    """``name`` in a help text, as a word (``'zca'`` is not ``'zca32'``)."""
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(name), text)


@pytest.mark.parametrize('command, option, names, descriptions',
                         registries(),
                         ids=lambda v: v if isinstance(v, str) else '')
def test_every_registered_name_is_in_the_help(command, option, names,
                                              descriptions):
    """The choices are the registry's, in its order; the help names each
    one (``--rule``'s describes each, in order) and describes no other."""
    found = action(command, option)
    if found.choices is not None:
        assert list(found.choices) == list(names)
    for name in names:
        if option == '--rule':
            assert descriptions[name] in found.help, name
        else:
            assert named(name, found.help), (name, found.help)
    assert set(descriptions) <= set(names), 'a description of no entry'


def test_the_help_follows_a_new_registry_entry(monkeypatch):
    """A name added to a registry is a choice, and in the help, with no
    edit of the command line."""
    from branchynet.data import pcifar10
    from branchynet.exits import scores
    from branchynet.experiments import EXPERIMENTS
    from branchynet.measurement import ood, rules
    from branchynet.runtimes import REGISTRY, Runtime
    from branchynet.training import distributed, settings, updater
    monkeypatch.setitem(scores.SCORES, 'fake', scores.Score(
        'fake', scores.maxprob, False, 'probability', (-1.0, 1.0),
        scores.probability_bounds))
    monkeypatch.setitem(rules.REGISTRY, 'fake',
                        type('Fake', (rules.Rule,), {'name': 'fake'})())
    monkeypatch.setattr(rules, 'RULES', rules.RULES + ('fake',))
    fake_runtime = type('FakeRuntime', (Runtime,), {'name': 'fake'})
    REGISTRY.register('fake', fake_runtime)
    try:
        monkeypatch.setattr(pcifar10, 'RECIPES', pcifar10.RECIPES + ('fake',))
        monkeypatch.setitem(next(iter(EXPERIMENTS.values())).recipes,
                            'fake', None)
        monkeypatch.setitem(updater.ADAM_BETAS, 'fake', (0.5, 0.75))
        monkeypatch.setattr(settings, 'PHASE2_MODES',
                            settings.PHASE2_MODES + ('fake',))
        monkeypatch.setattr(settings, 'PROTOCOLS',
                            settings.PROTOCOLS + ('fake',))
        monkeypatch.setattr(distributed, 'COMMUNICATORS',
                            distributed.COMMUNICATORS + ('fake',))
        monkeypatch.setattr(ood, 'TRANSFORMS', ood.TRANSFORMS + ('fake',))
        for command, option in [
                ('evaluate', '--score'), ('sweep', '--score'),
                ('sweep', '--rule'), ('evaluate', '--runtime'),
                ('sweep', '--runtime'), ('data', '--recipe'),
                ('train', '--recipe'), ('train', '--betas'),
                ('train', '--phase2'), ('train', '--protocol'),
                ('train', '--communicator'), ('evaluate', '--ood')]:
            found = action(command, option)
            assert found.choices is None or 'fake' in found.choices, option
            assert "'fake'" in found.help or named('fake', found.help), \
                (command, option, found.help)
        # the score's own direction and range
        assert "'fake' (leave when its score > T; negative thresholds" in \
            action('evaluate', '--score').help
        assert "'fake' (0.5, 0.75)" in action('train', '--betas').help
    finally:
        REGISTRY.unregister('fake')


def test_the_schedules_help_is_the_experiments():
    """Each experiment's epochs and batch size in each schedule, as the
    experiment has them."""
    from branchynet.experiments import EXPERIMENTS, SCHEDULES
    text = ' '.join(action('train', '--schedule').help.split())
    for experiment in EXPERIMENTS.values():
        if experiment.stands_for is not None:
            continue
        runs = ['%d+%d at %d' % (main, joint, batch) for batch, main, joint
                in (experiment.schedules[s] for s in SCHEDULES)]
        assert experiment.name + ' ' + runs[0] in text, experiment.name
        for run in runs:
            assert run in text


def test_the_rules_named_in_help_exist():
    """``--rule NAME`` and ``the NAME rule`` in any help name a rule."""
    from branchynet.measurement.rules import RULES
    seen = 0
    for command, sub in subparsers().items():
        for found in sub._actions:
            text = ' '.join((found.help or '').split())
            for name in re.findall(r'--rule ([\w-]+)|the ([\w-]+) rule',
                                   text):
                name = ''.join(name)
                assert name in RULES, (command, found.dest, name)
                seen += 1
    assert seen >= 6


# ---------------------------------------------------------------------------
# one dest, one meaning
# ---------------------------------------------------------------------------

#: dests that several commands declare, each its own way (help, default),
#: and the one meaning they have in each
PER_COMMAND = {
    'out': 'the folder the command writes (each its own default)',
    'batch_size': 'samples per batch of the networks the command runs '
                  '(training; early-exit inference)',
    'results': "one sweep's results folder (compare reads it, recheck "
               'sweeps it again)',
    'dataset': 'a data set (train: one of your own instead of the '
               "experiment's; data: the one to prepare)",
}
#: dests declared once, by a function that each command calls with its own
#: default or note: their helps differ, their declaration does not
PARAMETERISED = {
    'model_dir': 'args.add_model_dir',
    'alpha': 'args.add_rule_settings',
    'target': 'args.add_rule_settings',
    'quick': 'sweep.add_quick',
}

#: dests that code outside a command reads, whichever command it is
#: (:func:`branchynet.cli.main._run`, :func:`args.check_score_values`):
#: one declaration, the same everywhere
GENERIC = ('device', 'data_dir', 'score', 'thresholds', 'grid',
           'network_code', 'trust_saved_network', 'runtime', 'threads')


def declarations():
    """dest -> [(command, action)] for every dest of every command."""
    found = collections.defaultdict(list)
    for command, sub in subparsers().items():
        for a in sub._actions:
            found[a.dest].append((command, a))
    return found


def source_declarations():
    """dest -> the ``add_argument`` calls in ``branchynet/cli`` that
    declare it (``path:line``)."""
    root = pathlib.Path(cli_args.__file__).parent
    found = collections.defaultdict(list)
    for path in sorted(root.rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == 'add_argument'):
                continue
            names = [a.value for a in node.args
                     if isinstance(a, ast.Constant)]
            dest = next((k.value.value for k in node.keywords
                         if k.arg == 'dest'), None)
            if dest is None and names:
                long = [n for n in names if n.startswith('--')] or names
                dest = long[0].lstrip('-').replace('-', '_')
            if dest is None:         # args.add_user_network's SAVED_FLAG
                dest = 'trust_saved_network'
            found[dest].append('%s:%d' % (path.name, node.lineno))
    return found


def test_no_dest_has_two_meanings():
    """A dest in several commands has one declaration (the same help), or
    one that each command parameterises, or is one of
    :data:`PER_COMMAND`, whose meaning is the same in each."""
    shared = {dest: each for dest, each in declarations().items()
              if len(each) > 1}
    for dest, each in shared.items():
        strings = {tuple(a.option_strings) for _, a in each}
        if dest in PER_COMMAND:
            continue
        assert len(strings) == 1, (dest, strings)
        if dest in PARAMETERISED:
            continue
        helps = {a.help for _, a in each}
        assert len(helps) == 1, (
            'dest %r has different helps in %s: declare it once in '
            'branchynet/cli/args.py, or give each meaning its own dest'
            % (dest, ', '.join(command for command, _ in each)))
    # no stale entry: each is still declared by several commands
    listed = set(PER_COMMAND) | set(PARAMETERISED)
    assert listed <= set(shared), listed - set(shared)
    assert not listed & set(GENERIC)


def test_a_shared_option_is_declared_once():
    """Every dest but :data:`PER_COMMAND`'s is declared by one
    ``add_argument`` call in ``branchynet/cli``."""
    found = source_declarations()
    assert {'alpha', 'target', 'network_code', 'own_network', 'score',
            'quick', 'model_dir'} <= set(found)
    twice = {dest: where for dest, where in found.items()
             if len(where) > 1 and dest not in PER_COMMAND}
    assert not twice, 'declared more than once: %s' % twice


def test_the_network_code_is_the_trained_models():
    """``network_code`` is what main._run installs for a trained model: it
    comes with --trust-saved-network wherever it is declared (train's own
    --network, the network to train, has another dest)."""
    found = declarations()
    with_code = {command for command, _ in found['network_code']}
    assert with_code == {command for command, _ in
                         found['trust_saved_network']}
    assert 'train' not in with_code
    assert action('train', '--network').dest != 'network_code'
