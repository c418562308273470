"""Imports run one way: a module of the package imports only from its own
layer or the layers below it (issue 32).

Every ``import`` and ``from ... import`` of every module is read with
``ast``, the ones inside functions included (a lazy import is still a
dependency). The layers, lowest first::

    errors, utils, compat, version -> exits -> data, networks -> experiments
    -> runtimes, training -> measurement -> report -> testing -> cli

``branchynet/__init__.py`` and ``__main__.py`` stand above all of them (the
package's front door re-exports; nothing inside imports it).
"""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'branchynet'

#: the layers, lowest first; the names in one entry share a layer
LAYERS = (
    ('errors', 'utils', 'compat', 'version'),
    ('exits',),
    ('data', 'networks'),
    ('experiments',),
    ('runtimes', 'training'),
    ('measurement',),
    ('report',),
    ('testing',),
    ('cli',),
    ('__init__', '__main__'),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}

def _part(dotted):
    """The top-level part of ``branchynet.X...``: ``__init__`` for the
    package itself and the names it defines (``branchynet.__version__``);
    None for a module outside the package."""
    parts = dotted.split('.')
    if parts[0] != 'branchynet':
        return None
    return parts[1] if len(parts) > 1 and parts[1] in RANK else '__init__'


def _module_name(path, package=PACKAGE):
    relative = path.relative_to(package.parent).with_suffix('')
    parts = list(relative.parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def _imported(path, root=PACKAGE):
    """``(line, dotted name)`` of every branchynet module ``path`` imports
    (``from branchynet.x import y`` counts as ``branchynet.x.y``, so that
    ``from branchynet import experiments`` is seen as ``experiments``)."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path, root)
    if path.name != '__init__.py':
        package = package.rpartition('.')[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                up = package.split('.')
                up = up[:len(up) - node.level + 1]
                base = '.'.join(up + ([base] if base else []))
            found += [(node.lineno, base + '.' + a.name) for a in node.names]
    return [(line, name) for line, name in found
            if name.split('.')[0] == 'branchynet']


def climbing_imports(root=PACKAGE):
    """``(module path, line, imported, from layer, to layer)`` of every
    import in the package at ``root`` that reaches a higher layer."""
    bad = []
    for path in sorted(root.rglob('*.py')):
        own = _part(_module_name(path, root))
        for line, name in _imported(path, root):
            part = _part(name)
            if part is not None and RANK[part] > RANK[own]:
                bad.append((str(path.relative_to(root.parent)), line,
                            name, own, part))
    return bad


def test_every_top_level_part_has_a_layer():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == '.py') or (p / '__init__.py').is_file()}
    assert parts <= set(RANK), sorted(parts - set(RANK))


def test_no_import_climbs_to_a_higher_layer():
    bad = climbing_imports()
    assert not bad, '\n'.join('%s:%d imports %s (%s -> %s)' % b for b in bad)


@pytest.mark.parametrize('source, expected', [
    ('from branchynet import experiments', 'branchynet.experiments'),
    ('import branchynet.report.table', 'branchynet.report.table'),
    ('def f():\n    from branchynet.cli import main', 'branchynet.cli.main'),
    ('from ..report import table', 'branchynet.report.table'),
])
def test_the_reader_sees_every_kind_of_import(tmp_path, source, expected):
    """The checker itself, on a package of one module in ``exits``: plain,
    from, inside a function, relative."""
    root = tmp_path / 'branchynet'
    (root / 'exits').mkdir(parents=True)
    path = root / 'exits' / 'probe.py'
    path.write_text(source + '\n')
    assert [name for _, name in _imported(path, root)] == [expected]
    bad = climbing_imports(root)
    assert [(b[0], b[2], b[3]) for b in bad] == [
        ('branchynet/exits/probe.py', expected, 'exits')]
